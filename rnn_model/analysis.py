"""Questions a teacher asks of one reading: when did it decide, which rows mattered, where did
the memory travel. Each answer is computed from the model and plain arrays, without drawing."""

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from rnn_model.model import RowClassifier, to_sequence


def decided_at(probabilities: np.ndarray) -> int:
    """The step (1-based) from which the final answer stayed the top class to the end.

    probabilities: (T, C), the readout's class probabilities after each step.
    """
    top = probabilities.argmax(axis=1)  # (T,)
    final = top[-1]
    changed = np.flatnonzero(top != final)
    return int(changed[-1]) + 2 if len(changed) else 1


@dataclass
class StepImportance:
    """What blanking each step's input does to the answer."""

    predicted: int  # the class read from the whole digit
    probability_drop: np.ndarray  # (T,) fall in the predicted class's probability
    evidence_drop: np.ndarray  # (T,) fall in its log-odds: still visible when the model is sure
    answers: np.ndarray  # (T,) the class read with that step blanked


@torch.no_grad()
def step_importance(model: RowClassifier, image: np.ndarray) -> StepImportance:
    """Blank each step's input in turn (zeros: background) and measure how the answer weakens.

    One batch of T + 1 readings. The log-odds drop matters because a sure model's probability
    hardly moves (0.99999 to 0.9999) even when a row carried much of the evidence.
    """
    x = torch.as_tensor(np.asarray(image, dtype=np.float32))[None]  # (1, 28, 28)
    sequence = to_sequence(x, model.config.reading_order)[0]  # (T, I)
    steps = sequence.shape[0]
    batch = sequence.repeat(steps + 1, 1, 1)  # (T+1, T, I); entry 0 is the whole digit
    batch[torch.arange(1, steps + 1), torch.arange(steps)] = 0.0
    # Undo the reading order so the model reads each blanked copy as it reads an image.
    log_p = F.log_softmax(model(_from_sequence(batch, model.config.reading_order)), dim=-1)
    predicted = int(log_p[0].argmax())
    log_odds = log_p[:, predicted] - torch.log1p(-log_p[:, predicted].exp().clamp(max=1 - 1e-7))
    return StepImportance(
        predicted=predicted,
        probability_drop=(log_p[0, predicted].exp() - log_p[1:, predicted].exp()).numpy(),
        evidence_drop=(log_odds[0] - log_odds[1:]).numpy(),
        answers=log_p[1:].argmax(dim=-1).numpy(),
    )


def _from_sequence(sequences: torch.Tensor, reading_order: str) -> torch.Tensor:
    # Each reading order is its own inverse: flipping or transposing twice gives the image back.
    return to_sequence(sequences, reading_order)


@dataclass
class HiddenMap:
    """A 2-D map of a model's hidden states: PCA fitted on the states of many digits."""

    mean: np.ndarray  # (H,)
    components: np.ndarray  # (2, H) the two directions of greatest variance
    class_ends: np.ndarray  # (C, 2) the mean final state of each class, projected (NaN: none)
    explained: float = 0.0  # share of the states' variance along the two directions

    def project(self, hidden: np.ndarray) -> np.ndarray:
        """States (..., H) -> map positions (..., 2)."""
        return (hidden - self.mean) @ self.components.T


@torch.no_grad()
def top_states(model: RowClassifier, images: torch.Tensor) -> torch.Tensor:
    """The top layer's hidden state after every step for `images` (N, 28, 28) uint8: (N, T, H)."""
    h = to_sequence(images.float() / 255, model.config.reading_order)  # (N, T, I)
    for layer in model.layers:
        h, _ = layer(h)  # (N, T, H)
    return h


@torch.no_grad()
def fit_hidden_map(
    model: RowClassifier, images: torch.Tensor, labels: torch.Tensor, states=None
) -> HiddenMap:
    """Fit the map on every step of the top layer's states for `images` (N, 28, 28) uint8.

    Fitted once per model on the same digits, so a position means the same for every drawing.
    `states` (N, T, H), if given, are top_states(model, images), already computed.
    """
    h = top_states(model, images) if states is None else states  # (N, T, H)
    states = h.reshape(-1, h.shape[-1]).double()  # (N*T, H)
    mean = states.mean(dim=0)
    # The covariance's eigenvectors are PCA's directions; an (H, H) eigenproblem is much
    # cheaper than the SVD of all N*T states.
    centred = states - mean
    covariance = centred.T @ centred / len(states)  # (H, H)
    variances, vectors = torch.linalg.eigh(covariance)  # ascending
    components = vectors[:, -2:].flip(1).T  # (2, H), largest variance first
    # an eigenvector's sign is arbitrary: point each so the digits' mean end is on its + side
    ends = torch.stack(
        [h[labels == c, -1].double().mean(dim=0) for c in range(model.config.num_classes)]
    )  # (C, H)
    projected_ends = (ends - mean) @ components.T  # (C, 2)
    signs = torch.where(projected_ends.nansum(dim=0) < 0, -1.0, 1.0).double()  # (2,)
    components = components * signs[:, None]
    explained = float(variances[-2:].sum() / variances.sum().clamp(min=1e-12))
    return HiddenMap(
        mean.float().numpy(),
        components.float().numpy(),
        (projected_ends * signs).float().numpy(),
        explained,
    )


@torch.no_grad()
def read_digits(model: RowClassifier, images: torch.Tensor, states=None) -> np.ndarray:
    """The class the model reads for each of `images` (N, 28, 28) uint8: (N,) ints.
    `states` (N, T, H), if given, are top_states(model, images), already computed."""
    h = top_states(model, images) if states is None else states
    return model.readout(h[:, -1]).argmax(dim=-1).numpy()
