"""The Training page's data through AppTest: the three data choices, a Kaggle train.csv in,
MNIST downloaded from a mirror this test serves on 127.0.0.1, test.csv to submission.csv,
and a clear message for every bad file, on the Training page and the Playground.

Nothing here leaves 127.0.0.1: the mirror list is empty or local, proxies point at a closed
local port, and the MNIST folder is a temporary one.
"""

import base64
import hashlib
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from app_pages import data_ui, kaggle_ui, state
from rnn_model import bundled_path, load_model
from tests.test_app import _training_page
from tests.test_data import write_pair
from training import download
from training.data import load_sample
from training.engine import predict

TIMEOUT = 60  # seconds per script run; a shared CPU can be slow, a run is usually < 1 s
WAIT_S = 120  # longest wait for a short training run or a local download
KAGGLE = "kaggle"
HEADER = "label," + ",".join(f"pixel{i}" for i in range(784))


@pytest.fixture(autouse=True)
def local_only(monkeypatch, tmp_path):
    """No real mirror, no proxy but a closed local port, and an empty MNIST folder."""
    monkeypatch.setattr(download, "MIRRORS", ())
    for variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")
    for variable in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(variable, "127.0.0.1")
    folder = tmp_path / "mnist"
    monkeypatch.setenv(download.DATA_DIR_VARIABLE, str(folder))
    return folder


@pytest.fixture(scope="module")
def sample():
    return load_sample()


def train_csv(images, labels) -> bytes:
    rows = [f"{label}," + ",".join(map(str, image.reshape(-1))) for image, label in zip(
        np.asarray(images), np.asarray(labels), strict=True
    )]  # fmt: skip
    return "\n".join([HEADER, *rows]).encode() + b"\n"


def kaggle_test_csv(images) -> bytes:
    rows = [",".join(map(str, image.reshape(-1))) for image in np.asarray(images)]
    return "\n".join([HEADER.removeprefix("label,"), *rows]).encode() + b"\n"


@pytest.fixture(scope="module")
def good_csv(sample) -> bytes:
    """600 real digits, 60 of each, as Kaggle writes train.csv."""
    index = torch.cat([torch.nonzero(sample.labels == d).flatten()[:60] for d in range(10)])
    return train_csv(sample.images[index], sample.labels[index])


def _button(at, label: str):
    (button,) = [b for b in at.button if b.label == label]
    return button


def _charts(at) -> dict[str, dict]:
    return {e.proto.id.rsplit("-", 1)[-1]: json.loads(e.proto.spec) for e in at.get("plotly_chart")}


def _count_bars(at, key: str = "counts") -> list[int]:
    """The lengths of a class-count chart's bars; plotly sends them base64-packed."""
    heights = _charts(at)[key]["data"][0]["x"]
    if isinstance(heights, dict):
        heights = np.frombuffer(base64.b64decode(heights["bdata"]), dtype=heights["dtype"])
    return [int(h) for h in heights]


def _upload_train(at, content: bytes, name: str = "train.csv"):
    at.file_uploader(key=data_ui.UPLOAD_KEY).set_value((name, content, "text/csv"))
    return at.run()


def _run_to_the_end(at):
    _button(at, "Start training").click().run()
    job = at.session_state[state.JOB_KEY]
    assert job.wait(WAIT_S)
    at.run()
    return job


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def _captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


# -- the choice -------------------------------------------------------------------------------


def test_the_data_choice_offers_the_sample_mnist_and_a_kaggle_upload(app):
    _training_page(app)

    choice = app.selectbox(key="data")
    assert choice.value == "sample"
    assert choice.options == [
        "Embedded sample: 5,000 MNIST digits",
        "MNIST (60,000 + 10,000 digits, downloaded once)",
        "Kaggle Digit Recognizer train.csv (upload)",
    ]
    assert "Embedded sample: 5,000 MNIST digits" in _markdown(app)
    assert sum(_count_bars(app)) == 5000


# -- Kaggle train.csv -------------------------------------------------------------------------


