"""What a Dask worker runs for one grid point: its share link in, its metrics out.

A module-level function, so that Dask sends it by reference (workers import this package, as
the server does) and a point's task is the same wherever it runs. The experiment is the one a
single request of the same link computes (the codec's config, the engine's run_experiment:
run_experiment pins BLAS to one thread, so every worker gives the same bits).
"""

from __future__ import annotations

from .engine import decode, run_experiment, to_experiment
from .metrics import MetricValue, experiment_metrics

PointMetrics = list[dict[str, MetricValue]]  # per run, in the link's run order


def compute_point(link: str) -> PointMetrics:
    """The metrics of one canonical share link, computed here."""
    return experiment_metrics(run_experiment(to_experiment(decode(link, presets=False))))
