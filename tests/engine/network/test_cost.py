"""Cost estimates and limits: every limit refuses with its own name, before any work."""

from __future__ import annotations

import dataclasses
import tracemalloc
from typing import Any

import numpy as np
import pytest

from app.engine.layers.activations import ACTIVATIONS
from app.engine.layers.initializers import INITIALIZERS, LSUV_MAX_PASSES
from app.engine.network.config import ExperimentConfig, make_experiment
from app.engine.network.cost import BudgetError, Limits, check_limits, experiment_cost, run_cost
from app.engine.network.experiment import run_experiment
from app.engine.params import ConfigError

BASE = {"activation": "relu", "init": "he_normal", "depth": 3, "width": 50, "input_dim": 40, "samples": 200}


def _exp(shared: dict[str, Any] | None = None, runs: list[dict[str, Any]] | None = None) -> ExperimentConfig:
    """The forward pass only: the backward pass's share is checked on its own below."""
    return make_experiment({**BASE, **(shared or {})}, runs if runs is not None else [{}], gradients=False)


def _expected_macs(cfg: ExperimentConfig) -> int:
    total = 0
    for run in cfg.runs:
        passes = 1 + (LSUV_MAX_PASSES if INITIALIZERS[run.init].data_dependent else 0)
        fan_in = run.input_dim
        for j, width in enumerate(run.widths):
            last = j == run.depth - 1
            params = run.output_params() if last else run.activation_params()
            pieces = ACTIVATIONS[run.activation_at(j)].pieces(params)
            total += passes * run.samples * fan_in * width * pieces
            fan_in = width
    return total


def test_cost_macs_exact_sum() -> None:
    cfg = _exp(
        runs=[
            {},
            {"width": [7, 11, 13], "input_dim": 17, "samples": 19},
            {"activation": "maxout", "pieces": 3, "depth": 2},
            {"activation": "tanh", "output_activation": "maxout", "pieces": 4, "width": [5, 6]},
            {"activation": "maxout", "pieces": 2, "output_activation": "sigmoid", "width": [5, 6, 7]},
        ]
    )
    cost = experiment_cost(cfg)
    assert cost.macs == _expected_macs(cfg)
    # Written out for the first two runs: samples * fan_in * width summed over layers.
    assert run_cost(cfg.runs[0]).macs == 200 * (40 * 50 + 50 * 50 + 50 * 50)
    assert run_cost(cfg.runs[1]).macs == 19 * (17 * 7 + 7 * 11 + 11 * 13)
    assert run_cost(cfg.runs[2]).macs == 200 * 3 * (40 * 50 + 50 * 50)
    assert run_cost(cfg.runs[3]).macs == 200 * (40 * 5 + 5 * 6 * 2)  # the output maxout keeps 2 pieces
    assert run_cost(cfg.runs[4]).macs == 200 * (40 * 5 * 2 + 5 * 6 * 2 + 6 * 7)


@pytest.mark.parametrize("init", list(INITIALIZERS))
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_cost_macs_every_component(init: str, activation: str) -> None:
    cfg = _exp({"init": init, "activation": activation})
    assert experiment_cost(cfg).macs == _expected_macs(cfg)


def test_cost_lsuv_counts_its_passes() -> None:
    plain = experiment_cost(_exp({"init": "orthogonal"})).macs
    assert experiment_cost(_exp({"init": "lsuv"})).macs == (1 + LSUV_MAX_PASSES) * plain


def test_cost_sums_runs_and_scales_with_itemsize() -> None:
    cfg = _exp(runs=[{}, {"samples": 100}, {"depth": 5}])
    parts = [run_cost(run) for run in cfg.runs]
    total = experiment_cost(cfg)
    assert total.macs == sum(p.macs for p in parts)
    assert total.memory_bytes == sum(p.memory_bytes for p in parts)
    assert total.response_values == sum(p.response_values for p in parts)
    assert experiment_cost(cfg, 8).memory_bytes > total.memory_bytes
    assert total.memory_bytes > 4 * 200 * (40 + 50)  # at least the inputs and one activation


def test_cost_response_values_grow_with_bins_and_depth() -> None:
    small = experiment_cost(_exp({"bins": 10})).response_values
    assert experiment_cost(_exp({"bins": 20})).response_values > small
    assert experiment_cost(_exp({"bins": 10, "depth": 6})).response_values == 2 * small


def test_check_limits_within_returns_cost() -> None:
    cfg = _exp()
    assert check_limits(cfg, Limits()) == experiment_cost(cfg)


def _refused(cfg: ExperimentConfig, limits: Limits) -> BudgetError:
    with pytest.raises(BudgetError) as info:
        check_limits(cfg, limits)
    err = info.value
    assert isinstance(err, ConfigError)
    assert str(getattr(limits, err.limit)) in err.message.replace(",", "")
    return err


