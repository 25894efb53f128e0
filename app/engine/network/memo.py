"""A small cache of arrays that depend only on a seed and a shape, for requests that repeat them.

A slider dragged over std, gain or depth sends the same seed request after request: the inputs
and the backward pass's random read-out are the same draws each time (~0.7 ms and ~1.2 ms a run
at the texts' size). They are kept here, bounded in bytes, and handed out as copies, so no caller
can change what the next one receives.

A slider dragged over one run's settings also repeats the other runs whole: their layers,
gradients, extents and unit counts (experiment.py's RunWork) are kept in RUNS, bounded in bytes
and in number and handed to one request at a time, and only their binning on the runs' shared
ranges is redone. Clearing DRAWS clears RUNS too (the benchmarks do, to time first requests).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

MAX_BYTES = 32 << 20  # per process
MAX_ENTRY_BYTES = 8 << 20  # larger draws are cheap beside their network's products: not kept
# A run's work at the texts' size (1000 samples, 5 layers of 100, backward pass on) holds 6.4 MB:
# this keeps the runs of two such requests. Larger runs' products outweigh their statistics.
RUNS_MAX_BYTES = 48 << 20
RUNS_MAX_ENTRY_BYTES = 16 << 20
# A deep run of one unit with many bins holds little but its summaries: a count bounds the
# entries' objects too.
RUNS_MAX_ENTRIES = 32


class ArrayCache:
    """Least recently used arrays, at most `max_bytes` in all, each at most `max_entry_bytes`."""

    def __init__(
        self,
        max_bytes: int = MAX_BYTES,
        max_entry_bytes: int = MAX_ENTRY_BYTES,
        dependents: tuple[WorkCache[Any], ...] = (),
    ) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.dependents = dependents  # caches of work made from these draws: cleared with them
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
        for cache in self.dependents:
            cache.clear()

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._arrays)


class Sized(Protocol):
    @property
    def nbytes(self) -> int: ...


W = TypeVar("W", bound=Sized)


class WorkCache(Generic[W]):
    """Least recently used results of work, at most `max_bytes` of them by their own `nbytes`
    (measured when stored) and at most `max_entries`.

    Unlike ArrayCache it hands out the very objects it keeps (no copies: they are large), and to
    one user at a time: `take` removes the item, and its user `put`s it back when done, so two
    threads never share one (a repeated run adds summaries to its work as it goes). Whoever stores
    an item promises never to change the arrays it holds."""

    def __init__(
        self,
        max_bytes: int = RUNS_MAX_BYTES,
        max_entry_bytes: int = RUNS_MAX_ENTRY_BYTES,
        max_entries: int = RUNS_MAX_ENTRIES,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, tuple[W, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def take(self, key: Hashable) -> W | None:
        """The item stored under `key`, now out of the cache (None when absent or in use)."""
        with self._lock:
            held = self._items.pop(key, None)
            if held is None:
                return None
            self._bytes -= held[1]
            return held[0]

    def put(self, key: Hashable, item: W) -> None:
        size = item.nbytes
        if size > self.max_entry_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (item, size)
            self._bytes += size
            while self._bytes > self.max_bytes or len(self._items) > self.max_entries:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


RUNS: WorkCache[Sized] = WorkCache()
"""A run's own work (experiment.py's RunWork), for requests that repeat the run."""

DRAWS = ArrayCache(dependents=(RUNS,))
"""The engine's cache of seeded draws (inputs, upstream gradients)."""
