"""What a Dask worker runs for one grid point: its share link in, its metrics out.

Module-level functions, so that Dask sends them by reference (workers import this package, as
the server does) and a point's task is the same wherever it runs. The experiment is the one a
single request of the same link computes (the codec's config, the engine's run_experiment:
run_experiment pins BLAS to one thread, so every worker gives the same bits); a training is the
one /train runs for the link (the training codec's runs, the trainer's train_runs, which pins
BLAS the same way).

A training runs for seconds, so it stops early when no one wants it any more: between steps it
looks at its own task on the worker, which Dask marks "cancelled" once every client that asked
for it has released it (a sweep's cancel, from its own server or through the shared scheduler's
cancel Event, releases its points). A training stopped so raises PointCancelledError: its partial
metrics are nobody's answer and never cached.
"""

from __future__ import annotations

from collections.abc import Callable

from .engine import decode, decode_training, run_experiment, to_experiment, train_runs
from .metrics import MetricValue, experiment_metrics, training_metrics

PointMetrics = list[dict[str, MetricValue]]  # per run, in the link's run order


class PointCancelledError(Exception):
    """A training point stopped because its sweep was cancelled; `steps` it had done."""

    def __init__(self, link: str, steps: int) -> None:
        super().__init__(f"cancelled after {steps} steps")
        self.link = link
        self.steps = steps


def compute_point(link: str) -> PointMetrics:
    """The metrics of one canonical share link, computed here."""
    return experiment_metrics(run_experiment(to_experiment(decode(link, presets=False))))


def compute_training_point(link: str, should_stop: Callable[[], bool] | None = None) -> PointMetrics:
    """The metrics of one canonical training link, trained here. It stops between steps when
    `should_stop` says so (by default: when this task, on a Dask worker, has been released by every
    client), raising PointCancelledError."""
    training = decode_training(link)
    stop = should_stop if should_stop is not None else released_flag()
    results = train_runs(list(training.runs), None, stop)
    if any(r.status == "cancelled" for r in results):
        raise PointCancelledError(link, max(r.steps for r in results))
    return training_metrics(results)


def released_flag() -> Callable[[], bool] | None:
    """On a Dask worker, whether the task running in this thread has been released by every
    client that asked for it (the worker's own state, read without a message: a step costs
    nothing more); elsewhere None (never)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not on a worker: a test or a script computing a link
        return None
    key = worker.get_current_task()
    tasks = worker.state.tasks

    def released() -> bool:
        task = tasks.get(key)
        return task is None or task.state in ("cancelled", "released", "forgotten")

    return released


def compute_for(kind: str) -> Callable[[str], PointMetrics]:
    """The task function of a sweep's points: experiments' or trainings'."""
    return compute_training_point if kind == "train" else compute_point
