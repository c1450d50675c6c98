"""The training engine: a generator of plain records, stoppable between any two batches.

It never prints and never draws; the CLI prints the records, the page charts them.
"""

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from rnn_model import ModelConfig, RowClassifier
from training.augment import random_affine
from training.data import DigitSet
from training.gradients import PROBE_SIZE, probe_batch, step_gradients
from training.limits import eval_chunk

OPTIMIZERS = ("adam", "sgd")

# A loss this far above chance (ln 10 = 2.3) only comes from weights that have blown up; waiting
# for it to reach infinity would just waste the run.
DIVERGED_LOSS = 50.0

# Bounds on one run, shown beside the controls, so a single visitor cannot exhaust the server.
MAX_BATCH_SIZE = 1024
MAX_EPOCHS = 200


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "adam"  # "adam" or "sgd" (plain, without momentum)
    learning_rate: float = 2e-3  # step size of the optimizer
    batch_size: int = 64  # digits per gradient step
    epochs: int = 5  # passes over the training digits
    seed: int = 0  # fixes initial weights, shuffling and augmentation
    grad_clip: float = 1.0  # largest allowed global norm of the gradient
    augment: bool = False  # randomly rotate, scale and shift each training digit
    cosine_schedule: bool = False  # decay the learning rate to zero along a cosine
    record_every: int = 10  # batches between two progress records
    gradient_probe: int = PROBE_SIZE  # digits whose gradient per step records measure; 0: off
    gradient_every: int = 10  # batches at least between two progress records that measure it

    def __post_init__(self):
        problems = []
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be adam or sgd, not {self.optimizer!r}")
        if not (math.isfinite(self.learning_rate) and 0 < self.learning_rate <= 10):
            problems.append("learning_rate must be above 0 and at most 10")
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            problems.append(f"batch_size must be between 1 and {MAX_BATCH_SIZE}")
        if not 1 <= self.epochs <= MAX_EPOCHS:
            problems.append(f"epochs must be between 1 and {MAX_EPOCHS}")
        if not self.grad_clip > 0:
            problems.append("grad_clip must be above 0")
        if self.record_every < 1:
            problems.append("record_every must be at least 1")
        if not 0 <= self.gradient_probe <= MAX_BATCH_SIZE:
            problems.append(f"gradient_probe must be between 0 and {MAX_BATCH_SIZE}")
        if self.gradient_every < 1:
            problems.append("gradient_every must be at least 1")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass
class Record:
    """One moment of a run. kind: start, progress, eval, stopped, diverged or end."""

    kind: str
    step: int  # gradient steps taken so far
    total_steps: int  # steps the whole run will take
    epoch: float  # fractional epochs done
    samples_seen: int
    loss: float | None = None  # mean training loss since the previous record
    train_accuracy: float | None = None  # training accuracy since the previous record
    val_accuracy: float | None = None  # measured on the validation digits, eval and end only
    learning_rate: float | None = None
    samples_per_second: float | None = None  # training throughput since the start
    elapsed_s: float = 0.0
    message: str = ""
    # |dLoss/dh_t| of the first layer for steps 1..T, averaged over the probe digits
    # (training.gradients); None when not measured: a progress record measures it only when
    # TrainConfig.gradient_every batches have passed since the last one that did
    step_gradients: list[float] | None = None

    def to_dict(self) -> dict:
        return asdict(self)


_INIT_LOCK = threading.Lock()


def new_model(config: ModelConfig, seed: int) -> RowClassifier:
    """A model with initial weights drawn from `seed`, whatever other threads are doing."""
    with _INIT_LOCK:
        torch.manual_seed(seed)
        return RowClassifier(config)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.learning_rate)
    return torch.optim.Adam(model.parameters(), lr=config.learning_rate)


@torch.no_grad()
def predict(
    model: RowClassifier, images: torch.Tensor, batch_size: int | None = None
) -> torch.Tensor:
    """Predicted class of each image (N, 28, 28) uint8 -> (N,) int64.

    Goes `batch_size` images at a time; by default as many as fit a small memory budget.
    """
    batch_size = batch_size or eval_chunk(model.config)
    was_training = model.training
    model.eval()
    out = [model(chunk.float() / 255).argmax(1) for chunk in images.split(batch_size)]
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def accuracy(model: RowClassifier, digits: DigitSet) -> float:
    if len(digits) == 0:
        return float("nan")
    return (predict(model, digits.images) == digits.labels).float().mean().item()


