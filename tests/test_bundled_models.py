"""The bundled models, reading canvas-like drawings of digits they never trained on."""

import numpy as np
import pytest
import torch

from rnn_model import BUNDLED_CELLS, bundled_path, load_model
from rnn_model.preprocess import preprocess
from tests.test_preprocess import DRAWINGS
from training.data import load_training_data
from training.engine import accuracy

# Below this on the validation digits drawn in any style, the preprocessing or the model is off.
LEAST_ACCURACY = {"gru": 0.95, "lstm": 0.95, "rnn": 0.92}


@pytest.fixture(scope="module")
def val():
    """Ten validation digits of each class: held out from the bundled models' training."""
    digits = load_training_data("sample").val
    return digits.subset(torch.arange(0, 500, 5))


@pytest.fixture(scope="module", params=BUNDLED_CELLS)
def bundled(request):
    model, info = load_model(bundled_path(request.param))
    return request.param, model, info


def test_each_bundled_model_is_the_cell_it_says_trained_on_the_sample_only(bundled):
    cell, model, info = bundled
    assert info.config.cell == cell
    assert info.training["data"] == "embedded MNIST sample (training part)"
    assert "held out of embedded MNIST sample" in info.training["validation"]


def test_each_bundled_model_reads_plain_validation_digits(bundled, val):
    cell, model, _ = bundled
    assert accuracy(model, val) >= LEAST_ACCURACY[cell]


@pytest.mark.parametrize("style", DRAWINGS)
def test_bundled_models_read_drawings_in_every_style(bundled, val, style):
    cell, model, _ = bundled
    prepared = [preprocess(DRAWINGS[style](image)).image for image in val.images.numpy()]
    with torch.no_grad():
        predictions = model(torch.from_numpy(np.stack(prepared))).argmax(1)  # (N,)
    right = (predictions == val.labels).float().mean().item()
    assert right >= LEAST_ACCURACY[cell], f"{cell} read {right:.0%} of {style} drawings"
