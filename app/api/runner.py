"""Experiments as the server runs them: cached, in engine processes, and admitted within a budget.

One Runner per server process (each uvicorn worker has its own). A result is cached under its
canonical share query, as the JSON bytes it is served as (and, when large, their gzip), so a
cached answer costs neither NumPy, nor serialization, nor compression. Identical requests in
flight share one computation. Work runs in a small pool of engine processes, at most
`max_in_flight` at once (each engine holds its next experiment too, in its pipe, so it never
waits for the server between two): an experiment is run, serialized and compressed there and
comes back as bytes, so the server's process never holds the GIL for NumPy or orjson, and its
event loop answers /healthz, cached links and refusals while every engine is busy. The
multiply-adds of every admitted experiment (running or waiting) are summed, and a request that
would take that sum over `max_pending_macs` is refused at once with a Retry-After estimate: a
flood gets fast 503s instead of a queue that grows without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import math
import multiprocessing
import os
import select
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, NamedTuple

from cachetools import LRUCache

from .. import codec
from ..engine.network.config import ExperimentConfig
from ..engine.network.cost import Limits
from ..engine.network.experiment import run_experiment, spreading
from .payload import result_dict, to_json

GZIP_MIN_BYTES = 1024  # smaller answers gain nothing from compression
# zlib's fastest level: saito-compare's 58 kB of JSON in 0.19 ms as 17.2 kB, against level 6's
# 0.86 ms and 13.8 kB, a 2% share of the answer's CPU for 3.4 kB more on the wire.
GZIP_LEVEL = 1
# Share queries seen, as typed, mapped to their canonical key: a repeated link is answered from
# the cache without decoding it again (~100 us of the ~150 us a cached answer costs otherwise).
# They are counted in bytes, within 1/ALIAS_SHARE of the cache's bytes (the answers get the
# rest): a flood of spellings of one link cannot grow the process beyond the cache setting.
ALIAS_SHARE = 16
# Bytes an alias holds besides its two strings: the key tuple, the size, three dict slots
# (cachetools keeps data, sizes and order); tracemalloc measured ~240, with margin.
ALIAS_OVERHEAD = 400
# A rough rate for the Retry-After estimate: the engine does a few GMAC/s per process with
# statistics included (bench/engine_bench.py).
MACS_PER_SECOND = 5e9
MAX_RETRY_AFTER = 60
# Engine processes run at a lower CPU priority than the server's: when the cores are busy, the
# event loop (health checks, cached answers, refusals) goes first and the experiments wait. On
# Linux under SCHED_IDLE: an engine runs only on a core the server's processes leave idle, and
# a waking event loop takes the core at once (at nice 10 the engines still held ~10% of a
# contended core each: a flood of 200 clients got 8,400 answers/s against 12,000 under
# SCHED_IDLE, /healthz p99 80 against 40 ms; bench.load_bench --flood --wrk --workers 2).
# A container, or a terminal session's autogroup, is a scheduling group of its own: the
# engines yield to their own server, not to the other groups' work, which shares as before.
# Elsewhere nice 10.
ENGINE_NICENESS = 10
# Threads for an experiment that runs alone in this worker's engines (engine/network/experiment.py):
# two, where this process may run on two cores or more (a one-CPU container gains nothing by it)
SPREAD_THREADS = min(2, len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else 2
# Experiments handed to the engines ahead of their turn, per engine: when one ends, the next is
# already in its pipe, so it computes on while the server takes in the answer and hands out the
# next. That round trip (the event loop, a thread, the pool's feeder, each waking on a core the
# server shares with the engines) left them idle between answers: saito-compare with a new seed
# per request at 50 connections, 46.8 -> 49.7 answers/s (bench.load_bench --baseline).
QUEUED_PER_ENGINE = 1


@dataclass(frozen=True)
class Answer:
    """A result as served: JSON bytes and, when large, the same bytes gzipped (mtime 0, so
    the compressed bytes are as deterministic as the JSON)."""

    json: bytes
    gzip: bytes | None

    @classmethod
    def of(cls, body: bytes) -> Answer:
        """The answer of these JSON bytes: gzipped too when large."""
        packed = (
            gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        )
        return cls(body, packed)

    @property
    def size(self) -> int:
        return len(self.json) + len(self.gzip or b"")


@dataclass(frozen=True)
class Work:
    """Work on an experiment other than the pool's own (`compute`), admitted and cached alike:
    `run(config)` in an engine process (picklable by reference: a module-level function, or a
    partial of one), its answer cached under `name` + the experiment's canonical query."""

    name: str
    run: Callable[[ExperimentConfig], Answer]


