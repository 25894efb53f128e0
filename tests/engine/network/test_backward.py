"""The backward pass against central finite differences (float64), for every activation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.engine.layers.activations import ACTIVATIONS
from app.engine.network.backward import backward, layer_gradients, upstream_gradient
from app.engine.network.config import RunConfig, make_experiment, make_run
from app.engine.network.experiment import run_experiment
from app.engine.network.forward import forward, input_samples


def _loss(run: RunConfig, x: np.ndarray, g: np.ndarray) -> float:
    *_, last = forward(run, x, 0, np.float64)
    return float((last.a * g).sum())


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("output", [None, "sigmoid"])
def test_backward_matches_finite_differences(name: str, output: str | None) -> None:
    run = make_run(
        {"activation": name, "output_activation": output, "init": "glorot_normal", "gain": 1.5,
         "bias": "normal", "bias_std": 0.3, "width": [4, 3, 3], "input_dim": 5, "samples": 3, "seed": 11}
    )  # fmt: skip
    x = input_samples(run, np.float64)
    layers = list(forward(run, x, 0, np.float64))
    g = upstream_gradient(run, 0, layers[-1].a, "normal")
    grads, dx = backward(run, layers, x, g)
    h = 1e-6
    numeric = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[k] += h
        down[k] -= h
        numeric[k] = (_loss(run, up, g) - _loss(run, down, g)) / (2 * h)
    np.testing.assert_allclose(dx, numeric, rtol=1e-5, atol=1e-7)
    assert [grad.delta.shape for grad in grads] == [layer.z.shape for layer in layers]


def test_backward_vanishing_sigmoid_keeps_its_tiny_gradients_and_matches_theory() -> None:
    config = make_experiment({"depth": 30}, [{"activation": "sigmoid", "init": "xavier"}], gradients=True)
    run = run_experiment(config).runs[0]
    measured = [float(layer.grad.std or 0.0) for layer in run.layers if layer.grad is not None]
    assert run.theory is not None
    predicted = [t.gradient_scale for t in run.theory.layers]
    assert measured[0] < 1e-15 < measured[-1]  # vanished, yet not flushed to zero
    for m, p in zip(measured, predicted, strict=True):
        assert m == pytest.approx(p, rel=0.3)


def test_backward_mse_loss_differs_from_normal_at_the_output() -> None:
    runs = [{"activation": "tanh", "init": "xavier"}]
    normal = run_experiment(make_experiment({"depth": 2}, runs, gradients=True)).runs[0]
    mse = run_experiment(make_experiment({"depth": 2}, runs, gradients=True, loss="mse")).runs[0]
    assert normal.layers[-1].grad is not None and mse.layers[-1].grad is not None
    assert normal.layers[-1].grad.std != mse.layers[-1].grad.std
    assert normal.layers[0].pre.std == mse.layers[0].pre.std  # the forward pass is the same


def test_backward_on_by_default_and_switchable() -> None:
    runs = [{"activation": "relu", "init": "he_normal"}]
    on = run_experiment(make_experiment({}, runs)).runs[0]
    assert all(layer.grad is not None and layer.weight_grad is not None for layer in on.layers)
    off = run_experiment(make_experiment({}, runs, gradients=False)).runs[0]
    assert all(layer.grad is None and layer.weight_grad is None for layer in off.layers)
    # the backward pass draws nothing from the forward pass's streams: the same forward numbers
    assert [(layer.post.mean, layer.post.std) for layer in off.layers] == [
        (layer.post.mean, layer.post.std) for layer in on.layers
    ]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_backward_layer_gradients_are_backwards_last_first(name: str) -> None:
    """layer_gradients yields backward's gradients bit for bit, last layer first (the slopes read
    off the activations for sigmoid and tanh, ReLU's mask, are the derivatives' own bits)."""
    run = make_run(
        {"activation": name, "init": "glorot_normal", "bias": "normal", "bias_std": 0.3,
         "width": [30, 20, 10], "input_dim": 12, "samples": 50, "seed": 3}
    )  # fmt: skip
    x = input_samples(run)
    layers = list(forward(run, x, 0))
    g = upstream_gradient(run, 0, layers[-1].a, "normal")
    grads, _ = backward(run, layers, x, g)
    stepped = list(layer_gradients(run, layers, x, g))[::-1]
    assert len(stepped) == len(grads)
    for mine, theirs in zip(stepped, grads, strict=True):
        assert mine.exponent == theirs.exponent
        np.testing.assert_array_equal(mine.delta, theirs.delta)
        assert (mine.weight_norm, mine.weight_std, mine.grad_data_ratio) == (
            theirs.weight_norm,
            theirs.weight_std,
            theirs.grad_data_ratio,
        )


# Maxout: the gradient reaches each unit's winning piece only. Checked against a forward pass
# written here from the layers' own weights (no engine code), by central differences in float64 on
# every weight, bias and input, and against PyTorch's autograd where torch is installed.


def _maxout_run(pieces: int, output: str | None = None) -> RunConfig:
    return make_run(
        {"activation": "maxout", "pieces": pieces, "output_activation": output, "init": "glorot_normal",
         "bias": "normal", "bias_std": 0.3, "width": [4, 3, 3], "input_dim": 5, "samples": 4, "seed": 5}
    )  # fmt: skip


def _reference_loss(x: np.ndarray, params: list[tuple[np.ndarray, np.ndarray, int]], g: np.ndarray) -> float:
    """sum(a_L * g) of the stack of maxout layers (W, b, k); k = 1 is a sigmoid output layer."""
    a = x
    for w, b, k in params:
        z = a @ w + b
        a = z.reshape(len(z), k, -1).max(axis=1) if k > 1 else 1.0 / (1.0 + np.exp(-z))
    return float((a * g).sum())


def _maxout_case(pieces: int, output: str | None) -> tuple[Any, ...]:
    run = _maxout_run(pieces, output)
    x = input_samples(run, np.float64)
    layers = list(forward(run, x, 0, np.float64))
    g = upstream_gradient(run, 0, layers[-1].a, "normal")
    grads, dx = backward(run, layers, x, g)
    params = [
        (layer.weights.copy(), layer.bias.copy(), layer.pieces) for layer in layers if layer.bias is not None
    ]
    assert len(params) == len(layers)
    return run, x, layers, g, grads, dx, params


@pytest.mark.parametrize("pieces", [2, 3, 8])
@pytest.mark.parametrize("output", [None, "sigmoid"])
def test_backward_maxout_weights_biases_and_inputs_match_central_differences(
    pieces: int, output: str | None
) -> None:
    _, x, layers, g, grads, dx, params = _maxout_case(pieces, output)
    h = 1e-6
    # Ties are measure zero with continuous weights; a gap below 2h would make the difference
    # quotient straddle a kink, and the test would say nothing about the gradient.
    for layer in layers:
        if layer.pieces > 1:
            top2 = np.sort(layer.z.reshape(len(layer.z), layer.pieces, -1), axis=1)[:, -2:]
            assert float((top2[:, 1] - top2[:, 0]).min()) > 1e-4
    assert _reference_loss(x, params, g) == pytest.approx(float((layers[-1].a * g).sum()), rel=1e-12)
    for j, grad in enumerate(grads):
        dz = np.ldexp(grad.delta, grad.exponent)
        a_in = x if j == 0 else layers[j - 1].a
        for target, analytic in ((params[j][0], a_in.T @ dz), (params[j][1], dz.sum(axis=0))):
            numeric = np.zeros_like(target)
            for k in np.ndindex(target.shape):
                saved = target[k]
                target[k] = saved + h
                up = _reference_loss(x, params, g)
                target[k] = saved - h
                down = _reference_loss(x, params, g)
                target[k] = saved
                numeric[k] = (up - down) / (2 * h)
            np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)
        assert grad.weight_norm == pytest.approx(float(np.linalg.norm(a_in.T @ dz)), rel=1e-12)
        if layers[j].pieces > 1:
            # one non-zero entry of dL/dz per unit and sample: the winner's, carrying dL/da exactly
            per_unit = dz.reshape(len(dz), layers[j].pieces, -1)
            assert (np.count_nonzero(per_unit, axis=1) <= 1).all()
    numeric_x = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[k] += h
        down[k] -= h
        numeric_x[k] = (_reference_loss(up, params, g) - _reference_loss(down, params, g)) / (2 * h)
    np.testing.assert_allclose(dx, numeric_x, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("pieces", [2, 3])
def test_backward_maxout_matches_pytorch_autograd(pieces: int) -> None:
    torch = pytest.importorskip("torch")
    _, x, layers, g, grads, dx, params = _maxout_case(pieces, "sigmoid")
    xt = torch.tensor(x, requires_grad=True)
    tensors = [
        (torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True), k) for w, b, k in params
    ]
    a = xt
    for w, b, k in tensors:
        z = a @ w + b
        a = z.reshape(len(z), k, -1).amax(dim=1) if k > 1 else torch.sigmoid(z)
    (a * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for j, (grad, (w, b, _)) in enumerate(zip(grads, tensors, strict=True)):
        dz = np.ldexp(grad.delta, grad.exponent)
        a_in = x if j == 0 else layers[j - 1].a
        np.testing.assert_allclose(a_in.T @ dz, w.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dz.sum(axis=0), b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_has_the_bits_of_ldexp(dtype: type[np.floating]) -> None:
    """Scaling by 2**-e (into a fresh array, or where a given-up array is: the backward pass's
    deltas) gives the bits of np.ldexp, subnormal results included (values 2**-160 below the
    peak), and e is the exponent of max |x|."""
    from app.engine.network.backward import _normalize

    rng = np.random.default_rng(7)
    for _ in range(50):
        exponents = rng.uniform(-100, 60, 4000)
        x = (rng.standard_normal(4000) * np.exp2(exponents)).astype(dtype)
        x[::9] = 0.0
        e = int(np.frexp(np.abs(x).max())[1])
        expected = np.ldexp(x, -e).astype(dtype)
        fresh, e_fresh = _normalize(x)
        assert e_fresh == e and not np.shares_memory(fresh, x)
        assert fresh.tobytes() == expected.tobytes()
        given = x.copy()
        scaled, e_in_place = _normalize(given, in_place=True)
        assert e_in_place == e and scaled.dtype == dtype
        assert np.shares_memory(scaled, given)
        assert scaled.tobytes() == expected.tobytes()
    upstream = np.ones(4, dtype)
    _normalize(upstream)  # not given up: left as it was
    assert upstream.tolist() == [1.0] * 4


@pytest.mark.parametrize("fill", [0.75, 0.0, np.nan, 3.0])
def test_backward_leaves_the_upstream_gradient_as_it_was(fill: float) -> None:
    """The steps write dL/dz over the gradient they are given, never over the caller's upstream
    (the read-out is a kept draw, memo.DRAWS): not when its peak needs no scaling (0.75), nor
    when it is left unscaled (0, NaN), nor when it is scaled (3)."""
    run = make_run({"activation": "sigmoid", "init": "xavier", "seed": 2, "depth": 3, "width": 6})
    x = input_samples(run, np.float32)
    layers = list(forward(run, x, 0, np.float32))
    upstream = np.full((run.samples, 6), fill, np.float32)
    upstream[0, 0] = -fill if fill == fill else 1.0
    before = upstream.tobytes()
    with np.errstate(invalid="ignore"):
        backward(run, layers, x, upstream)
        list(layer_gradients(run, layers, x, upstream))
    assert upstream.tobytes() == before


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_upstream_gradient_is_the_seeded_float64_draw(dtype: type[np.floating]) -> None:
    """The read-out is N(0, 1) drawn in float64 from the run's gradient stream (into a reused
    scratch array: the very numbers), then cast: one shape after another, larger then smaller."""
    from app.engine.network.backward import GRADIENT_STREAM
    from app.engine.network.memo import DRAWS

    run = make_run({"activation": "tanh", "init": "xavier", "seed": 5})
    for shape, position in (((30, 7), 1), ((8, 3), 2), ((30, 7), 1)):
        DRAWS.clear()
        output = np.zeros(shape, dtype)
        expected = np.random.default_rng([5, GRADIENT_STREAM, position]).standard_normal(shape)
        noise = upstream_gradient(run, position, output, "normal")
        assert noise.dtype == dtype and noise.shape == shape
        assert noise.tobytes() == expected.astype(dtype).tobytes()
        mse = upstream_gradient(run, position, output + 1, "mse")  # a - y: 1 - noise
        assert mse.tobytes() == (output + 1 - expected.astype(dtype)).tobytes()
