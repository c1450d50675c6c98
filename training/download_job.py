"""The MNIST download in a background thread, for a caller (the page) that must stay responsive.

The thread runs `ensure_mnist` and keeps its progress under a lock; whoever shows it reads a
copy. Like a training job it knows nothing of Streamlit. One download serves a whole folder,
so the page keeps one per server: two visitors who ask at once share it.

    download = MnistDownload(folder)
    download.start()               # False if it was already going
    view = download.view()         # view.state: idle, running, done or failed
"""

import threading
from dataclasses import dataclass, replace
from pathlib import Path

from training.data import DataError
from training.download import DEFAULT_TIMEOUT_S, ensure_mnist, missing_files


@dataclass(frozen=True)
class DownloadView:
    """A consistent copy of a download's progress at one moment."""

    state: str  # idle, running, done or failed
    file_name: str = ""  # the file coming in now
    files_done: int = 0  # files complete in this download
    files_total: int = 0  # files this download fetches (those missing when it started)
    bytes_done: int = 0  # of the file coming in now
    bytes_total: int | None = None  # of that file, when the server says
    message: str = ""  # why it failed

    @property
    def fraction(self) -> float | None:
        """How much of the file coming in now has arrived, when its size is known."""
        if not self.bytes_total:
            return None
        return min(self.bytes_done / self.bytes_total, 1.0)


class MnistDownload:
    def __init__(self, folder: str | Path, timeout: float = DEFAULT_TIMEOUT_S):
        self.folder = Path(folder)
        self.timeout = timeout
        self._changed = threading.Condition()  # guards the fields below; notified on change
        self._view = DownloadView("idle")
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Start downloading what is missing; False if a download is going already."""
        with self._changed:
            if self._view.state == "running":
                return False
            try:
                total = len(missing_files(self.folder))
            except DataError as error:  # a damaged file there: reported, never overwritten
                self._set(DownloadView("failed", message=str(error)))
                return True
            self._set(DownloadView("running", files_total=total))
            self._thread = threading.Thread(target=self._run, name="mnist-download", daemon=True)
            self._thread.start()
            return True

    def view(self) -> DownloadView:
        with self._changed:
            return self._view

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the download is over; False if `timeout` seconds passed first."""
        return self.wait_until(lambda view: view.state != "running", timeout)

    def wait_until(self, condition, timeout: float | None = None) -> bool:
        """Wait until `condition(view)` holds; False if `timeout` seconds passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: condition(self._view), timeout)

    def _run(self) -> None:
        try:
            ensure_mnist(self.folder, progress=self._progress, timeout=self.timeout)
        except DataError as error:  # DownloadError included: its message says what to do
            self._update(state="failed", message=str(error))
        except Exception as error:  # the page must always learn how it ended
            self._update(state="failed", message=f"Could not download MNIST: {error}")
        else:
            view = self.view()
            self._update(state="done", files_done=view.files_total)

    def _progress(self, name: str, done: int, total: int | None) -> None:
        with self._changed:
            view = self._view
            files_done = view.files_done + (view.file_name not in ("", name))  # a new file began
            self._set(
                replace(
                    view, file_name=name, files_done=files_done, bytes_done=done, bytes_total=total
                )
            )

    def _update(self, **changes) -> None:
        with self._changed:
            self._set(replace(self._view, **changes))

    def _set(self, view: DownloadView) -> None:
        # called with the condition held
        self._view = view
        self._changed.notify_all()