def train(
    model: RowClassifier,
    train_set: DigitSet,
    val_set: DigitSet,
    config: TrainConfig,
    stop: threading.Event | None = None,
) -> Iterator[Record]:
    """Train in place, yielding records. Setting `stop` ends the run after the current batch.

    A non-finite or exploded loss, or a non-finite gradient, ends the run with a 'diverged'
    record, and the model is left with the last weights that gave a finite loss.
    """
    if len(train_set) == 0:
        raise ValueError("there are no training digits")
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = make_optimizer(model, config)
    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    schedule = _cosine(optimizer, total_steps) if config.cosine_schedule else None
    last_good = [p.detach().clone() for p in model.parameters()]
    # the same digits at every record, so the gradients change only because the weights do
    probe = probe_batch(train_set, config.seed, config.gradient_probe)

    state = _RunState(
        total_steps, steps_per_epoch, probe, config.gradient_every, start=time.perf_counter()
    )
    yield state.record(
        "start", optimizer, model, message=f"{total_steps} steps on {len(train_set):,} digits"
    )
    model.train()
    for epoch in range(config.epochs):
        order = torch.randperm(len(train_set), generator=generator)
        for batch_index in order.split(config.batch_size):
            if stop is not None and stop.is_set():
                yield state.finish("stopped", model, val_set, optimizer, "Stopped by request.")
                return
            # converted per batch: a float copy of all of MNIST would be 190 MB per run
            x = train_set.images[batch_index].float() / 255  # (B, 28, 28)
            y = train_set.labels[batch_index]  # (B,)
            if config.augment:
                x = random_affine(x, generator)
            problem = _train_step(model, optimizer, x, y, config, state, last_good)
            if problem:
                _restore(model, last_good)
                yield state.finish("diverged", model, val_set, optimizer, problem)
                return
            if schedule is not None:
                schedule.step()
            if state.step % config.record_every == 0 and state.step < total_steps:
                yield state.record("progress", optimizer, model)
        if epoch < config.epochs - 1:
            yield state.evaluate(model, val_set, optimizer)
    yield state.finish("end", model, val_set, optimizer, "Training finished.")


def _train_step(model, optimizer, x, y, config, state, last_good) -> str:
    """One gradient step; returns a message when the run has diverged, else ''."""
    logits = model(x)  # (B, C)
    loss = F.cross_entropy(logits, y)
    if not torch.isfinite(loss) or loss.item() > DIVERGED_LOSS:
        return (
            f"The loss became {loss.item():.3g} at step {state.step + 1} (random guessing "
            "gives 2.3): training diverged. "
            "The weights from the last good step are kept. Try a smaller learning rate."
        )
    # These weights gave a finite loss: remember them before the step changes them.
    for saved, p in zip(last_good, model.parameters(), strict=True):
        saved.copy_(p.detach())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    if not torch.isfinite(norm):
        return (
            f"The gradient became infinite at step {state.step + 1}: training diverged. "
            "The weights from the last good step are kept. Try a smaller learning rate."
        )
    optimizer.step()
    state.add_batch(loss.item(), (logits.argmax(1) == y).sum().item(), len(y))
    return ""


def _restore(model: nn.Module, saved: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for p, s in zip(model.parameters(), saved, strict=True):
            p.copy_(s)


def _cosine(optimizer, total_steps):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
    )


@dataclass
class _RunState:
    """Counters of a run, and the running sums behind the next record."""

    total_steps: int
    steps_per_epoch: int
    probe: DigitSet  # digits whose gradient per step records measure
    gradient_every: int  # batches at least between two progress records that measure it
    start: float
    step: int = 0
    samples_seen: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    count: int = 0
    measured_at: int = -1  # step of the last record that measured the gradients

    def add_batch(self, loss: float, correct: int, count: int) -> None:
        self.step += 1
        self.samples_seen += count
        self.loss_sum += loss * count
        self.correct += correct
        self.count += count

    def record(self, kind, optimizer, model, **extra) -> Record:
        gradients = None
        # measuring costs about one training step, too much for every batch of a short run
        due = kind != "progress" or self.step - self.measured_at >= self.gradient_every
        if due and self.step != self.measured_at:
            gradients = step_gradients(model, self.probe)
            self.measured_at = self.step
        elapsed = time.perf_counter() - self.start
        record = Record(
            kind=kind,
            step=self.step,
            total_steps=self.total_steps,
            epoch=self.step / self.steps_per_epoch,
            samples_seen=self.samples_seen,
            loss=self.loss_sum / self.count if self.count else None,
            train_accuracy=self.correct / self.count if self.count else None,
            learning_rate=optimizer.param_groups[0]["lr"],
            samples_per_second=self.samples_seen / elapsed if elapsed > 0 else None,
            elapsed_s=elapsed,
            step_gradients=gradients,
            **extra,
        )
        self.loss_sum, self.correct, self.count = 0.0, 0, 0
        return record

    def evaluate(self, model, val_set, optimizer) -> Record:
        val = accuracy(model, val_set)
        model.train()
        return self.record("eval", optimizer, model, val_accuracy=val)

    def finish(self, kind, model, val_set, optimizer, message) -> Record:
        val = accuracy(model, val_set)
        model.eval()
        return self.record(kind, optimizer, model, val_accuracy=val, message=message)
