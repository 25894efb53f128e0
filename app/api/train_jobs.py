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
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from cachetools import LRUCache

from .. import train_codec
from ..engine.training import TrainResult, train_runs
from .runner import OverloadedError
from .train_payload import Sent, train_dict, train_increment

logger = logging.getLogger("initscope.train")

RETRY_AFTER = 5  # seconds: trainings take seconds to minutes
PROGRESS_SECONDS = 0.2  # progress goes out at most this often
JOIN_SECONDS = 10.0  # a stopped job ends within a step; this only bounds a shutdown's wait


@dataclass(frozen=True)
class Event:
    kind: str  # "progress" (an increment), "done" (the whole result) or "error"
    data: bytes  # JSON

    @property
    def last(self) -> bool:
        return self.kind != "progress"


@dataclass(eq=False)
class Listener:
    """One client following a job: its place in the job's log, and how to wake it."""

    loop: asyncio.AbstractEventLoop
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))  # lets it cancel
    cursor: int = 0
    detached: bool = False  # cancelled while others still listen: its stream ends, the job goes on

    def notify(self) -> None:
        with contextlib.suppress(RuntimeError):  # its event loop has closed: the listener is gone
            self.loop.call_soon_threadsafe(self.wake.set)


@dataclass(eq=False)
class Job:
    id: str
    share: str
    training: train_codec.Training
    stop: threading.Event = field(default_factory=threading.Event)
    log: list[Event] = field(default_factory=list)
    listeners: dict[str, Listener] = field(default_factory=dict)  # by token
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None
    started: float = field(default_factory=time.monotonic)
    steps: int = 0

    def publish(self, event: Event) -> None:
        with self.lock:
            self.log.append(event)
            listeners = list(self.listeners.values())
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
    def __init__(self, max_jobs: int, cache_bytes: int) -> None:
        self.max_jobs = max_jobs
        self.lock = threading.Lock()  # guards running, finished and the counters
        self.running: dict[str, Job] = {}
        self.finished: LRUCache[str, bytes] = LRUCache(maxsize=cache_bytes, getsizeof=len)
        self.started = self.cancelled = self.rejected = 0

    def cached(self, share: str) -> bytes | None:
        with self.lock:
            return self.finished.get(job_id(share))

    def listen(self, training: train_codec.Training, share: str) -> tuple[Job, Listener]:
        """Join the job of this training, starting it if none runs. Raises OverloadedError.
        Called on the event loop that will wait for the listener's events."""
        key = job_id(share)
        listener = Listener(asyncio.get_running_loop())
        with self.lock:
            job = self.running.get(key)
            if job is None:
                if len(self.running) >= self.max_jobs:
                    self.rejected += 1
                    raise OverloadedError(RETRY_AFTER)
                job = Job(key, share, training)
                self.running[key] = job
                self.started += 1
                job.thread = threading.Thread(target=self._work, args=(job,), name=f"train-{key}")
                job.thread.daemon = True  # shutdown() stops and joins it; this only spares an exit
                job.thread.start()
            with job.lock:
                job.listeners[listener.token] = listener
        return job, listener

    def leave(self, job: Job, listener: Listener) -> None:
        """A listener is gone; the last one leaving stops the job."""
        with job.lock:
            job.listeners.pop(listener.token, None)
            alone = not job.listeners
        if alone:
            self._stop(job)

    def cancel(self, key: str, token: str) -> CancelOutcome:
        """The listener holding `token` cancels: the job stops if no one else listens (its stream
        gets the last word, runs marked cancelled), and goes on for the others if someone does
        (the canceller's stream ends at once)."""
        with self.lock:
            job = self.running.get(key)
        if job is None:
            return "no_job"
        with job.lock:
            listener = job.listeners.get(token)
            others = len(job.listeners) > 1
            if listener is not None and others:
                del job.listeners[token]
                listener.detached = True
        if listener is None:
            return "wrong_token"
        if others:
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

    def shutdown(self, timeout: float = JOIN_SECONDS) -> None:
        """Stop every running job and wait for its thread (a step at most, each)."""
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

    def _work(self, job: Job) -> None:
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
            results = train_runs(list(job.training.runs), progress, job.stop.is_set)
            body = orjson.dumps(train_dict(results, job.share, job.id))
            if all(r.status in ("done", "diverged") for r in results) and len(body) <= self.finished.maxsize:
                with self.lock:
                    self.finished[job.id] = body
            job.publish(Event("done", body))
        except Exception as err:  # a failed job answers its listeners and frees its place
            logger.exception("training %s failed", job.id)
            detail = {"loc": [], "msg": f"the training failed: {type(err).__name__}", "type": "train_failed"}
            job.publish(Event("error", orjson.dumps({"detail": [detail]})))
        finally:
            with self.lock:
                if self.running.get(job.id) is job:
                    del self.running[job.id]


async def events(job: Job, listener: Listener) -> AsyncIterator[Event]:
    """A listener's events, up to and including the last ("done" or "error"); they end early if
    the listener cancelled while others listen on."""
    while True:
        for event in job.take(listener):
            yield event
            if event.last:
                return
        if listener.detached:
            return
        await listener.wake.wait()
        listener.wake.clear()  # then take: whatever woke it was appended before, so is read
