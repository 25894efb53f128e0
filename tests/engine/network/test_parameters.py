"""A network's parameter count: weights and biases, k weight sets for a maxout layer."""

from __future__ import annotations

from typing import Any

import pytest

from app.engine.network.config import make_run
from app.engine.network.cost import parameter_count, run_cost
from app.engine.network.forward import forward, input_samples


@pytest.mark.parametrize(
    "fields",
    [
        {"activation": "relu", "init": "he_normal"},
        {"activation": "maxout", "init": "he_normal"},
        {"activation": "maxout", "pieces": 5, "init": "xavier", "bias": "constant", "width": [30, 20, 7]},
        {
            "activation": "maxout",
            "pieces": 3,
            "output_activation": "sigmoid",
            "init": "xavier",
            "bias": "zeros",
        },
        {"activation": "tanh", "output_activation": "maxout", "init": "xavier", "bias": "normal"},
    ],
)
def test_parameters_are_the_arrays_the_forward_pass_draws(fields: dict[str, Any]) -> None:
    run = make_run({"samples": 10, "input_dim": 40, **fields})
    layers = list(forward(run, input_samples(run), 0))
    drawn = sum(layer.weights.size + (0 if layer.bias is None else layer.bias.size) for layer in layers)
    assert parameter_count(run) == drawn


@pytest.mark.parametrize("pieces", [2, 3, 8])
def test_parameters_maxout_pays_k_weight_sets(pieces: int) -> None:
    net = {"init": "he_normal", "bias": "constant", "depth": 10, "width": 100, "input_dim": 100}
    relu = make_run({**net, "activation": "relu"})
    maxout = make_run({**net, "activation": "maxout", "pieces": pieces})
    assert parameter_count(relu) == 10 * (100 * 100 + 100)
    assert parameter_count(maxout) == pieces * parameter_count(relu)
    # and the budget pays for the k products: multiply-adds k times ReLU's
    assert run_cost(maxout).macs == pieces * run_cost(relu).macs
