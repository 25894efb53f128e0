"""Experiments as the server runs them: cached, off the event loop, and admitted within a budget.

One Runner per server process (each uvicorn worker has its own). A result is cached under its
canonical share query, as the JSON bytes it is served as (and, when large, their gzip), so a
cached answer costs neither NumPy, nor serialization, nor compression. Identical requests in
flight share one computation. Work runs in threads, at most `max_in_flight` at once; the
multiply-adds of every admitted experiment (running or waiting) are summed, and a request that
would take that sum over `max_pending_macs` is refused at once with a Retry-After estimate:
a flood gets fast 503s instead of a queue that grows without bound.
"""

from __future__ import annotations

import asyncio
import gzip
import math
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from cachetools import LRUCache

from .. import codec
from ..engine.config import ExperimentConfig
from ..engine.cost import Limits
from ..engine.experiment import run_experiment
from .payload import result_dict, to_json

GZIP_MIN_BYTES = 1024
# Share queries seen, as typed, mapped to their canonical key: a repeated link is answered from
# the cache without decoding it again (~100 us of the ~150 us a cached answer costs otherwise).
MAX_ALIASES = 10_000  # smaller answers gain nothing from compression
# A rough rate for the Retry-After estimate: the engine does a few GMAC/s per thread with
# statistics included (bench/engine_bench.py).
MACS_PER_SECOND = 5e9
MAX_RETRY_AFTER = 60


@dataclass(frozen=True)
class Answer:
    """A result as served: JSON bytes and, when large, the same bytes gzipped (mtime 0, so
    the compressed bytes are as deterministic as the JSON)."""

    json: bytes
    gzip: bytes | None

    @property
    def size(self) -> int:
        return len(self.json) + len(self.gzip or b"")


class OverloadedError(Exception):
    """More work is admitted than the server takes on; try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy; retry after {retry_after} s")
        self.retry_after = retry_after


def compute(config: ExperimentConfig) -> Answer:
    """Run an experiment and serialize it (in a worker thread)."""
    body = to_json(result_dict(run_experiment(config)))
    packed = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
    return Answer(body, packed)


class Runner:
    def __init__(self, cache_bytes: int, max_in_flight: int, max_pending_macs: int) -> None:
        self.max_in_flight = max_in_flight
        self.max_pending_macs = max_pending_macs
        self._cache: LRUCache[str, Answer] = LRUCache(maxsize=cache_bytes, getsizeof=lambda a: a.size)
        self._running: dict[str, asyncio.Task[Answer]] = {}
        # (query as typed, the limits it was checked against) -> canonical key
        self._aliases: LRUCache[tuple[str, Limits], str] = LRUCache(maxsize=MAX_ALIASES)
        self._slots: asyncio.Semaphore | None = None  # made in the server's event loop
        self.pending_macs = 0
        self.hits = self.misses = self.shared = self.rejected = 0

    def cached_query(self, query: str, limits: Limits) -> Answer | None:
        """The cached answer of a share query already seen (and accepted under `limits`), as typed."""
        key = self._aliases.get((query, limits))
        cached = None if key is None else self._cache.get(key)
        if cached is not None:
            self.hits += 1
        return cached

    async def answer(
        self, config: ExperimentConfig, macs: int, query: tuple[str, Limits] | None = None
    ) -> tuple[Answer, bool]:
        """The served answer for `config` (cost `macs`, checked against the limits already) and
        whether it came from the cache; `query` (as typed, and its limits) becomes an alias of it.
        Raises OverloadedError when the work budget is full."""
        key = codec.encode(config)
        if query is not None:
            self._aliases[query] = key
        cached = self._cache.get(key)
        if cached is not None:
            self.hits += 1
            return cached, True
        task = self._running.get(key)
        if task is not None:
            self.shared += 1
        else:
            weight = max(macs, 1)
            if self.pending_macs and self.pending_macs + weight > self.max_pending_macs:
                self.rejected += 1
                raise OverloadedError(self.retry_after())
            self.misses += 1
            self.pending_macs += weight  # now, not when the task starts: the next request sees it
            task = asyncio.ensure_future(self._run(key, config, weight))
            self._running[key] = task
            task.add_done_callback(_retrieve)
        # shield: a client that goes away does not cancel work that others wait for or that
        # the cache will keep
        return await asyncio.shield(task), False

    async def _run(self, key: str, config: ExperimentConfig, weight: int) -> Answer:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_in_flight)
        try:
            async with self._slots:
                answer = await anyio.to_thread.run_sync(compute, config)
            if answer.size <= self._cache.maxsize:
                self._cache[key] = answer
            return answer
        finally:
            self.pending_macs -= weight
            del self._running[key]

    def retry_after(self) -> int:
        return min(MAX_RETRY_AFTER, max(1, math.ceil(self.pending_macs / MACS_PER_SECOND)))

    def status(self) -> dict[str, Any]:
        return {
            "cache": {
                "hits": self.hits,
                "misses": self.misses,
                "shared": self.shared,
                "entries": len(self._cache),
                "bytes": int(self._cache.currsize),
                "max_bytes": int(self._cache.maxsize),
            },
            "work": {
                "running_or_waiting": len(self._running),
                "pending_macs": self.pending_macs,
                "max_in_flight": self.max_in_flight,
                "max_pending_macs": self.max_pending_macs,
                "rejected": self.rejected,
            },
        }


def _retrieve(task: asyncio.Task[Answer]) -> None:
    # A failure that every waiter stopped waiting for is still collected, not logged as lost.
    if not task.cancelled():
        task.exception()
