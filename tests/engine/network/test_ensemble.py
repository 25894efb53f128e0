"""Seed ensembles: members, aggregation against each draw computed on its own, limits."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from app import codec
from app.engine.layers.activations import ACTIVATIONS
from app.engine.measure.stats import scan, summarize
from app.engine.network.config import ExperimentConfig
from app.engine.network.cost import BudgetError, Limits, check_limits
from app.engine.network.ensemble import (
    MAX_SEEDS,
    Spread,
    _spreads,
    check_ensemble_limits,
    members,
    run_ensemble,
)
from app.engine.network.experiment import run_experiment
from app.engine.network.forward import forward, input_samples
from app.engine.network.memo import DRAWS
from app.engine.network.result import union_of
from app.engine.params import ConfigError

# Explicit ranges: every experiment bins on the same edges, so a draw computed alone is
# comparable bin by bin with the ensemble's.
LINK = "depth=4&width=30&samples=200&range=0,1&z_range=-3,3&run=relu,he_normal&run=tanh,xavier"


def _config(link: str = LINK) -> ExperimentConfig:
    return codec.to_experiment(codec.decode(link))


def _alone(config: ExperimentConfig, i: int, k: int) -> ExperimentConfig:
    """An experiment whose last run is member k of run i, computed without the ensemble code:
    run i placed at position k * R + i behind copies of the link's runs."""
    runs = list(config.runs) * k + list(config.runs[: i + 1])
    return dataclasses.replace(config, runs=tuple(runs))


def test_members_repeat_the_runs_with_their_seeds() -> None:
    config = _config()
    expanded = members(config, 3)
    assert expanded.runs == config.runs * 3
    assert all(run.seed == config.runs[i % 2].seed for i, run in enumerate(expanded.runs))


def test_ensemble_is_the_mean_and_band_of_each_draw_computed_alone() -> None:
    config = _config()
    seeds = 3
    ensemble = run_ensemble(config, seeds)
    for i, run in enumerate(ensemble.runs):
        draws = [run_experiment(_alone(config, i, k)).runs[-1] for k in range(seeds)]
        for j, layer in enumerate(run.layers):
            for kind in ("pre", "post", "grad"):
                rows = [getattr(d.layers[j], kind) for d in draws]
                spread = getattr(layer, kind)
                if kind != "grad":  # dL/dz has no explicit range: its bins are the experiment's own
                    counts = np.stack([r.counts for r in rows])
                    assert np.array_equal(spread.edges, rows[0].edges)
                    np.testing.assert_allclose(spread.counts, counts.mean(axis=0), rtol=0, atol=1e-12)
                    assert np.array_equal(spread.counts_low, counts.min(axis=0))
                    assert np.array_equal(spread.counts_high, counts.max(axis=0))
                assert spread.counts.sum() == pytest.approx(np.mean([r.counts.sum() for r in rows]))
                stds = [r.std for r in rows]
                assert spread.values["std"].mean == pytest.approx(float(np.mean(stds)), rel=1e-12)
                assert spread.values["std"].low == min(stds)
                assert spread.values["std"].high == max(stds)
    # member 0 is the link's own run: the lowest draw's std is at most, the highest at least, its std
    single = run_experiment(config)
    for run, alone in zip(ensemble.runs, single.runs, strict=True):
        assert run.first.label == alone.label
        for layer, row in zip(run.layers, alone.layers, strict=True):
            std, band = row.post.std, layer.post.values["std"]
            assert std is not None and band.low is not None and band.high is not None
            assert band.low <= std <= band.high


def test_draws_differ_but_inputs_do_not() -> None:
    ensemble = run_ensemble(_config(), 4)
    relu = ensemble.runs[0].layers[-1].post.values["std"]
    assert relu.low is not None and relu.high is not None and relu.low < relu.high  # new weights
    # the inputs are the link's: member k's input samples are drawn from the same seed
    assert len({run.seed for run in members(_config(), 4).runs}) == 1


def test_one_seed_is_the_single_run_with_a_zero_width_band() -> None:
    config = _config()
    one = run_ensemble(config, 1)
    single = run_experiment(config)
    for run, alone in zip(one.runs, single.runs, strict=True):
        for layer, row in zip(run.layers, alone.layers, strict=True):
            assert np.array_equal(layer.post.counts, row.post.counts)
            std = layer.post.values["std"]
            assert std.mean == std.low == std.high == row.post.std


