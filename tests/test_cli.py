"""The command lines, run as a person would run them: in a subprocess, reading what they print."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rnn_model import bundled_path, load_model
from tests.test_data import write_pair
from training.data import load_training_data
from training.engine import predict

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, check=True):
    result = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_train_prints_json_records_and_saves_a_model_evaluate_measures(tmp_path):
    out = tmp_path / "gru.safetensors"
    result = cli(
        "training", "train", "--hidden-size", "16", "--epochs", "1", "--json", "--out", str(out)
    )
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["kind"] == "start" and records[-1]["kind"] == "end"
    assert 0.1 < records[-1]["val_accuracy"] <= 1
    assert records[-1]["samples_per_second"] > 0

    # Evaluate on IDX files made from the validation part, which the model never trained on.
    val = load_training_data("sample").val
    write_pair(tmp_path, "t10k", val.images.numpy(), val.labels.numpy())
    result = cli(
        "training", "evaluate", "--checkpoint", str(out), "--data", str(tmp_path), "--json"
    )
    measured = json.loads(result.stdout)
    assert measured["count"] == 500
    assert measured["accuracy"] == pytest.approx(records[-1]["val_accuracy"])


def test_train_refuses_absurd_settings_with_a_message():
    result = cli("training", "train", "--hidden-size", "100000", check=False)
    assert result.returncode == 2
    assert "hidden_size must be between 1 and 1024" in result.stderr
    assert "Traceback" not in result.stderr


def test_evaluate_on_a_missing_folder_says_so():
    result = cli("training", "evaluate", "--data", "/no/such/folder", check=False)
    assert result.returncode == 2 and "is not a folder" in result.stderr


def readable_digits(count_per_class=1):
    """Validation digits the bundled model reads right from their own MNIST image, per class."""
    val = load_training_data("sample").val
    model, _ = load_model(bundled_path("gru"))
    right = predict(model, val.images) == val.labels
    chosen = [int(i) for d in range(10) for i in torch.nonzero(right & (val.labels == d))[:1]]
    return val.images[chosen].numpy(), val.labels[chosen].tolist()


def test_predict_reads_images_as_the_playground_does(tmp_path):
    images, labels = readable_digits()
    paths = []
    for index, image in enumerate(images):
        # Dark ink on white paper, off centre in a big photo-like image.
        digit = Image.fromarray(255 - image).resize((140, 140))
        paper = Image.new("L", (400, 300), 255)
        paper.paste(digit, (230, 20))
        paths.append(tmp_path / f"digit{index}.png")
        paper.save(paths[-1])
    Image.new("RGBA", (280, 280)).save(tmp_path / "blank.png")
    (tmp_path / "notes.png").write_text("not an image")

    result = cli(
        "rnn_model",
        "predict",
        "--json",
        *map(str, paths),
        str(tmp_path / "blank.png"),
        str(tmp_path / "notes.png"),
        check=False,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1  # one file could not be read
    assert [line["digit"] for line in lines[:10]] == labels
    for line in lines[:10]:
        assert len(line["probabilities"]) == 10
        assert np.argmax(line["probabilities"]) == line["digit"]
    assert lines[10]["digit"] is None and lines[10]["probabilities"] is None
    assert lines[11]["digit"] is None and lines[11]["error"]


def test_predict_with_a_file_that_is_not_a_model():
    result = cli("rnn_model", "predict", "--checkpoint", "README.md", "x.png", check=False)
    assert result.returncode == 2 and "error:" in result.stderr
    assert "Traceback" not in result.stderr
