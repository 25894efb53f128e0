"""A sweep's points on a Dask cluster: one task per link, results as they complete, cancel, a cache.

The executor is a `distributed.Client`: an embedded LocalCluster's or a real scheduler's, the
same code either way (app/sweeps/cluster.py makes one). Each point is one task, keyed by its
canonical link, so every client of one scheduler that asks for the same link at the same time
shares the one computation. Dask cannot stop a running task, which is why points are small (one
link each): cancel releases the points not yet finished, and running experiments finish unseen;
a running training sees its task released and stops at its next step (app/sweeps/point.py).

A finished point's metrics are cached here by its link: a re-run, or a sweep that overlaps an
earlier one, sends only the new points to the cluster.
"""

# distributed types only part of its API: its untyped calls are allowed here alone
# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .link import Point
from .point import PointMetrics, compute_for

if TYPE_CHECKING:  # distributed is imported by the first sweep, not by a server that never sweeps
    from distributed import Client, Future

KEY_PREFIX = "initscope-point-"
TRAIN_KEY_PREFIX = "initscope-train-"  # a training link may read like an experiment link: apart


def point_key(link: str, kind: str = "experiment") -> str:
    """The task's key: the same for the same link (and kind) from any client of a scheduler."""
    prefix = TRAIN_KEY_PREFIX if kind == "train" else KEY_PREFIX
    return prefix + hashlib.sha256(link.encode()).hexdigest()[:40]


def cache_key(link: str, kind: str = "experiment") -> str:
    return "train:" + link if kind == "train" else link


class PointCache:
    """Finished points' metrics by canonical link, the least recently used dropped past `capacity`
    (a point's metrics are a few hundred numbers: 100,000 of them are a few hundred MB at most)."""

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, PointMetrics] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, link: str) -> PointMetrics | None:
        with self._lock:
            value = self._items.get(link)
            if value is not None:
                self._items.move_to_end(link)
            return value

    def put(self, link: str, metrics: PointMetrics) -> None:
        with self._lock:
            self._items[link] = metrics
            self._items.move_to_end(link)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class PointResult:
    point: Point
    metrics: PointMetrics | None  # None when the point failed
    error: str | None
    cached: bool  # from the cache, not the cluster


class SweepRun:
    """One sweep's points on `client`. Iterate it (once) for results as they complete; `cancel()`
    from any thread ends the iteration at the next result and releases the unfinished points."""

    def __init__(
        self,
        client: Client,
        points: Sequence[Point],
        cache: PointCache,
        compute: Callable[[str], PointMetrics] | None = None,
        kind: str = "experiment",
    ) -> None:
        self.client = client
        self.points = tuple(points)
        self.cache = cache
        self.kind = kind  # "train": the points are training links
        self.compute = compute if compute is not None else compute_for(kind)
        self._cancelled = threading.Event()
        self._futures: list[Future[PointMetrics]] = []
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            pending = [f for f in self._futures if not f.done()]
        if pending:
            # Releases this client's interest: a point that another sweep also waits for goes on.
            self.client.cancel(pending)

    def __iter__(self) -> Iterator[PointResult]:
        todo: list[Point] = []
        for point in self.points:
            hit = self.cache.get(cache_key(point.link, self.kind))
            if hit is None:
                todo.append(point)
            elif not self._cancelled.is_set():
                yield PointResult(point, hit, None, cached=True)
        if not todo or self._cancelled.is_set():
            return
        by_key = {point_key(p.link, self.kind): p for p in todo}
        with self._lock:
            if self._cancelled.is_set():
                return
            # pure=False with an explicit key: Dask need not hash the function and its arguments
            self._futures = [
                self.client.submit(self.compute, p.link, key=key, pure=False) for key, p in by_key.items()
            ]
        from distributed import as_completed

        done = as_completed(self._futures, loop=self.client.loop)
        try:
            for future in done:
                if self._cancelled.is_set():
                    return
                if future.status == "cancelled":
                    continue
                point = by_key[future.key]
                if future.status == "error":
                    yield PointResult(point, None, _error_text(future), cached=False)
                    continue
                metrics: PointMetrics = future.result()
                self.cache.put(cache_key(point.link, self.kind), metrics)
                yield PointResult(point, metrics, None, cached=False)
        finally:  # left early (cancelled, or the caller stopped iterating): release the rest
            with self._lock:
                futures, self._futures = self._futures, []
            unfinished = [f for f in futures if not f.done()]
            if unfinished:
                self.client.cancel(unfinished)


def _error_text(future: Future[PointMetrics]) -> str:
    err = future.exception()
    return f"{type(err).__name__}: {err}"