class OverloadedError(Exception):
    """More work is admitted than the server takes on; try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy; retry after {retry_after} s")
        self.retry_after = retry_after


class EngineCrashedError(RuntimeError):
    """An engine process died (killed, out of memory, a fault in native code) while experiments
    ran in the pool: those experiments, and those queued in its engines' pipes, fail (a 500), and
    the next ones run in a new pool."""


def compute(config: ExperimentConfig) -> Answer:
    """Run an experiment and serialize it: what an engine process does."""
    return Answer.of(to_json(result_dict(run_experiment(config))))


def _in_engine(
    work: Callable[[ExperimentConfig], Answer], config: ExperimentConfig, threads: int = 1
) -> Answer:
    """`work(config)` in an engine process, its experiments spread over `threads`; an exception
    reaches the server as itself (a ConfigError still names its field), with the engine's
    traceback as its cause."""
    try:
        with spreading(threads):
            return work(config)
    except Exception as err:
        raise _CarriedError(err) from err


class _CarriedError(Exception):
    """An engine's exception on its way to the server. pickle rebuilds an exception by calling
    its class with its args, which ConfigError's constructor does not take (field, message):
    this carries the class, args and attributes instead and is rebuilt as the original."""

    def __init__(self, err: Exception) -> None:
        super().__init__(repr(err))
        self.err = err

    def __reduce__(self) -> tuple[Any, ...]:
        err = self.err
        return _rebuild, (type(err), err.args, dict(vars(err)))


def _rebuild(cls: type[Exception], args: tuple[Any, ...], state: dict[str, Any]) -> Exception:
    err = cls.__new__(cls, *args)
    err.args = args
    err.__dict__.update(state)
    return err


def _start_engine_process(server: int) -> None:
    """Each engine process, once: yield the CPU to the server, and end with it."""
    with contextlib.suppress(OSError):
        if hasattr(os, "SCHED_IDLE"):  # Linux
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        else:
            os.nice(ENGINE_NICENESS)
    if hasattr(os, "pidfd_open"):  # Linux
        # A server killed outright (SIGKILL, the OOM killer) cannot stop its engines, and they
        # keep the forkserver alive: each would wait for work forever. They watch it instead.
        threading.Thread(target=_end_with, args=(server,), name="end-with-server", daemon=True).start()


def _end_with(server: int) -> None:
    try:
        watched = os.pidfd_open(server)
    except ProcessLookupError:  # ended already
        os._exit(1)
    except OSError:  # not allowed here (a seccomp filter): the engine cannot watch, and runs on
        return
    select.select([watched], [], [])  # readable once the server has ended
    os._exit(1)


def _context() -> multiprocessing.context.BaseContext:
    # forkserver, not fork: the server is threaded, and a fork copies its locks in whatever
    # state other threads hold them. Each engine is forked from a server process that imported
    # the engine once, so a new engine starts in milliseconds, not the second of a spawn.
    context = multiprocessing.get_context("forkserver")
    # ...and that compiled its kernels once (app.engine.warm), which every engine then shares.
    context.set_forkserver_preload([__name__, f"{__name__.rsplit('.', 2)[0]}.engine.warm"])
    return context


class EnginePool:
    """`processes` engine processes, started when first needed and replaced when one dies.

    `work` runs in them (it must be picklable by reference: a module-level function)."""

    def __init__(self, processes: int, work: Callable[[ExperimentConfig], Answer] = compute) -> None:
        self.processes = processes
        self.work = work
        self.restarts = 0
        self._executor: ProcessPoolExecutor | None = None

    async def run(
        self,
        config: ExperimentConfig,
        work: Callable[[ExperimentConfig], Answer] | None = None,
        threads: int = 1,
    ) -> Answer:
        executor = self._executor
        if executor is None:
            executor = self._executor = ProcessPoolExecutor(
                self.processes,
                mp_context=_context(),
                initializer=_start_engine_process,
                initargs=(os.getpid(),),
            )
        try:
            # in a thread: starting an engine process waits for the forkserver (~0.3 s the first
            # time, while it imports NumPy and the engine), which the event loop must not
            submitted = await asyncio.to_thread(
                executor.submit, _in_engine, work or self.work, config, threads
            )
            return await asyncio.wrap_future(submitted)
        except BrokenProcessPool as err:
            if self._executor is executor:  # the first to see it replaces the pool
                self._executor = None
                self.restarts += 1
                executor.shutdown(wait=False)
            raise EngineCrashedError("an engine process ended while running the experiment") from err

    def close(self) -> None:
        """Stop the engine processes (work not yet started is dropped; running work finishes)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


