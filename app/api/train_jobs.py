"""Trainings as background jobs: one thread each, progress published to whoever listens.

One TrainJobs per server process. A job is keyed by its canonical link, so listeners of the same
training share it. The job's thread appends events to the job's log: progress as increments (what
is new since the last event), then the last word ("done", the whole result, or "error"). Each
listener keeps only its place in that log, so a listener who reads slowly, or never, costs no
memory of its own: when it reads again it gets everything it missed at once, and a listener who
joins late reads the log from the start. Nothing the thread does depends on a listener's event
loop still running: a server (or a test client) may close its loop while a job ends.

When its last listener goes away (it cancels with its token, closes the stream, or hangs up on
the plain GET), a job stops at its next step. Finished results are cached as the JSON bytes
served, within a byte budget. At most `max_jobs` run at once; beyond that `listen` raises
OverloadedError (a 503 with Retry-After). `shutdown` stops every job and joins its thread.

With a registry (the server's workers share one, app/api/train_registry.py; with a shared Dask
scheduler, every server and Dask worker using it shares one there, app/api/train_scheduler.py), a
link that another worker trains is followed there (a RemoteListener reads its stored events),
listeners are counted over every worker, and a cancel for another worker's job is a request it
answers.

The event loop never waits on the registry (a scheduler's answer takes milliseconds, and forever
when it hangs): every registry call made for a request runs in TrainJobs' own threads, and the
request waits for it at most REGISTRY_WAIT_SECONDS (then RegistryTimeoutError: a 503). What a call
did for a request that stopped waiting (a listener it added) is undone when the call ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import orjson
from cachetools import LRUCache

from .. import train_codec
from ..engine.training.trainer import TrainResult, train_runs
from .errors import detail_body
from .runner import OverloadedError
from .train_payload import Sent, train_dict, train_increment
from .train_registry import SharedRegistry

logger = logging.getLogger("initscope.train")

RETRY_AFTER = 5  # seconds: trainings take seconds to minutes
PROGRESS_SECONDS = 0.2  # progress goes out at most this often
JOIN_SECONDS = 10.0  # a stopped job ends within a step; this only bounds a shutdown's wait
REMOTE_POLL_SECONDS = 0.1  # how often a listener of another worker's job, and the owner, look
CANCEL_WAIT_SECONDS = 5.0  # how long a cancel for another worker's job waits for its answer
# The longest a request waits on the registry (a registry call, or its turn behind another): beyond
# it, a 503. More than a first connect to a scheduler may take (app/sweeps/cluster.py's
# CONNECT_SECONDS) and than one scheduler operation (train_scheduler.CALL_SECONDS), so that their
# own failure is what a client is told, and this only bounds a wait in line behind them.
REGISTRY_WAIT_SECONDS = 15.0
REGISTRY_THREADS = 8  # registry calls made for requests run here, never on the event loop

T = TypeVar("T")


class RegistryTimeoutError(TimeoutError):
    """The registry (a shared Dask scheduler) did not answer within REGISTRY_WAIT_SECONDS."""


@dataclass(frozen=True)
class Event:
    kind: str  # "progress" (an increment), "done" (the whole result) or "error"
    data: bytes  # JSON

    @property
    def last(self) -> bool:
        return self.kind != "progress"


LOST = Event(
    "error", orjson.dumps(detail_body([], "the training's worker stopped before its end", "train_lost"))
)


@dataclass(eq=False)
class Listener:
    """One client following a job of this process: its place in the job's log, how to wake it."""

    job: Job
    loop: asyncio.AbstractEventLoop
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))  # lets it cancel
    cursor: int = 0
    detached: bool = False  # cancelled while others still listen: its stream ends, the job goes on

    def notify(self) -> None:
        with contextlib.suppress(RuntimeError):  # its event loop has closed: the listener is gone
            self.loop.call_soon_threadsafe(self.wake.set)

    async def events(self) -> AsyncIterator[Event]:
        """Its events, up to and including the last ("done" or "error"); they end early if the
        listener cancelled while others listen on."""
        while True:
            for event in self.job.take(self):
                yield event
                if event.last:
                    return
            if self.detached:
                return
            await self.wake.wait()
            self.wake.clear()  # then take: whatever woke it was appended before, so is read


