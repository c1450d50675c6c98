"""The MNIST download in a background thread, against a mirror served on 127.0.0.1."""

import pytest

from tests.test_app_data import Mirror, local_only, write_mnist  # noqa: F401 (a fixture)
from training import download
from training.data import load_sample
from training.download_job import DownloadView, MnistDownload

WAIT_S = 60


@pytest.fixture(scope="module")
def sample():
    return load_sample()


@pytest.fixture
def served(tmp_path, sample, monkeypatch):
    checksums = write_mnist(tmp_path / "served", sample, train=3000, test=100)
    monkeypatch.setattr(download, "MNIST_MD5", checksums)
    return {name: (tmp_path / "served" / name).read_bytes() for name in checksums}


def test_progress_is_readable_while_it_goes_and_the_files_land(tmp_path, served, monkeypatch):
    gated = "train-images-idx3-ubyte.gz"
    mirror = Mirror(served, gated=gated)
    try:
        monkeypatch.setattr(download, "MIRRORS", (mirror.url("good"),))
        job = MnistDownload(tmp_path / "cache", timeout=5)
        assert job.view().state == "idle"
        assert job.start()
        assert not job.start()  # one download at a time

        assert job.wait_until(lambda view: view.bytes_done > 0, WAIT_S)
        view = job.view()
        assert view == DownloadView(
            "running", gated, 0, 4, download.CHUNK_BYTES, len(served[gated])
        )
        assert view.fraction == pytest.approx(download.CHUNK_BYTES / len(served[gated]))

        mirror.gate.set()
        assert job.wait(WAIT_S)
    finally:
        mirror.close()
    assert job.view().state == "done" and job.view().files_done == 4
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(served)


def test_a_failed_download_says_why_and_can_be_tried_again(tmp_path, served, monkeypatch):
    mirror = Mirror(served)
    try:
        monkeypatch.setattr(download, "MIRRORS", (mirror.url("missing"),))
        job = MnistDownload(tmp_path / "cache", timeout=5)
        job.start()
        assert job.wait(WAIT_S)
        view = job.view()
        assert view.state == "failed"
        assert view.message.startswith("Could not download MNIST") and "HTTP 404" in view.message

        monkeypatch.setattr(download, "MIRRORS", (mirror.url("good"),))
        assert job.start()
        assert job.wait(WAIT_S)
    finally:
        mirror.close()
    assert job.view() == DownloadView(
        "done", "t10k-labels-idx1-ubyte.gz", 4, 4, *[len(served["t10k-labels-idx1-ubyte.gz"])] * 2
    )


def test_a_damaged_file_in_the_folder_is_reported_not_downloaded_over(tmp_path, served):
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"not the labels")
    job = MnistDownload(folder)

    assert job.start()
    view = job.view()
    assert view.state == "failed" and "is not the official MNIST file" in view.message
    assert (folder / "train-labels-idx1-ubyte.gz").read_bytes() == b"not the labels"
