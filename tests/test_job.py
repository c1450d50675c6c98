import gc
import os
import sys
import threading
import weakref
from pathlib import Path

import pytest
import torch

from rnn_model import ModelConfig, model_from_bytes
from training import job as job_module
from training.data import load_training_data
from training.engine import TrainConfig, new_model
from training.job import TrainingJob
from training.run_queue import RunQueue


@pytest.fixture(scope="module")
def data():
    return load_training_data("sample")


def test_a_job_trains_in_the_background_and_hands_over_its_model(data):
    job = TrainingJob(ModelConfig(hidden_size=16), TrainConfig(epochs=1), data, "sample")
    assert job.trained_model() is None  # nothing to use before it has run
    job.start()
    assert job.wait(timeout=60)

    view = job.view()
    assert view.state == "finished" and view.done
    assert view.last.kind == "end" and view.last.val_accuracy > 0.2
    model, info = model_from_bytes(job.model_file())
    assert info.config == ModelConfig(hidden_size=16)
    assert info.training["val_accuracy"] == view.last.val_accuracy
    assert job.trained_model() is job.model


def test_stop_ends_a_long_job_as_stopped(data):
    job = TrainingJob(ModelConfig(hidden_size=16), TrainConfig(epochs=200), data, "sample")
    job.start()
    job.stop()
    assert job.wait(timeout=30)
    view = job.view()
    assert view.state == "stopped"
    assert view.last.step < view.last.total_steps
    assert job.trained_model() is not None


def test_a_failing_run_ends_in_a_state_with_a_message(data):
    empty = type(data)(data.train.subset([]), data.val, "nothing")
    job = TrainingJob(ModelConfig(hidden_size=8), TrainConfig(epochs=1), empty, "nothing").start()
    assert job.wait(timeout=30)
    view = job.view()
    assert view.state == "failed"
    assert "no training digits" in view.message
    assert job.trained_model() is None


# -- when the model exists, and letting it go -----------------------------------------------

TIMEOUT_S = 30  # only reached when something is broken
REAL_TRAIN = job_module.train


@pytest.fixture
def held(monkeypatch):
    """Runs that yield their real 'start' record, then hold until told to stop: the test
    knows the model exists (`started`) and decides when the run ends."""
    started = threading.Event()

    def train(model, train_set, val_set, config, stop):
        records = REAL_TRAIN(model, train_set, val_set, config, stop)
        yield next(records)
        started.set()
        assert stop.wait(TIMEOUT_S), "the test never stopped the run"
        yield from records  # the engine sees the stop flag and ends 'stopped'

    monkeypatch.setattr(job_module, "train", train)
    return started


def test_the_model_is_built_when_the_run_starts_from_the_seed(data):
    config = ModelConfig(hidden_size=16)
    job = TrainingJob(config, TrainConfig(epochs=1, seed=3), data, "sample")
    assert job.model is None  # a job that has not started holds no weights
    job.stop()  # before it starts: it runs no batch, so its weights are the initial ones
    job.start()
    assert job.wait(TIMEOUT_S)

    assert job.view().state == "stopped"
    expected = new_model(config, seed=3).state_dict()
    for name, tensor in job.trained_model().state_dict().items():
        assert torch.equal(tensor, expected[name]), name


def test_a_queued_job_holds_no_model_and_never_builds_one_if_cancelled(data, held):
    queue = RunQueue(limit=1)
    running = queue.submit(TrainingJob(ModelConfig(hidden_size=8), TrainConfig(), data, "a"))
    big = ModelConfig(cell="lstm", hidden_size=1024, num_layers=4)  # 118 MB of weights
    waiting = queue.submit(TrainingJob(big, TrainConfig(), data, "b"))
    assert held.wait(TIMEOUT_S)

    assert waiting.view().queued and waiting.model is None
    assert running.model is not None
    waiting.stop()
    running.stop()
    assert running.wait(TIMEOUT_S) and waiting.wait(TIMEOUT_S)
    assert waiting.view().state == "cancelled" and waiting.model is None
    assert waiting.trained_model() is None
    with pytest.raises(RuntimeError, match="no trained model"):
        waiting.model_file()


def test_discarding_a_running_job_stops_it_and_frees_its_model(data, held):
    discarded = TrainingJob(ModelConfig(hidden_size=16), TrainConfig(), data, "sample").start()
    assert held.wait(TIMEOUT_S)
    model = weakref.ref(discarded.model)

    discarded.discard("Stopped: its browser left.")

    assert discarded.wait(TIMEOUT_S)
    gc.collect()
    assert model() is None  # freed, though the test (like a stored session) keeps the job
    view = discarded.view()
    assert view.state == "stopped" and view.message == "Stopped: its browser left."
    assert view.records[-1].kind == "stopped"
    assert discarded.trained_model() is None


def test_a_stopped_job_keeps_its_model_and_a_finished_one_loses_it_when_discarded(data):
    job = TrainingJob(ModelConfig(hidden_size=8), TrainConfig(epochs=1), data, "sample").start()
    assert job.wait(TIMEOUT_S)
    model = weakref.ref(job.trained_model())
    gc.collect()
    assert model() is not None  # nobody discarded it: the session can still use it

    job.discard("Let go.")

    gc.collect()
    assert model() is None
    assert job.view().state == "finished" and job.view().message == "Let go."
    assert job.trained_model() is None


def _in_a_thread(function):
    out = {}

    def body():
        me = threading.get_native_id()
        out["before"] = os.getpriority(os.PRIO_PROCESS, me)
        out["returned"] = function()
        out["after"] = os.getpriority(os.PRIO_PROCESS, me)
        out["name"] = Path(f"/proc/self/task/{me}/comm").read_text().strip()

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_a_training_thread_yields_the_cpu_to_pages_and_only_itself():
    seen = _in_a_thread(lambda: job_module.yield_to_pages({}))
    want = min(seen["before"] + job_module.TRAINING_NICE, 19)
    assert seen["returned"] == seen["after"] == want
    assert seen["name"] == "training-job"
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == seen["before"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_training_nice_follows_the_variable():
    seen = _in_a_thread(lambda: job_module.yield_to_pages({job_module.NICE_VARIABLE: "0"}))
    assert seen["after"] == seen["before"]
    seen = _in_a_thread(lambda: job_module.yield_to_pages({job_module.NICE_VARIABLE: "3"}))
    assert seen["after"] == min(seen["before"] + 3, 19)
