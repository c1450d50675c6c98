import pytest

from rnn_model import ModelConfig, model_from_bytes
from training.data import load_training_data
from training.engine import TrainConfig
from training.job import TrainingJob


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