@dataclass(eq=False)
class RemoteListener:
    """One client following a job that another worker of the server runs, through the registry."""

    job_id: str
    registry: SharedRegistry
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    cursor: int = 0
    keep: Callable[[str, bytes], None] | None = None  # given the finished document ("done")

    async def events(self) -> AsyncIterator[Event]:
        while True:
            # one look (one message to a scheduler), in a thread: the loop never waits on it
            stored_events, detached, owned = await asyncio.to_thread(
                self.registry.follow, self.job_id, self.cursor, self.token
            )
            for stored in stored_events:
                self.cursor = stored.seq
                event = Event(stored.kind, stored.data)
                if event.kind == "done" and self.keep is not None:
                    self.keep(self.job_id, event.data)  # before it is read, as an owner's is
                yield event
                if event.last:
                    return
            if detached:
                return
            if not owned and not stored_events:
                yield LOST  # its worker ended without a last word (it crashed or was killed)
                return
            await asyncio.sleep(REMOTE_POLL_SECONDS)


AnyListener = Listener | RemoteListener


@dataclass(eq=False)
class Job:
    id: str
    share: str
    training: train_codec.Training
    registry: SharedRegistry | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    log: list[Event] = field(default_factory=list)
    listeners: dict[str, Listener] = field(default_factory=dict)  # this process's, by token
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None
    started: float = field(default_factory=time.monotonic)
    steps: int = 0

    def publish(self, event: Event) -> None:
        with self.lock:
            self.log.append(event)
            seq = len(self.log)
            listeners = list(self.listeners.values())
        if self.registry is not None:  # for the listeners of the server's other workers
            self.registry.append(self.id, seq, event.kind, event.data)
        for listener in listeners:
            listener.notify()

    def take(self, listener: Listener) -> list[Event]:
        """What `listener` has not read yet."""
        with self.lock:
            events = self.log[listener.cursor :]
            listener.cursor = len(self.log)
        return events


def job_id(share: str) -> str:
    return hashlib.sha256(share.encode()).hexdigest()[:16]


CancelOutcome = Literal["stopped", "left", "no_job", "wrong_token"]


