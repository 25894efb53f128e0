"""axes="run": each run's histograms on its own ranges, exactly as if it were the only run."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

import numpy as np
import pytest

from app.engine.measure.stats import TensorStats
from app.engine.network.config import AXES, make_experiment
from app.engine.network.experiment import ExperimentResult, LayerResult, run_experiment
from app.engine.params import ConfigError

SMALL = {"depth": 4, "width": 30, "samples": 200, "input_dim": 30}
# Narrow beside wide: a sigmoid with std 0.01 (z ~ 0.1, dL/dz ~ 1e-7 at layer 1), a ReLU with He
# (z ~ 5), a tanh whose last layer is linear (unbounded), and ELU (unbounded below and above).
RUNS: list[dict[str, Any]] = [
    {"activation": "sigmoid", "init": "normal", "std": 0.01},
    {"activation": "relu", "init": "he_normal", "bins": 12},
    {"activation": "tanh", "init": "xavier", "output_activation": "linear"},
    {"activation": "elu", "init": "normal", "std": 0.05, "depth": 2},
]


def _run(shared: dict[str, Any], runs: list[dict[str, Any]], **kwargs: Any) -> ExperimentResult:
    return run_experiment(make_experiment(shared, runs, **kwargs))


def _tensors(layer: LayerResult) -> dict[str, TensorStats]:
    out = {"pre": layer.pre, "post": layer.post}
    if layer.grad is not None:
        out["grad"] = layer.grad
    return out


def _assert_same_stats(a: TensorStats, b: TensorStats) -> None:
    for f in fields(TensorStats):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        else:
            assert x == y, f.name


@pytest.fixture(scope="module")
def both() -> tuple[ExperimentResult, ExperimentResult]:
    return _run(SMALL, RUNS), _run(SMALL, RUNS, axes="run")


def test_axes_default_is_shared() -> None:
    config = make_experiment(SMALL, RUNS)
    assert config.axes == "shared" == AXES[0]
    assert make_experiment(SMALL, RUNS, axes="shared") == config
    assert make_experiment(SMALL, RUNS, axes="run") != config


@pytest.mark.parametrize("value", ["bogus", "Run", "", None, 1, ["run"]])
def test_axes_bad_value_names_the_field(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        make_experiment(SMALL, RUNS, axes=value)
    assert caught.value.field == "axes"
    assert caught.value.message == "must be one of shared, run"


def test_axes_run_is_the_run_alone(both: tuple[ExperimentResult, ExperimentResult]) -> None:
    """The first run (its weights are drawn for position 0, as when alone) is summarized exactly
    as in an experiment of that run only: every histogram, statistic and gradient."""
    _, per_run = both
    alone = _run(SMALL, RUNS[:1])
    for mine, own in zip(per_run.runs[0].layers, alone.runs[0].layers, strict=True):
        assert mine.grad is not None
        for kind, stats in _tensors(mine).items():
            _assert_same_stats(stats, _tensors(own)[kind])
        assert (mine.dead_units, mine.distinct_units) == (own.dead_units, own.distinct_units)


def test_axes_run_ranges_are_each_runs_own_extent(both: tuple[ExperimentResult, ExperimentResult]) -> None:
    """Every run's z, unbounded activations and dL/dz are binned from its own min to its own max,
    nothing outside; sigmoid and tanh keep their fixed output ranges."""
    shared, per_run = both
    for run, same in zip(per_run.runs, shared.runs, strict=True):
        for layer, other in zip(run.layers, same.layers, strict=True):
            bounded = layer.activation in ("sigmoid", "tanh")
            for kind, stats in _tensors(layer).items():
                assert len(stats.edges) == run.config.bins + 1
                assert int(stats.counts.sum()) == stats.count and stats.below == stats.above == 0
                if kind == "post" and bounded:
                    low = 0.0 if layer.activation == "sigmoid" else -1.0
                    assert (stats.edges[0], stats.edges[-1]) == (low, 1.0)
                else:
                    assert (stats.edges[0], stats.edges[-1]) == (stats.min, stats.max)
                # the values are the same: only where they are binned differs
                before = _tensors(other)[kind]
                assert (stats.count, stats.min, stats.max, stats.mean, stats.std) == (
                    before.count,
                    before.min,
                    before.max,
                    before.mean,
                    before.std,
                )
                assert stats.zero_fraction == before.zero_fraction


def test_axes_shared_is_one_range_per_layer(both: tuple[ExperimentResult, ExperimentResult]) -> None:
    """The default is unchanged: z and dL/dz of every run of a layer on one range."""
    shared, _ = both
    for j in range(2):
        for kind in ("pre", "grad"):
            tensors = [_tensors(run.layers[j])[kind] for run in shared.runs]
            assert len({(t.edges[0], t.edges[-1]) for t in tensors}) == 1


def test_axes_run_fills_the_bins_of_a_vanished_gradient() -> None:
    """Sigmoid with std 0.01: layer 1's dL/dz is ~1e-7 while ReLU He's is ~1. On the shared range
    it is one bar at 0; on its own range it spreads over the bins like any bell."""
    runs = [RUNS[0], RUNS[1] | {"bins": 30}]
    counts = {}
    for axes in AXES:
        grad = _run({}, runs, axes=axes).runs[0].layers[0].grad
        assert grad is not None and grad.std is not None
        assert 1e-8 < grad.std < 1e-6
        counts[axes] = int(np.count_nonzero(grad.counts))
        if axes == "run":
            assert (grad.edges[0], grad.edges[-1]) == (grad.min, grad.max)
            assert max(abs(grad.edges[0]), abs(grad.edges[-1])) < 1e-5
    assert counts == {"shared": 1, "run": counts["run"]} and counts["run"] >= 25


def test_axes_run_keeps_explicit_ranges() -> None:
    """range= and z_range= still win; dL/dz, which has no explicit range, gets each run's own."""
    result = _run(SMALL, RUNS[:2], axes="run", post_range=[0, 1], pre_range=[-2, 2])
    for run in result.runs:
        for layer in run.layers:
            assert (layer.post.edges[0], layer.post.edges[-1]) == (0.0, 1.0)
            assert (layer.pre.edges[0], layer.pre.edges[-1]) == (-2.0, 2.0)
            assert layer.grad is not None
            assert (layer.grad.edges[0], layer.grad.edges[-1]) == (layer.grad.min, layer.grad.max)
    assert result.runs[1].layers[0].post.above > 0  # ReLU He beyond 1, counted as before


