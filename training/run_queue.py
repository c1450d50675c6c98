"""A server-wide bound on the training runs going at once, with a first-come, first-served queue.

The page keeps ONE RunQueue for the whole server (`st.cache_resource`, not per session) and
uses it like this:

    job = TrainingJob(model_config, train_config, data, label)
    queue.submit(job)        # starts now if a slot is free, else waits its turn
    view = job.view()        # view.state: "queued" (view.position: 1 = next), "running", ...
    job.stop()               # a queued job is cancelled, a running one stops after its batch

Nobody polls: a job's own thread, as its last act, hands its slot to the first job waiting.
The slot is handed on however the run ended: finished, stopped, diverged or failed.

Named run_queue, not queue, so that running a script from inside training/ cannot hide the
standard library's queue module.
"""

import logging
import os
import threading
from collections import deque
from collections.abc import Mapping

from training.job import TrainingJob

MAX_RUNS_VARIABLE = "RNN_DIGIT_LAB_MAX_RUNS"
# A small server has 2 CPU shares: more runs at once than that only slow each other down.
DEFAULT_MAX_RUNS = 2

log = logging.getLogger(__name__)


def max_runs_from_env(environ: Mapping[str, str] | None = None) -> int:
    """How many runs may go at once: RNN_DIGIT_LAB_MAX_RUNS when it is a whole number of at
    least 1, else 2.

    Unset or blank means 2. Anything else that is not a positive whole number (0, -1, "two",
    "2.5") is refused with a warning in the server log, and 2 is used: 0 would let nobody
    train, so it is read as a mistake rather than as "training off".
    """
    environ = os.environ if environ is None else environ
    text = environ.get(MAX_RUNS_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MAX_RUNS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        log.warning(
            "%s=%r is not a whole number of at least 1: allowing %d training runs at once. "
            "Set it to 1, 2, 3... to change that.",
            MAX_RUNS_VARIABLE,
            text,
            DEFAULT_MAX_RUNS,
        )
        return DEFAULT_MAX_RUNS
    return value


class RunQueue:
    """At most `limit` jobs running at once; the others wait in the order they came.

    Thread-safe, shared by every session. Methods:

    - submit(job): start the job now if fewer than `limit` run, else queue it (its view then
      says state "queued" and its position, 1 = next). Returns the job.
    - cancel(job): take a waiting job out of the queue; it never starts and ends "cancelled".
      `job.stop()` does the same for a queued job, so the page may simply call that.
    - counts(): (running, waiting) right now, e.g. to tell a visitor how busy the server is.

    A job that is running or waiting holds memory (its model and optimizer), so the page
    should stop the job of a session that has gone away; stopping a queued job frees its place.
    """

    def __init__(self, limit: int | None = None):
        self.limit = max_runs_from_env() if limit is None else limit
        if self.limit < 1:
            raise ValueError(f"limit must be at least 1, not {self.limit}")
        self._lock = threading.Lock()
        self._running: set[TrainingJob] = set()
        self._waiting: deque[TrainingJob] = deque()

    def submit(self, job: TrainingJob) -> TrainingJob:
        with self._lock:
            job._join_queue(self, self._release)  # refuses a job started or submitted before
            self._waiting.append(job)
            self._start_waiting()
        return job

    def cancel(self, job: TrainingJob) -> bool:
        """Take `job` out of the queue; False if it was not waiting (running, over, unknown)."""
        with self._lock:
            if job not in self._waiting:
                return False
            self._waiting.remove(job)
            job._end_unstarted("cancelled", "Cancelled before it started.")
            self._number_waiting()
        return True

    def counts(self) -> tuple[int, int]:
        """(running, waiting)."""
        with self._lock:
            return len(self._running), len(self._waiting)

    def _release(self, job: TrainingJob) -> None:
        # the last act of a job's thread, however its run ended
        with self._lock:
            self._running.discard(job)
            self._start_waiting()

    def _start_waiting(self) -> None:
        # hold self._lock; first in, first started
        while self._waiting and len(self._running) < self.limit:
            job = self._waiting.popleft()
            try:
                job._launch()
            except RuntimeError as error:  # the system would not give it a thread
                job._end_unstarted("failed", f"Training could not start: {error}")
                continue
            self._running.add(job)
        self._number_waiting()

    def _number_waiting(self) -> None:
        for position, job in enumerate(self._waiting, start=1):
            job._wait_in_line(position)
