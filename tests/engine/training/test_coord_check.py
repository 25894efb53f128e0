"""The muP coordinate check: its backward pass against finite differences, the learning-rate table,
and the check itself: under muP the hidden layers' mean |activation| stays within 1.2x from the
narrowest to the widest width at every step (the tolerance of the mup package's own test), under
the standard parametrization with Adam it does not."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine.params import ConfigError
from app.engine.training.coord_check import (
    CoordConfig,
    CoordResult,
    _lr_scales,
    _network,
    backward,
    coord_check,
    coord_cost,
    forward,
    make_coord_config,
    width_ratio,
)

TOLERANCE = 1.2


@pytest.fixture(scope="module")
def adam() -> CoordResult:
    return coord_check(CoordConfig())


@pytest.mark.parametrize(("name", "readout"), [("relu", 1.0), ("tanh", 0.25), ("gelu", 0.5)])
def test_backward_matches_finite_differences(name: str, readout: float) -> None:
    rng = np.random.default_rng(0)
    net = [
        (w.astype(np.float64), b.astype(np.float64) + 0.1)
        for w, b in _network(CoordConfig(depth=2, activation=name), 6, rng)
    ]
    x, y = rng.standard_normal((5, 32)), rng.standard_normal((5, 10))

    def loss() -> float:
        out, _ = forward(net, x, name, readout)  # type: ignore[arg-type]
        return float(((out - y) ** 2).sum() / 2 / 5)

    out, cache = forward(net, x, name, readout)  # type: ignore[arg-type]
    grads = backward(net, cache, out, y, name, readout)  # type: ignore[arg-type]
    h = 1e-6
    for layer, (w, b) in enumerate(net):
        for p, g in ((w, grads[layer][0]), (b, grads[layer][1])):
            flat, gflat = p.reshape(-1), g.reshape(-1)
            for i in range(0, flat.size, max(1, flat.size // 7)):
                keep = flat[i]
                flat[i] = keep + h
                up = loss()
                flat[i] = keep - h
                down = loss()
                flat[i] = keep
                assert gflat[i] == pytest.approx((up - down) / (2 * h), rel=1e-4, abs=1e-8)


def test_lr_scales_follow_the_mup_package() -> None:
    config = CoordConfig(depth=3)
    # Adam (MuAdam): matrix-like hidden weights lr / m; the input layer, biases and read-out lr
    assert _lr_scales(config, "mup", 4.0) == [(1.0, 1.0), (0.25, 1.0), (0.25, 1.0), (1.0, 1.0)]
    # SGD (MuSGD): vector-like (input, read-out, biases) x m, square matrix-like hidden x 1
    sgd = CoordConfig(depth=3, optimizer="sgd")
    assert _lr_scales(sgd, "mup", 4.0) == [(4.0, 4.0), (1.0, 4.0), (1.0, 4.0), (4.0, 4.0)]
    assert _lr_scales(config, "sp", 4.0) == [(1.0, 1.0)] * 4


def test_coord_check_mup_is_width_stable_sp_is_not(adam: CoordResult) -> None:
    sp, mup = adam.curves
    assert (sp.parametrization, mup.parametrization) == ("sp", "mup")
    hidden = range(adam.config.depth)
    for step in range(adam.config.steps + 1):
        for layer in hidden:
            assert 1 / TOLERANCE < width_ratio(mup, step, layer) < TOLERANCE, (step, layer)
    # SP with Adam: after one step the read-out's output grows about with the width (16x: 14x here),
    # and the last hidden layer's by a third
    assert width_ratio(sp, 1, adam.config.depth) > 10
    assert width_ratio(sp, 1, adam.config.depth - 1) > TOLERANCE
    assert max(width_ratio(sp, s, layer) for s in range(1, 4) for layer in range(4)) > TOLERANCE


def test_coord_check_init_is_the_same_network(adam: CoordResult) -> None:
    sp, mup = adam.curves
    widths = adam.config.widths
    assert sp.values[0][:-1] == mup.values[0][:-1]  # the hidden layers: the same weights
    for i, w in enumerate(widths):  # muP divides the read-out by m = width / narrowest
        assert mup.values[0][-1][i] == pytest.approx(sp.values[0][-1][i] * widths[0] / w, rel=1e-5)
    assert adam.layers == ("hidden 1", "hidden 2", "hidden 3", "output")


def test_coord_check_is_deterministic() -> None:
    config = CoordConfig(widths=(16, 32), steps=2)
    assert coord_check(config) == coord_check(config)


def test_coord_cost_counts_every_pass() -> None:
    small = coord_cost(CoordConfig(widths=(16, 32)))
    assert small == 2 * 10 * 64 * sum(32 * n + 2 * n * n + n * 10 for n in (16, 32))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"widths": [128]}, "widths"),
        ({"widths": [256, 128]}, "widths"),
        ({"widths": [128, 8192]}, "widths"),
        ({"widths": list(range(1, 11))}, "widths"),
        ({"activation": "maxout"}, "activation"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"lr": 0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"steps": 6}, "steps"),
        ({"depth": 1}, "depth"),
    ],
)
def test_make_coord_config_refuses_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_coord_config(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_coord_check_sgd_mup_is_width_stable_sp_blows_up() -> None:
    sp, mup = coord_check(CoordConfig(optimizer="sgd", lr=0.01)).curves
    for step in range(4):
        for layer in range(3):
            assert 1 / TOLERANCE < width_ratio(mup, step, layer) < TOLERANCE, (step, layer)
    assert width_ratio(sp, 3, 3) > 100  # the read-out's output: 285x from width 128 to 2048
