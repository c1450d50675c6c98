"""Fixtures shared by the tests."""

import gzip
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

MNIST_SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "mnist-sample"


@pytest.fixture(scope="session")
def sample_digits() -> tuple[np.ndarray, np.ndarray]:
    """The real MNIST digits bundled in assets/: images (N, 28, 28) uint8, labels (N,) uint8."""
    images = gzip.decompress((MNIST_SAMPLE / "sample-images-idx3-ubyte.gz").read_bytes())
    labels = gzip.decompress((MNIST_SAMPLE / "sample-labels-idx1-ubyte.gz").read_bytes())

    # IDX headers are big-endian: magic, count, then the rows and columns of each image
    magic, count, rows, cols = np.frombuffer(images[:16], ">u4")
    assert (magic, rows, cols) == (0x803, 28, 28)
    label_magic, label_count = np.frombuffer(labels[:8], ">u4")
    assert (label_magic, label_count) == (0x801, count)

    images = np.frombuffer(images, np.uint8, offset=16).reshape(count, rows, cols)
    return images, np.frombuffer(labels, np.uint8, offset=8)


APP_RUN_TIMEOUT = 60  # seconds per script run; a shared CPU can be slow, a run is usually < 1 s


@pytest.fixture
def app():
    """The whole app in AppTest, one session; a run it started is stopped afterwards."""
    from app_pages import state  # imports streamlit, so only for tests that use the app

    at = AppTest.from_file("../app.py", default_timeout=APP_RUN_TIMEOUT)
    yield at
    # A run left going would count against the server's bound in the next test.
    job = at.session_state.get(state.JOB_KEY)
    if job is not None:
        job.stop()
        assert job.wait(30), "a training run did not stop"
