"""The network, a trace of one reading, preprocessing of drawings, and model files.

Knows only torch, numpy and pillow; never Streamlit.
"""

from pathlib import Path

from rnn_model.config import ModelConfig
from rnn_model.files import ModelFileError, ModelInfo, load_model, model_from_bytes, save_model
from rnn_model.model import RowClassifier, Trace, trace

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
BUNDLED_CELLS = ("gru", "lstm", "rnn")  # the first is the default


def bundled_path(cell: str = "gru") -> Path:
    return BUNDLED_DIR / f"{cell}.safetensors"


__all__ = [
    "BUNDLED_CELLS",
    "BUNDLED_DIR",
    "ModelConfig",
    "ModelFileError",
    "ModelInfo",
    "RowClassifier",
    "Trace",
    "bundled_path",
    "load_model",
    "model_from_bytes",
    "save_model",
    "trace",
]