def test_ensemble_is_deterministic() -> None:
    a = run_ensemble(_config(), 3)
    DRAWS.clear()  # and the runs' kept work (memo.RUNS): b is computed afresh, not repeated
    b = run_ensemble(_config(), 3)
    assert all(
        np.array_equal(x.post.counts, y.post.counts) and x.post.values == y.post.values
        for ra, rb in zip(a.runs, b.runs, strict=True)
        for x, y in zip(ra.layers, rb.layers, strict=True)
    )


@pytest.mark.parametrize("seeds", [0, MAX_SEEDS + 1, -1, True, 2.0, "3"])
def test_seeds_out_of_range_are_refused_naming_the_field(seeds: object) -> None:
    with pytest.raises(ConfigError) as err:
        check_ensemble_limits(_config(), seeds, Limits())  # type: ignore[arg-type]
    assert err.value.field == "seeds"


# Per-run axes: no explicit range, so each run's bins are its draws' own range.
PER_RUN = "depth=3&width=20&samples=100&axes=run&run=relu,he_normal&run=tanh,xavier,gain:1.5"


def test_per_run_axes_bin_each_runs_draws_together_on_their_own_range() -> None:
    """With axes=run, run i's N draws share one range per layer: the union of those N draws'
    extents (and nothing else), each draw binned on it. Checked against the draws' activations
    recomputed with forward() at their positions and binned with summarize() on that union."""
    config = _config(PER_RUN)
    seeds, count = 3, len(config.runs)
    ensemble = run_ensemble(config, seeds)
    for i, run in enumerate(config.runs):
        x = input_samples(run)
        draws = [list(forward(run, x, k * count + i)) for k in range(seeds)]
        for j, layer in enumerate(ensemble.runs[i].layers):
            bounds = ACTIVATIONS[run.activation_at(j)].bounds(run.activation_params_at(j))
            for kind, values in (("pre", [d[j].z for d in draws]), ("post", [d[j].a for d in draws])):
                extents = [scan(v) for v in values]
                display = union_of(extents)
                if kind == "post" and None not in bounds:  # tanh: its fixed range, as always
                    display = (float(bounds[0] or 0.0), float(bounds[1] or 0.0))
                alone = [summarize(v, e, display, run.bins) for v, e in zip(values, extents, strict=True)]
                spread = getattr(layer, kind)
                counts = np.stack([a.counts for a in alone])
                assert np.array_equal(spread.edges, alone[0].edges)
                np.testing.assert_allclose(spread.counts, counts.mean(axis=0), rtol=0, atol=1e-12)
                assert np.array_equal(spread.counts_low, counts.min(axis=0))
                assert np.array_equal(spread.counts_high, counts.max(axis=0))
                if kind == "pre":  # the range runs from the lowest draw's minimum to the highest's maximum
                    assert spread.edges[0] == spread.values["min"].low
                    assert spread.edges[-1] == spread.values["max"].high
                # every value of every draw is in the bins: the mean counts add up to the mean count
                assert spread.counts.sum() == pytest.approx(spread.values["count"].mean, rel=1e-12)
            grad = layer.grad
            assert grad is not None
            assert grad.counts.sum() == pytest.approx(grad.values["count"].mean, rel=1e-12)


def _layers_of(run: Any) -> list[tuple[Any, ...]]:
    return [
        (t.edges.tolist(), t.counts.tolist(), t.counts_low.tolist(), t.counts_high.tolist(), t.values)
        for layer in run.layers
        for t in (layer.pre, layer.post, layer.grad)
    ]


def test_per_run_axes_keep_a_runs_ensemble_apart_from_the_other_runs() -> None:
    """Under axes=run, run 1's ensemble is the same whatever run 2 is (run 2's draws are at the
    same positions, so only its values change); under shared axes run 2's range reaches run 1's."""
    wide = "run=relu,he_normal,gain:4"  # run 2's values reach ~4x run 1's
    base = "depth=3&width=20&samples=100&run=relu,he_normal&"
    for axes, apart in (("&axes=run", True), ("", False)):
        a = run_ensemble(_config(f"{base}run=relu,he_normal{axes}"), 3)
        b = run_ensemble(_config(f"{base}{wide}{axes}"), 3)
        assert (_layers_of(a.runs[0]) == _layers_of(b.runs[0])) is apart
        assert _layers_of(a.runs[1]) != _layers_of(b.runs[1])


