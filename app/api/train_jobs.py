"""Trainings as background jobs: one thread each, progress published to whoever listens.

One TrainJobs per server process. A job is keyed by its canonical link, so listeners of the same
training share it; when the last listener goes away (the page cancels, or closes), the job stops
at its next step. Finished results are cached as the JSON bytes served, within a byte budget.
At most `max_jobs` run at once; beyond that `start` raises OverloadedError (a 503 with
Retry-After), so a crashed, cancelled or flooding client leaves the server as it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson
from cachetools import LRUCache

from .. import train_codec
from ..engine.training import TrainResult, train_runs
from .runner import OverloadedError
from .train_payload import train_dict

RETRY_AFTER = 5  # seconds: trainings take seconds to minutes
# Progress goes out at most this often, with its per-step curves thinned: each update carries the
# whole result so far, so without both a long training streamed hundreds of megabytes.
PROGRESS_SECONDS = 0.2
PROGRESS_POINTS = 1000


@dataclass(frozen=True)
class Event:
    kind: str  # "progress", "done" or "error"
    data: bytes  # JSON


@dataclass
class Job:
    id: str
    share: str
    training: train_codec.Training
    stop: threading.Event = field(default_factory=threading.Event)
    listeners: list[asyncio.Queue[Event]] = field(default_factory=list)
    last: Event | None = None  # the latest progress, for a listener who joins late


def job_id(share: str) -> str:
    return hashlib.sha256(share.encode()).hexdigest()[:16]


class TrainJobs:
    def __init__(self, max_jobs: int, cache_bytes: int) -> None:
        self.max_jobs = max_jobs
        self.running: dict[str, Job] = {}
        self.finished: LRUCache[str, bytes] = LRUCache(maxsize=cache_bytes, getsizeof=len)
        self.started = self.cancelled = self.rejected = 0

    def cached(self, share: str) -> bytes | None:
        return self.finished.get(job_id(share))

    def listen(self, training: train_codec.Training, share: str) -> tuple[Job, asyncio.Queue[Event]]:
        """Join the job of this training, starting it if none runs. Raises OverloadedError."""
        key = job_id(share)
        job = self.running.get(key)
        if job is None:
            if len(self.running) >= self.max_jobs:
                self.rejected += 1
                raise OverloadedError(RETRY_AFTER)
            job = Job(key, share, training)
            self.running[key] = job
            self.started += 1
            loop = asyncio.get_running_loop()
            threading.Thread(target=self._work, args=(job, loop), name=f"train-{key}", daemon=True).start()
        queue: asyncio.Queue[Event] = asyncio.Queue()
        if job.last is not None:
            queue.put_nowait(job.last)
        job.listeners.append(queue)
        return job, queue

    def leave(self, job: Job, queue: asyncio.Queue[Event]) -> None:
        """A listener is gone; the last one leaving stops the job."""
        if queue in job.listeners:
            job.listeners.remove(queue)
        if not job.listeners and self.running.get(job.id) is job:  # not a newer job of the same link
            self.cancel(job.id)

    def cancel(self, key: str) -> bool:
        job = self.running.get(key)
        if job is None:
            return False
        job.stop.set()
        self.cancelled += 1
        return True

    def _work(self, job: Job, loop: asyncio.AbstractEventLoop) -> None:
        def publish(kind: str, data: bytes) -> None:
            loop.call_soon_threadsafe(self._publish, job, Event(kind, data))

        sent = [0.0]

        def progress(results: list[TrainResult]) -> None:
            now = time.monotonic()
            if now - sent[0] < PROGRESS_SECONDS or all(r.status != "running" for r in results):
                return  # too soon, or the end: "done" follows with everything
            sent[0] = now
            publish("progress", orjson.dumps(train_dict(results, job.share, job.id, PROGRESS_POINTS)))

        try:
            results = train_runs(list(job.training.runs), progress, job.stop.is_set)
            body = orjson.dumps(train_dict(results, job.share, job.id))
            if all(r.status in ("done", "diverged") for r in results):
                loop.call_soon_threadsafe(self._store, job.id, body)
            publish("done", body)
        except Exception as err:  # a failed job answers its listeners and frees its place
            detail = {"loc": [], "msg": f"the training failed: {type(err).__name__}", "type": "train_failed"}
            publish("error", orjson.dumps({"detail": [detail]}))
        finally:
            loop.call_soon_threadsafe(self.running.pop, job.id, None)

    def _store(self, key: str, body: bytes) -> None:
        if len(body) <= self.finished.maxsize:
            self.finished[key] = body

    @staticmethod
    def _publish(job: Job, event: Event) -> None:
        if event.kind == "progress":
            job.last = event
        for queue in job.listeners:
            queue.put_nowait(event)


async def events(queue: asyncio.Queue[Event]) -> AsyncIterator[Event]:
    """A listener's events, up to and including the last ("done" or "error")."""
    while True:
        event = await queue.get()
        yield event
        if event.kind != "progress":
            return
