"""Model files uploaded in the Playground, through AppTest (which drives st.file_uploader):
a good file joins the model list; every kind of bad file gets the loader's reason, and the
model in use, the digit on show and the session's own trained model all stay as they were."""

import io
import json
import pickle
import re

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save as save_safetensors
from streamlit.testing.v1 import AppTest

from app_pages import state
from app_pages.text import plain, uploaded_label
from rnn_model import ModelConfig, ModelFileError, RowClassifier, model_from_bytes
from rnn_model.files import model_to_bytes
from tests.test_app import _array, _charts, _upload
from training.data import load_training_data
from training.engine import TrainConfig
from training.job import TrainingJob

TIMEOUT = 60
UPLOAD_CHOICE = "Upload a model file…"


@pytest.fixture(scope="module")
def trained_job() -> TrainingJob:
    """A finished run of this 'session': its model is what the download button gives."""
    job = TrainingJob(
        ModelConfig(hidden_size=8), TrainConfig(epochs=1, seed=5), load_training_data("sample"), "s"
    ).start()
    assert job.wait(120) and job.view().state == "finished"
    return job


@pytest.fixture(scope="module")
def digit_png(sample_digits) -> bytes:
    images, labels = sample_digits
    buffer = io.BytesIO()
    Image.fromarray(images[int(np.flatnonzero(labels == 3)[0])]).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def app(trained_job, digit_png):
    """The Playground with the bundled LSTM reading a digit, and a model trained here."""
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.session_state[state.JOB_KEY] = trained_job
    at.run()
    at.selectbox(key="model_choice").set_value("Bundled LSTM").run()
    _upload(at, digit_png)
    assert not at.exception and at.get("plotly_chart")
    return at


def _shown(at) -> dict:
    """What must not change when a bad file comes in."""
    (prediction,) = [m.value for m in at.metric if m.label == "Prediction"]
    heatmap = _charts(at)["state_heatmap"]
    return {
        "prediction": prediction,
        "units": _array(heatmap["data"][0]["z"]).shape,
        "title": heatmap["layout"]["title"]["text"],
        "job": at.session_state[state.JOB_KEY].view().state,
        "models": [o for o in at.selectbox(key="model_choice").options if o != UPLOAD_CHOICE],
        "uploaded": state.UPLOADED_KEY in at.session_state,
    }


def _send_model_file(at, name: str, data: bytes) -> AppTest:
    at.selectbox(key="model_choice").set_value(UPLOAD_CHOICE).run()
    at.file_uploader(key="model_file").set_value((name, data, "application/octet-stream"))
    return at.run()


