"""Diagnostics of an experiment's networks: options, cost bound, the network used, mean field."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from app import codec
from app.engine.layers.activations import ACTIVATIONS
from app.engine.measure.correlation import pair_correlations
from app.engine.network.config import ExperimentConfig
from app.engine.network.cost import BudgetError, Limits
from app.engine.network.diagnostics import (
    DEFAULT_C0,
    DiagnosticsOptions,
    check_diagnostics_limits,
    diagnostics_cost,
    make_options,
    run_diagnostics,
)
from app.engine.network.forward import forward, input_samples
from app.engine.params import ConfigError


def _config(query: str) -> ExperimentConfig:
    return codec.to_experiment(codec.decode(query))


def test_make_options_defaults_and_values() -> None:
    assert make_options() == DiagnosticsOptions(DEFAULT_C0, 8, 2)
    assert make_options([0, 1], 3, 0) == DiagnosticsOptions((0.0, 1.0), 3, 0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"c0": []}, "c0"),
        ({"c0": [0.5] * 9}, "c0"),
        ({"c0": [1.5]}, "c0"),
        ({"c0": [True]}, "c0"),
        ({"c0": "0.5"}, "c0"),
        ({"pairs": 0}, "pairs"),
        ({"pairs": 65}, "pairs"),
        ({"pairs": 2.0}, "pairs"),
        ({"jacobian": 9}, "jacobian"),
        ({"jacobian": -1}, "jacobian"),
    ],
)
def test_make_options_refuses_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_options(**kwargs)
    assert err.value.field == field


def test_cost_grows_with_the_options_and_is_refused_over_budget() -> None:
    config = _config("depth=10&width=1000&run=tanh,xavier")
    small = diagnostics_cost(config, make_options([0.5], 1, 0))
    big = diagnostics_cost(config, make_options([0.5] * 8, 64, 8))
    assert big.macs > 100 * small.macs and big.memory_bytes > small.memory_bytes
    check_diagnostics_limits(config, make_options([0.5], 1, 0), Limits())
    with pytest.raises(BudgetError) as err:
        check_diagnostics_limits(config, make_options(), Limits(max_macs=small.macs))
    assert err.value.limit == "max_macs" and "multiply-adds" in err.value.message


def test_run_diagnostics_is_deterministic() -> None:
    config = _config("depth=3&width=50&run=tanh,xavier&run=relu,he_normal")
    a = run_diagnostics(config, make_options(jacobian=1))
    b = run_diagnostics(config, make_options(jacobian=1))
    assert a.runs[1].correlation == b.runs[1].correlation
    assert a.runs[0].jacobian is not None and b.runs[0].jacobian is not None
    assert a.runs[0].jacobian.layers[-1].mean_sq == b.runs[0].jacobian.layers[-1].mean_sq


def test_lsuv_network_is_the_one_simulate_scales_on_its_inputs() -> None:
    """LSUV rescales the weights on the run's samples: the pairs must go through that network,
    not one rescaled on the pairs."""
    config = _config("depth=3&width=40&samples=200&run=tanh,lsuv")
    run = config.runs[0]
    options = make_options([0.3], 4, 0)
    result = run_diagnostics(config, options)
    from app.engine.measure.correlation import pair_inputs
    from app.engine.network.diagnostics import PAIR_STREAM

    x = pair_inputs((0.3,), 4, run.input_dim, 1.0, np.random.default_rng([run.seed, PAIR_STREAM, 0]))
    a = x
    for layer in forward(run, input_samples(run), 0):
        z = a @ layer.weights
        a = ACTIVATIONS["tanh"].f(z, {})
        assert pair_correlations(z, 1, 4)[0] == list(result.runs[0].correlation[layer.index].measured)
    # and scaled on the pairs instead, it would differ
    other = [pair_correlations(layer.z, 1, 4)[0][0] for layer in forward(run, x, 0)]
    assert other != [layer.measured[0] for layer in result.runs[0].correlation]


def test_jacobian_mean_square_follows_mean_field() -> None:
    config = _config(
        "depth=6&width=400&input_dim=400&bias=normal&bias_std=0.3&run=tanh,xavier,gain:1.5&run=relu,he_normal"
    )
    result = run_diagnostics(config, make_options([0.5], 1, 4))
    for run in result.runs:
        assert run.jacobian is not None and run.jacobian.method == "exact" and run.jacobian.directions == 400
        for layer in run.jacobian.layers:
            assert layer.mean_sq == pytest.approx(layer.predicted_mean_sq, rel=0.25)
        assert [layer.spectrum is not None for layer in run.jacobian.layers] == [True] * 6


def test_no_jacobian_when_zero_samples() -> None:
    result = run_diagnostics(_config("depth=2&run=tanh,xavier"), make_options(jacobian=0))
    assert result.runs[0].jacobian is None and len(result.runs[0].correlation) == 2


def test_correlation_of_linear_networks_is_kept() -> None:
    """A linear network with orthogonal weights preserves every angle exactly."""
    config = replace(_config("depth=4&width=64&input_dim=64&run=linear,orthogonal"))
    result = run_diagnostics(config, make_options([0.2, 0.7], 2, 0))
    for layer in result.runs[0].correlation:
        assert layer.measured == pytest.approx((0.2, 0.7), abs=1e-5)
        assert layer.predicted == pytest.approx((0.2, 0.7), abs=1e-9)


def test_seeds_redraw_the_weights_only() -> None:
    """seeds=2: the mean and band of the link's network and seed + 1's, the inputs the link's."""
    config = _config("depth=3&width=50&seed=5&run=tanh,xavier,gain:2")
    both = run_diagnostics(config, make_options([0.5], 2, 1, seeds=2))
    first = run_diagnostics(config, make_options([0.5], 2, 1))
    for j, layer in enumerate(both.runs[0].correlation):
        a = first.runs[0].correlation[j].measured[0]
        assert a is not None and layer.low is not None and layer.high is not None
        assert a in (layer.low[0], layer.high[0])  # the first draw is the link's own network
        other = layer.high[0] if a == layer.low[0] else layer.low[0]
        assert other is not None and other != a  # the second draw's weights differ
        assert layer.measured[0] == pytest.approx((a + other) / 2)
    jac = both.runs[0].jacobian
    assert jac is not None and all(
        la.spectrum is not None and la.spectrum.count == 2 * 50 for la in jac.layers
    )
    assert first.runs[0].correlation[0].low is None  # one draw: no band


def test_seeds_multiply_the_cost() -> None:
    config = _config("depth=3&width=50&run=tanh,xavier")
    one = diagnostics_cost(config, make_options())
    four = diagnostics_cost(config, make_options(seeds=4))
    assert four.macs == 4 * one.macs


@pytest.mark.parametrize(
    "query",
    [
        "depth=3&width=300&samples=500&run=tanh,xavier",
        "depth=3&width=300&samples=500&run=maxout,he_normal,pieces:3",
        # wider than EXACT_MAX: J carried on 256 random directions
        "depth=3&width=1100&input_dim=1100&samples=200&run=tanh,xavier",
    ],
)
def test_cost_bounds_the_measured_memory(query: str) -> None:
    import tracemalloc

    config, options = _config(query), make_options(jacobian=4)
    run_diagnostics(config, options)  # the inputs' draw is memoized: measure the work
    tracemalloc.start()
    try:
        run_diagnostics(config, options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= diagnostics_cost(config, options).memory_bytes