class TrainJobs:
    def __init__(self, max_jobs: int, cache_bytes: int, registry: SharedRegistry | None = None) -> None:
        self.max_jobs = max_jobs
        self.registry = registry  # the server's other workers, if it has any
        self.lock = threading.Lock()  # guards running, finished and the counters
        self.running: dict[str, Job] = {}
        self.finished: LRUCache[str, bytes] = LRUCache(maxsize=cache_bytes, getsizeof=len)
        self.started = self.cancelled = self.rejected = 0
        self.closed = threading.Event()
        self.registry_wait = REGISTRY_WAIT_SECONDS
        # registry calls made for requests (never on the loop); its own pool, so that calls stuck
        # on a hung scheduler never take the threads the rest of the server uses
        self._calls = ThreadPoolExecutor(REGISTRY_THREADS, thread_name_prefix="train-registry-call")
        # held while a job starts (registry calls included): one job per link in this process.
        # Not self.lock, which the loop takes (cached, status) and must never wait on.
        self._starting = threading.Lock()
        if registry is not None:  # answers the other workers' cancels, notices their leaving
            threading.Thread(target=self._watch_registry, name="train-registry", daemon=True).start()

    def cached(self, share: str) -> bytes | None:
        with self.lock:
            return self.finished.get(job_id(share))

    async def listen(self, training: train_codec.Training, share: str) -> AnyListener:
        """Join the job of this training, starting it if none runs (here, or on another worker of
        the server). Raises OverloadedError, and with a registry, OSError or TimeoutError when it
        cannot be reached (RegistryTimeoutError: no answer in time). Called on the event loop that will
        read the events; the registry is asked in another thread."""
        key = job_id(share)
        loop = asyncio.get_running_loop()
        if self.registry is None:  # nothing to wait for: joined here, at once
            return self._join(key, training, share, loop)
        return await self._off_loop(lambda: self._join(key, training, share, loop), undo=self._leave)

    def _join(
        self, key: str, training: train_codec.Training, share: str, loop: asyncio.AbstractEventLoop
    ) -> AnyListener:
        with self._starting:
            with self.lock:
                job = self.running.get(key)
            if job is None:
                if self.registry is not None and self.registry.owned_elsewhere(key):
                    return self._follow(key)  # it runs on another worker: no place taken here
                with self.lock:  # running grows only under _starting: this count holds
                    if len(self.running) >= self.max_jobs:
                        self.rejected += 1
                        raise OverloadedError(RETRY_AFTER)
                job = Job(key, share, training, self.registry)
                try:
                    if self.registry is not None and self.registry.claim(key, share) is not None:
                        return self._follow(key)  # another worker started it a moment ago
                    listener = self._add(job, loop)
                except Exception:
                    # a claim may have landed though its answer did not (a scheduler timing
                    # out): owned by no running job, it would keep its followers waiting
                    self._quietly(lambda registry: registry.release(key))
                    raise
                with self.lock:
                    self.running[key] = job
                    self.started += 1
                job.thread = threading.Thread(target=self._work, args=(job,), name=f"train-{key}")
                job.thread.daemon = True  # shutdown() stops and joins it; this only spares an exit
                job.thread.start()
                return listener
        return self._add(job, loop)

    async def _off_loop(self, call: Callable[[], T], undo: Callable[[T], object] | None = None) -> T:
        """`call` (registry calls) in the registry's threads, awaited at most `registry_wait`
        (then RegistryTimeoutError). If the request stops waiting (that time, or its client going
        away) while the call still runs, `undo` is given what it returns once it ends."""
        future = self._calls.submit(call)
        waited = asyncio.wrap_future(future)
        waited.add_done_callback(_retrieved)  # a failure nobody awaits any more is not logged as lost
        try:
            return await asyncio.wait_for(asyncio.shield(waited), self.registry_wait)
        except BaseException as err:
            if waited.done() and not waited.cancelled() and waited.exception() is err:
                raise  # the call's own failure (a scheduler's connect or call timing out, say)
            if not future.cancel() and undo is not None:  # it ran, or runs: undo what it did
                future.add_done_callback(lambda done: self._undo(done, undo))
            if isinstance(err, TimeoutError):
                raise RegistryTimeoutError(f"no answer within {self.registry_wait:g} s") from None
            raise

    def _undo(self, done: Future[T], undo: Callable[[T], object]) -> None:
        if done.cancelled() or done.exception() is not None:
            return  # it did nothing (or failed): nothing to undo
        with contextlib.suppress(RuntimeError):  # in a thread (this may run on the loop); closed: gone
            self._calls.submit(_logged, undo, done.result())

    def _quietly(self, call: Callable[[SharedRegistry], object]) -> None:
        """Undo a registry call that failed, if the registry lets us; it may well fail again."""
        if self.registry is None:
            return
        try:
            call(self.registry)
        except Exception:
            logger.warning("the trainings' registry could not be tidied after a failed call")

    def _follow(self, key: str) -> RemoteListener:
        assert self.registry is not None
        remote = RemoteListener(key, self.registry, keep=self._keep_followed)
        try:
            self.registry.add_listener(remote.token, key)
        except Exception:  # as _add's
            self._quietly(lambda registry: registry.remove_listener(remote.token))
            raise
        return remote

    def _add(self, job: Job, loop: asyncio.AbstractEventLoop) -> Listener:
        listener = Listener(job, loop)
        if self.registry is not None:  # counted before the job can be seen without listeners
            try:
                self.registry.add_listener(listener.token, job.id)
            except Exception:  # it may have landed: a listener no one is would keep the job going
                self._quietly(lambda registry: registry.remove_listener(listener.token))
                raise
        with job.lock:
            job.listeners[listener.token] = listener
        return listener

    def leave(self, listener: AnyListener) -> None:
        """A listener is gone; the last one leaving (on any worker) stops the job. Never waits:
        with a registry, its part is done in the registry's threads (a stream's `finally` may be
        cancelled at its next await, so this has none)."""
        if self.registry is None:
            self._leave(listener)
            return
        with contextlib.suppress(RuntimeError):  # shut down: the jobs are stopped anyway
            self._calls.submit(_logged, self._leave, listener)

    def _leave(self, listener: AnyListener) -> None:
        if self.registry is not None:
            self.registry.remove_listener(listener.token)
        if isinstance(listener, RemoteListener):
            return  # the owner notices when its job has no listener left
        job = listener.job
        with job.lock:
            job.listeners.pop(listener.token, None)
            alone = not job.listeners
        if self.registry is not None:
            alone = self.registry.listeners(job.id) == 0
        if alone:
            self._stop(job)

    async def cancel(self, key: str, token: str) -> CancelOutcome:
        """The listener holding `token` cancels: the job stops if no one else listens (its stream
        gets the last word, runs marked cancelled), and goes on for the others if someone does
        (the canceller's stream ends at once). A job of another worker is asked to, through the
        registry, and its answer awaited. Raises as `listen` when the registry cannot be reached."""
        with self.lock:
            job = self.running.get(key)
        registry = self.registry
        if registry is None:
            return "no_job" if job is None else self._cancel_owned(job, token)
        if job is not None:
            owned = job
            return await self._off_loop(lambda: self._cancel_owned(owned, token))
        if await self._off_loop(lambda: registry.owner(key)) is None:
            return "no_job"
        await self._off_loop(lambda: registry.request_cancel(token, key))
        deadline = time.monotonic() + CANCEL_WAIT_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(REMOTE_POLL_SECONDS / 2)
            outcome = await self._off_loop(lambda: registry.cancel_outcome(token))
            if outcome is not None:
                return outcome  # type: ignore[return-value]
        return "no_job"  # its worker did not answer: it has gone

    def _cancel_owned(self, job: Job, token: str) -> CancelOutcome:
        with job.lock:
            listener = job.listeners.get(token)
            listening = len(job.listeners)
        if self.registry is not None:
            if listener is None and self.registry.listener_job(token) != job.id:
                return "wrong_token"
            listening = self.registry.listeners(job.id)
        elif listener is None:
            return "wrong_token"
        if listening > 1:  # the canceller's stream ends; the job goes on for the others
            if self.registry is not None:
                self.registry.remove_listener(token)  # a listener elsewhere sees it and ends
            if listener is not None:
                with job.lock:
                    job.listeners.pop(token, None)
                listener.detached = True
                listener.notify()
            return "left"
        self._stop(job)
        return "stopped"

    def _stop(self, job: Job) -> None:
        if job.stop.is_set() or self._ended(job):
            return
        logger.info("training %s stops: no one follows it", job.id)
        job.stop.set()
        with self.lock:
            self.cancelled += 1

    def _watch_registry(self) -> None:
        assert self.registry is not None
        while not self.closed.wait(REMOTE_POLL_SECONDS):
            with self.lock:
                jobs = dict(self.running)
            if not jobs:
                continue
            try:
                pending, listening = self.registry.poll(list(jobs))
                for token, key in pending:
                    self.registry.answer_cancel(token, self._cancel_owned(jobs[key], token))
                for job in jobs.values():
                    if not job.stop.is_set() and listening.get(job.id) == 0:
                        self._stop(job)
            except Exception:  # never let the watcher die: the next round tries again
                logger.exception("the trainings' registry could not be read")

    def shutdown(self, timeout: float = JOIN_SECONDS) -> None:
        """Stop every running job and wait for its thread (a step at most, each)."""
        self.closed.set()
        self._calls.shutdown(wait=False)  # calls under way end on their own (each is bounded)
        with self.lock:
            jobs = list(self.running.values())
        for job in jobs:
            job.stop.set()
        deadline = time.monotonic() + timeout
        for job in jobs:
            if job.thread is not None:
                job.thread.join(max(0.0, deadline - time.monotonic()))

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        with self.lock:
            running = [
                {
                    "id": job.id,
                    "share": job.share,
                    "steps": job.steps,
                    "iterations": job.training.runs[0].iterations,
                    "listeners": len(job.listeners),
                    "seconds": round(now - job.started, 3),
                }
                for job in self.running.values()
            ]
            return {
                "running": running,
                "max_jobs": self.max_jobs,
                "started": self.started,
                "cancelled": self.cancelled,
                "rejected": self.rejected,
                "cached": len(self.finished),
                "cached_bytes": int(self.finished.currsize),
            }

    def _ended(self, job: Job) -> bool:
        with self.lock:
            return self.running.get(job.id) is not job

    def _keep_followed(self, key: str, body: bytes) -> None:
        """Cache a finished training that another worker (or a sweep's Dask worker) ran, as its
        owner caches it: a link followed here once is answered from this process next time."""
        if len(body) > self.finished.maxsize:
            return
        runs = orjson.loads(body)["runs"]
        if all(run["status"] in ("done", "diverged") for run in runs):
            with self.lock:
                self.finished[key] = body

    def _work(self, job: Job) -> None:
        def keep(results: list[TrainResult], body: bytes) -> None:
            if all(r.status in ("done", "diverged") for r in results) and len(body) <= self.finished.maxsize:
                with self.lock:
                    self.finished[job.id] = body

        try:
            run_job(job, keep=keep)
        finally:
            with self.lock:
                if self.running.get(job.id) is job:
                    del self.running[job.id]
            if self.registry is not None:
                self.registry.release(job.id)


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _logged(call: Callable[[T], object], arg: T) -> None:
    """`call(arg)` in a thread nobody waits for: a failure is logged, not lost."""
    try:
        call(arg)
    except Exception:
        logger.exception("a registry call for a request that had gone failed")