def test_a_kaggle_train_csv_is_read_once_trains_and_the_caption_names_it(
    app, good_csv, monkeypatch
):
    reads = []

    def counting_load(*args, **kwargs):
        reads.append(kwargs.get("name"))
        return real_load(*args, **kwargs)

    real_load = data_ui.load_kaggle_training_data
    monkeypatch.setattr(data_ui, "load_kaggle_training_data", counting_load)
    _training_page(app, data=KAGGLE, hidden_size=16, epochs=1)
    assert _button(app, "Start training").disabled  # nothing uploaded yet
    assert "Upload Kaggle's train.csv" in app.info[0].value

    _upload_train(app, good_csv)
    app.run()
    app.run()

    assert not app.exception and not app.error
    assert reads == ["train.csv"]  # three reruns, one read
    assert "Kaggle train.csv (600 digits)" in _markdown(app)
    assert _count_bars(app) == [60] * 10
    assert not _button(app, "Start training").disabled

    job = _run_to_the_end(app)
    assert job.view().state == "finished"
    assert len(job.data.train) + len(job.data.val) == 600
    captions = _captions(app)
    assert "This run: GRU, 16 hidden units" in captions
    assert "· Kaggle train.csv (600 digits)" in captions
    assert "validation accuracy measured on 60 digits held out of Kaggle train.csv" in captions
    assert reads == ["train.csv"]
    assert app.session_state[data_ui.KAGGLE_KEY].name == "train.csv"


def _spoil(content: bytes, row: int, column: int, value: str) -> bytes:
    """Put `value` in one cell, counting as a spreadsheet: row 1 is the header."""
    lines = content.decode().split("\n")
    cells = lines[row - 1].split(",")
    cells[column - 1] = value
    lines[row - 1] = ",".join(cells)
    return "\n".join(lines).encode()


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


BAD_TRAIN_FILES = {
    "a word in a pixel": (
        lambda good: _spoil(good, 3, 5, "abc"),
        "train.csv, row 3, column 5 (pixel3): 'abc' is not a number.",
    ),
    "a label of 12": (
        lambda good: _spoil(good, 7, 1, "12"),
        "train.csv, row 7, column 1 (label): '12' is outside 0-9.",
    ),
    "a long row": (
        lambda good: _spoil(good, 4, 785, "0,0"),
        "train.csv, row 4 has 786 values, expected 785",
    ),
    "test.csv instead": (
        lambda good: b"\n".join(line.split(b",", 1)[1] for line in good.split(b"\n")[:-1]),
        "looks like Kaggle's test.csv",
    ),
    "a picture": (lambda good: b"\x89PNG\r\n\x1a\n\x00\x00\x00", "is not a text file"),
    "an empty file": (lambda good: b"", "train.csv is empty."),
    "too few digits": (
        lambda good: b"\n".join(good.split(b"\n")[:51]),
        "holds only 50 digits: at least 100 are needed",
    ),
    "a zip without a csv": (lambda good: _zip({"notes.txt": b"hello"}), "holds none"),
}


@pytest.mark.parametrize("bad", list(BAD_TRAIN_FILES))
def test_a_bad_train_csv_says_what_is_wrong_and_where(app, good_csv, bad):
    make, message = BAD_TRAIN_FILES[bad]
    _training_page(app, data=KAGGLE)
    name = "train.zip" if "zip" in bad else "train.csv"
    _upload_train(app, make(good_csv), name)

    assert not app.exception
    assert [e.value for e in app.error] == [app.error[0].value]  # one message
    assert message in app.error[0].value
    assert _button(app, "Start training").disabled
    assert "counts" not in _charts(app)


def test_a_bad_file_keeps_the_earlier_run_its_model_and_the_good_upload(app, good_csv):
    _training_page(app, hidden_size=16, epochs=1)
    job = _run_to_the_end(app)
    app.selectbox(key="data").set_value(KAGGLE).run()
    _upload_train(app, good_csv, "good.csv")
    assert not app.error

    _upload_train(app, _spoil(good_csv, 3, 5, "abc"), "bad.csv")

    assert not app.exception
    assert app.error[0].value == "bad.csv, row 3, column 5 (pixel3): 'abc' is not a number."
    assert "Training still uses the file uploaded before: good.csv." in app.info[0].value
    assert app.selectbox(key="data").value == KAGGLE
    assert app.session_state[state.JOB_KEY] is job
    assert {"loss", "accuracy"} <= set(_charts(app))
    assert app.success[0].value.startswith("Training finished.")
    assert job.trained_model() is not None
    assert not _button(app, "Start training").disabled  # good.csv is still there to train on
    assert app.number_input(key="hidden_size").value == 16


# -- MNIST ------------------------------------------------------------------------------------


