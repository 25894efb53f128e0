"""Compute functions for tests that record each call in a file (workers import this module)."""

from __future__ import annotations

import os
from pathlib import Path

from app.sweeps.point import PointCancelledError, PointMetrics, compute_point, compute_training_point

LOG_VARIABLE = "INITSCOPE_TEST_POINT_LOG"


def counted_compute(link: str) -> PointMetrics:
    """compute_point, with one line per call appended to the file named by the variable."""
    with Path(os.environ[LOG_VARIABLE]).open("a", encoding="utf-8") as log:
        log.write(link + "\n")
    return compute_point(link)


def logged_training(log_path: str, link: str) -> PointMetrics:
    """compute_training_point, logging `start` when it begins and `cancelled <steps>` or `done`
    when it ends (bind the log's path with functools.partial: the workers have their own env)."""
    with Path(log_path).open("a", encoding="utf-8") as log:
        log.write(f"start {link}\n")
    try:
        metrics = compute_training_point(link)
    except PointCancelledError as err:
        with Path(log_path).open("a", encoding="utf-8") as log:
            log.write(f"cancelled {err.steps}\n")
        raise
    with Path(log_path).open("a", encoding="utf-8") as log:
        log.write("done\n")
    return metrics
