"""Several runs trained alike, one after another, through the server's RunQueue.

A comparison holds one TrainingJob per cell. Its own thread submits the first to the queue,
waits for it to end (however it ends), then submits the next, so a comparison never takes
more than one of the server's training slots, and it goes on while its page is not open.
Knows nothing of Streamlit.
"""

import threading
from dataclasses import replace

from rnn_model import ModelConfig
from training.engine import TrainConfig
from training.job import TrainingJob
from training.run_queue import RunQueue

COMPARED_CELLS = (("rnn", "tanh"), ("lstm", "tanh"), ("gru", "tanh"))  # (cell, nonlinearity)


class Comparison:
    def __init__(self, jobs: list[TrainingJob]):
        self.jobs = jobs
        self._lock = threading.Lock()
        self._submitted: list[TrainingJob] = []
        self._stopped = False
        self._discarded = False
        self._thread = threading.Thread(target=self._run, name="cell-comparison", daemon=True)
        self._queue: RunQueue | None = None

    @classmethod
    def of_cells(
        cls, model_config: ModelConfig, train_config: TrainConfig, data, data_label: str
    ) -> "Comparison":
        """A vanilla RNN, an LSTM and a GRU with everything else the same: sizes, reading
        order, digits, seed and training settings."""
        jobs = [
            TrainingJob(
                replace(model_config, cell=cell, nonlinearity=nonlinearity),
                train_config,
                data,
                data_label,
            )
            for cell, nonlinearity in COMPARED_CELLS
        ]
        return cls(jobs)

    def start(self, queue: RunQueue) -> "Comparison":
        self._queue = queue
        self._thread.start()
        return self

    def stop(self) -> None:
        """No further run starts; the one going stops after its batch (or leaves the queue)."""
        with self._lock:
            self._stopped = True
            submitted = list(self._submitted)
        for job in submitted:
            job.stop()

    def discard(self, message: str) -> None:
        """Stop, and let go of every model, for a comparison whose browser has gone."""
        with self._lock:
            self._stopped = self._discarded = True
            submitted = list(self._submitted)
        for job in submitted:
            job.discard(message)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no run of it goes or waits; False if `timeout` seconds passed first."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def done(self) -> bool:
        return self._thread.ident is not None and not self._thread.is_alive()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def submitted(self, job: TrainingJob) -> bool:
        """Whether `job` was handed to the queue (it may still wait there for a slot)."""
        with self._lock:
            return job in self._submitted

    def _run(self) -> None:
        for job in self.jobs:
            with self._lock:
                if self._stopped:
                    return
                self._submitted.append(job)
                self._queue.submit(job)
            job.wait()
            # only the curves are compared: the weights need not outlive the run
            with self._lock:
                discarded = self._discarded  # then discard() has let it go, with its reason
            if not discarded:
                job.discard("Compared; its model is not kept.")
