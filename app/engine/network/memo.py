"""A small cache of arrays that depend only on a seed and a shape, for requests that repeat them.

A slider dragged over std, gain or depth sends the same seed request after request: the inputs
and the backward pass's random read-out are the same draws each time (~0.7 ms and ~1.2 ms a run
at the texts' size). They are kept here, bounded in bytes, and handed out as copies, so no caller
can change what the next one receives.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np
from numpy.typing import NDArray

MAX_BYTES = 32 << 20  # per process
MAX_ENTRY_BYTES = 8 << 20  # larger draws are cheap beside their network's products: not kept


class ArrayCache:
    """Least recently used arrays, at most `max_bytes` in all, each at most `max_entry_bytes`."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_entry_bytes: int = MAX_ENTRY_BYTES) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self._arrays: OrderedDict[Hashable, NDArray[np.generic]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], NDArray[np.generic]]) -> NDArray[np.generic]:
        """A copy of the array cached under `key`, made by `make()` when absent."""
        with self._lock:
            held = self._arrays.get(key)
            if held is not None:
                self._arrays.move_to_end(key)
                return held.copy()
        made = make()
        if made.nbytes <= self.max_entry_bytes:
            kept = made.copy()
            with self._lock:
                if key not in self._arrays:
                    self._arrays[key] = kept
                    self._bytes += kept.nbytes
                while self._bytes > self.max_bytes:
                    _, dropped = self._arrays.popitem(last=False)
                    self._bytes -= dropped.nbytes
        return made

    def clear(self) -> None:
        with self._lock:
            self._arrays.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._arrays)


DRAWS = ArrayCache()
"""The engine's cache of seeded draws (inputs, upstream gradients)."""
