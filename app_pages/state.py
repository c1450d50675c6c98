"""What the pages keep between reruns: read-only things every visitor shares, and this
browser session's own training run and trace.

The only module besides the pages that touches st.cache_resource and st.session_state.
"""

import hashlib
import threading
import time
import weakref

import numpy as np
import streamlit as st

from rnn_model import ModelInfo, RowClassifier, Trace, bundled_path, load_model, trace
from training.data import TrainValSplit, load_training_data
from training.job import TrainingJob

JOB_KEY = "training_job"
HEARTBEAT_KEY = "training_heartbeat"
TRACE_KEY = "trace_memo"

# A small server has 2 CPU shares: more simultaneous runs than that only slow each other down.
MAX_RUNNING_JOBS = 2
# A run whose browser has been gone this long is stopped (its model and charts are kept).
ABANDON_AFTER_S = 60.0

DATA_SOURCES = {"sample": "Embedded sample: 5,000 MNIST digits"}  # source -> label


class BusyError(RuntimeError):
    """A run cannot start now; str(error) says why and what to do."""


# -- read-only, shared by every session ---------------------------------------------------


@st.cache_resource(show_spinner=False)
def bundled_model(cell: str) -> tuple[RowClassifier, ModelInfo]:
    """A bundled model, loaded once per server. Shared by everyone, so never changed."""
    return load_model(bundled_path(cell))


@st.cache_resource(show_spinner="Loading the digits…")
def training_data(source: str) -> TrainValSplit:
    """A data set, loaded once per server; training only reads its tensors."""
    return load_training_data(source)


class _JobBoard:
    """Every run on this server, so the number running at once can be bounded."""

    def __init__(self):
        self.lock = threading.Lock()
        self.jobs: weakref.WeakSet[TrainingJob] = weakref.WeakSet()

    def running(self) -> int:
        return sum(1 for job in list(self.jobs) if not job.view().done)


@st.cache_resource(show_spinner=False)
def _job_board() -> _JobBoard:
    # The one shared thing that changes: it only counts runs, it holds no one's data.
    return _JobBoard()


# -- this session's training run ----------------------------------------------------------


class _Heartbeat:
    """When a page of this session last ran, and the run to stop if that was long ago."""

    def __init__(self):
        self.job: TrainingJob | None = None
        self.seen = time.monotonic()

    def stop_if_gone(self) -> None:
        if self.job is not None and time.monotonic() - self.seen >= ABANDON_AFTER_S:
            self.job.stop()


def _stop_later(beat: _Heartbeat) -> None:
    # Streamlit releases session resources whenever the browser disconnects, even for a
    # moment (a laptop lid, a wifi blip); a page that comes back refreshes `seen`, so only
    # a browser that stays away loses its run.
    timer = threading.Timer(ABANDON_AFTER_S + 1.0, beat.stop_if_gone)
    timer.daemon = True
    timer.start()


@st.cache_resource(scope="session", on_release=_stop_later, show_spinner=False)
def _watch(_beat: _Heartbeat) -> _Heartbeat:
    return _beat


def keep_alive() -> None:
    """Note that this session's browser is still here. Every page calls it on every run."""
    beat = st.session_state.setdefault(HEARTBEAT_KEY, _Heartbeat())
    beat.seen = time.monotonic()
    _watch(beat)  # registers again after a reconnect released it


def current_job() -> TrainingJob | None:
    return st.session_state.get(JOB_KEY)


def is_running(job: TrainingJob | None) -> bool:
    return job is not None and not job.view().done


def start_job(
    model_config, train_config, source: str | TrainValSplit, label: str | None = None
) -> TrainingJob:
    """Start a run for this session, unless one is running here or the server is full.

    `source` is a key of DATA_SOURCES, or digits the page already holds (a Kaggle upload,
    MNIST) with the `label` that names them in the run's caption and model file.
    """
    if is_running(current_job()):
        raise BusyError("A run is already going: stop it before starting another.")
    data = training_data(source) if isinstance(source, str) else source
    label = label or DATA_SOURCES[source]
    board = _job_board()
    with board.lock:
        if board.running() >= MAX_RUNNING_JOBS:
            raise BusyError(
                f"The server is already training {MAX_RUNNING_JOBS} models for other "
                "visitors. Try again in a minute, or try a bundled model in the Playground."
            )
        job = TrainingJob(model_config, train_config, data, label).start()
        board.jobs.add(job)
    st.session_state[JOB_KEY] = job
    keep_alive()
    st.session_state[HEARTBEAT_KEY].job = job
    return job


def session_model() -> tuple[str, RowClassifier, ModelInfo] | None:
    """(model id, model, info) of the model trained in this session, once its run is over."""
    job = current_job()
    model = job.trained_model() if job is not None else None
    if model is None:
        return None
    return f"session-{id(job)}", model, ModelInfo(job.model_config, job.provenance())


# -- one trace per drawing ----------------------------------------------------------------


def trace_once(model_id: str, model: RowClassifier, image: np.ndarray) -> tuple[Trace, bool]:
    """The trace of `image` by the model, computed once per drawing and model.

    Returns (trace, is_new). The step control and the other views only reveal parts of
    this trace, so moving them never runs the model again.
    """
    digest = hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).hexdigest()
    key = (model_id, digest)
    memo = st.session_state.get(TRACE_KEY)
    if memo is not None and memo[0] == key:
        return memo[1], False
    result = trace(model, image)
    st.session_state[TRACE_KEY] = (key, result)
    return result, True
