"""Model files: weights in safetensors, config and provenance as JSON in its metadata.

Loading never unpickles, so a file cannot run code; every way a file can be wrong becomes a
ModelFileError with a sentence a person can act on.
"""

import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from rnn_model.config import ModelConfig
from rnn_model.model import RowClassifier

MAX_FILE_BYTES = 64 * 1024 * 1024  # far above any model the config bounds allow
MAX_HEADER_BYTES = 1024 * 1024


class ModelFileError(ValueError):
    """A model file that cannot be used, with the reason in plain words."""


@dataclass
class ModelInfo:
    """What a model file says about itself besides its weights."""

    config: ModelConfig
    training: dict = field(default_factory=dict)  # data, settings, accuracy measured, versions


def model_to_bytes(model: RowClassifier, training: dict | None = None) -> bytes:
    metadata = {
        "format": "rnn-digit-lab/1",
        "config": json.dumps(model.config.to_dict()),
        "training": json.dumps(training or {}),
    }
    weights = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    return save_safetensors(weights, metadata=metadata)


def save_model(model: RowClassifier, path: str | Path, training: dict | None = None) -> Path:
    return write_atomically(path, model_to_bytes(model, training))


def write_atomically(path: str | Path, data: bytes) -> Path:
    """Write to a temporary file beside the target, then rename, so no half file is left."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the file from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_model(path: str | Path) -> tuple[RowClassifier, ModelInfo]:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"No model file at {path}.")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ModelFileError(f"{path.name} is too large to be a model file from this app.")
    return model_from_bytes(path.read_bytes(), name=path.name)


def model_from_bytes(data: bytes, name: str = "the model file") -> tuple[RowClassifier, ModelInfo]:
    """Check and load a model file held in memory (an upload, or a file read by load_model)."""
    if len(data) > MAX_FILE_BYTES:
        raise ModelFileError(f"{name} is too large to be a model file from this app.")
    metadata = _read_metadata(data, name)
    info = _parse_info(metadata, name)
    try:
        weights = load_safetensors(data)
    except (SafetensorError, ValueError, RuntimeError) as error:
        raise ModelFileError(f"{name} is damaged or cut short ({error}).") from None
    model = RowClassifier(info.config)
    _load_weights(model, weights, name)
    model.eval()
    return model, info


def _read_metadata(data: bytes, name: str) -> dict:
    """Read the safetensors header by hand: 8 bytes of length, then a JSON object."""
    hint = "Choose a .safetensors file downloaded from this app's Training page."
    if len(data) < 8:
        raise ModelFileError(f"{name} is empty or cut short. {hint}")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > MAX_HEADER_BYTES or 8 + header_len > len(data):
        raise ModelFileError(f"{name} is not a safetensors model file, or is cut short. {hint}")
    try:
        header = json.loads(data[8 : 8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{name} is not a safetensors model file. {hint}") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or "config" not in metadata:
        raise ModelFileError(f"{name} holds weights but no RNN Digit Lab config. {hint}")
    return metadata


def _parse_info(metadata: dict, name: str) -> ModelInfo:
    try:
        config = ModelConfig.from_dict(json.loads(metadata["config"]))
    except (json.JSONDecodeError, TypeError, ValueError) as error:
        raise ModelFileError(f"{name} has a config this app cannot use: {error}.") from None
    try:
        training = json.loads(metadata.get("training", "{}"))
    except json.JSONDecodeError:
        training = {}
    return ModelInfo(config=config, training=training if isinstance(training, dict) else {})


def _load_weights(model: RowClassifier, weights: dict, name: str) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        detail = f"missing {', '.join(missing[:3])}" if missing else f"extra {', '.join(extra[:3])}"
        raise ModelFileError(f"{name} does not match its config ({detail}).")
    for key in expected:  # the model's own order: the same file always gets the same reason
        tensor = weights[key]
        if tensor.shape != expected[key].shape:
            raise ModelFileError(
                f"{name} does not match its config: {key} has shape {tuple(tensor.shape)}, "
                f"expected {tuple(expected[key].shape)}."
            )
        if not torch.isfinite(tensor).all():
            raise ModelFileError(f"{name} holds weights that are not finite numbers ({key}).")
    model.load_state_dict({k: v.to(torch.float32) for k, v in weights.items()})