def mnist_order(sample) -> torch.Tensor:
    """The embedded digits come sorted by class; MNIST's files are not."""
    return torch.randperm(len(sample), generator=torch.Generator().manual_seed(0))


def write_mnist(folder, sample, train: int, test: int) -> dict[str, str]:
    """The four MNIST files, made of embedded digits; returns their MD5 checksums."""
    folder.mkdir(parents=True, exist_ok=True)
    order = mnist_order(sample)
    for prefix, index in (("train", order[:train]), ("t10k", order[-test:])):
        write_pair(folder, prefix, sample.images[index].numpy(), sample.labels[index].numpy())
    return {
        name: hashlib.md5((folder / name).read_bytes()).hexdigest() for name in download.MNIST_MD5
    }


class Mirror:
    """A mirror on 127.0.0.1: /missing/ answers 404; /good/ serves the files, holding back
    all but the first chunk of `gated` until `gate` is set."""

    def __init__(self, files: dict[str, bytes], gated: str = ""):
        self.files, self.gated = files, gated
        self.gate = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/{behaviour}/"

    def close(self):
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                behaviour, _, name = self.path.strip("/").partition("/")
                body = mirror.files.get(name)
                if behaviour != "good" or body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name == mirror.gated:
                    self.wfile.write(body[: download.CHUNK_BYTES])
                    self.wfile.flush()
                    mirror.gate.wait(WAIT_S)
                    body = body[download.CHUNK_BYTES :]
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def served(tmp_path, sample, monkeypatch):
    """MNIST look-alike files to serve, with their checksums in place of the real ones."""
    folder = tmp_path / "served"
    checksums = write_mnist(folder, sample, train=3000, test=200)
    monkeypatch.setattr(download, "MNIST_MD5", checksums)
    return {name: (folder / name).read_bytes() for name in checksums}


@pytest.mark.parametrize("mirrors", ["none", "404"])
def test_mnist_that_cannot_be_downloaded_says_so_and_the_sample_stays(
    app, served, local_only, monkeypatch, mirrors
):
    mirror = Mirror(served)
    try:
        monkeypatch.setattr(
            download, "MIRRORS", () if mirrors == "none" else (mirror.url("missing"),)
        )
        _training_page(app, hidden_size=16, epochs=1)
        earlier = _run_to_the_end(app)
        app.selectbox(key="data").set_value("mnist").run()
        assert _button(app, "Start training").disabled
        assert "MNIST is not on this server yet" in app.info[0].value

        _button(app, data_ui.DOWNLOAD_LABEL).click().run()
        assert data_ui.mnist_download(str(local_only)).wait(WAIT_S)
        app.run()
    finally:
        mirror.close()

    assert not app.exception
    warning = app.warning[0].value
    assert warning.startswith("**Back on the embedded sample.** Could not download MNIST")
    assert ("HTTP 404" if mirrors == "404" else "tried no mirrors") in warning
    assert f"into {local_only} by hand" in warning
    assert not list(local_only.glob("*.gz")) and not list(local_only.glob(".*part"))
    assert app.selectbox(key="data").value == "sample"

    # the earlier run is all there, and the sample trains
    assert app.session_state[state.JOB_KEY] is earlier
    assert app.success[0].value.startswith("Training finished.")
    assert {"loss", "accuracy"} <= set(_charts(app))
    job = _run_to_the_end(app)
    assert job is not earlier and job.view().state == "finished"
    assert "· Embedded sample: 5,000 MNIST digits" in _captions(app)


def test_a_download_failing_after_the_choice_moved_on_leaves_the_choice_alone(
    app, served, local_only, monkeypatch
):
    mirror = Mirror(served, gated="train-images-idx3-ubyte.gz")
    try:
        monkeypatch.setattr(download, "MIRRORS", (mirror.url("good"),))
        monkeypatch.setitem(download.MNIST_MD5, "train-images-idx3-ubyte.gz", "0" * 32)
        _training_page(app, data="mnist")
        _button(app, data_ui.DOWNLOAD_LABEL).click().run()
        job = data_ui.mnist_download(str(local_only))
        assert job.wait_until(lambda view: view.bytes_done > 0, WAIT_S)
        app.selectbox(key="data").set_value(KAGGLE).run()

        mirror.gate.set()  # the rest comes, and its checksum is wrong
        assert job.wait(WAIT_S)
        app.run()
    finally:
        mirror.close()

    assert "checksum" in job.view().message
    assert not app.exception and not app.warning
    assert app.selectbox(key="data").value == KAGGLE
    assert "Upload Kaggle's train.csv" in app.info[0].value


