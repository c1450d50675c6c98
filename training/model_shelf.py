"""A server-wide bound on the models that visitors' sessions keep after a run or an upload.

Each session keeps its last trained model and its last uploaded one for as long as its tab is
open, and thirty open tabs could together hold more than a small server has. The shelf counts
the bytes of every kept model; when keeping one more would pass the bound, it lets go of the
models used least recently (by any session) until the new one fits. Letting go is the owner's
own callback: a job drops its weights and says why, an upload holder empties itself.

The bundled models are shared and never on the shelf.
"""

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import torch


class ModelTooLarge(ValueError):
    """One model alone is larger than the whole shelf."""


def model_bytes(model: torch.nn.Module) -> int:
    """Bytes of a model's weights: what keeping it costs."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


@dataclass
class _Kept:
    nbytes: int
    let_go: Callable[[], None]
    used_at: float


class ModelShelf:
    def __init__(self, limit_bytes: int, clock: Callable[[], float] = time.monotonic):
        if limit_bytes < 1:
            raise ValueError(f"limit_bytes must be at least 1, not {limit_bytes}")
        self.limit_bytes = limit_bytes
        self._clock = clock
        self._kept: dict[Hashable, _Kept] = {}
        self._lock = threading.Lock()

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(kept.nbytes for kept in self._kept.values())

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._kept

    def keep(self, key: Hashable, nbytes: int, let_go: Callable[[], None]) -> list[Hashable]:
        """Count a model kept under `key` (replacing what `key` held before), making room by
        letting go of the least recently used others. Returns the keys let go.

        Raises ModelTooLarge, keeping nothing, if `nbytes` alone passes the bound."""
        if nbytes > self.limit_bytes:
            raise ModelTooLarge(
                f"a model of {nbytes / 2**20:,.0f} MB is more than the "
                f"{self.limit_bytes / 2**20:,.0f} MB this server keeps for all visitors' models"
            )
        with self._lock:
            self._kept.pop(key, None)
            evicted = []
            while sum(k.nbytes for k in self._kept.values()) + nbytes > self.limit_bytes:
                oldest = min(self._kept, key=lambda k: self._kept[k].used_at)
                evicted.append((oldest, self._kept.pop(oldest)))
            self._kept[key] = _Kept(nbytes, let_go, self._clock())
        # outside the lock: a callback may take its owner's own lock
        for _, kept in evicted:
            kept.let_go()
        return [key for key, _ in evicted]

    def touch(self, key: Hashable) -> bool:
        """Mark `key`'s model as used now; False if it is not (or no longer) kept."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                kept.used_at = self._clock()
            return kept is not None

    def forget(self, key: Hashable) -> None:
        """Stop counting `key`'s model: its owner let go of it itself."""
        with self._lock:
            self._kept.pop(key, None)
