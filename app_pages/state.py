"""What the pages keep between reruns: read-only things every visitor shares, and this
browser session's own training run and trace.

The only module besides the pages that touches st.cache_resource and st.session_state.
"""

import hashlib
import threading
import uuid
from collections.abc import Callable

import numpy as np
import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from rnn_model import (
    ModelInfo,
    RowClassifier,
    Trace,
    bundled_path,
    load_model,
    model_from_bytes,
    trace,
)
from training.comparison import Comparison
from training.data import TrainValSplit, load_training_data
from training.job import TrainingJob
from training.limits import KEPT_MODELS_MB
from training.model_shelf import ModelShelf, model_bytes
from training.run_queue import RunQueue

JOB_KEY = "training_job"
COMPARISON_KEY = "cell_comparison"
HEARTBEAT_KEY = "training_heartbeat"
TRACE_KEY = "trace_memo"
UPLOADED_KEY = "uploaded_model"
SHELF_ID_KEY = "shelf_id"

# A run whose browser has been gone this long is stopped, and its model let go.
ABANDON_AFTER_S = 60.0
ABANDONED = "Stopped because this tab was closed or lost its connection for over a minute."
LET_GO = (
    "This model was let go to make room for other visitors' models: it had gone unused the "
    "longest of all kept on this server. Train it again, or download models you want to keep."
)

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


@st.cache_resource(show_spinner=False)
def model_shelf() -> ModelShelf:
    """The server's bound on the models all sessions keep (training.model_shelf)."""
    return ModelShelf(KEPT_MODELS_MB * 2**20)


@st.cache_resource(show_spinner=False)
def run_queue() -> RunQueue:
    """The server's one queue of training runs (RNN_DIGIT_LAB_MAX_RUNS at once, default 2).

    The one shared thing that changes: it holds the runs in order, never a session's page."""
    return RunQueue()


# -- this session's training run ----------------------------------------------------------


class _Heartbeat:
    """This session's run, and what to do with it when the session's browser goes away.

    Streamlit releases a session's resources whenever its browser disconnects, even for a
    moment (a laptop lid, a wifi blip). Each release starts a timer; when it fires, the run is
    discarded (stopped, its model let go) unless the browser is connected again or a later
    disconnect has started a timer of its own."""

    def __init__(self, connected: Callable[[], bool]):
        self.job: TrainingJob | None = None
        self.comparison: Comparison | None = None  # discarded with the job, the same way
        self.connected = connected  # is this session's browser connected right now?
        self.releases = 0  # disconnects seen so far
        self.timer: threading.Timer | None = None  # the latest disconnect's timer
        self.lock = threading.Lock()

    def released(self, window_s: float) -> threading.Timer:
        """The browser disconnected: give it `window_s` seconds to come back."""
        with self.lock:
            self.releases += 1
            timer = threading.Timer(window_s, self.stop_if_gone, args=(self.releases,))
            timer.daemon = True
            self.timer = timer
        timer.start()
        return timer

    def stop_if_gone(self, release: int) -> None:
        with self.lock:
            idle = self.job is None and self.comparison is None
            if release != self.releases or idle or self.connected():
                return
            held = (self.job, self.comparison)
            self.job = self.comparison = None
        for run in held:
            if run is not None:
                run.discard(ABANDONED)


def _connection_probe() -> Callable[[], bool]:
    """Whether this session is connected, askable from any thread: Streamlit keeps a
    disconnected session a while for a reconnect, and a reconnect need not rerun the page."""
    ctx = get_script_run_ctx()
    session_id = ctx.session_id if ctx is not None else None

    def connected() -> bool:
        if session_id is None or not runtime.exists():
            return False  # no server to reconnect to (a test, or shutting down)
        return runtime.get_instance().is_active_session(session_id)

    return connected


def _on_release(beat: _Heartbeat) -> None:
    beat.released(ABANDON_AFTER_S)


@st.cache_resource(scope="session", on_release=_on_release, show_spinner=False)
def _watch(_beat: _Heartbeat) -> _Heartbeat:
    return _beat


def keep_alive() -> None:
    """Keep a disconnect watch on this session. Every page calls it on every run, so a
    reconnect that reruns a page registers the watch again after its release."""
    beat = st.session_state.get(HEARTBEAT_KEY)
    if beat is None:
        beat = st.session_state[HEARTBEAT_KEY] = _Heartbeat(_connection_probe())
    _watch(beat)


def current_job() -> TrainingJob | None:
    return st.session_state.get(JOB_KEY)


def is_running(job: TrainingJob | None) -> bool:
    return job is not None and not job.view().done


