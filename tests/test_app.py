"""Both pages through Streamlit's AppTest: what shows, what the buttons do, what bad input says.

The drawing canvas cannot be driven here (it is a browser component), so digits go in through
the Playground's own "Upload a picture" input, which is the same path after decoding.
"""

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

from app_pages import state

TIMEOUT = 60  # seconds per script run; a shared CPU can be slow, a run is usually < 1 s


@pytest.fixture(scope="module")
def digit_png(sample_digits) -> bytes:
    """A real MNIST digit (a 0) as a PNG, white on black like the canvas."""
    images, labels = sample_digits
    index = int(np.flatnonzero(labels == 0)[0])
    buffer = io.BytesIO()
    Image.fromarray(images[index]).save(buffer, format="PNG")
    return buffer.getvalue()


def _charts(at) -> dict[str, dict]:
    """Plotly figures on the page, by the key they were drawn with."""
    charts = {}
    for element in at.get("plotly_chart"):
        key = element.proto.id.rsplit("-", 1)[-1]
        charts[key] = json.loads(element.proto.spec)
    return charts


def _array(value) -> np.ndarray:
    """A figure's data array: plotly sends numpy arrays as base64 typed arrays."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(n) for n in str(value.get("shape", len(flat))).split(",")]
        return flat.reshape(shape).astype(float)
    return np.array(value, dtype=float)


def _button(at, label: str):
    (button,) = [b for b in at.button if b.label == label]
    return button


def _upload(at, data: bytes, name: str = "digit.png"):
    at.radio(key="input_mode").set_value("Upload a picture").run()
    at.file_uploader(key="upload").set_value((name, data, "image/png")).run()
    return at


def _training_page(at, **settings):
    at.run()
    at.switch_page("app_pages/training.py").run()
    widgets = {w.key: w for w in [*at.number_input, *at.selectbox, *at.toggle]}
    for key, value in settings.items():
        widgets[key].set_value(value)
    return at.run()


# -- playground ---------------------------------------------------------------------------


def test_playground_opens_first_and_asks_for_a_drawing(app):
    app.run()

    assert not app.exception
    assert app.title[0].value == "Playground"
    assert any(info.value.startswith("Draw a digit in the box") for info in app.info)
    assert not [m for m in app.metric if m.label == "Prediction"]
    assert app.selectbox(key="model_choice").value == "Bundled GRU"


def test_an_uploaded_digit_gets_a_prediction_and_every_view(app, digit_png):
    _upload(app.run(), digit_png)

    assert not app.exception
    (metric,) = [m for m in app.metric if m.label == "Prediction"]
    assert metric.value in list("0123456789")
    charts = _charts(app)
    assert set(charts) == {
        "final_bars",
        "input_figure",
        "state_heatmap",
        "probability_lines",
        "hidden_path",
    }
    bars = _array(charts["final_bars"]["data"][0]["y"])
    assert str(int(np.argmax(bars))) == metric.value
    heatmap = _array(charts["state_heatmap"]["data"][0]["z"])
    assert heatmap.shape == (28, 128)  # the bundled GRU has 128 hidden units
    assert app.slider(key="step_slider").value == 28  # a new digit is shown fully read
    assert not app.warning  # a digit is not taken for a scribble


def test_the_step_control_reveals_the_trace_without_running_the_model_again(
    app, digit_png, monkeypatch
):
    calls = []

    def counting_trace(model, image):
        calls.append(1)
        return real_trace(model, image)

    real_trace = state.trace
    monkeypatch.setattr(state, "trace", counting_trace)
    _upload(app.run(), digit_png)
    app.slider(key="step_slider").set_value(5).run()

    assert not app.exception
    assert len(calls) == 1
    z = _array(_charts(app)["state_heatmap"]["data"][0]["z"])
    assert not np.isnan(z[:5]).any() and np.isnan(z[5:]).all()
    rect = _charts(app)["input_figure"]["layout"]["shapes"][0]
    assert (rect["y0"], rect["y1"]) == (4.5, 5.5)


def test_play_walks_through_the_steps_and_stops_at_the_end(app, digit_png):
    _upload(app.run(), digit_png)
    _button(app, "Play").click().run()

    assert app.session_state["reading_step"] == 1
    assert _button(app, "Pause") and not app.slider  # the slider waits while it plays
    for expected in range(2, 29):
        app.run()  # in a browser the fragment's timer does this every 0.25 s
        assert app.session_state["reading_step"] == expected
        rect = _charts(app)["input_figure"]["layout"]["shapes"][0]
        assert rect["y0"] == expected - 0.5
    assert not app.session_state["playing"]
    assert _button(app, "Play")
    assert app.slider(key="step_slider").value == 28
    assert not app.exception


def test_pause_keeps_the_step_reached(app, digit_png):
    _upload(app.run(), digit_png)
    _button(app, "Play").click().run()
    app.run()
    _button(app, "Pause").click().run()

    assert not app.session_state["playing"]
    assert app.slider(key="step_slider").value == 2
    app.run()
    assert app.session_state["reading_step"] == 2


def test_a_bad_upload_says_what_is_wrong(app):
    _upload(app.run(), b"this is not a picture", name="digit.png")

    assert not app.exception
    assert [e.value for e in app.error] == [
        "That file is not an image: upload a PNG or JPEG of a digit."
    ]
    assert not [m for m in app.metric if m.label == "Prediction"]


def test_a_scribble_is_read_with_a_warning_that_it_is_no_digit(app):
    picture = Image.new("L", (280, 280), 0)
    corners = [(20 + i * 12, 20 if i % 2 == 0 else 260) for i in range(21)]
    ImageDraw.Draw(picture).line(corners, fill=255, width=18)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    _upload(app.run(), buffer.getvalue())

    assert not app.exception
    assert [m for m in app.metric if m.label == "Prediction"]  # still read, as the model must
    (warning,) = app.warning
    assert "more ink than any digit" in warning.value


def test_a_blank_picture_is_not_read(app):
    buffer = io.BytesIO()
    Image.new("L", (100, 100), 255).save(buffer, format="PNG")
    _upload(app.run(), buffer.getvalue())

    assert not app.exception
    assert app.info and not [m for m in app.metric if m.label == "Prediction"]


def test_the_lstm_can_show_its_cell_state(app, digit_png):
    app.run()
    app.selectbox(key="model_choice").set_value("Bundled LSTM").run()
    _upload(app, digit_png)
    assert "hidden state" in _charts(app)["state_heatmap"]["layout"]["title"]["text"]

    app.selectbox(key="state-view-lstm").set_value("cell state c_t").run()
    assert not app.exception
    assert "cell state" in _charts(app)["state_heatmap"]["layout"]["title"]["text"]

    app.selectbox(key="state-view-lstm").set_value("forget gate").run()
    heatmap = _charts(app)["state_heatmap"]
    assert heatmap["layout"]["title"]["text"].startswith("Gate: forget gate")
    assert (heatmap["data"][0]["zmin"], heatmap["data"][0]["zmax"]) == (0.0, 1.0)


def test_the_gru_shows_its_gates_and_when_it_decided(app, digit_png):
    app.run()
    _upload(app, digit_png)
    assert app.selectbox(key="state-view-gru").options == [
        "hidden state h_t",
        "update gate",
        "reset gate",
    ]
    app.selectbox(key="state-view-gru").set_value("update gate").run()
    assert not app.exception
    assert "update gate" in _charts(app)["state_heatmap"]["layout"]["title"]["text"]
    assert any(re.search(r"settled on \d after step \d+ of 28", c.value) for c in app.caption)


# -- training -----------------------------------------------------------------------------


def test_training_page_shows_the_controls_and_the_digits(app):
    _training_page(app)

    assert not app.exception
    assert app.title[0].value == "Training"
    assert [b.label for b in app.button] == ["Start training", "Stop"]
    assert not _button(app, "Start training").disabled and _button(app, "Stop").disabled
    labels = [w.label for w in app.number_input]
    assert labels == ["Hidden size", "Layers", "Learning rate", "Batch size", "Epochs", "Seed"]
    assert "1 to 1024" in app.number_input(key="hidden_size").help
    charts = _charts(app)
    assert set(charts) == {"digit_grid", "counts"}
    assert _array(charts["counts"]["data"][0]["x"]).sum() == 5000


def test_a_short_run_trains_and_its_model_reaches_the_playground(app, digit_png):
    _training_page(app, hidden_size=16, epochs=1, seed=3)
    _button(app, "Start training").click().run()

    job = app.session_state[state.JOB_KEY]
    assert _button(app, "Start training").disabled  # one run at a time
    assert job.wait(120)
    app.run()

    assert not app.exception
    assert job.view().state == "finished"
    assert app.success[0].value.startswith("Training finished.")
    assert set(_charts(app)) == {"loss", "accuracy", "step_gradients", "confusion"}
    validation = next(m for m in app.metric if m.label == "Validation accuracy")
    assert validation.value.endswith("%")
    downloads = [b.proto.label for b in app.get("download_button")]
    assert downloads == ["Download the model", "Save the run as a recording"]
    assert not _button(app, "Start training").disabled

    app.switch_page("app_pages/playground.py").run()
    choice = app.selectbox(key="model_choice")
    assert "Trained in this session" in choice.options
    choice.set_value("Trained in this session").run()
    _upload(app, digit_png)
    assert not app.exception
    assert _array(_charts(app)["state_heatmap"]["data"][0]["z"]).shape == (28, 16)


def test_a_new_run_takes_the_old_session_model_off_the_list(app, digit_png):
    _training_page(app, hidden_size=16, epochs=1)
    _button(app, "Start training").click().run()
    assert app.session_state[state.JOB_KEY].wait(120)
    app.switch_page("app_pages/playground.py").run()
    app.selectbox(key="model_choice").set_value("Trained in this session").run()

    app.switch_page("app_pages/training.py").run()
    app.number_input(key="epochs").set_value(200).run()
    _button(app, "Start training").click().run()
    app.switch_page("app_pages/playground.py").run()

    assert not app.exception
    choice = app.selectbox(key="model_choice")
    assert "Trained in this session" not in choice.options
    assert choice.value in choice.options


def test_stop_ends_the_run_and_keeps_the_model(app):
    _training_page(app, hidden_size=16, epochs=200)
    _button(app, "Start training").click().run()
    job = app.session_state[state.JOB_KEY]
    assert not _button(app, "Stop").disabled

    _button(app, "Stop").click().run()

    assert job.wait(30)
    app.run()
    assert not app.exception
    assert job.view().state == "stopped"
    assert app.info[0].value.startswith("Stopped before the end")
    assert job.trained_model() is not None


def test_switching_pages_keeps_the_run_going(app):
    _training_page(app, hidden_size=16, epochs=200)
    _button(app, "Start training").click().run()
    job = app.session_state[state.JOB_KEY]

    app.switch_page("app_pages/playground.py").run()
    assert not app.exception
    assert "Your model is training" in app.get("progress")[0].proto.text
    app.switch_page("app_pages/training.py").run()

    assert app.session_state[state.JOB_KEY] is job
    assert not job.view().done
    assert app.number_input(key="epochs").value == 200  # the settings survived the visit
    # the gradient heatmap joins once the run has measured its gradients
    assert {"loss", "accuracy"} <= set(_charts(app)) <= {"loss", "accuracy", "step_gradients"}
    assert not app.exception


def test_settings_too_large_for_the_server_are_refused_with_a_message(app):
    _training_page(app, hidden_size=1024, num_layers=4, batch_size=1024)

    assert not app.exception
    assert "MB" in app.error[0].value and "smaller" in app.error[0].value
    assert _button(app, "Start training").disabled


def test_a_diverging_run_ends_with_a_warning_not_a_traceback(app):
    _training_page(app, cell="Vanilla RNN (ReLU)", hidden_size=32, learning_rate=10.0)
    _button(app, "Start training").click().run()
    job = app.session_state[state.JOB_KEY]
    assert job.wait(60)
    app.run()

    assert not app.exception
    assert job.view().state == "diverged"
    assert "diverged" in app.warning[0].value and "smaller learning rate" in app.warning[0].value
