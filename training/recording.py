"""Recorded runs: what was trained and every record its run yielded, in one JSON file.

A recording lets a run be played back later (a slow classroom machine can show a 100-epoch
run in a minute) and lets runs of different cells be compared without training them again.

    {"format": "rnn-digit-lab/recording-1", "cell": "GRU", "data": "...",
     "model_config": {...}, "train_config": {...}, "records": [{...}, ...]}

Files may be gzipped (.json.gz). Loading checks everything, because a file can come from an
upload: each way a file can be wrong becomes a RecordingError a person can act on.
"""

import gzip
import json
import math
import struct
import types
import typing
import zlib
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

from rnn_model import ModelConfig
from rnn_model.files import write_atomically
from training.engine import Record, TrainConfig

FORMAT = "rnn-digit-lab/recording-1"
MAX_FILE_BYTES = 16 * 1024 * 1024  # a 200-epoch MNIST run recorded every 10 steps is ~4 MB
MAX_JSON_BYTES = 64 * 1024 * 1024  # once unzipped: a small zip must not unpack to gigabytes
MAX_RECORDS = 50_000
MAX_LIST_ITEMS = 1_000  # longest list inside one record (e.g. 28 gradient sizes)
RECORD_KINDS = ("start", "progress", "eval", "stopped", "diverged", "end")

CELL_NAMES = {  # (cell, nonlinearity) -> the name people know it by
    ("rnn", "tanh"): "Vanilla RNN (tanh)",
    ("rnn", "relu"): "Vanilla RNN (ReLU)",
    ("lstm", "tanh"): "LSTM",
    ("gru", "tanh"): "GRU",
}
WHAT_TO_DO = "Choose a recording saved by RNN Digit Lab (a .json or .json.gz file)."


class RecordingError(ValueError):
    """A recording that cannot be used, with the reason in plain words."""


def cell_name(config: ModelConfig) -> str:
    return CELL_NAMES.get((config.cell, config.nonlinearity), config.cell.upper())


@dataclass
class Recording:
    """One recorded run."""

    model_config: ModelConfig
    train_config: TrainConfig
    data_label: str  # what it learned from, as the page names it
    cell_label: str  # "GRU", "LSTM", "Vanilla RNN (tanh)"...
    records: list[Record]

    @property
    def duration_s(self) -> float:
        return self.records[-1].elapsed_s if self.records else 0.0

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "cell": self.cell_label,
            "data": self.data_label,
            "model_config": self.model_config.to_dict(),
            "train_config": asdict(self.train_config),
            "records": [record.to_dict() for record in self.records],
        }


def from_job(job) -> Recording:
    """The recording of a TrainingJob's run so far (a copy: the job may still be going)."""
    return Recording(
        model_config=job.model_config,
        train_config=job.train_config,
        data_label=job.data_label,
        cell_label=cell_name(job.model_config),
        records=job.view().records,
    )


# -- writing ------------------------------------------------------------------------------


def recording_to_bytes(recording: Recording, compress: bool = False) -> bytes:
    data = json.dumps(recording.to_dict(), separators=(",", ":")).encode()
    # mtime=0: the same run always gives the same bytes
    return gzip.compress(data, mtime=0) if compress else data


def save_recording(recording: Recording, path: str | Path) -> Path:
    """Write whole or not at all; gzipped when the name ends in .gz."""
    path = Path(path)
    return write_atomically(path, recording_to_bytes(recording, path.suffix == ".gz"))


# -- reading ------------------------------------------------------------------------------


def load_recording(path: str | Path) -> Recording:
    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"No recording at {path}.")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise RecordingError(_too_large(path.name))
    return recording_from_bytes(path.read_bytes(), path.name)


def recording_from_bytes(data: bytes, name: str = "the recording") -> Recording:
    """Check and read a recording held in memory (an upload, or a file read from disk)."""
    if len(data) > MAX_FILE_BYTES:
        raise RecordingError(_too_large(name))
    if not data.strip():
        raise RecordingError(f"{name} is empty. {WHAT_TO_DO}")
    values = _parse_json(_unzip(data, name), name)
    if not isinstance(values, dict) or values.get("format") != FORMAT:
        raise RecordingError(f"{name} is JSON, but not a recording of a training run. {WHAT_TO_DO}")
    try:
        return _recording(values)
    except (TypeError, ValueError) as error:
        raise RecordingError(f"{name} cannot be replayed: {error}. {WHAT_TO_DO}") from None


def _too_large(name: str) -> str:
    return (
        f"{name} is larger than {MAX_FILE_BYTES // 2**20} MB, too large to be a recording "
        f"from this app. {WHAT_TO_DO}"
    )