class _Answers(LRUCache[str, Answer]):
    """The cache of answers (bounded by their bytes), telling `evicted` which it drops for room."""

    def __init__(self, max_bytes: int, evicted: Callable[[str], None]) -> None:
        super().__init__(maxsize=max_bytes, getsizeof=_answer_size)
        self._evicted = evicted

    def popitem(self) -> tuple[str, Answer]:
        key, answer = super().popitem()
        self._evicted(key)
        return key, answer


def _answer_size(answer: Answer) -> int:
    return answer.size


class _Alias(NamedTuple):
    key: str  # canonical
    size: int  # bytes the alias holds


class Runner:
    def __init__(
        self,
        cache_bytes: int,
        max_in_flight: int,
        max_pending_macs: int,
        work: Callable[[ExperimentConfig], Answer] = compute,
    ) -> None:
        self.max_in_flight = max_in_flight
        self.max_pending_macs = max_pending_macs
        alias_bytes = cache_bytes // ALIAS_SHARE
        self._cache: LRUCache[str, Answer] = _Answers(cache_bytes - alias_bytes, self._evicted)
        self._running: dict[str, asyncio.Task[Answer]] = {}
        # The experiments (the pool's own work) in the cache or running, by config: `refusal`
        # finds a link's answer by its config, without encoding the link (~25 us of a refusal's
        # ~100 when a flood asks a link with ever new seeds). Equal configs have equal canonical
        # keys and the codec reads a key back as its config, so this finds exactly the keys
        # `answer` would find.
        self._known: dict[ExperimentConfig, str] = {}
        self._known_configs: dict[str, ExperimentConfig] = {}
        # (query as typed, the limits it was checked against) -> canonical key
        self._aliases: LRUCache[tuple[str, Limits], _Alias] = LRUCache(
            maxsize=alias_bytes, getsizeof=lambda a: a.size
        )
        self._engines = EnginePool(max_in_flight, work)
        self._slots: asyncio.Semaphore | None = None  # made in the server's event loop
        self._active = 0  # experiments in the engines now, running or queued in their pipes
        self.pending_macs = 0
        self.hits = self.misses = self.shared = self.rejected = 0

    def close(self) -> None:
        """Stop the engine processes (the server's lifespan does, when it stops)."""
        self._engines.close()

    def cached_query(self, query: str, limits: Limits) -> Answer | None:
        """The cached answer of a share query already seen (and accepted under `limits`), as typed."""
        alias = self._aliases.get((query, limits))
        cached = None if alias is None else self._cache.get(alias.key)
        if cached is not None:
            self.hits += 1
        return cached

    async def answer(
        self,
        config: ExperimentConfig,
        macs: int,
        query: tuple[str, Limits] | None = None,
        work: Work | None = None,
    ) -> tuple[Answer, bool]:
        """The served answer for `config` (cost `macs`, checked against the limits already) and
        whether it came from the cache; `query` (as typed, and its limits) becomes an alias of it
        once the answer is cached. `work`, when given, is done instead of the pool's own (a
        share query then is no alias: give None). Raises OverloadedError when the work budget is
        full."""
        key = codec.encode(config) if work is None else f"{work.name}?{codec.encode(config)}"
        cached = self._cache.get(key)
        if cached is not None:
            self.hits += 1
            self._alias(query, key)
            return cached, True
        task = self._running.get(key)
        if task is not None:
            self.shared += 1
        else:
            weight = max(macs, 1)
            if self._over_budget(weight):
                self.rejected += 1
                raise OverloadedError(self.retry_after())
            self.misses += 1
            self.pending_macs += weight  # now, not when the task starts: the next request sees it
            task = asyncio.ensure_future(self._run(key, config, weight, work))
            self._running[key] = task
            if work is None:
                self._known[config] = key
                self._known_configs[key] = config
            task.add_done_callback(_retrieve)
        # shield: a client that goes away does not cancel work that others wait for or that
        # the cache will keep
        answer = await asyncio.shield(task)
        self._alias(query, key)
        return answer, False

    def refusal(self, config: ExperimentConfig, macs: int) -> OverloadedError | None:
        """The refusal `answer(config, macs)` would raise now, counted as one, or None if it
        would answer (from the cache, with work in flight, or with work it admits). Synchronous:
        the HTTP protocol asks it where a request is read (app/http_protocol.py)."""
        if config in self._known or not self._over_budget(max(macs, 1)):
            return None
        self.rejected += 1
        return OverloadedError(self.retry_after())

    def knows(self, query: str, limits: Limits) -> bool:
        """Whether `query` (as typed) is a spelling of a cached answer: `cached_query` would
        answer it, but this counts no hit."""
        alias = self._aliases.get((query, limits))
        return alias is not None and alias.key in self._cache

    def _over_budget(self, weight: int) -> bool:
        # Always admitted when nothing is pending: an experiment within the limits runs.
        return bool(self.pending_macs) and self.pending_macs + weight > self.max_pending_macs

    def _alias(self, query: tuple[str, Limits] | None, key: str) -> None:
        """Remember `query` as a spelling of `key`, when its answer is in the cache (a refused
        or failed request, or an answer too large to keep, leaves no alias behind)."""
        if query is None or key not in self._cache:
            return
        size = sys.getsizeof(query[0]) + sys.getsizeof(key) + ALIAS_OVERHEAD
        if size <= self._aliases.maxsize:
            self._aliases[query] = _Alias(key, size)

    async def _run(self, key: str, config: ExperimentConfig, weight: int, work: Work | None) -> Answer:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_in_flight * (1 + QUEUED_PER_ENGINE))
        try:
            async with self._slots:
                # alone, an experiment spreads over the threads of two cores; beside another
                # (each in its engine on a core), one thread each: no GIL hand-offs to pay
                self._active += 1
                try:
                    threads = SPREAD_THREADS if self._active == 1 else 1
                    answer = await self._engines.run(config, None if work is None else work.run, threads)
                finally:
                    self._active -= 1
            if answer.size <= self._cache.maxsize:
                self._cache[key] = answer
            return answer
        finally:
            self.pending_macs -= weight
            del self._running[key]
            if key not in self._cache:
                self._forget(key)

    def _evicted(self, key: str) -> None:
        if key not in self._running:
            self._forget(key)

    def _forget(self, key: str) -> None:
        config = self._known_configs.pop(key, None)
        if config is not None and self._known.get(config) == key:
            del self._known[config]

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
                "aliases": {
                    "entries": len(self._aliases),
                    "bytes": int(self._aliases.currsize),
                    "max_bytes": int(self._aliases.maxsize),
                },
            },
            "work": {
                "running_or_waiting": len(self._running),
                "pending_macs": self.pending_macs,
                "max_in_flight": self.max_in_flight,
                "max_pending_macs": self.max_pending_macs,
                "rejected": self.rejected,
                "engine_restarts": self._engines.restarts,
            },
        }


def _retrieve(task: asyncio.Task[Answer]) -> None:
    # A failure that every waiter stopped waiting for is still collected, not logged as lost.
    if not task.cancelled():
        task.exception()
