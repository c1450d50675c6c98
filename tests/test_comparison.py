"""Comparisons of cells: three runs alike, one after another, through the run queue."""

import threading

import pytest

from rnn_model import ModelConfig
from training import job as job_module
from training.comparison import Comparison
from training.data import load_training_data
from training.engine import TrainConfig
from training.run_queue import RunQueue

TIMEOUT = 60
REAL_TRAIN = job_module.train


@pytest.fixture(scope="module")
def data():
    return load_training_data("sample")


def _comparison(data, epochs=1) -> Comparison:
    return Comparison.of_cells(
        ModelConfig(hidden_size=4, reading_order="columns"),
        TrainConfig(batch_size=256, epochs=epochs, seed=3, learning_rate=0.01),
        data,
        "sample",
    )


def test_three_cells_train_alike_one_after_another(data):
    queue = RunQueue(limit=3)  # room for all three: only the comparison keeps them apart
    comparison = _comparison(data).start(queue)
    assert comparison.wait(TIMEOUT)

    jobs = comparison.jobs
    assert [(j.model_config.cell, j.model_config.nonlinearity) for j in jobs] == [
        ("rnn", "tanh"),
        ("lstm", "tanh"),
        ("gru", "tanh"),
    ]
    assert {j.model_config.reading_order for j in jobs} == {"columns"}
    assert all(j.train_config is jobs[0].train_config for j in jobs)
    assert [j.view().state for j in jobs] == ["finished"] * 3
    assert comparison.done and not comparison.stopped
    assert queue.counts() == (0, 0)
    # only the curves are compared: each model is let go as its run ends
    assert all(j.trained_model() is None for j in jobs)
    # the same seed gives the same run each time, whatever ran in between
    again = _comparison(data).start(RunQueue(limit=1))
    assert again.wait(TIMEOUT)
    assert [r.loss for r in jobs[2].view().records] == [
        r.loss for r in again.jobs[2].view().records
    ]


class _Held:
    """Runs that yield their start record, say so, then go on only when stopped."""

    def __init__(self):
        self.started = {cell: threading.Event() for cell in ("rnn", "lstm", "gru")}

    def train(self, model, train_set, val_set, config, stop):
        records = REAL_TRAIN(model, train_set, val_set, config, stop)
        yield next(records)
        self.started[model.config.cell].set()
        assert stop.wait(TIMEOUT), "the test never stopped the run"
        yield from records


def test_the_next_run_waits_for_the_one_before_and_stop_ends_them_all(data, monkeypatch):
    held = _Held()
    monkeypatch.setattr(job_module, "train", held.train)
    queue = RunQueue(limit=3)
    comparison = _comparison(data, epochs=50).start(queue)
    rnn, lstm, gru = comparison.jobs

    assert held.started["rnn"].wait(TIMEOUT)
    assert queue.counts() == (1, 0)  # one slot only, and nothing waiting behind it
    assert not comparison.submitted(lstm)

    comparison.stop()
    assert comparison.wait(TIMEOUT)
    assert rnn.view().state == "stopped" and rnn.trained_model() is None  # nothing to keep
    assert not comparison.submitted(lstm) and not comparison.submitted(gru)
    assert not held.started["lstm"].is_set()


def test_discard_lets_every_model_go(data, monkeypatch):
    held = _Held()
    monkeypatch.setattr(job_module, "train", held.train)
    comparison = _comparison(data, epochs=50).start(RunQueue(limit=2))
    assert held.started["rnn"].wait(TIMEOUT)

    comparison.discard("gone")
    assert comparison.wait(TIMEOUT)
    rnn = comparison.jobs[0]
    assert rnn.view().message == "gone"
    assert rnn.trained_model() is None and rnn.model is None