def _unescaped(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


# -- bad files ------------------------------------------------------------------------------


class _RunsCode:
    """Unpickling this creates a file: proof, were it ever unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _good(model) -> bytes:
    return model_to_bytes(model)


def _with_config(weights: dict, config: dict) -> bytes:
    return save_safetensors(weights, metadata={"config": json.dumps(config)})


def _gru() -> RowClassifier:
    torch.manual_seed(0)
    return RowClassifier(ModelConfig(cell="gru", hidden_size=8))


BAD_FILES = {  # name -> (file name, bytes maker, a word of the reason)
    "torch-checkpoint": (
        "model.safetensors",
        lambda tmp: _torch_checkpoint(),
        "not a safetensors model file",
    ),
    "png-renamed": ("digit.safetensors", lambda tmp: _png(), "not a safetensors model file"),
    "truncated": ("cut.safetensors", lambda tmp: _good(_gru())[:2000], "cut short"),
    "empty": ("empty.safetensors", lambda tmp: b"", "empty or cut short"),
    "other-architecture": (
        "lstm.safetensors",
        lambda tmp: _with_config(dict(_gru().state_dict()), {"cell": "lstm", "hidden_size": 8}),
        "does not match its config",
    ),
    "missing-weight": (
        "missing.safetensors",
        lambda tmp: _with_config(
            {k: v for k, v in _gru().state_dict().items() if k != "readout.bias"},
            _gru().config.to_dict(),
        ),
        "missing readout.bias",
    ),
    "extra-weight": (
        "extra.safetensors",
        lambda tmp: _with_config(
            dict(_gru().state_dict()) | {"secret": torch.zeros(3)}, _gru().config.to_dict()
        ),
        "extra secret",
    ),
    "absurd-size": (
        "huge.safetensors",
        lambda tmp: _with_config(
            {"readout.bias": torch.zeros(10)}, {"cell": "lstm", "hidden_size": 10**9}
        ),
        "hidden_size must be between 1 and 1024",
    ),
    "no-config": (
        "plain.safetensors",
        lambda tmp: save_safetensors(dict(_gru().state_dict())),
        "no RNN Digit Lab config",
    ),
}


def _torch_checkpoint() -> bytes:
    buffer = io.BytesIO()
    torch.save(_gru().state_dict(), buffer)  # a zip holding a pickle
    return buffer.getvalue()


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (28, 28), 0).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_model_file_is_refused_and_nothing_changes(app, kind, tmp_path, trained_job):
    file_name, make, reason = BAD_FILES[kind]
    data = make(tmp_path)
    before, memo, job = _shown(app), app.session_state[state.TRACE_KEY], trained_job

    _send_model_file(app, file_name, data)

    assert not app.exception
    with pytest.raises(ModelFileError) as expected:
        model_from_bytes(data, file_name)
    assert [_unescaped(e.value) for e in app.error] == [str(expected.value)]
    assert reason in str(expected.value)
    assert _shown(app) == before  # same model and digit, same list, same session run
    assert app.session_state[state.TRACE_KEY] is memo  # the digit was not even read again
    assert app.session_state[state.JOB_KEY] is job
    caption = "Until a model file is loaded, the Playground reads with Bundled LSTM."
    assert caption in [_unescaped(c.value) for c in app.caption]


def test_a_pickle_that_would_run_code_is_refused_without_running_it(app, tmp_path):
    marker = tmp_path / "code-ran"
    before, memo = _shown(app), app.session_state[state.TRACE_KEY]

    _send_model_file(app, "evil.safetensors", pickle.dumps(_RunsCode(str(marker))))

    assert not app.exception
    assert "is not a safetensors model file" in _unescaped(app.error[0].value)
    assert not marker.exists()
    assert _shown(app) == before
    assert app.session_state[state.TRACE_KEY] is memo


# -- a good file ----------------------------------------------------------------------------


def test_a_downloaded_model_file_becomes_a_choice_and_reads_the_digit(app, trained_job):
    data = trained_job.model_file()  # what the Training page's download button gives

    _send_model_file(app, "rnn-digit-lab-gru-8.safetensors", data)

    assert not app.exception and not app.error
    choice = app.selectbox(key="model_choice")
    assert choice.value == "Uploaded: rnn-digit-lab-gru-8.safetensors"
    assert {"Bundled LSTM", "Trained in this session"} <= set(choice.options)
    assert "8 hidden units" in app.markdown[1].value
    assert _array(_charts(app)["state_heatmap"]["data"][0]["z"]).shape == (28, 8)
    assert app.session_state[state.JOB_KEY] is trained_job

    # a bad file after it leaves the uploaded model in use and on the list
    _send_model_file(app, "bad.safetensors", b"not a model")
    assert app.error and not app.exception
    assert _array(_charts(app)["state_heatmap"]["data"][0]["z"]).shape == (28, 8)
    assert "Uploaded: rnn-digit-lab-gru-8.safetensors" in app.selectbox(key="model_choice").options


def test_the_uploaded_model_reads_like_the_model_it_was_saved_from(app, trained_job):
    _send_model_file(app, "mine.safetensors", trained_job.model_file())
    uploaded = app.session_state[state.TRACE_KEY][1]

    app.selectbox(key="model_choice").set_value("Trained in this session").run()
    own = app.session_state[state.TRACE_KEY][1]

    np.testing.assert_allclose(uploaded.probabilities, own.probabilities, atol=1e-6)
    np.testing.assert_allclose(uploaded.hidden[0], own.hidden[0], atol=1e-6)


def test_a_file_name_with_markdown_shows_as_text(app):
    _send_model_file(app, "my_[model](http://127.0.0.1:9)*.safetensors", b"")

    (error,) = app.error
    assert "\\[model\\]\\(http" in error.value  # escaped, so no link is drawn
    assert _unescaped(error.value).startswith("my_[model](http://127.0.0.1:9)*.safetensors is")


# -- helpers ------------------------------------------------------------------------------


def test_plain_escapes_every_markdown_mark_and_nothing_else():
    assert plain("a_b*c") == "a\\_b\\*c"
    assert plain("![x](y) `z` <b> $1$ #") == "\\!\\[x\\]\\(y\\) \\`z\\` \\<b\\> \\$1\\$ \\#"
    assert plain("7 digits, 28 rows é") == "7 digits\\, 28 rows é"
    assert _unescaped(plain("any \\ text [with] marks!")) == "any \\ text [with] marks!"


def test_uploaded_labels_keep_short_names_and_shorten_long_ones_in_the_middle():
    assert uploaded_label("gru.safetensors") == "Uploaded: gru.safetensors"
    long = "a" * 40 + "-trained-on-mnist.safetensors"
    label = uploaded_label(long)
    assert label == "Uploaded: " + "a" * 30 + "…" + "mnist.safetensors"
    assert len(label) == len("Uploaded: ") + 48