def test_mnist_files_in_place_train_and_validate_on_the_test_pair(
    app, sample, local_only, monkeypatch
):
    monkeypatch.setattr(download, "MNIST_MD5", write_mnist(local_only, sample, 1000, 200))
    _training_page(app, data="mnist", hidden_size=16, epochs=1)

    assert not app.exception and not app.error
    assert not [b for b in app.button if b.label == data_ui.DOWNLOAD_LABEL]
    assert (
        "**MNIST (1,000 training + 200 test digits)**: 1,000 to train on, checked on 200 "
        "digits of the official MNIST test set." in _markdown(app)
    )
    assert sum(_count_bars(app)) == 1200

    job = _run_to_the_end(app)
    assert job.view().state == "finished"
    assert torch.equal(job.data.val.images, sample.images[mnist_order(sample)[-200:]])
    captions = _captions(app)
    assert "· MNIST (1,000 training + 200 test digits)" in captions
    assert "measured on 200 digits of the official MNIST test set" in captions


def test_a_download_from_a_local_mirror_shows_progress_and_completes(
    app, served, local_only, monkeypatch
):
    mirror = Mirror(served, gated="train-images-idx3-ubyte.gz")
    try:
        monkeypatch.setattr(download, "MIRRORS", (mirror.url("missing"), mirror.url("good")))
        _training_page(app, data="mnist")
        _button(app, data_ui.DOWNLOAD_LABEL).click().run()
        job = data_ui.mnist_download(str(local_only))

        # the first chunk is in, the rest held back by the mirror
        assert job.wait_until(lambda view: view.bytes_done > 0, WAIT_S)
        app.run()
        (progress,) = app.get("progress")
        total = len(served["train-images-idx3-ubyte.gz"]) / 1e6
        done = download.CHUNK_BYTES / 1e6
        percent = round(100 * download.CHUNK_BYTES / len(served["train-images-idx3-ubyte.gz"]))
        assert progress.proto.text == f"File 1 of 4: {done:.1f} of {total:.1f} MB ({percent}%)"
        assert "MNIST is downloading" in app.info[0].value
        assert _button(app, "Start training").disabled

        mirror.gate.set()
        assert job.wait(WAIT_S)
        app.run()
    finally:
        mirror.close()

    assert not app.exception and not app.warning and not app.error
    assert job.view().state == "done"
    assert sorted(p.name for p in local_only.iterdir()) == sorted(served)
    assert app.selectbox(key="data").value == "mnist"
    assert "MNIST (3,000 training + 200 test digits)" in _markdown(app)
    assert not app.get("progress")
    assert not _button(app, "Start training").disabled


# -- Kaggle test.csv to submission.csv --------------------------------------------------------


def _captured_downloads(monkeypatch) -> list[tuple[bytes, str]]:
    """(content, file name) of each file the page hands to a download button."""
    captured = []
    real = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        captured.append((path_or_data, filename))
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    return captured


def test_test_csv_becomes_the_submission_kaggle_asks_for(app, sample, monkeypatch):
    # eight digits the bundled GRU reads right, so the expected file is known
    model, _ = load_model(bundled_path("gru"))
    right = torch.nonzero(predict(model, sample.images[:200]) == sample.labels[:200]).flatten()
    index = right[::20][:8]
    downloads = _captured_downloads(monkeypatch)
    _training_page(app)

    app.file_uploader(key=kaggle_ui.UPLOAD_KEY).set_value(
        ("test.csv", kaggle_test_csv(sample.images[index]), "text/csv")
    ).run()
    assert app.selectbox(key=kaggle_ui.MODEL_KEY).value == "Bundled GRU"
    assert not app.get("download_button")
    _button(app, "Predict 8 digits").click().run()

    assert not app.exception and not app.error
    (button,) = app.get("download_button")
    assert button.proto.label == "Download submission.csv"
    content, name = downloads[-1]
    expected = "ImageId,Label\n" + "".join(
        f"{i},{int(sample.labels[j])}\n" for i, j in enumerate(index, 1)
    )
    assert name == "submission.csv"
    assert (content.decode() if isinstance(content, bytes) else content) == expected
    assert sum(_count_bars(app, "submission_counts")) == 8
    assert _charts(app)["submission_counts"]["layout"]["title"]["text"] == "Predicted digits"

    # another rerun shows the same file without predicting again
    app.run()
    assert app.get("download_button") and not [b for b in app.button if b.label.startswith("Pre")]


