"""The server-wide shelf of kept models, through the pages: a model let go to make room says
so where it was, and nothing else of the session changes."""

import pytest
from streamlit.testing.v1 import AppTest

from app_pages import state
from rnn_model import ModelConfig, RowClassifier
from rnn_model.files import model_to_bytes
from training.data import load_training_data
from training.engine import TrainConfig
from training.job import TrainingJob
from training.model_shelf import ModelShelf, model_bytes

TIMEOUT = 60
UPLOAD_CHOICE = "Upload a model file…"
SESSION_CHOICE = "Trained in this session"


def _model_file(seed: int) -> bytes:
    model = RowClassifier(ModelConfig(hidden_size=8))
    return model_to_bytes(model, {"data": f"seed {seed}"})


@pytest.fixture
def shelf(monkeypatch) -> ModelShelf:
    """A shelf with room for one small model (hidden size 8), in place of the server's."""
    one = model_bytes(RowClassifier(ModelConfig(hidden_size=8)))
    shelf = ModelShelf(one + one // 2)
    monkeypatch.setattr(state, "model_shelf", lambda: shelf)
    return shelf


def _playground_with_upload(name: str, data: bytes) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT).run()
    at.selectbox(key="model_choice").set_value(UPLOAD_CHOICE).run()
    at.file_uploader(key="model_file").set_value((name, data, "application/octet-stream"))
    return at.run()


def _choices(at) -> list[str]:
    return list(at.selectbox(key="model_choice").options)


def test_a_second_visitors_upload_makes_the_first_one_go(shelf):
    first = _playground_with_upload("first.safetensors", _model_file(1))
    assert "Uploaded: first.safetensors" in _choices(first)

    second = _playground_with_upload("second.safetensors", _model_file(2))
    first.run()

    assert not first.exception and not second.exception
    assert "Uploaded: second.safetensors" in _choices(second)
    assert "Uploaded: first.safetensors" not in _choices(first)
    assert "Bundled GRU" in _choices(first)  # the bundled models are never on the shelf
    assert shelf.total_bytes == model_bytes(RowClassifier(ModelConfig(hidden_size=8)))


def test_a_trained_model_let_go_says_so_on_the_training_page(shelf):
    job = TrainingJob(
        ModelConfig(hidden_size=8), TrainConfig(epochs=1, seed=3), load_training_data("sample"), "s"
    ).start()
    assert job.wait(120) and job.view().state == "finished"
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.session_state[state.JOB_KEY] = job
    at.run()
    assert SESSION_CHOICE in _choices(at)  # seen, so now on the shelf

    _playground_with_upload("other.safetensors", _model_file(4))  # another visitor's model
    at.run()
    assert SESSION_CHOICE not in _choices(at)
    at.switch_page("app_pages/training.py").run()

    assert not at.exception
    assert [i.value for i in at.info] == [state.LET_GO]
    assert not at.get("download_button") or all(
        b.proto.label != "Download the model" for b in at.get("download_button")
    )
