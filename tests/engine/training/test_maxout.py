"""Maxout trained: each piece's weights drawn by the run's initializer, gradients to the winning
piece (central differences in float64, and PyTorch's autograd where torch is installed), k weight
sets counted in the parameters and the cost."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.engine.layers.initializers import INITIALIZERS
from app.engine.network.config import make_run
from app.engine.network.cost import parameter_count
from app.engine.network.forward import forward, input_samples
from app.engine.training.config import make_train_config, train_cost, train_parameters
from app.engine.training.mlp import MLP

NET: dict[str, Any] = {"init": "glorot_normal", "gain": 1.5, "bias": "normal", "bias_std": 0.3, "seed": 7}


def _model(pieces: int) -> tuple[MLP, np.ndarray, np.ndarray]:
    run = make_run({**NET, "activation": "maxout", "pieces": pieces, "width": [4, 3], "input_dim": 5})
    model = MLP(run, 5, 3, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((6, 5))
    y = np.array([0, 1, 2, 2, 1, 0], dtype=np.intp)
    return model, x, y


@pytest.mark.parametrize("pieces", [2, 3, 8])
def test_maxout_mlp_gradient_matches_central_differences(pieces: int) -> None:
    model, x, y = _model(pieces)
    grads = model.new_grads()
    model.loss_and_grads(x, y, grads)
    assert model.params["W1"].shape == (5, 4 * pieces) and model.params["b1"].shape == (4 * pieces,)
    h = 1e-6
    for key, p in model.params.items():
        numeric = np.zeros_like(p)
        for k in np.ndindex(p.shape):
            saved = p[k]
            p[k] = saved + h
            up = model.evaluate(x, y)[0]
            p[k] = saved - h
            down = model.evaluate(x, y)[0]
            p[k] = saved
            numeric[k] = (up - down) / (2 * h)
        np.testing.assert_allclose(grads[key], numeric, rtol=1e-5, atol=1e-8, err_msg=key)
    # the losing pieces of each unit and sample get exactly no gradient
    arrays = model.forward(x)
    model.backward(x, arrays, y, grads=None)
    for j, layer in enumerate(model.hidden):
        per_unit = arrays.dz[j].reshape(len(x), layer.pieces, layer.units)
        assert (np.count_nonzero(per_unit, axis=1) <= 1).all()


@pytest.mark.parametrize("pieces", [2, 3])
def test_maxout_mlp_gradient_matches_pytorch_autograd(pieces: int) -> None:
    torch = pytest.importorskip("torch")
    model, x, y = _model(pieces)
    grads = model.new_grads()
    loss = model.loss_and_grads(x, y, grads)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    a = torch.tensor(x)
    for j, layer in enumerate(model.hidden):
        z = a @ tensors[f"W{j + 1}"] + tensors[f"b{j + 1}"]
        a = z.reshape(len(z), layer.pieces, layer.units).amax(dim=1)
    logits = a @ tensors[f"W{model.depth}"] + tensors[f"b{model.depth}"]
    torch_loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y))
    torch_loss.backward()
    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    for key, t in tensors.items():
        np.testing.assert_allclose(grads[key], t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("init", ["he_normal", "xavier", "orthogonal", "normal"])
def test_maxout_each_piece_is_drawn_by_the_runs_initializer(init: str) -> None:
    """The training network's pieces are the dashboard's (the same draws), each its own
    (fan_in, units) matrix drawn by the initializer with the fans of one piece."""
    run = make_run({"activation": "maxout", "pieces": 3, "init": init, "width": [40, 30], "input_dim": 50})
    model = MLP(run, 50, 10)
    layers = list(forward(run, input_samples(run), 0))
    for j, layer in enumerate(layers):
        np.testing.assert_array_equal(model.params[f"W{j + 1}"], layer.weights)
        fan_in, units = layer.weights.shape[0], layer.weights.shape[1] // 3
        pieces = np.split(layer.weights, 3, axis=1)
        assert not np.array_equal(pieces[0], pieces[1])  # three draws, not one repeated
        expected = INITIALIZERS[init].variance(fan_in, units, run.init_params())
        for piece in pieces:
            assert float(piece.var()) == pytest.approx(expected, rel=0.25)


@pytest.mark.parametrize("pieces", [2, 3, 8])
def test_maxout_parameters_and_cost_count_k_weight_sets(pieces: int) -> None:
    net = {"init": "he_normal", "depth": 3, "width": 20}
    maxout = make_train_config({**net, "activation": "maxout", "pieces": pieces}, iterations=10, captures=[])
    relu = make_train_config({**net, "activation": "relu"}, iterations=10, captures=[])
    model = MLP(maxout.run, 784, 10)
    assert train_parameters(maxout) == sum(p.size for p in model.params.values())
    assert train_parameters(relu) == sum(p.size for p in MLP(relu.run, 784, 10).params.values())
    hidden = 784 * 20 + 20 * 20 * 2 + 20 * 3  # weights and (zero) biases of the 3 hidden layers
    assert train_parameters(maxout) - train_parameters(relu) == (pieces - 1) * hidden
    assert parameter_count(maxout.run) == pieces * hidden
    # the budget's multiply-adds grow with the pieces: the hidden products are k times as wide
    assert train_cost(maxout).macs > train_cost(relu).macs
    products = 784 * 20 + 20 * 20 * 2  # one forward pass's hidden multiply-adds per sample, per piece
    step = (pieces - 1) * (3 * products - 784 * 20)  # forward, dL/dW and dL/da (not of the data)
    assert train_cost(maxout).macs - train_cost(relu).macs >= 10 * 128 * step


def test_maxout_learns_and_keeps_its_units_alive() -> None:
    from app.engine.training.trainer import train

    config = make_train_config(
        {"activation": "maxout", "init": "he_normal", "depth": 2, "width": 32},
        iterations=60,
        record_every=30,
        captures=[60],
    )
    result = train(config)
    assert result.status == "done"
    assert result.records[-1].train_loss < 0.6 * result.records[0].train_loss
    assert all(d == 0.0 for r in result.records for d in r.dead_fraction)
    # the captured gradient holds every piece: the losing half of a 2-piece layer is exactly 0
    for layer in result.captures[-1].layers:
        assert layer.gradient.zero_fraction == pytest.approx(0.5, abs=0.01)