@pytest.mark.parametrize(
    ("limit", "field", "value"),
    [
        ("max_depth", "depth", 4),
        ("max_width", "width", 60),
        ("max_input_dim", "input_dim", 41),
        ("max_samples", "samples", 201),
        ("max_bins", "bins", 31),
    ],
)
def test_check_limits_per_run_limit(limit: str, field: str, value: int) -> None:
    """A run one over a limit is refused, naming the run's field and the limit; at the limit, fine."""
    limits = dataclasses.replace(Limits(), **{limit: value - 1})
    err = _refused(_exp(runs=[{}, {field: value}]), limits)
    assert err.limit == limit
    assert err.field == f"runs[1].{field}"
    check_limits(_exp(runs=[{}, {field: value - 1}]), limits)


def test_check_limits_width_list_uses_widest() -> None:
    limits = Limits(max_width=60)
    err = _refused(_exp(runs=[{"width": [10, 61, 10]}]), limits)
    assert (err.field, err.limit) == ("runs[0].width", "max_width")


def test_check_limits_runs() -> None:
    limits = Limits(max_runs=2)
    err = _refused(_exp(runs=[{}, {}, {}]), limits)
    assert (err.field, err.limit) == ("runs", "max_runs")
    check_limits(_exp(runs=[{}, {}]), limits)


@pytest.mark.parametrize(
    ("limit", "attribute"),
    [
        ("max_macs", "macs"),
        ("max_memory_bytes", "memory_bytes"),
        ("max_response_values", "response_values"),
    ],
)
def test_check_limits_budget(limit: str, attribute: str) -> None:
    cfg = _exp(runs=[{}, {"samples": 100}])
    needed = getattr(experiment_cost(cfg), attribute)
    err = _refused(cfg, dataclasses.replace(Limits(), **{limit: needed - 1}))
    assert (err.field, err.limit) == ("runs", limit)
    assert f"{needed:,}" in err.message
    check_limits(cfg, dataclasses.replace(Limits(), **{limit: needed}))


def test_check_limits_is_instant_for_huge_experiments() -> None:
    """The estimate needs no work: a gigantic experiment is refused without allocating anything."""
    cfg = _exp({"depth": 10_000, "width": 10**6, "samples": 10**7, "input_dim": 10**6})
    err = _refused(cfg, Limits(max_depth=10**9, max_width=10**9, max_input_dim=10**9, max_samples=10**9))
    assert err.limit == "max_macs"


def test_limits_describe() -> None:
    described = Limits().describe()
    assert set(described) == {f.name for f in dataclasses.fields(Limits)}
    assert all(isinstance(v, int) and v > 0 for v in described.values())


def test_cost_memory_upper_bound_on_inputs() -> None:
    """Binary inputs need their sort scratch: the estimate covers float64 keys + int64 ranks."""
    cfg = _exp({"input": "binary", "input_dim": 1000, "samples": 500, "depth": 1, "width": 1})
    assert experiment_cost(cfg).memory_bytes >= 500 * 1000 * (8 + 8 + np.dtype(np.float32).itemsize)


# The estimate promises an upper bound on the arrays held at once. tracemalloc sees every NumPy
# data buffer (not BLAS scratch); 10% of slack absorbs Python objects and small bookkeeping.
MEMORY_SLACK = 1.1


def _peak_bytes(cfg: ExperimentConfig) -> int:
    tracemalloc.start()
    try:
        run_experiment(cfg)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_cost_memory_bounds_peak_activations(activation: str) -> None:
    """Samples dominate: inputs, z, activations and the activation's temporaries."""
    cfg = make_experiment(
        {"activation": activation, "init": "xavier", "bias": "normal", "depth": 2, "width": 200},
        [{"input_dim": 50, "samples": 1000}],
    )
    assert _peak_bytes(cfg) <= MEMORY_SLACK * experiment_cost(cfg).memory_bytes


@pytest.mark.parametrize("init", list(INITIALIZERS))
def test_cost_memory_bounds_peak_initializers(init: str) -> None:
    """Weights dominate: drawing a 600 x 600 matrix for 20 samples."""
    cfg = make_experiment(
        {"activation": "tanh", "init": init, "depth": 2, "width": 600}, [{"input_dim": 600, "samples": 20}]
    )
    assert _peak_bytes(cfg) <= MEMORY_SLACK * experiment_cost(cfg).memory_bytes


def test_cost_memory_bounds_peak_binary_inputs() -> None:
    cfg = make_experiment(
        {"activation": "sigmoid", "init": "normal", "input": "binary", "depth": 2, "width": 10},
        [{"input_dim": 1000, "samples": 2000}, {"input_fraction": 0.2}],
    )
    assert _peak_bytes(cfg) <= MEMORY_SLACK * experiment_cost(cfg).memory_bytes


def test_cost_gradients_triple_the_work_and_hold_every_layer() -> None:
    runs = [{"activation": "relu", "init": "he_normal"}]
    forward_only = experiment_cost(make_experiment({"depth": 4, "width": 50}, runs, gradients=False))
    both = experiment_cost(make_experiment({"depth": 4, "width": 50}, runs))
    assert both.macs == 3 * forward_only.macs
    assert both.memory_bytes > forward_only.memory_bytes