def _unzip(data: bytes, name: str) -> bytes:
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        # at most MAX_JSON_BYTES + 1 come out, however far the file would unpack
        unzipper = zlib.decompressobj(wbits=31)
        text = unzipper.decompress(data, MAX_JSON_BYTES + 1)
    except zlib.error:
        raise RecordingError(f"{name} is a damaged gzip file. {WHAT_TO_DO}") from None
    if len(text) > MAX_JSON_BYTES:
        raise RecordingError(f"{name} unpacks to more than 64 MB: too large to replay.")
    if not unzipper.eof:
        raise RecordingError(f"{name} is a damaged gzip file, cut short. {WHAT_TO_DO}")
    return text


def _parse_json(data: bytes, name: str):
    if _looks_like_model_file(data):
        raise RecordingError(
            f"{name} is a model file (weights), not a recording: open it in the Playground's "
            f"model chooser. {WHAT_TO_DO}"
        )
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RecordingError(f"{name} is not a JSON file. {WHAT_TO_DO}") from None
    except RecursionError:
        raise RecordingError(f"{name} is nested too deeply to be a recording.") from None


def _looks_like_model_file(data: bytes) -> bool:
    # safetensors: an 8-byte little-endian header length, then the JSON header
    if len(data) < 10 or data[8:9] != b"{":
        return False
    (header,) = struct.unpack("<Q", data[:8])
    return header <= len(data) - 8


def _recording(values: dict) -> Recording:
    for key, kind in FIELDS.items():
        _expect(values, key, kind, "the file")
    records = values["records"]
    if not records:
        raise ValueError("it holds no records")
    if len(records) > MAX_RECORDS:
        raise ValueError(
            f"it holds {len(records):,} records, more than the {MAX_RECORDS:,} allowed"
        )
    parsed = [_record(item, index) for index, item in enumerate(records, start=1)]
    _check_order(parsed)
    return Recording(
        model_config=ModelConfig.from_dict(values["model_config"]),
        train_config=_train_config(values["train_config"]),
        data_label=values["data"],
        cell_label=values["cell"],
        records=parsed,
    )


def _expect(values: dict, key: str, kind: type, where: str) -> None:
    if key not in values:
        raise ValueError(f"{where} has no {key!r}")
    if not isinstance(values[key], kind):
        raise ValueError(f"{key!r} in {where} should be {_KIND_WORDS[kind]}")


_KIND_WORDS = {str: "text", dict: "an object", list: "a list"}
FIELDS = {"cell": str, "data": str, "model_config": dict, "train_config": dict, "records": list}


def _train_config(values: dict) -> TrainConfig:
    known = {f.name: f.type for f in fields(TrainConfig)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"the training settings have unknown fields: {', '.join(unknown)}")
    for key, value in values.items():
        if not _fits(value, known[key]):
            raise ValueError(f"the training setting {key!r} has the wrong type")
    return TrainConfig(**values)


def _record(item, index: int) -> Record:
    """A Record from its dict. Fields this version does not know are left out, so a file
    from a newer version still plays; fields with defaults may be missing."""
    where = f"record {index}"
    if not isinstance(item, dict):
        raise ValueError(f"{where} is not an object")
    values = {}
    for f in fields(Record):
        if f.name not in item:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ValueError(f"{where} has no {f.name!r}")
            continue
        if not _fits(item[f.name], f.type):
            raise ValueError(f"{where}'s {f.name!r} has the wrong type")
        values[f.name] = item[f.name]
    if values["kind"] not in RECORD_KINDS:
        raise ValueError(f"{where} is of an unknown kind {values['kind']!r}")
    return Record(**values)


def _fits(value, annotation) -> bool:
    """Whether a JSON value fits a dataclass field's type (int, float, str, bool, lists,
    and optional ones)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arm) for arm in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(annotation) or (object,)
        return (
            isinstance(value, list)
            and len(value) <= MAX_LIST_ITEMS
            and all(_fits(v, item) for v in value)
        )
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    return isinstance(value, int | float | str | bool) or value is None


def _check_order(records: list[Record]) -> None:
    """Steps and time only move forward, and no count is negative or endless: the replay
    relies on it."""
    previous = None
    for index, record in enumerate(records, start=1):
        numbers = (record.step, record.total_steps, record.epoch, record.elapsed_s)
        if any(not math.isfinite(n) or n < 0 for n in numbers):
            raise ValueError(f"record {index} has a negative or endless step, epoch or time")
        if previous is not None and (
            record.step < previous.step or record.elapsed_s < previous.elapsed_s
        ):
            raise ValueError(f"record {index} goes back in steps or time")
        previous = record
