"""A layer unit by unit: each unit's mean and std across the samples, the spread between and within
units, and the units x samples matrix; checked against NumPy directly and against the texts' claims."""

from __future__ import annotations

import numpy as np
import pytest

from app import codec
from app.claims.readings import unit_spread as claims_unit_spread
from app.engine.measure.unit_profile import (
    MATRIX_SAMPLES,
    MATRIX_UNITS,
    UnitSpread,
    check_layer,
    experiment_units,
    profile_of,
    run_profile,
    unit_spread,
)
from app.engine.network.config import ExperimentConfig
from app.engine.network.experiment import run_experiment
from app.engine.network.forward import forward, input_samples
from app.engine.params import ConfigError
from app.presets import PRESETS


def experiment(query: str) -> ExperimentConfig:
    return codec.to_experiment(codec.decode(query))


def test_profile_of_matches_numpy() -> None:
    a = np.random.default_rng(0).standard_normal((300, 100)).astype(np.float32)
    a[:, 5] = 0.0  # one dead unit
    a[:, 7] = a[:, 6]  # two units alike
    p = profile_of(a, 3, "tanh")
    a64 = a.astype(np.float64)
    np.testing.assert_array_equal(p.mean, a64.mean(axis=0))
    np.testing.assert_array_equal(p.std, a64.std(axis=0))
    assert p.spread == UnitSpread(float(a64.mean(axis=0).std()), float(a64.std(axis=0).mean()))
    assert (p.layer, p.activation, p.units, p.samples) == (3, "tanh", 100, 300)
    assert (p.dead_units, p.distinct_units) == (1, 99)
    assert p.values.shape == (MATRIX_UNITS, MATRIX_SAMPLES) == (64, 64)
    assert p.values.dtype == np.float32
    np.testing.assert_array_equal(p.values, a[:64, :64].T)  # values[u, s]: unit u, sample s
    for array in (p.mean, p.std, p.values):
        assert not array.flags.writeable


def test_profile_of_a_small_layer_keeps_every_unit_and_sample() -> None:
    a = np.arange(30, dtype=np.float32).reshape(10, 3)  # 10 samples, 3 units
    p = profile_of(a, 1, "relu")
    assert p.values.shape == (3, 10)
    np.testing.assert_array_equal(p.values, a.T)
    np.testing.assert_array_equal(p.mean, [13.5, 14.5, 15.5])


def test_equal_means_spread_by_exactly_zero() -> None:
    # np.std of 100 equal values near 0.074 is 1.4e-17, not 0: equal units must read as equal.
    column = np.random.default_rng(2).uniform(0, 0.15, (1000, 1))
    a = np.repeat(column, 100, axis=1).astype(np.float32)
    s = unit_spread(a)
    assert s.between == 0.0 and s.within > 0.01


def test_non_finite_layers_are_reported_not_raised() -> None:
    a = np.full((20, 4), 1.0, np.float32)
    a[0, 0], a[1, 1], a[2, 2] = np.inf, -np.inf, np.nan
    p = profile_of(a, 1, "linear")
    assert p.mean[0] == np.inf and np.isnan(p.std[0]) and np.isnan(p.mean[2])
    assert p.distinct_units is None
    assert np.isnan(p.spread.between)


def test_run_profile_is_the_layer_the_experiment_draws() -> None:
    config = experiment(
        "depth=4&width=30&samples=200&run=maxout,he_normal&run=relu,he_normal,width:20-40-50-10"
    )
    result = run_experiment(config)
    for position, run in enumerate(config.runs):
        layers = list(forward(run, input_samples(run), position))
        for j, layer in enumerate(layers):
            p = run_profile(run, position, j + 1)
            np.testing.assert_array_equal(p.values, layer.a[:64, :64].T)
            np.testing.assert_array_equal(p.mean, layer.a.astype(np.float64).mean(axis=0))
            summarized = result.runs[position].layers[j]
            assert (p.units, p.activation) == (summarized.units, summarized.activation)
            assert (p.dead_units, p.distinct_units) == (summarized.dead_units, summarized.distinct_units)


def test_layer_out_of_range_names_the_layer() -> None:
    config = experiment("run=relu,he_normal&run=relu,he_normal,depth:8")
    check_layer(config, 8)
    for layer in (0, 9):
        with pytest.raises(ConfigError) as err:
            experiment_units(config, layer)
        assert err.value.field == "layer" and "between 1 and 8" in err.value.message
    with pytest.raises(ConfigError, match="between 1 and 5"):
        run_profile(config.runs[0], 0, 6)


def test_a_shallower_run_has_no_profile_below_its_depth() -> None:
    result = experiment_units(experiment("run=relu,he_normal&run=relu,he_normal,depth:8"), 7)
    assert result.layer == 7
    assert [(r.label, r.depth, r.profile is None) for r in result.runs] == [
        ("relu, He · depth 5", 5, True),
        ("relu, He · depth 8", 8, False),
    ]


def test_experiment_units_is_deterministic() -> None:
    config = experiment("run=sigmoid,normal,std:0.01&run=tanh,xavier")
    first, second = experiment_units(config, 3), experiment_units(config, 3)
    for a, b in zip(first.runs, second.runs, strict=True):
        assert a.profile is not None and b.profile is not None
        assert a.profile.mean.tobytes() == b.profile.mean.tobytes()
        assert a.profile.values.tobytes() == b.profile.values.tobytes()
        assert a.profile.spread == b.profile.spread


# ---- the claims -------------------------------------------------------------------------------


def test_zero_and_constant_init_make_every_unit_identical() -> None:
    """ng-zero-init: in every layer of both runs all units compute the same function; their means
    spread by exactly 0 and every row of the matrix is the same."""
    config = PRESETS["ng-zero-init"].experiment
    for layer in range(1, 6):
        zeros, constant = (r.profile for r in experiment_units(config, layer).runs)
        assert zeros is not None and constant is not None
        for p in (zeros, constant):
            assert p.spread.between == 0.0
            assert p.distinct_units == 1
            assert (p.values == p.values[0]).all()  # every unit's row is the first unit's
            assert (p.mean == p.mean[0]).all() and (p.std == p.std[0]).all()
        # Zero weights and biases: every unit outputs f(0) for every input.
        assert (zeros.values == (0.5 if layer == 5 else 0.0)).all() and zeros.spread.within == 0.0
        # Constant weights: the units still answer their inputs, all in the same way.
        assert constant.spread.within > 0.1


def test_small_weights_make_units_that_differ_a_little() -> None:
    """E2, sigmoid with std 0.01: units differ by tiny amounts, and each barely answers its input
    (in layer 4 a unit's output varies 3.9e-7 across inputs, against 0.013 between units)."""
    preset = PRESETS["saito-sigmoid-std001"]
    (run,) = experiment_units(preset.experiment, 4).runs
    p = run.profile
    assert p is not None
    assert p.spread.between == pytest.approx(0.0132, rel=0.01)
    assert p.spread.within == pytest.approx(3.85e-7, rel=0.01)
    assert p.spread.within > 0.0 and p.spread.between > 1e4 * p.spread.within
    assert p.distinct_units is not None and p.distinct_units >= 98
    assert np.ptp(p.mean) < 0.1 and abs(float(p.mean.mean()) - 0.5) < 0.01
    # The rows of the matrix differ from each other far more than within themselves.
    assert float(np.ptp(p.values, axis=1).max()) < 1e-5 < float(np.ptp(p.values[:, 0]))
    # The claims read the very same numbers (app/claims/readings.py uses the engine's).
    result = run_experiment(preset.experiment)
    assert claims_unit_spread(result)[3] == p.spread