def start_job(
    model_config, train_config, source: str | TrainValSplit, label: str | None = None
) -> TrainingJob:
    """Start a run for this session, or queue it while the server is full; refused while
    this session has a run going or waiting.

    `source` is a key of DATA_SOURCES, or digits the page already holds (a Kaggle upload,
    MNIST) with the `label` that names them in the run's caption and model file.
    """
    if is_running(current_job()):
        raise BusyError("A run is already going: stop it before starting another.")
    if comparison_running():
        raise BusyError("A comparison of cells is going: stop it before starting a run.")
    data, label = _digits(source, label)
    # starts now if a slot is free; else it waits its turn and starts by itself
    job = run_queue().submit(TrainingJob(model_config, train_config, data, label))
    st.session_state[JOB_KEY] = job
    keep_alive()
    st.session_state[HEARTBEAT_KEY].job = job
    return job


def _digits(source: str | TrainValSplit, label: str | None) -> tuple[TrainValSplit, str]:
    """The digits a run learns from, and the words that name them."""
    data = training_data(source) if isinstance(source, str) else source
    return data, label or DATA_SOURCES[source]


def current_comparison() -> Comparison | None:
    return st.session_state.get(COMPARISON_KEY)


def comparison_running() -> bool:
    comparison = current_comparison()
    return comparison is not None and not comparison.done


def start_comparison(
    model_config, train_config, source: str | TrainValSplit, label: str | None = None
) -> Comparison:
    """Train a vanilla RNN, an LSTM and a GRU for this session with the same settings, one
    after another through the server's queue; refused while this session trains anything.
    `source` and `label` as for start_job."""
    if is_running(current_job()):
        raise BusyError("A training run is going: stop it before comparing cells.")
    if comparison_running():
        raise BusyError("A comparison is already going: stop it before starting another.")
    data, label = _digits(source, label)
    comparison = Comparison.of_cells(model_config, train_config, data, label).start(run_queue())
    st.session_state[COMPARISON_KEY] = comparison
    keep_alive()
    st.session_state[HEARTBEAT_KEY].comparison = comparison
    return comparison


def session_model() -> tuple[str, RowClassifier, ModelInfo] | None:
    """(model id, model, info) of the model trained in this session, once its run is over."""
    job = current_job()
    model = job.trained_model() if job is not None else None
    if model is None:
        return None
    key = ("run", id(job))
    if not model_shelf().touch(key):  # first seen since its run ended: count it
        model_shelf().keep(key, model_bytes(model), lambda: job.discard(LET_GO))
        if job.trained_model() is None:  # let go at once (only a run over the whole shelf)
            return None
    return f"session-{id(job)}", model, ModelInfo(job.model_config, job.provenance())


def load_upload(data: bytes, name: str) -> tuple[str, RowClassifier, ModelInfo]:
    """Check and load an uploaded model file, and keep it as this session's one uploaded
    model (a new upload replaces it). Returns (model id, model, info).

    Raises ModelFileError for any file that cannot be used, and then nothing is kept or
    changed. Never unpickles: a file can hold tensors and a config, not code."""
    model, info = model_from_bytes(data, name)
    model_id = "upload-" + hashlib.blake2b(data, digest_size=16).hexdigest()
    held = HeldUpload((name, (model_id, model, info)))
    # one key per session: a new upload takes the place of the last on the shelf too
    model_shelf().keep(("upload", _session_id()), model_bytes(model), held.let_go)
    st.session_state[UPLOADED_KEY] = held
    return model_id, model, info


def _session_id() -> str:
    """A name for this session on the shelf, made here: Streamlit's own session id is
    the same for every AppTest session."""
    return st.session_state.setdefault(SHELF_ID_KEY, uuid.uuid4().hex)


class HeldUpload:
    """An uploaded model that the shelf can let go of from another session's thread, which
    must not touch this session's state itself."""

    def __init__(self, entry):
        self.entry = entry

    def let_go(self) -> None:
        self.entry = None


def uploaded_model() -> tuple[str, tuple[str, RowClassifier, ModelInfo]] | None:
    """(file name, (model id, model, info)) of this session's uploaded model, if any."""
    held = st.session_state.get(UPLOADED_KEY)
    if held is None or held.entry is None:
        return None
    model_shelf().touch(("upload", _session_id()))
    return held.entry


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


# -- a digit handed to the Playground -----------------------------------------------------

OPENED_KEY = "opened_digit"


def open_in_playground(image: np.ndarray, caption: str) -> None:
    """Hand a 28x28 digit (uint8, MNIST-style: white ink on black) to the Playground, which
    reads it instead of the canvas until the visitor draws or picks another. The caller then
    switches page (st.switch_page("app_pages/playground.py"))."""
    image = np.asarray(image)
    if image.shape != (28, 28):
        raise ValueError(f"a digit is 28x28 pixels, not {image.shape}")
    st.session_state[OPENED_KEY] = (image.astype(np.uint8), caption)


def opened_digit() -> tuple[np.ndarray, str] | None:
    """(image (28, 28) uint8, caption) of the digit handed to the Playground, if any."""
    return st.session_state.get(OPENED_KEY)


def close_opened_digit() -> None:
    st.session_state.pop(OPENED_KEY, None)
