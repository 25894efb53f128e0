"""A sweep's cost, bounded before any point runs.

Every point must fit the server's per-experiment limits (the same Limits a single request
meets; a training point, those of a single /train request: its networks', then max_train_macs,
max_memory_bytes and max_response_values on train_cost's bound), and the sum of the points'
multiply-adds (a training's from train_cost) must fit the sweep's budget. The number of points
is checked first, before a single link is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from .engine import (
    BudgetError,
    ConfigError,
    ExperimentConfig,
    Limits,
    Training,
    check_limits,
    check_training_limits,
)
from .link import Point, Sweep, describe_values, expand

MAX_POINTS_VARIABLE = "INITSCOPE_MAX_SWEEP_POINTS"
MAX_MACS_VARIABLE = "INITSCOPE_MAX_SWEEP_MACS"


@dataclass(frozen=True)
class SweepLimits:
    """A sweep's limits: points in its grid and multiply-adds of all its points together.

    The default budget is about seven minutes of one core at the engine's few GMAC/s (a 15 x 11
    phase diagram of 30 layers of 100 units on 1,000 samples needs ~0.15% of it)."""

    max_points: int = 2500
    max_macs: int = 2 * 10**12

    def describe(self) -> dict[str, int]:
        return {f"{f.name.replace('max_', 'max_sweep_')}": getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Plan:
    sweep: Sweep
    points: tuple[Point, ...]
    macs: tuple[int, ...]  # per point

    @property
    def total_macs(self) -> int:
        return sum(self.macs)


def training_macs(training: Training, limits: Limits) -> int:
    """A training's multiply-adds, checked as a single /train request of its link is."""
    return check_training_limits(training.runs, limits)


def plan(sweep: Sweep, limits: SweepLimits, point_limits: Limits) -> Plan:
    """The sweep's points and their cost; BudgetError names the first limit it is over."""
    if sweep.size > limits.max_points:
        raise BudgetError(
            "sweep",
            f"has {sweep.size:,} points, over the limit of {limits.max_points:,} ({MAX_POINTS_VARIABLE})",
            "max_sweep_points",
        )
    expanded: Sequence[tuple[Point, ExperimentConfig | Training]]
    if sweep.kind == "train":
        from .train_link import expand_training

        expanded = expand_training(sweep, limits.max_points)
    else:
        expanded = expand(sweep, limits.max_points)
    macs = []
    for point, config in expanded:
        try:
            if isinstance(config, Training):
                macs.append(training_macs(config, point_limits))
            else:
                macs.append(check_limits(config, point_limits).macs)
        except BudgetError as err:
            where = describe_values(sweep.axes, point.values)
            raise BudgetError(err.field, f"at {where}: {err.message}", err.limit) from None
    total = sum(macs)
    if total > limits.max_macs:
        raise BudgetError(
            "sweep",
            f"its {len(macs):,} points need {total:,} multiply-adds together, over the budget of "
            f"{limits.max_macs:,} ({MAX_MACS_VARIABLE}); use fewer or smaller points",
            "max_sweep_macs",
        )
    return Plan(sweep, tuple(point for point, _ in expanded), tuple(macs))


__all__ = ["ConfigError", "Plan", "SweepLimits", "plan"]
