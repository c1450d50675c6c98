import json
import os
import pickle
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import save as save_safetensors

from rnn_model import (
    ModelConfig,
    ModelFileError,
    RowClassifier,
    load_model,
    model_from_bytes,
    save_model,
)
from rnn_model.files import model_to_bytes, write_atomically


@pytest.fixture
def model():
    torch.manual_seed(0)
    return RowClassifier(ModelConfig(cell="lstm", hidden_size=8, num_layers=2)).eval()


def test_a_saved_model_loads_with_its_config_and_provenance(model, tmp_path):
    path = save_model(model, tmp_path / "m.safetensors", {"val_accuracy": 0.5, "data": "x"})
    loaded, info = load_model(path)

    assert info.config == model.config
    assert info.training == {"val_accuracy": 0.5, "data": "x"}
    x = torch.rand(3, 28, 28)
    torch.testing.assert_close(loaded(x), model(x))
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary file left


def test_saving_replaces_the_old_file_whole(model, tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"old and much longer content " * 1000)
    save_model(model, path)
    assert load_model(path)[1].config == model.config


class _RunsCode:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_a_pickle_is_refused_without_running_its_code(tmp_path):
    payload = _RunsCode()
    payload.marker = str(tmp_path / "code-ran")
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(payload))

    with pytest.raises(ModelFileError, match="not a safetensors"):
        load_model(path)
    assert not (tmp_path / "code-ran").exists()


def test_a_torch_checkpoint_is_refused(model, tmp_path):
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)
    with pytest.raises(ModelFileError, match="safetensors"):
        load_model(path)


def _with_config(weights: dict, config: dict) -> bytes:
    return save_safetensors(weights, metadata={"config": json.dumps(config)})


@pytest.mark.parametrize(
    "make,word",
    [
        (lambda m: b"", "empty"),
        (lambda m: b"\x89PNG\r\n\x1a\n" + bytes(100), "not a safetensors"),
        (lambda m: model_to_bytes(m)[:-100], "damaged or cut short"),
        (lambda m: save_safetensors(dict(m.state_dict())), "no RNN Digit Lab config"),
        (
            lambda m: _with_config(dict(m.state_dict()), {"cell": "lstm", "hidden_size": 10**9}),
            "hidden_size",
        ),
        (
            lambda m: _with_config(
                dict(m.state_dict()), {"cell": "gru", "hidden_size": 8, "num_layers": 2}
            ),
            "does not match",
        ),
        (
            lambda m: _with_config({"readout.weight": torch.zeros(10, 8)}, m.config.to_dict()),
            "missing",
        ),
        (
            lambda m: _with_config(
                dict(m.state_dict()) | {"extra": torch.zeros(1)}, m.config.to_dict()
            ),
            "extra",
        ),
        (
            lambda m: _with_config(
                dict(m.state_dict()) | {"readout.bias": torch.zeros(11)}, m.config.to_dict()
            ),
            "shape",
        ),
        (
            lambda m: _with_config(
                dict(m.state_dict()) | {"readout.bias": torch.full((10,), np.nan)},
                m.config.to_dict(),
            ),
            "not finite",
        ),
    ],
    ids=[
        "empty",
        "png",
        "truncated",
        "no-config",
        "absurd-size",
        "other-cell",
        "missing",
        "extra",
        "shape",
        "nan",
    ],
)
def test_bad_model_files_get_a_reason(model, make, word):
    with pytest.raises(ModelFileError, match=word):
        model_from_bytes(make(model), name="upload.safetensors")


def test_a_header_claiming_gigabytes_is_refused_before_reading_it():
    data = struct.pack("<Q", 2**40) + b"{}"
    with pytest.raises(ModelFileError, match="not a safetensors"):
        model_from_bytes(data)


def test_a_write_that_fails_halfway_leaves_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    path = tmp_path / "submission.csv"
    path.write_bytes(b"ImageId,Label\n1,7\n")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_atomically(path, b"ImageId,Label\n1,1\n2,2\n3,3\n")

    assert path.read_bytes() == b"ImageId,Label\n1,7\n"
    assert [p.name for p in tmp_path.iterdir()] == ["submission.csv"]
    monkeypatch.undo()
    write_atomically(path, b"ImageId,Label\n1,1\n2,2\n3,3\n")
    assert path.read_bytes() == b"ImageId,Label\n1,1\n2,2\n3,3\n"
    assert [p.name for p in tmp_path.iterdir()] == ["submission.csv"]
