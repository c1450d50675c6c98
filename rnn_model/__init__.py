"""The network, a trace of one reading, preprocessing of drawings, and model files.

Knows only torch, numpy and pillow; never Streamlit.
"""

from pathlib import Path

from rnn_model.config import ModelConfig
from rnn_model.files import ModelFileError, ModelInfo, load_model, model_from_bytes, save_model
from rnn_model.model import RowClassifier, Trace, trace

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
BUNDLED_CELLS = ("gru", "lstm", "rnn")  # read top to bottom; the first is the default
# every bundled model by name (its file's stem): the cells above, and a GRU for each other
# reading order, so the Playground can show those orders without a run first
BUNDLED_MODELS = (*BUNDLED_CELLS, "gru-rows_reversed", "gru-columns")


def bundled_path(name: str = "gru") -> Path:
    return BUNDLED_DIR / f"{name}.safetensors"


__all__ = [
    "BUNDLED_CELLS",
    "BUNDLED_DIR",
    "BUNDLED_MODELS",
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
