"""Recordings of runs: a round trip keeps every value, and each bad file gets its own reason."""

import gzip
import json

import pytest

from rnn_model import ModelConfig, RowClassifier
from rnn_model.files import model_to_bytes
from training.engine import Record, TrainConfig
from training.recording import (
    FORMAT,
    MAX_FILE_BYTES,
    MAX_RECORDS,
    Recording,
    RecordingError,
    cell_name,
    load_recording,
    recording_from_bytes,
    recording_to_bytes,
    save_recording,
)


def _records() -> list[Record]:
    return [
        Record("start", 0, 20, 0.0, 0, learning_rate=0.002, elapsed_s=0.01, message="go"),
        Record("progress", 10, 20, 0.5, 640, 1.9, 0.31, None, 0.002, 1200.5, 0.53),
        Record("eval", 10, 20, 0.5, 640, None, None, 0.42, 0.002, 1200.5, 0.61),
        Record("end", 20, 20, 1.0, 1280, 1.25, 0.58, 0.66, 0.002, 1190.0, 1.08, "Training done."),
    ]


def _recording() -> Recording:
    return Recording(
        model_config=ModelConfig(cell="lstm", hidden_size=12, reading_order="columns"),
        train_config=TrainConfig(learning_rate=0.01, batch_size=32, epochs=1, seed=7),
        data_label="Embedded sample: 5,000 MNIST digits",
        cell_label="LSTM",
        records=_records(),
    )


def _dict() -> dict:
    return _recording().to_dict()


def _bytes(values) -> bytes:
    return json.dumps(values).encode()


@pytest.mark.parametrize("name", ["run.json", "run.json.gz"])
def test_a_saved_recording_reads_back_equal(tmp_path, name):
    path = save_recording(_recording(), tmp_path / name)

    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    loaded = load_recording(path)
    assert loaded == _recording()
    assert loaded.records[1].loss == 1.9 and loaded.records[-1].val_accuracy == 0.66
    assert loaded.duration_s == 1.08
    assert loaded.model_config.reading_order == "columns"
    assert loaded.train_config.seed == 7
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


def test_the_same_run_gives_the_same_bytes():
    recording = _recording()
    assert recording_to_bytes(recording, compress=True) == recording_to_bytes(
        recording, compress=True
    )
    assert json.loads(recording_to_bytes(recording))["format"] == FORMAT


def test_record_fields_with_defaults_may_be_missing_and_unknown_ones_are_left_out():
    values = _dict()
    values["records"][1].pop("message")
    values["records"][1].pop("val_accuracy")
    values["records"][1]["from_a_newer_version"] = [1.0, 2.0]

    loaded = recording_from_bytes(_bytes(values))
    assert loaded.records[1].message == "" and loaded.records[1].val_accuracy is None
    assert loaded.records[1].loss == 1.9


def test_cell_names_are_the_ones_the_page_shows():
    assert cell_name(ModelConfig(cell="rnn", nonlinearity="relu")) == "Vanilla RNN (ReLU)"
    assert cell_name(ModelConfig(cell="gru")) == "GRU"


def _broken(change) -> bytes:
    values = _dict()
    change(values)
    return _bytes(values)


def _set(path, value):
    def change(values):
        target = values
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _drop(path):
    def change(values):
        target = values
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


