"""A sweep's cost is bounded before it starts: its points' count, each point's limits, their sum."""

from __future__ import annotations

import pytest

from app.sweeps.cost import SweepLimits, plan
from app.sweeps.engine import BudgetError, Limits, check_limits
from app.sweeps.link import expand, parse_sweep

PHASE = "depth=30&run=tanh,xavier&bias=normal&axis.gain=0.5:4:lin:8&axis.bias_std=0:1:lin:5"


def test_the_plan_sums_each_points_own_cost() -> None:
    sweep = parse_sweep(PHASE)
    p = plan(sweep, SweepLimits(), Limits())
    assert len(p.points) == 40
    assert p.macs == tuple(check_limits(config, Limits()).macs for _, config in expand(sweep, 100))
    assert p.total_macs == sum(p.macs)


def test_too_many_points_are_refused_naming_the_variable() -> None:
    with pytest.raises(BudgetError) as caught:
        plan(parse_sweep(PHASE), SweepLimits(max_points=39), Limits())
    assert caught.value.limit == "max_sweep_points"
    assert "40 points, over the limit of 39 (INITSCOPE_MAX_SWEEP_POINTS)" in caught.value.message


def test_the_sum_of_the_points_is_held_to_the_sweeps_budget() -> None:
    total = plan(parse_sweep(PHASE), SweepLimits(), Limits()).total_macs
    with pytest.raises(BudgetError) as caught:
        plan(parse_sweep(PHASE), SweepLimits(max_macs=total - 1), Limits())
    assert caught.value.field == "sweep" and caught.value.limit == "max_sweep_macs"
    assert f"{total:,} multiply-adds together, over the budget of {total - 1:,}" in caught.value.message
    assert plan(parse_sweep(PHASE), SweepLimits(max_macs=total), Limits()).total_macs == total


def test_a_point_over_the_per_experiment_limits_is_named_by_its_values() -> None:
    with pytest.raises(BudgetError) as caught:
        plan(parse_sweep("run=relu,he_normal&axis.depth=10,300"), SweepLimits(), Limits())
    assert caught.value.limit == "max_depth"
    assert caught.value.message.startswith("at depth=300: ")