def run_job(
    job: Job,
    should_stop: Callable[[], bool] | None = None,
    keep: Callable[[list[TrainResult], bytes], None] | None = None,
) -> tuple[list[TrainResult], bytes] | None:
    """Train `job`, publishing its progress and then its last word ("done", or "error" when the
    training fails: then None). `should_stop` (by default the job's stop flag) is asked between
    steps; `keep` is given the result before "done" goes out (so that whoever reads "done" and asks
    again finds it cached). Here for TrainJobs' threads and for a sweep's point on a Dask worker
    alike (app/api/train_point.py), so that both publish the same events."""
    sent = [Sent() for _ in job.training.runs]
    last = [0.0]

    def progress(results: list[TrainResult]) -> None:
        job.steps = max(r.steps for r in results)
        now = time.monotonic()
        if now - last[0] < PROGRESS_SECONDS or all(r.status != "running" for r in results):
            return  # too soon (the next increment takes this one's too), or the end: "done" follows
        last[0] = now
        job.publish(Event("progress", orjson.dumps(train_increment(results, job.share, job.id, sent))))

    try:
        results = train_runs(list(job.training.runs), progress, should_stop or job.stop.is_set)
        body = orjson.dumps(train_dict(results, job.share, job.id))
        if keep is not None:
            keep(results, body)
        job.publish(Event("done", body))
        return results, body
    except Exception as err:  # a failed job answers its listeners and frees its place
        logger.exception("training %s failed", job.id)
        failed = detail_body([], f"the training failed: {type(err).__name__}", "train_failed")
        job.publish(Event("error", orjson.dumps(failed)))
        return None
