"""The Training page's "Replay a recorded run" section through AppTest: choosing, playing at
a speed, the charts at a position, uploads good and bad, and this tab's own run."""

import base64

import numpy as np
import pytest

from app_pages import replay_ui
from rnn_model import ModelConfig
from rnn_model.files import model_to_bytes
from rnn_model.model import RowClassifier
from tests.test_app import _button, _charts, _training_page
from training.engine import Record, TrainConfig
from training.recording import Recording, recording_to_bytes, save_recording

STEPS = 60  # progress records in the recording; one every 10 steps, 2 epochs of 300 steps


def _recording(cell="gru", label="GRU", hidden_size=8, seconds_per_record=0.5) -> Recording:
    records = [Record("start", 0, 600, 0.0, 0, elapsed_s=0.0)]
    for i in range(1, STEPS + 1):
        step = i * 10
        t = i * seconds_per_record
        records.append(
            Record(
                "progress",
                step,
                600,
                step / 300,
                step * 64,
                2.3 / i,
                i / STEPS,
                None,
                0.002,
                100.0,
                t,
            )  # fmt: skip
        )
        if step == 300:
            records.append(Record("eval", step, 600, 1.0, step * 64, val_accuracy=0.7, elapsed_s=t))
    records[-1] = Record("end", 600, 600, 2.0, 600 * 64, 0.05, 0.99, 0.9, 0.002, 100.0, 30.0)
    return Recording(
        ModelConfig(cell=cell, hidden_size=hidden_size), TrainConfig(epochs=2), "sample", label,
        records,
    )  # fmt: skip


@pytest.fixture
def recordings(tmp_path, monkeypatch):
    folder = tmp_path / "recordings"
    monkeypatch.setattr(replay_ui, "RECORDINGS_DIR", folder)
    save_recording(_recording(), folder / "gru.json")
    save_recording(_recording("lstm", "LSTM", 16), folder / "lstm.json")
    return folder


def _replay_section(at, **settings):
    _training_page(at, **settings)
    at.segmented_control(key="training_section").set_value("Replay a recorded run").run()
    return at


def _speed(at, label: str):
    at.segmented_control(key="replay_speed").set_value(label).run()
    return at


def _points(at) -> tuple[int, int]:
    charts = _charts(at)
    loss = charts["replay_loss"]["data"][0]["x"]
    validation = charts["replay_accuracy"]["data"][2]["x"]
    return _length(loss), _length(validation)


def _text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def _length(value) -> int:
    if isinstance(value, dict):  # plotly's base64 typed array
        return len(np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]))
    return len(value)


def test_all_at_once_shows_every_point_of_the_run(app, recordings):
    at = _speed(_replay_section(app), "All at once")

    assert not at.exception
    assert at.selectbox(key="replay_source").value == "Bundled: GRU"
    loss, validation = _points(at)
    assert loss == STEPS  # the progress records and the end, which carry a loss
    assert validation == 2  # the end of the first epoch and the end of the run
    assert at.slider(key="replay_at").value == pytest.approx(30.0)
    assert _button(at, "Play").disabled
    assert "**Epoch 2.0 of 2**, 30 s into the run" in _text(at)

    at.slider(key="replay_at").set_value(15.0).run()  # back to the middle by hand
    at.run()  # and a whole rerun (any other widget) keeps it there
    assert at.slider(key="replay_at").value == 15.0
    assert _points(at) == (30, 1)


def test_play_moves_on_and_the_slider_shows_an_earlier_moment(app, recordings):
    at = _replay_section(app)
    assert _points(at) == (STEPS, 2)  # all at once, the first time
    _speed(at, "1x (real time)")  # slow enough that a slow machine cannot reach the end
    assert at.slider(key="replay_at").value == 30.0  # still the whole run, until Play

    _button(at, "Play").click().run()  # from the end, Play starts again
    assert _points(at)[0] < 10  # a few records at most: as many half seconds as the run took
    at.run()  # the timer's next frame, here as a whole run: as long as the time between
    assert at.session_state["replay_playing"]
    assert 0.0 < at.slider(key="replay_at").value < 30.0
    _button(at, "Pause").click().run()
    paused_at = at.slider(key="replay_at").value
    at.run()
    assert at.slider(key="replay_at").value == paused_at  # paused: nothing moves

    at.slider(key="replay_at").set_value(15.0).run()  # halfway through the run
    loss, validation = _points(at)
    assert loss == 30  # records up to 15 s: one every half second
    assert validation == 1
    assert "**Epoch 1.0 of 2**, 15 s into the run" in _text(at)


def test_choosing_another_recording_starts_it_afresh(app, recordings):
    at = _speed(_replay_section(app), "10x")
    at.slider(key="replay_at").set_value(20.0).run()
    at.selectbox(key="replay_source").set_value("Bundled: LSTM").run()

    assert at.slider(key="replay_at").value == 0.0
    assert any("LSTM, 16 hidden units" in c.value for c in at.caption)
    _speed(at, "All at once")  # jumps to the end
    assert at.slider(key="replay_at").value == 30.0


def test_a_good_upload_is_chosen_and_a_bad_one_warns_and_keeps_it(app, recordings):
    at = _speed(_replay_section(app), "All at once")
    good = recording_to_bytes(_recording("rnn", "Vanilla RNN (tanh)", 12), compress=True)
    at.file_uploader(key="replay_upload").set_value(
        ("mine.json.gz", good, "application/gzip")
    ).run()
    assert at.selectbox(key="replay_source").value == "Uploaded: mine.json.gz"
    assert any("Vanilla RNN (tanh), 12 hidden units" in c.value for c in at.caption)
    assert not at.warning

    model = model_to_bytes(RowClassifier(ModelConfig(hidden_size=4)))
    at.file_uploader(key="replay_upload").set_value(("model.json", model, "application/json")).run()

    assert not at.exception
    (warning,) = at.warning
    assert "model.json is a model file" in warning.value
    assert "still shown" in warning.value
    assert at.selectbox(key="replay_source").value == "Uploaded: mine.json.gz"
    assert _points(at) == (STEPS, 2)  # the chosen recording is still all there


def test_without_any_recording_it_says_so_and_offers_the_upload(app, tmp_path, monkeypatch):
    monkeypatch.setattr(replay_ui, "RECORDINGS_DIR", tmp_path / "empty")
    at = _replay_section(app)

    assert not at.exception
    assert any("No recorded runs are bundled" in info.value for info in at.info)
    assert at.file_uploader(key="replay_upload") is not None
    assert not at.get("plotly_chart")


def test_this_tabs_run_can_be_replayed_and_saved(app, tmp_path, monkeypatch):
    monkeypatch.setattr(replay_ui, "RECORDINGS_DIR", tmp_path / "empty")
    at = _training_page(app, hidden_size=4, epochs=1, batch_size=512)
    _button(at, "Start training").click().run()
    job = at.session_state["training_job"]
    assert job.wait(60)
    at.run()
    assert [b for b in at.get("download_button") if "recording" in b.proto.label]

    at.segmented_control(key="training_section").set_value("Replay a recorded run").run()
    _speed(at, "All at once")
    assert at.selectbox(key="replay_source").value == replay_ui.THIS_RUN
    trained = [r for r in job.view().records if r.loss is not None]
    assert _points(at)[0] == len(trained)
    assert [b for b in at.get("download_button") if "recording" in b.proto.label]