def test_the_model_trained_in_this_session_can_make_the_submission(app, sample):
    _training_page(app, hidden_size=16, epochs=1)
    _run_to_the_end(app)
    app.file_uploader(key=kaggle_ui.UPLOAD_KEY).set_value(
        ("test.zip", _zip({"test.csv": kaggle_test_csv(sample.images[:30])}), "application/zip")
    ).run()
    app.selectbox(key=kaggle_ui.MODEL_KEY).set_value(kaggle_ui.SESSION_CHOICE).run()
    _button(app, "Predict 30 digits").click().run()

    assert not app.exception and not app.error
    assert sum(_count_bars(app, "submission_counts")) == 30


def test_a_model_file_uploaded_on_the_playground_can_make_the_submission(app, sample):
    model, info = load_model(bundled_path("rnn"))
    app.session_state[state.UPLOADED_KEY] = state.HeldUpload(
        ("my-rnn.safetensors", ("upload-x", model, info))
    )
    _training_page(app)
    app.file_uploader(key=kaggle_ui.UPLOAD_KEY).set_value(
        ("test.csv", kaggle_test_csv(sample.images[:12]), "text/csv")
    ).run()
    app.selectbox(key=kaggle_ui.MODEL_KEY).set_value("Uploaded: my-rnn.safetensors").run()
    _button(app, "Predict 12 digits").click().run()

    assert not app.exception and not app.error
    expected = predict(model, sample.images[:12]).bincount(minlength=10).tolist()
    assert _count_bars(app, "submission_counts") == expected
    assert "Uploaded: my-rnn.safetensors: how many" in _captions(app)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "looks like Kaggle's train.csv"),
        (b"pixel0,pixel1\n1,2\n", "names 2 columns, expected 784"),
        (HEADER.removeprefix("label,").encode() + b"\n", "holds only its header"),
    ],
    ids=["train.csv instead", "two columns", "no digits"],
)
def test_a_bad_test_csv_says_what_is_wrong(app, good_csv, content, message):
    _training_page(app)
    app.file_uploader(key=kaggle_ui.UPLOAD_KEY).set_value(
        ("test.csv", good_csv if content is None else content, "text/csv")
    ).run()

    assert not app.exception
    assert message in app.error[0].value
    assert not [b for b in app.button if b.label.startswith("Predict")]
    assert not app.get("download_button")


# -- bad pictures on the Playground -----------------------------------------------------------


def _png(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def _upload_picture(at, content: bytes, name: str = "digit.png"):
    at.run()
    at.radio(key="input_mode").set_value("Upload a picture").run()
    at.file_uploader(key="upload").set_value((name, content, "image/png")).run()
    return at


BAD_PICTURES = {
    "not an image": (
        lambda: b"%PDF-1.4 not a picture",
        "That file is not an image: upload a PNG or JPEG of a digit.",
    ),
    "animated": (
        lambda: _png(
            Image.new("L", (28, 28), 0),
            save_all=True,
            append_images=[Image.new("L", (28, 28), 255)],
        ),
        "That image is animated (2 frames): upload a single still picture.",
    ),
    "8000 x 8000": (
        lambda: _png(Image.new("L", (8000, 8000), 255)),
        "That image is too large (8000 x 8000 pixels): the limit is 4096 x 4096; "
        "crop it to the digit and try again.",
    ),
}


@pytest.mark.parametrize("bad", list(BAD_PICTURES))
def test_a_bad_picture_on_the_playground_gets_its_message(app, bad):
    make, message = BAD_PICTURES[bad]
    _upload_picture(app, make())

    assert not app.exception
    assert [e.value for e in app.error] == [message]
    assert not [m for m in app.metric if m.label == "Prediction"]


def test_a_picture_of_one_colour_says_it_holds_no_digit(app):
    _upload_picture(app, _png(Image.new("RGB", (200, 200), (40, 90, 200))))

    assert not app.exception
    assert not [m for m in app.metric if m.label == "Prediction"]
    (message,) = [m.value for m in [*app.info, *app.warning, *app.error]]
    assert "draw" not in message.lower() and "picture" in message.lower()
