"""A training run in a background thread, for a caller (the page) that must stay responsive.

The thread only appends records under a lock; whoever shows them reads a copy. It knows
nothing of Streamlit.
"""

import threading
import time
from dataclasses import asdict, dataclass, field

from rnn_model import ModelConfig, RowClassifier
from rnn_model.files import model_to_bytes
from training.data import TrainValSplit
from training.engine import Record, TrainConfig, new_model, train

DONE_STATES = ("finished", "stopped", "diverged", "failed")


@dataclass
class JobView:
    """A consistent copy of a job's progress at one moment."""

    state: str  # running, finished, stopped, diverged or failed
    records: list[Record] = field(default_factory=list)
    message: str = ""

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES

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
        self.model = new_model(model_config, train_config.seed)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._state = "running"
        self._message = ""
        self._thread = threading.Thread(target=self._run, name="training-job", daemon=True)

    def start(self) -> "TrainingJob":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to end after the batch it is on."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def view(self) -> JobView:
        with self._lock:
            return JobView(self._state, list(self._records), self._message)

    def trained_model(self) -> RowClassifier | None:
        """The model once the run is over and kept usable weights, else None."""
        view = self.view()
        if view.state in ("finished", "stopped", "diverged") and view.records:
            return self.model
        return None

    def model_file(self) -> bytes:
        return model_to_bytes(self.model, self.provenance())

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
        try:
            for record in train(
                self.model, self.data.train, self.data.val, self.train_config, self._stop
            ):
                self._append(record)
        except Exception as error:  # a run must end in a state the page can show
            self._finish("failed", f"Training failed: {error}")
            return
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
