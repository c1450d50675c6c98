"""The MNIST download, run for real against mirrors this test serves on 127.0.0.1.

The mirrors serve IDX files made from the embedded digits, and the test passes their checksums
in, so the production checksums stay the published ones and nothing leaves this machine.
"""

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.test_data import write_pair
from training import download
from training.__main__ import main
from training.data import DataError, load_sample, load_training_data
from training.download import DownloadError, ensure_mnist, missing_files

TIMEOUT_S = 0.5  # what a stalled mirror costs each test that meets one


@pytest.fixture(autouse=True)
def no_real_mirrors(monkeypatch):
    """A call that forgets to pass its mirrors finds none, and any request for another host
    than 127.0.0.1 goes to a closed local port instead of the internet."""
    monkeypatch.setattr(download, "MIRRORS", ())
    for variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")
    for variable in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(variable, "127.0.0.1")


@pytest.fixture(scope="module")
def mnist_files(tmp_path_factory):
    """A small MNIST look-alike: 300 training and 100 test digits, as the four .gz files."""
    folder = tmp_path_factory.mktemp("served")
    sample = load_sample()
    write_pair(folder, "train", sample.images[:300].numpy(), sample.labels[:300].numpy())
    write_pair(folder, "t10k", sample.images[-100:].numpy(), sample.labels[-100:].numpy())
    return {name: (folder / name).read_bytes() for name in download.MNIST_MD5}


@pytest.fixture
def checksums(mnist_files):
    return {name: hashlib.md5(body).hexdigest() for name, body in mnist_files.items()}


class Mirrors:
    """One local server playing several mirrors, each a path prefix with its own behaviour.

    /good/ serves the files, /missing/ answers 404, /short/ promises the whole file and hangs
    up halfway, /unsized/ sends half a file with no length, /wrong/ serves other bytes, and
    /stall/ accepts the request and never answers until the test ends.
    """

    def __init__(self, files):
        self.files = files
        self.requests = []  # paths asked for, in order
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/{behaviour}/"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        mirrors = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                mirrors.requests.append(self.path)
                behaviour, _, name = self.path.strip("/").partition("/")
                body = mirrors.files.get(name)
                if behaviour == "stall":
                    mirrors.release.wait()
                    return
                if body is None or behaviour == "missing":
                    self.send_error(404)
                    return
                if behaviour == "wrong":
                    body = bytes(reversed(body))
                self.send_response(200)
                if behaviour != "unsized":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if behaviour in ("short", "unsized"):
                    body = body[: len(body) // 2]
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def mirrors(mnist_files):
    server = Mirrors(mnist_files)
    yield server
    server.close()


def test_a_good_download_lands_whole_and_verified_and_loads_as_mnist(tmp_path, mirrors, checksums):
    seen = []
    folder = ensure_mnist(
        tmp_path / "cache",
        [mirrors.url("good")],
        checksums,
        progress=lambda *args: seen.append(args),
        timeout=TIMEOUT_S,
    )
    assert folder == tmp_path / "cache"
    assert sorted(p.name for p in folder.iterdir()) == sorted(checksums)  # no .part left
    for name, md5 in checksums.items():
        assert hashlib.md5((folder / name).read_bytes()).hexdigest() == md5
    assert len(mirrors.requests) == 4

    # progress starts at 0 of the known size and ends at the whole file, for each file
    for name, body in mirrors.files.items():
        calls = [(done, total) for file, done, total in seen if file == name]
        assert calls[0] == (0, len(body)) and calls[-1] == (len(body), len(body))

    data = load_training_data(folder)
    assert data.train.name == "MNIST training set (300)"
    assert data.val.name == "MNIST test set (100)"
    assert data.description == "100 digits of the official MNIST test set"


def test_a_second_run_uses_the_cache_without_any_request(tmp_path, mirrors, checksums):
    ensure_mnist(tmp_path, [mirrors.url("good")], checksums, timeout=TIMEOUT_S)
    asked = len(mirrors.requests)
    assert missing_files(tmp_path, checksums) == []
    ensure_mnist(tmp_path, [mirrors.url("good")], checksums, timeout=TIMEOUT_S)
    assert len(mirrors.requests) == asked == 4


def test_only_missing_files_are_downloaded(tmp_path, mirrors, checksums, mnist_files):
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(mnist_files["train-labels-idx1-ubyte.gz"])
    assert len(missing_files(tmp_path, checksums)) == 3
    ensure_mnist(tmp_path, [mirrors.url("good")], checksums, timeout=TIMEOUT_S)
    assert "/good/train-labels-idx1-ubyte.gz" not in mirrors.requests
    assert len(mirrors.requests) == 3


def test_a_mirror_answering_404_is_passed_over(tmp_path, mirrors, checksums):
    ensure_mnist(
        tmp_path, [mirrors.url("missing"), mirrors.url("good")], checksums, timeout=TIMEOUT_S
    )
    assert missing_files(tmp_path, checksums) == []

    # after the first file, the mirror that worked is asked first
    assert mirrors.requests[:2] == [
        "/missing/train-images-idx3-ubyte.gz",
        "/good/train-images-idx3-ubyte.gz",
    ]
    assert all(path.startswith("/good/") for path in mirrors.requests[2:])


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("short", "cut short after"),
        ("unsized", "checksum"),
        ("wrong", "checksum"),
        ("missing", "HTTP 404"),
    ],
)
def test_a_bad_copy_is_refused_and_never_cached(tmp_path, mirrors, checksums, behaviour, reason):
    with pytest.raises(DownloadError) as caught:
        ensure_mnist(tmp_path, [mirrors.url(behaviour)], checksums, timeout=TIMEOUT_S)
    message = str(caught.value)
    assert "no mirror could be reached" in message and reason in message
    assert f"127.0.0.1:{mirrors.server.server_port}/{behaviour}: " in message
    assert "put the four MNIST files" in message and str(tmp_path) in message
    assert isinstance(caught.value, DataError)
    assert list(tmp_path.iterdir()) == []  # no half file, no temporary file


