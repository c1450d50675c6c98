"""A training run in a background thread, for a caller (the page) that must stay responsive.

The thread only appends records under a lock; whoever shows them reads a copy. It knows
nothing of Streamlit. A job either starts at once (`start()`) or waits its turn in a
`training.run_queue.RunQueue` (`queue.submit(job)`), which bounds the runs going at once.

The model is built by the job's thread when the run starts, so a job waiting in a queue holds
no weights: thirty visitors queued behind two runs cost their settings and little more.
"""

import ctypes
import os
import threading
import time
from dataclasses import asdict, dataclass, field

from rnn_model import ModelConfig, RowClassifier
from rnn_model.files import model_to_bytes
from training.data import TrainValSplit
from training.engine import Record, TrainConfig, new_model, train

DONE_STATES = ("finished", "stopped", "diverged", "failed", "cancelled")
NICE_VARIABLE = "RNN_DIGIT_LAB_TRAINING_NICE"
# How far below the pages a training thread runs (Linux nice steps, 0-19). Visitors of the
# same server share its cores with every run: at 10 a page's script gets about nine tenths of
# a core that a run also wants, so drawings are answered fast while runs slow down a little.
TRAINING_NICE = 10
THREAD_NAME = b"training-job"  # as `top -H` and /proc/<pid>/task/*/comm show the thread


def yield_to_pages(environ=None) -> int | None:
    """Lower the calling thread's CPU priority by RNN_DIGIT_LAB_TRAINING_NICE steps (default
    TRAINING_NICE) and name it for the OS. Returns the thread's nice value after, or None
    where the OS has no per-thread priority. Threads torch starts from here (its OpenMP
    workers) inherit both. Linux gives each thread its own nice value, and lowering it needs
    no rights."""
    environ = os.environ if environ is None else environ
    try:
        steps = max(0, int(environ.get(NICE_VARIABLE, TRAINING_NICE)))
    except ValueError:
        steps = TRAINING_NICE
    thread = threading.get_native_id()
    try:
        ctypes.CDLL(None).prctl(15, THREAD_NAME)  # PR_SET_NAME: Linux only
        now = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(now + steps, 19))
        return os.getpriority(os.PRIO_PROCESS, thread)
    except (AttributeError, OSError):  # not Linux: runs keep the pages' priority
        return None


@dataclass
class JobView:
    """A consistent copy of a job's progress at one moment."""

    state: str  # queued, running, finished, stopped, diverged, failed or cancelled
    records: list[Record] = field(default_factory=list)
    message: str = ""
    position: int | None = None  # place in the queue while queued, 1 = starts next

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES

    @property
    def queued(self) -> bool:
        return self.state == "queued"

    @property
    def last(self) -> Record | None:
        return self.records[-1] if self.records else None


class TrainingJob:
    def __init__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        data: TrainValSplit,
        data_label: str,
    ):
        self.model_config = model_config
        self.train_config = train_config
        self.data = data
        self.data_label = data_label
        self.model: RowClassifier | None = None  # built by the thread when the run starts
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._state = "running"
        self._message = ""
        self._position: int | None = None
        self._thread = threading.Thread(target=self._run, name="training-job", daemon=True)
        self._ended = threading.Event()  # set once the job is over, however it ended
        self._queue = None  # the RunQueue this job was submitted to, if any
        self._on_end = None  # called by the job's thread as its last act: frees a queue slot
        self._discarded = False  # nobody will look at it again: drop the model once unused
        self._discard_message = ""
        self._thread_over = False  # the thread is past the last point where it uses the model

    def start(self) -> "TrainingJob":
        """Run now, outside any queue."""
        if self._queue is not None:
            raise RuntimeError("This job was submitted to a RunQueue: the queue starts it.")
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the job: a running one after the batch it is on, a queued one at once
        (it leaves the queue and ends as 'cancelled')."""
        self._stop.set()
        if self._queue is not None:
            self._queue.cancel(self)

    def discard(self, message: str) -> None:
        """End the job as `stop()` does and let go of its model, so that its memory is freed
        even while something (a browser session kept for a reconnect) still holds the job.
        For a job whose browser has gone; `message` becomes the job's message. Any thread."""
        with self._lock:
            self._discarded, self._discard_message = True, message
            if self._thread_over or self._thread.ident is None:
                self.model = None  # else the thread drops it as it ends
        self.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the job is over; False if `timeout` seconds passed first."""
        return self._ended.wait(timeout)

    def view(self) -> JobView:
        with self._lock:
            message = self._discard_message if self._discarded else self._message
            return JobView(self._state, list(self._records), message, self._position)

    def trained_model(self) -> RowClassifier | None:
        """The model once the run is over and kept usable weights, else None."""
        view = self.view()
        if view.state in ("finished", "stopped", "diverged") and view.records:
            return self.model
        return None

    def model_file(self) -> bytes:
        model = self.trained_model()
        if model is None:
            raise RuntimeError("This job has no trained model to save.")
        return model_to_bytes(model, self.provenance())

    def provenance(self) -> dict:
        last = self.view().last
        return {
            "data": self.data_label,
            "model_config": self.model_config.to_dict(),
            "train_config": asdict(self.train_config),
            "val_accuracy": last.val_accuracy if last else None,
            "steps": last.step if last else 0,
            "trained_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        }

    def _run(self) -> None:
        yield_to_pages()  # before torch starts any worker thread for this run
        try:
            self._train()
        except Exception as error:  # a run must end in a state the page can show
            self._finish("failed", f"Training failed: {error}")
        finally:
            with self._lock:
                if self._state not in DONE_STATES:  # only something like SystemExit gets here
                    self._state, self._message = "failed", "Training ended unexpectedly."
                self._thread_over = True
                if self._discarded:
                    self.model = None
            # hand the queue slot on whatever happened above, then let waiters in
            if self._on_end is not None:
                self._on_end(self)
            self._ended.set()

    def _train(self) -> None:
        model = new_model(self.model_config, self.train_config.seed)
        with self._lock:
            self.model = model
        for record in train(model, self.data.train, self.data.val, self.train_config, self._stop):
            self._append(record)
        last = self.view().last
        state = {"end": "finished", "stopped": "stopped", "diverged": "diverged"}[last.kind]
        self._finish(state, last.message)

    def _append(self, record: Record) -> None:
        with self._lock:
            self._records.append(record)

    def _finish(self, state: str, message: str) -> None:
        with self._lock:
            self._state = state
            self._message = message

    # -- called by RunQueue only, while it holds its own lock -------------------------------

    def _join_queue(self, queue, on_end) -> None:
        if self._queue is not None or self._thread.ident is not None or self._ended.is_set():
            raise RuntimeError("This job was already started or submitted; make a new one.")
        self._queue, self._on_end = queue, on_end

    def _wait_in_line(self, position: int) -> None:
        runs = "1 run" if position == 2 else f"{position - 1} runs"
        ahead = "yours is next" if position == 1 else f"{runs} ahead of yours"
        with self._lock:
            self._state, self._position = "queued", position
            self._message = f"Waiting for a free training slot: {ahead}."

    def _launch(self) -> None:
        with self._lock:
            self._state, self._position, self._message = "running", None, ""
        self._thread.start()

    def _end_unstarted(self, state: str, message: str) -> None:
        with self._lock:
            self._state, self._position, self._message = state, None, message
        self._ended.set()