BAD_FILES = {
    "empty": (b"   ", "is empty"),
    "not JSON": (b"epoch,loss\n1,0.5\n", "is not a JSON file"),
    "binary": (bytes(range(256)), "is not a JSON file"),
    "a list": (b"[1, 2, 3]", "not a recording of a training run"),
    "other JSON": (b'{"name": "my settings"}', "not a recording of a training run"),
    "damaged gzip": (b"\x1f\x8b\x08\x00broken", "damaged gzip file"),
    "no records": (_broken(_set(["records"], [])), "holds no records"),
    "records not a list": (_broken(_set(["records"], {"a": 1})), "'records' in the file should"),
    "no cell": (_broken(_drop(["cell"])), "the file has no 'cell'"),
    "data a number": (_broken(_set(["data"], 5)), "'data' in the file should be text"),
    "record not an object": (_broken(_set(["records", 1], 3)), "record 2 is not an object"),
    "record without step": (_broken(_drop(["records", 2, "step"])), "record 3 has no 'step'"),
    "loss as text": (
        _broken(_set(["records", 1, "loss"], "low")),
        "record 2's 'loss' has the wrong type",
    ),
    "step as a bool": (
        _broken(_set(["records", 1, "step"], True)),
        "record 2's 'step' has the wrong type",
    ),
    "unknown kind": (_broken(_set(["records", 0, "kind"], "party")), "unknown kind 'party'"),
    "time going back": (
        _broken(_set(["records", 3, "elapsed_s"], 0.0)),
        "record 4 goes back in steps or time",
    ),
    "negative step": (_broken(_set(["records", 0, "step"], -5)), "record 1 has a negative"),
    "bad model config": (
        _broken(_set(["model_config", "hidden_size"], 10**9)),
        "hidden_size must be between 1 and 1024",
    ),
    "model config field unknown": (
        _broken(_set(["model_config", "wings"], 2)),
        "unknown fields: wings",
    ),
    "train config wrong type": (
        _broken(_set(["train_config", "epochs"], "five")),
        "training setting 'epochs' has the wrong type",
    ),
    "train config absurd": (
        _broken(_set(["train_config", "epochs"], 100000)),
        "epochs must be between 1 and 200",
    ),
    "train config unknown": (
        _broken(_set(["train_config", "warp"], 9)),
        "unknown fields: warp",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_each_bad_recording_gets_its_own_reason(case):
    data, reason = BAD_FILES[case]
    with pytest.raises(RecordingError) as caught:
        recording_from_bytes(data, "upload.json")
    message = str(caught.value)
    assert reason in message
    assert message.startswith("upload.json")
    assert "Traceback" not in message


def test_too_many_records_are_refused_before_reading_them():
    values = _dict()
    values["records"] = [values["records"][0]] * (MAX_RECORDS + 1)
    with pytest.raises(RecordingError, match="more than the 50,000 allowed"):
        recording_from_bytes(_bytes(values), "huge.json")


def test_a_file_over_the_size_cap_is_refused_unread(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (MAX_FILE_BYTES + 1))
    with pytest.raises(RecordingError, match="larger than 16 MB"):
        load_recording(path)
    with pytest.raises(RecordingError, match="larger than 16 MB"):
        recording_from_bytes(b" " * (MAX_FILE_BYTES + 1), "big.json")


def test_a_zip_that_unpacks_to_too_much_is_refused():
    bomb = gzip.compress(b" " * (65 * 2**20))  # 65 MB of spaces, a few KB zipped
    assert len(bomb) < MAX_FILE_BYTES
    with pytest.raises(RecordingError, match="unpacks to more than 64 MB"):
        recording_from_bytes(bomb, "bomb.json.gz")


def test_a_model_file_renamed_to_json_is_recognised():
    data = model_to_bytes(RowClassifier(ModelConfig(hidden_size=4)))
    with pytest.raises(RecordingError, match="is a model file"):
        recording_from_bytes(data, "gru.json")


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(RecordingError, match="No recording at"):
        load_recording(tmp_path / "nothing.json")


def test_every_field_of_a_record_travels_the_gradients_per_step_too(tmp_path):
    gradients = [1.0 / (step + 1) for step in range(28)]
    records = _records()
    records[1] = Record(**{**records[1].to_dict(), "step_gradients": gradients})
    recording = Recording(**{**_recording().__dict__, "records": records})

    loaded = load_recording(save_recording(recording, tmp_path / "run.json"))
    assert loaded.records[1].step_gradients == gradients
    assert loaded.records[0].step_gradients is None
    assert [r.to_dict() for r in loaded.records] == [r.to_dict() for r in records]


def test_gradients_that_are_not_numbers_are_refused():
    values = _dict()
    values["records"][1]["step_gradients"] = ["big"] * 28
    with pytest.raises(RecordingError, match="record 2's 'step_gradients' has the wrong type"):
        recording_from_bytes(_bytes(values), "run.json")
