"""The engine bench's floor draws exactly what run_experiment draws: the same arrays, in order."""

from __future__ import annotations

import numpy as np
import pytest

import bench.engine_bench as engine_bench
from app.engine.network.backward import upstream_gradient
from app.engine.network.config import make_experiment
from app.engine.network.forward import forward, input_samples
from app.engine.network.memo import DRAWS


@pytest.mark.parametrize(("gradients", "warm"), [(False, False), (True, False), (True, True)])
def test_engine_draws_are_the_engines(gradients: bool, warm: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_bench, "GRADIENTS", gradients)
    monkeypatch.setattr(engine_bench, "WARM", warm)
    shared = {"depth": 3, "width": 7, "input_dim": 5, "samples": 11, "bias": "normal", "seed": 3}
    runs: list[dict[str, object]] = [
        {"activation": "relu", "init": "he_normal"},
        {"activation": "maxout", "init": "xavier"},  # pieces side by side: several draws a layer
        {"activation": "tanh", "init": "normal", "width": [4, 6], "seed": 9},
    ]
    cfg = make_experiment(shared, runs, gradients=gradients)
    DRAWS.clear()
    drawn = engine_bench.engine_draws(cfg)
    assert len(DRAWS) == 0  # each repeat draws afresh
    assert len(drawn) == len(cfg.runs)
    for position, (run, arrays) in enumerate(zip(cfg.runs, drawn, strict=True)):
        x = input_samples(run)
        expected: list[np.ndarray | None] = [] if warm else [x]
        layers = list(forward(run, x, position))
        for layer in layers:
            expected += [layer.weights, layer.bias]
        if gradients and not warm:
            expected.append(upstream_gradient(run, position, layers[-1].a, cfg.loss))
        assert len(arrays) == len(expected)
        for got, want in zip(arrays, expected, strict=True):
            assert got is not None and want is not None
            np.testing.assert_array_equal(got, want)
            assert got.dtype == want.dtype
    DRAWS.clear()


def test_unsteady_warns_when_the_bare_chains_repeats_spread_and_gives_the_medians_ratio() -> None:
    steady = {"bare": [1.0, 1.1, 1.2], "relu": [2.0, 2.2, 2.4]}
    assert engine_bench.unsteady(steady, "relu") is None
    # the chain fast once (3.1 s) and slow twice, the engine never fast: min over min says 1.83
    bimodal = {"bare": [3.1, 5.5, 5.6], "relu": [5.67, 5.75, 5.8]}
    warning = engine_bench.unsteady(bimodal, "relu")
    assert warning is not None
    assert "3100 to 5600 ms" in warning and "median / min 1.77" in warning
    assert warning.endswith("engine / bare by medians: 1.05")