def test_a_cut_short_copy_falls_through_to_the_next_mirror(tmp_path, mirrors, checksums):
    ensure_mnist(tmp_path, [mirrors.url("short"), mirrors.url("good")], checksums)
    assert missing_files(tmp_path, checksums) == []


def test_a_stalled_mirror_times_out_and_the_next_one_serves(tmp_path, mirrors, checksums):
    start = time.perf_counter()
    ensure_mnist(tmp_path, [mirrors.url("stall"), mirrors.url("good")], checksums, timeout=0.3)
    assert time.perf_counter() - start < 10  # one wait of 0.3 s, not one per file
    assert sum(path.startswith("/stall/") for path in mirrors.requests) == 1
    assert missing_files(tmp_path, checksums) == []


def test_only_a_stalled_mirror_gives_a_clear_error_in_time(tmp_path, mirrors, checksums):
    start = time.perf_counter()
    with pytest.raises(DownloadError, match=r"stall: no answer within 0\.5 s"):
        ensure_mnist(tmp_path, [mirrors.url("stall")], checksums, timeout=TIMEOUT_S)
    assert time.perf_counter() - start < 10
    assert list(tmp_path.iterdir()) == []


def closed_port() -> int:
    """A port that was just free: nothing listens there, so a connection is refused."""
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    probe.server_close()
    return probe.server_port


def test_an_unreachable_mirror_says_what_to_do(tmp_path, mirrors, checksums):
    port = closed_port()
    with pytest.raises(DownloadError) as caught:
        ensure_mnist(tmp_path, [f"http://127.0.0.1:{port}/mnist/"], checksums, timeout=TIMEOUT_S)
    message = str(caught.value)
    assert f"127.0.0.1:{port}/mnist: connection refused" in message
    assert "Train on the embedded sample instead" in message


def test_without_mirrors_nothing_is_asked(tmp_path, checksums):
    with pytest.raises(DownloadError, match="tried no mirrors"):
        ensure_mnist(tmp_path, checksums=checksums)


def test_an_interrupted_download_leaves_no_partial_file(tmp_path, mirrors, checksums):
    class Cancelled(Exception):
        pass

    def cancel_midway(name, done, total):
        if done > 0:
            raise Cancelled

    with pytest.raises(Cancelled):
        ensure_mnist(tmp_path, [mirrors.url("good")], checksums, progress=cancel_midway)
    assert list(tmp_path.iterdir()) == []


def test_a_file_put_in_by_hand_that_does_not_match_is_reported_not_replaced(
    tmp_path, mirrors, checksums, mnist_files
):
    for name, body in mnist_files.items():
        (tmp_path / name).write_bytes(body)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not mnist")
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz in .* is not the official"):
        ensure_mnist(tmp_path, [mirrors.url("good")], checksums)
    assert mirrors.requests == []
    assert (tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes() == b"not mnist"


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("RNN_DIGIT_LAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert download.default_cache_dir() == tmp_path / "xdg" / "rnn-digit-lab" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert download.default_cache_dir() == tmp_path / "home" / ".cache" / "rnn-digit-lab" / "mnist"
    monkeypatch.setenv("RNN_DIGIT_LAB_DATA", str(tmp_path / "mine"))
    assert download.default_cache_dir() == tmp_path / "mine"


def test_the_cli_downloads_mnist_once_with_progress_then_trains_and_evaluates(
    monkeypatch, capsys, tmp_path, mirrors, checksums
):
    monkeypatch.setattr(download, "MIRRORS", (mirrors.url("good"),))
    monkeypatch.setattr(download, "MNIST_MD5", checksums)
    command = ["--data", "mnist", "--data-dir", str(tmp_path)]
    assert main(["train", *command, "--epochs", "1", "--hidden-size", "8", "--json"]) == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert records[0]["message"] == "5 steps on 300 digits"  # the training file, not the test one
    assert records[-1]["kind"] == "end"
    assert f"downloading 4 MNIST files into {tmp_path}" in err
    for name in checksums:
        assert f"{name}  0.0/" in err and "100%" in err.split(name)[-1].split("\n")[0]
    assert len(mirrors.requests) == 4

    # evaluation reads the test digits only, from the cache, asking no mirror again
    assert main(["evaluate", *command, "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["count"] == 100
    assert json.loads(out)["data"] == "MNIST test set (100)"
    assert err == "" and len(mirrors.requests) == 4


def test_the_cli_offline_says_what_to_do_without_a_traceback(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(download, "MIRRORS", (f"http://127.0.0.1:{closed_port()}/mnist/",))
    monkeypatch.setenv("RNN_DIGIT_LAB_DATA", str(tmp_path / "cache"))
    assert main(["train", "--data", "mnist"]) == 2
    err = capsys.readouterr().err
    assert "\nerror: Could not download MNIST: no mirror could be reached" in err
    assert "connection refused" in err and "Train on the embedded sample instead" in err
    assert str(tmp_path / "cache") in err and "Traceback" not in err
