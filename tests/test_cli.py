"""The command lines, run as a person would run them: in a subprocess, reading what they print."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rnn_model import bundled_path, load_model
from tests.test_data import write_pair
from tests.test_kaggle import table, text
from training.__main__ import ProgressLine
from training.data import load_sample, load_training_data
from training.engine import predict
from training.kaggle import TEST_COLUMNS
from training.recording import load_recording

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


def offline_cli(*args, home, **variables):
    """A run that must not reach any mirror: its cache is under `home`, and any request for
    another host than 127.0.0.1 would go to a closed local port."""
    env = {name: value for name, value in os.environ.items() if name != "RNN_DIGIT_LAB_DATA"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / "cache"), **variables)
    for variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[variable] = "http://127.0.0.1:9"
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def fill_with_lookalikes(folder):
    """The four MNIST file names, holding sample digits: right format, wrong checksums."""
    folder.mkdir(parents=True)
    sample = load_sample()
    write_pair(folder, "train", sample.images[:100].numpy(), sample.labels[:100].numpy())
    write_pair(folder, "t10k", sample.images[-50:].numpy(), sample.labels[-50:].numpy())
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def test_train_on_mnist_refuses_a_cache_that_is_not_mnist(tmp_path):
    cache = tmp_path / "mine"
    before = fill_with_lookalikes(cache)
    result = offline_cli(
        "training", "train", "--data", "mnist", home=tmp_path, RNN_DIGIT_LAB_DATA=str(cache)
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: train-images-idx3-ubyte.gz in " + str(cache))
    assert "is not the official MNIST file" in result.stderr
    assert "Delete it so that it is downloaded again" in result.stderr
    assert {p.name: p.read_bytes() for p in cache.iterdir()} == before  # nothing replaced


def test_evaluate_on_mnist_takes_the_folder_from_data_dir(tmp_path):
    cache = tmp_path / "elsewhere"
    fill_with_lookalikes(cache)
    result = offline_cli(
        "training", "evaluate", "--data", "mnist", "--data-dir", str(cache), home=tmp_path
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"in {cache} is not the official MNIST file" in result.stderr


def test_train_on_a_kaggle_csv_holds_out_a_tenth_of_each_class(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(text(table(load_sample().subset(range(0, 5000, 10)))))  # 50 per class
    result = cli(
        "training", "train", "--data", str(path), "--epochs", "1", "--hidden-size", "8", "--json"
    )
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["message"] == "8 steps on 450 digits"
    assert records[-1]["kind"] == "end"


def test_train_on_a_bad_csv_names_the_row_and_column(tmp_path):
    rows = table(load_sample().subset(range(0, 5000, 500)))
    rows[2][5] = "nan"
    (tmp_path / "train.csv").write_bytes(text(rows))
    result = cli("training", "train", "--data", str(tmp_path / "train.csv"), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: train.csv, row 3, column 6 (pixel4): 'nan' is a m")


def test_predict_csv_writes_a_kaggle_submission(tmp_path):
    images, labels = readable_digits()
    digits = load_sample().subset(range(10))
    digits.images[:], digits.labels[:] = torch.from_numpy(images), torch.tensor(labels)
    (tmp_path / "test.csv").write_bytes(text(table(digits, TEST_COLUMNS)))
    out = tmp_path / "submission.csv"
    result = cli("training", "predict-csv", str(tmp_path / "test.csv"), "--out", str(out))
    expected = "ImageId,Label\n" + "".join(f"{i},{d}\n" for i, d in enumerate(labels, 1))
    assert out.read_bytes() == expected.encode()
    assert f"wrote {out}: 10 predictions" in result.stdout

    # the training file given in its place is named for what it is
    (tmp_path / "train.csv").write_bytes(text(table(digits)))
    result = cli("training", "predict-csv", str(tmp_path / "train.csv"), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "looks like Kaggle's train.csv" in result.stderr


class Clock:
    def __init__(self, *times):
        self.times = list(times)

    def __call__(self):
        return self.times.pop(0)


def test_progress_in_a_log_is_a_few_plain_lines():
    stream = io.StringIO()
    progress = ProgressLine(stream, interval_s=2, clock=Clock(0, 1, 2.5, 3, 3.1))
    for done in (0, 2_000_000, 5_000_000, 9_000_000, 10_000_000):
        progress("train-images-idx3-ubyte.gz", done, 10_000_000)
    assert stream.getvalue().splitlines() == [
        "train-images-idx3-ubyte.gz  0.0/10.0 MB    0%",
        "train-images-idx3-ubyte.gz  5.0/10.0 MB   50%",
        "train-images-idx3-ubyte.gz  10.0/10.0 MB  100%",
    ]


def test_progress_on_a_terminal_redraws_one_line_and_ends_it():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    progress = ProgressLine(stream, clock=Clock(0, 0.05, 0.2, 0.3))
    progress("a.gz", 0, 2_000_000)
    progress("a.gz", 1_000_000, 2_000_000)  # too soon after the last: not drawn
    progress("a.gz", 2_000_000, 2_000_000)
    progress("b.gz", 500_000, None)  # no length known: megabytes only
    progress.end()
    frames = [frame.rstrip() for frame in stream.getvalue().split("\r")[1:]]
    assert frames == ["a.gz  0.0/2.0 MB    0%", "a.gz  2.0/2.0 MB  100%", "b.gz  0.5 MB"]
    assert stream.getvalue().count("\n") == 2


def test_train_refuses_a_folder_as_out_before_training(tmp_path):
    result = cli("training", "train", "--hidden-size", "8", "--out", str(tmp_path), check=False)
    assert result.returncode == 2
    assert "is a folder" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""  # refused before a single step


def test_predict_names_a_missing_file_and_a_blank_image_plainly(tmp_path):
    Image.new("L", (50, 50), 255).save(tmp_path / "white.png")
    result = cli("rnn_model", "predict", str(tmp_path / "missing.png"), str(tmp_path / "white.png"),
                 check=False)  # fmt: skip
    missing, white = result.stdout.splitlines()
    assert "No such file or directory" in missing and "Errno" not in missing
    assert "no digit found" in white and "mouse" not in white


def test_train_saves_a_recording_of_every_record_it_printed(tmp_path):
    path = tmp_path / "runs" / "lstm.json.gz"
    result = cli(
        "training", "train", "--cell", "lstm", "--hidden-size", "8", "--epochs", "1",
        "--record-every", "20", "--json", "--recording", str(path),
    )  # fmt: skip
    printed = [json.loads(line) for line in result.stdout.splitlines()]

    recording = load_recording(path)
    assert [r.to_dict() for r in recording.records] == printed
    assert recording.cell_label == "LSTM" and recording.model_config.hidden_size == 8
    assert recording.train_config.record_every == 20 and recording.train_config.epochs == 1
    assert recording.data_label.startswith("embedded MNIST sample")
    assert f"saved {path}" in result.stderr


def test_train_refuses_a_folder_as_recording_before_training(tmp_path):
    result = cli("training", "train", "--recording", str(tmp_path), check=False)
    assert result.returncode == 2
    assert "is a folder: give a file name such as run.json" in result.stderr
    assert "step" not in result.stdout  # refused before the first record
