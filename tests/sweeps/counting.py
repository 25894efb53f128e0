"""A compute function for tests that records each call in a file (workers import this module)."""

from __future__ import annotations

import os
from pathlib import Path

from app.sweeps.point import PointMetrics, compute_point

LOG_VARIABLE = "INITSCOPE_TEST_POINT_LOG"


def counted_compute(link: str) -> PointMetrics:
    """compute_point, with one line per call appended to the file named by the variable."""
    with Path(os.environ[LOG_VARIABLE]).open("a", encoding="utf-8") as log:
        log.write(link + "\n")
    return compute_point(link)