def test_per_run_axes_of_layer_networks_bin_each_runs_draws_together() -> None:
    """The layer networks' pass bins its rows through the same by_axes: each run's z and dL/dz
    bins of every row run from its draws' lowest to highest value, and hold every value; and the
    first run's rows stay the same when the second run changes."""
    base = "depth=3&width=16&samples=64&axes=run&run=tanh,xavier,block:residual,norm:layer&"
    ensemble = run_ensemble(_config(f"{base}run=relu,he_normal,norm:batch"), 3)
    for run in ensemble.runs:
        for layer in run.layers:
            for t in (layer.pre, layer.grad):
                assert t is not None
                assert (t.edges[0], t.edges[-1]) == (t.values["min"].low, t.values["max"].high)
                assert t.counts.sum() == pytest.approx(t.values["count"].mean, rel=1e-12)
    other = run_ensemble(_config(f"{base}run=relu,he_normal,gain:4,norm:batch"), 3)
    assert _layers_of(ensemble.runs[0]) == _layers_of(other.runs[0])


def test_per_run_axes_with_one_seed_are_the_single_answer() -> None:
    config = _config(PER_RUN)
    one = run_ensemble(config, 1)
    single = run_experiment(config)
    for run, alone in zip(one.runs, single.runs, strict=True):
        for layer, row in zip(run.layers, alone.layers, strict=True):
            for kind in ("pre", "post", "grad"):
                t, s = getattr(layer, kind), getattr(row, kind)
                assert np.array_equal(t.edges, s.edges) and np.array_equal(t.counts, s.counts)
                assert t.values["std"].mean == s.std


def test_per_run_axes_are_taken_within_the_same_cost() -> None:
    config = dataclasses.replace(_config(), axes="run")
    assert check_ensemble_limits(config, 1, Limits()) == check_limits(config, Limits())
    assert check_ensemble_limits(config, 4, Limits()).macs == 4 * check_limits(config, Limits()).macs


def test_the_draws_multiply_the_cost_and_are_bounded_before_work() -> None:
    config = _config()
    single = check_limits(config, Limits())
    cost = check_ensemble_limits(config, 5, Limits())
    assert cost.macs == 5 * single.macs
    assert cost.memory_bytes == 5 * single.memory_bytes
    assert cost.response_values == 3 * single.response_values
    tight = Limits(max_macs=4 * single.macs)  # the link fits, five draws do not
    with pytest.raises(BudgetError) as err:
        check_ensemble_limits(config, 5, tight)
    assert err.value.field == "seeds"
    assert err.value.limit == "max_macs"
    assert check_ensemble_limits(config, 4, tight).macs == 4 * single.macs


def test_spreads_are_each_columns_mean_bit_for_bit() -> None:
    """The means of many columns in one NumPy call are, to the last bit, np.mean of each column
    alone (what the answers held before they were batched): the same links, the same bytes."""
    rng = np.random.default_rng(7)
    for n in range(1, MAX_SEEDS + 1):
        columns: list[list[float | int | None]] = [
            list(rng.standard_normal(n) * 10.0 ** float(rng.integers(-30, 30))) for _ in range(30)
        ]
        columns += [list(rng.integers(0, 10**6, n)), [None] * n, [*([1.5] * (n - 1)), None]]
        for column, spread in zip(columns, _spreads(columns), strict=True):
            if None in column:
                assert spread == Spread(None, None, None)
                continue
            numbers = [float(v) for v in column if v is not None]
            assert spread.mean == float(np.mean(np.array(numbers, dtype=np.float64)))
            assert (spread.low, spread.high) == (min(numbers), max(numbers))
    # a mean past float64's range is no value; the band keeps the draws' own values
    assert _spreads([[1.7e308, 1.7e308]]) == [Spread(None, 1.7e308, 1.7e308)]
