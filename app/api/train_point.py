"""A sweep's training point on a shared Dask scheduler: the same training as /train's, computed
once whichever asks first.

With INITSCOPE_DASK_SCHEDULER set, a training link is one job in the scheduler's registry of
trainings (app/api/train_scheduler.py), whether a server's /train or a sweep asks for it:

- If no one trains it, the point claims it and trains it here, on its Dask worker, publishing the
  same events a /train job does (app/api/train_jobs.py's run_job): a /train request for the link
  from any server meanwhile follows this training instead of starting its own, can cancel with
  its own token, and keeps it going after the sweep lets go of the point, until its last listener
  leaves.
- If a server's /train trains it already, the point follows that job as one more listener (so the
  job goes on for it when /train's listeners leave), and its metrics are read from the job's
  finished document. Should that job end without a whole result (its server stopped, or it was
  stopped), the point claims the link and trains it here.

Either way the point's metrics are those of the link's one training. A point of a sweep that is
cancelled stops following (or, when no /train listener is left, stops training) at its next look,
and raises PointCancelledError.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

import orjson

from .. import train_codec
from ..sweeps.metrics import document_training_metrics, training_metrics
from ..sweeps.point import PointCancelledError, PointMetrics, released_flag
from .train_jobs import REMOTE_POLL_SECONDS, CancelOutcome, Job, job_id, run_job
from .train_scheduler import SchedulerRegistry

logger = logging.getLogger("initscope.train")


class TrainingFailedError(Exception):
    """The training of a point failed (where it ran); its message says how."""


def compute_shared_training_point(link: str) -> PointMetrics:
    """The metrics of training link `link`, trained once for every client of this scheduler."""
    from distributed import get_client

    released = released_flag() or (lambda: False)
    registry = SchedulerRegistry(get_client)  # this worker's client of the scheduler
    training = train_codec.decode(link)
    share = train_codec.encode(training)  # /train's key for the same training
    key = job_id(share)
    while True:
        if registry.claim(key, share) is None:
            return _train_here(registry, Job(key, share, training, registry), released)
        metrics = _follow(registry, key, share, released)
        if metrics is not None:
            return metrics
        # its owner ended without a whole result: train it here


def _train_here(registry: SchedulerRegistry, job: Job, released: Callable[[], bool]) -> PointMetrics:
    looked = [0.0]

    def should_stop() -> bool:
        """Asked between steps; looks at the registry at most every REMOTE_POLL_SECONDS."""
        now = time.monotonic()
        if job.stop.is_set() or now - looked[0] < REMOTE_POLL_SECONDS:
            return job.stop.is_set()
        looked[0] = now
        pending, counts = registry.poll([job.id])
        listening = counts.get(job.id, 0)
        for token, _ in pending:
            registry.answer_cancel(token, _answer_cancel(registry, job, token, listening, released()))
        if released() and registry.listeners(job.id) == 0:
            job.stop.set()  # the sweep let go of the point and no /train listener follows it
        return job.stop.is_set()

    try:
        trained = run_job(job, should_stop)
    finally:
        registry.release(job.id)
    if trained is None:
        raise TrainingFailedError("the training failed")
    results, _ = trained
    if any(r.status == "cancelled" for r in results):
        raise PointCancelledError(job.share, max(r.steps for r in results))
    return training_metrics(results)


def _answer_cancel(
    registry: SchedulerRegistry, job: Job, token: str, listening: int, released: bool
) -> CancelOutcome:
    """A /train listener of this point's training cancels (with its token, through any server):
    its stream ends; the training stops too unless someone else (another listener, or the sweep)
    still wants it. TrainJobs answers the same for the jobs it runs."""
    if registry.listener_job(token) != job.id:
        return "wrong_token"
    if listening > 1 or not released:
        registry.remove_listener(token)  # its stream sees it gone and ends
        return "left"
    job.stop.set()
    return "stopped"


def _follow(
    registry: SchedulerRegistry, key: str, share: str, released: Callable[[], bool]
) -> PointMetrics | None:
    """Follow the job another client runs to its end: its metrics, or None when it ended without
    a whole result. Off the worker's thread pool meanwhile: the worker runs other points."""
    token = secrets.token_urlsafe(16)
    registry.add_listener(token, key)  # counted: the job goes on for this point
    on_worker = _secede()
    cursor = 0
    try:
        while True:
            events, _, owned = registry.follow(key, cursor, token)
            for event in events:
                cursor = event.seq
                if event.kind == "error":
                    raise TrainingFailedError(orjson.loads(event.data)["detail"][0]["msg"])
                if event.kind == "done":
                    document = orjson.loads(event.data)
                    if any(run["status"] == "cancelled" for run in document["runs"]):
                        return None
                    return document_training_metrics(document)
            if not owned and not events:
                return None  # its owner went away without a last word
            if released():
                raise PointCancelledError(share, 0)
            time.sleep(REMOTE_POLL_SECONDS)
    finally:
        registry.remove_listener(token)
        if on_worker:
            from distributed import rejoin

            rejoin()  # type: ignore[no-untyped-call]


def _secede() -> bool:
    """Leave the worker's thread pool while waiting (True), when running as a Dask task."""
    try:
        from distributed import get_worker, secede

        get_worker()
    except (ImportError, ValueError):
        return False
    secede()  # type: ignore[no-untyped-call]
    return True
