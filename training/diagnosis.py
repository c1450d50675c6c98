"""What a trained model gets right and wrong on a set of digits: a confusion matrix and the
digits it misreads, as plain numpy arrays for the page (or a notebook) to show."""

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from rnn_model import RowClassifier
from training.data import DigitSet
from training.limits import eval_chunk

NUM_CLASSES = 10


@dataclass(frozen=True)
class Diagnosis:
    """A model's answers on a set of digits, in the set's order."""

    labels: np.ndarray  # (N,) int64, the true digits
    predictions: np.ndarray  # (N,) int64, the digits the model read
    confidence: np.ndarray  # (N,) float32, the probability it gave its answer
    matrix: np.ndarray  # (10, 10) int64, [true, predicted] -> how many digits

    @property
    def accuracy(self) -> float:
        return float((self.labels == self.predictions).mean()) if len(self.labels) else float("nan")


@torch.no_grad()
def answers(
    model: RowClassifier, images: torch.Tensor, batch_size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 -> (predicted digit (N,), its probability (N,)).

    Goes in chunks sized to a small memory budget, as training.engine.predict does."""
    batch_size = batch_size or eval_chunk(model.config)
    was_training = model.training
    model.eval()
    predictions, confidence = [], []
    for chunk in images.split(batch_size):
        probabilities = F.softmax(model(chunk.float() / 255), dim=1)  # (B, C)
        best, digit = probabilities.max(dim=1)  # (B,), (B,)
        predictions.append(digit)
        confidence.append(best)
    model.train(was_training)
    if not predictions:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    return torch.cat(predictions).numpy(), torch.cat(confidence).numpy()


def confusion_matrix(
    labels: np.ndarray, predictions: np.ndarray, num_classes: int = NUM_CLASSES
) -> np.ndarray:
    """(num_classes, num_classes) counts: row = true digit, column = the digit read."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.shape} labels but {predictions.shape} predictions")
    pairs = labels.astype(np.int64) * num_classes + predictions.astype(np.int64)  # (N,)
    return np.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)


def diagnose(model: RowClassifier, digits: DigitSet) -> Diagnosis:
    """Run the model over every digit once and keep what the views need."""
    predictions, confidence = answers(model, digits.images)
    labels = digits.labels.numpy().astype(np.int64)
    return Diagnosis(labels, predictions, confidence, confusion_matrix(labels, predictions))


def in_cell(diagnosis: Diagnosis, true: int, read_as: int) -> np.ndarray:
    """Indices of the digits whose true label is `true` and that were read as `read_as`,
    the most confident answers first (ties in the set's order)."""
    d = diagnosis
    index = np.flatnonzero((d.labels == true) & (d.predictions == read_as))  # (K,)
    return index[np.argsort(-d.confidence[index], kind="stable")]


def misclassified(diagnosis: Diagnosis, limit: int | None = None) -> np.ndarray:
    """Indices of the digits read wrong, the most confident mistakes first (they are the most
    surprising), at most `limit` of them."""
    d = diagnosis
    index = np.flatnonzero(d.labels != d.predictions)  # (K,)
    index = index[np.argsort(-d.confidence[index], kind="stable")]
    return index if limit is None else index[:limit]