def test_axes_run_vanished_float64_gradient_beside_a_healthy_one() -> None:
    """A tanh gradient shrinking ~100x a layer for 200 layers reaches float64's subnormals and
    then 0: on its own axes each layer spans its own values, however small, and all edges are
    finite; the one that underflowed to 0 everywhere gets a unit range around 0."""
    vanishing = {"activation": "tanh", "init": "xavier", "gain": 0.01}
    result = _run(
        {"depth": 200, "width": 10, "samples": 10},
        [vanishing, {"activation": "tanh", "init": "xavier"}],
        axes="run",
    )
    for j in (45, 150, 199):
        for run in result.runs:
            grad = run.layers[j].grad
            assert grad is not None and grad.min is not None and grad.max is not None
            assert int(grad.counts.sum()) == grad.count == 100
            assert all(math.isfinite(e) for e in grad.edges) and np.all(np.diff(grad.edges) >= 0)
            if grad.min < grad.max:
                assert (grad.edges[0], grad.edges[-1]) == (grad.min, grad.max)
    first = result.runs[0].layers[0].grad
    assert first is not None and first.min == first.max == 0.0
    assert (first.edges[0], first.edges[-1]) == (-0.5, 0.5)


def test_axes_run_of_one_run_changes_no_histogram() -> None:
    alone = [_run(SMALL, RUNS[1:2], axes=axes).runs[0] for axes in AXES]
    for a, b in zip(alone[0].layers, alone[1].layers, strict=True):
        for kind, stats in _tensors(a).items():
            _assert_same_stats(stats, _tensors(b)[kind])
