"""The forward pass: LSUV, maxout shapes, output activation, reproducible weights and inputs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from app.engine.layers.activations import ACTIVATIONS
from app.engine.layers.initializers import INITIALIZERS, LSUV_TOLERANCE
from app.engine.network.config import RunConfig, make_run
from app.engine.network.forward import Layer, forward, input_samples, lsuv_rescale
from app.engine.params import resolve_params

Float = type[np.floating[Any]]

SMALL = {"depth": 4, "width": 40, "input_dim": 30, "samples": 300}
PIECES_SPEC = ACTIVATIONS["maxout"].params[0]


def _layers(run: RunConfig, position: int = 0, dtype: Float = np.float32) -> list[Layer]:
    return list(forward(run, input_samples(run, dtype), position, dtype))


def _pieces_cases() -> list[Any]:
    assert PIECES_SPEC.name == "pieces"
    assert PIECES_SPEC.low is not None
    assert PIECES_SPEC.high is not None
    return list(range(int(PIECES_SPEC.low), int(PIECES_SPEC.high) + 1))


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("bias", ["none", "zeros", "constant"])
def test_forward_lsuv_unit_variance(activation: str, bias: str) -> None:
    """LSUV rescales every layer until Var(z) is within its tolerance (0.1) of 1."""
    run = make_run({**SMALL, "activation": activation, "init": "lsuv", "bias": bias, "depth": 6})
    for layer in _layers(run):
        variance = float(layer.z.var(dtype=np.float64))
        assert abs(variance - 1.0) < LSUV_TOLERANCE, (layer.index, variance)


@pytest.mark.parametrize("gain", [0.5, 2.0])
def test_forward_lsuv_gain_scales_after_rescaling(gain: float) -> None:
    run = make_run({**SMALL, "activation": "tanh", "init": "lsuv", "gain": gain})
    for layer in _layers(run):
        variance = float(layer.z.var(dtype=np.float64))
        assert abs(variance / gain**2 - 1.0) < LSUV_TOLERANCE


def test_lsuv_rescale_converges_from_far() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((500, 50)).astype(np.float32)
    w = (rng.standard_normal((50, 40)) * 30.0).astype(np.float32)
    scaled = lsuv_rescale(a, w, None)
    assert abs(float((a @ scaled).var(dtype=np.float64)) - 1.0) < LSUV_TOLERANCE
    # Only the scale changes: the direction of every column is kept.
    ratio = scaled / w
    np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-5)


def test_lsuv_rescale_leaves_zero_variance_alone() -> None:
    a = np.zeros((20, 5), np.float32)
    w = np.ones((5, 3), np.float32)
    np.testing.assert_array_equal(lsuv_rescale(a, w, None), w)


@pytest.mark.parametrize("pieces", _pieces_cases())
def test_forward_maxout_shapes(pieces: int) -> None:
    run = make_run({**SMALL, "activation": "maxout", "pieces": pieces, "init": "xavier", "bias": "normal"})
    layers = _layers(run)
    assert len(layers) == run.depth
    fan_in = run.input_dim
    for layer, units in zip(layers, run.widths, strict=True):
        assert layer.pieces == pieces
        assert layer.weights.shape == (fan_in, pieces * units)
        assert layer.bias is not None
        assert layer.bias.shape == (pieces * units,)
        assert layer.z.shape == (run.samples, pieces * units)
        assert layer.a.shape == (run.samples, units)
        # Piece k of unit u is column k * units + u of z.
        np.testing.assert_array_equal(layer.a, layer.z.reshape(run.samples, pieces, units).max(axis=1))
        fan_in = units


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_forward_layer_shapes_and_values(activation: str) -> None:
    """Every layer is z = a @ W + b and a = f(z), in float32, chained from the inputs."""
    run = make_run(
        {
            **SMALL,
            "activation": activation,
            "init": "xavier",
            "bias": "normal",
            "depth": 3,
            "width": [20, 10, 5],
        }
    )
    x = input_samples(run)
    a = x
    act = ACTIVATIONS[activation]
    for layer in forward(run, x, 0):
        assert layer.z.dtype == np.float32
        assert layer.a.dtype == np.float32
        assert layer.bias is not None
        np.testing.assert_allclose(layer.z, a @ layer.weights + layer.bias, rtol=1e-5, atol=1e-5)
        pieces = layer.pieces
        units = layer.a.shape[1]
        pre = layer.z.reshape(run.samples, pieces, units) if pieces > 1 else layer.z
        np.testing.assert_array_equal(layer.a, act.f(pre, run.activation_params()))
        a = layer.a
    assert [layer.a.shape[1] for layer in _layers(run)] == [20, 10, 5]


@pytest.mark.parametrize("output", list(ACTIVATIONS))
def test_forward_output_activation_last_layer_only(output: str) -> None:
    hidden = "tanh" if output != "tanh" else "relu"
    run = make_run({**SMALL, "activation": hidden, "output_activation": output, "init": "xavier"})
    layers = _layers(run)
    names = [layer.activation for layer in layers]
    assert names == [hidden] * (run.depth - 1) + [output]
    for layer in layers[:-1]:
        assert layer.pieces == 1
        np.testing.assert_array_equal(layer.a, ACTIVATIONS[hidden].f(layer.z, {}))
    last = layers[-1]
    out_act = ACTIVATIONS[output]
    params = run.output_params()
    assert last.pieces == out_act.pieces(params)
    units = last.a.shape[1]
    pre = last.z.reshape(run.samples, last.pieces, units) if last.pieces > 1 else last.z
    np.testing.assert_array_equal(last.a, out_act.f(pre, params))


def test_forward_hidden_maxout_with_plain_output() -> None:
    run = make_run(
        {**SMALL, "activation": "maxout", "pieces": 3, "output_activation": "sigmoid", "init": "xavier"}
    )
    layers = _layers(run)
    assert [layer.pieces for layer in layers] == [3, 3, 3, 1]
    assert layers[-1].z.shape == (run.samples, 40)
    assert float(layers[-1].a.min()) >= 0.0


@pytest.mark.parametrize("init", list(INITIALIZERS))
def test_forward_weights_reproducible(init: str) -> None:
    """A run's weights are a function of its seed and its position in the experiment."""
    run = make_run({**SMALL, "activation": "tanh", "init": init, "bias": "normal", "seed": 5})
    first, again = _layers(run, position=2), _layers(run, position=2)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.weights, b.weights)
        assert a.bias is not None
        assert b.bias is not None
        np.testing.assert_array_equal(a.bias, b.bias)
        np.testing.assert_array_equal(a.a, b.a)


@pytest.mark.parametrize(
    "init", [n for n, i in INITIALIZERS.items() if i.variance(30, 40, resolve_params(i.params, {})) > 0]
)
def test_forward_positions_differ(init: str) -> None:
    run = make_run({**SMALL, "activation": "tanh", "init": init, "seed": 5})
    w0 = [layer.weights for layer in _layers(run, position=0)]
    w1 = [layer.weights for layer in _layers(run, position=1)]
    for a, b in zip(w0, w1, strict=True):
        assert not np.array_equal(a, b)


def test_forward_seeds_differ() -> None:
    a = _layers(make_run({**SMALL, "activation": "tanh", "init": "xavier", "seed": 1}))
    b = _layers(make_run({**SMALL, "activation": "tanh", "init": "xavier", "seed": 2}))
    assert not np.array_equal(a[0].weights, b[0].weights)


def test_forward_weights_independent_of_inputs() -> None:
    """Input samples and weights are separate streams: changing the inputs keeps the weights."""
    base = {**SMALL, "activation": "relu", "init": "he_normal"}
    a = _layers(make_run({**base, "samples": 100}))
    b = _layers(make_run({**base, "samples": 200, "input": "uniform"}))
    for la, lb in zip(a, b, strict=True):
        np.testing.assert_array_equal(la.weights, lb.weights)


def test_input_samples_shared_across_runs() -> None:
    """Runs with the same input settings and seed see the very same samples."""
    inputs = {"input": "normal", "input_std": 2.0, "input_dim": 30, "samples": 300, "seed": 9}
    runs = [
        make_run({**inputs, "activation": "relu", "init": "he_normal", "depth": 2}),
        make_run({**inputs, "activation": "tanh", "init": "xavier", "width": [3, 4, 5]}),
        make_run({**inputs, "activation": "sigmoid", "init": "zeros", "bias": "normal", "bins": 7}),
    ]
    first = input_samples(runs[0])
    assert first.shape == (300, 30)
    assert first.dtype == np.float32
    for run in runs[1:]:
        np.testing.assert_array_equal(input_samples(run), first)
    other_seed = make_run({**inputs, "seed": 10, "activation": "relu", "init": "he_normal"})
    assert not np.array_equal(input_samples(other_seed), first)
    other_std = make_run({**inputs, "input_std": 1.0, "activation": "relu", "init": "he_normal"})
    assert not np.array_equal(input_samples(other_std), first)


def test_input_samples_float64_same_values() -> None:
    run = make_run({**SMALL, "activation": "relu", "init": "xavier"})
    x32, x64 = input_samples(run), input_samples(run, np.float64)
    assert x64.dtype == np.float64
    np.testing.assert_array_equal(x64, x32.astype(np.float64))


def test_forward_float64_uses_same_weights() -> None:
    run = make_run({**SMALL, "activation": "tanh", "init": "xavier", "bias": "normal"})
    for a, b in zip(_layers(run), _layers(run, dtype=np.float64), strict=True):
        assert b.z.dtype == np.float64
        np.testing.assert_array_equal(b.weights, a.weights.astype(np.float64))
        np.testing.assert_allclose(b.a, a.a, rtol=1e-4, atol=1e-5)


def test_forward_is_lazy() -> None:
    """Layers come one at a time: a network too big to hold at once still yields its first layer."""
    run = make_run({**SMALL, "activation": "relu", "init": "xavier", "depth": 10_000, "width": 8})
    layer = next(forward(run, input_samples(run), 0))
    assert layer.index == 0


@pytest.mark.parametrize("lag", [0, 1, 2])
def test_forward_recycle_lag_keeps_the_layers_the_caller_holds(lag: int) -> None:
    """With recycle and lag k, the k layers before the one asked for keep their values while it
    is computed (a summary may still read them), and every layer has the values of a fresh pass."""
    run = make_run({"activation": "tanh", "init": "xavier", **SMALL, "depth": 6})
    x = input_samples(run)
    fresh = [(layer.z.copy(), layer.a.copy()) for layer in forward(run, x, 0)]
    held: list[tuple[Layer, np.ndarray, np.ndarray]] = []
    for j, layer in enumerate(forward(run, x, 0, recycle=True, lag=lag)):
        np.testing.assert_array_equal(layer.z, fresh[j][0])
        np.testing.assert_array_equal(layer.a, fresh[j][1])
        for earlier, z, a in held:  # still intact after this layer was computed
            np.testing.assert_array_equal(earlier.z, z)
            np.testing.assert_array_equal(earlier.a, a)
        held = [*held, (layer, layer.z.copy(), layer.a.copy())][-lag:] if lag else []


@pytest.mark.parametrize(
    "fields",
    [
        {"activation": "relu", "init": "he_normal", "bias": "normal"},
        {"activation": "maxout", "init": "xavier", "bias": "normal", "width": [20, 35, 10], "depth": 3},
        {"activation": "tanh", "init": "lsuv", "bias": "constant"},
        {"activation": "sigmoid", "init": "truncated_normal", "bias": "none", "output_activation": "relu"},
    ],
)
def test_forward_drawn_ahead_in_a_thread_is_the_same(fields: dict[str, object]) -> None:
    """Weights drawn in a pool while the layer before is computed are the very same draws."""
    run = make_run({**SMALL, **fields})
    x = input_samples(run)
    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead = list(forward(run, x, 2, draw_pool=pool))
    plain = list(forward(run, x, 2))
    assert len(ahead) == len(plain) == run.depth
    for one, other in zip(ahead, plain, strict=True):
        for array in ("weights", "bias", "z", "a"):
            np.testing.assert_array_equal(getattr(one, array), getattr(other, array))


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid"])
@pytest.mark.parametrize("bias", ["none", "normal", "constant"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("recycle", [False, True])
def test_compiled_layers_have_the_bits_of_the_numpy_steps(
    activation: str, bias: str, dtype: Float, recycle: bool
) -> None:
    """A compiled activation adds the bias and applies f in one pass (into a recycled array with
    `recycle`): z and f(z) have the bits of the NumPy steps z = a @ W; z += b; f(z), layer by
    layer from the layer's own weights and biases."""
    run = make_run(
        {
            "activation": activation,
            "init": "he_normal",
            "bias": bias,
            "bias_value": -0.5,
            "depth": 4,
            "width": 24,
        }
    )
    x = input_samples(run, dtype)
    a = x
    act = ACTIVATIONS[activation]
    for layer in forward(run, x, 0, dtype, recycle=recycle):
        z = a @ layer.weights
        if layer.bias is not None:
            z += layer.bias
        if activation == "sigmoid":  # activations.sigmoid's NumPy steps before its kernel
            expected = np.add(np.multiply(np.tanh(np.multiply(z, 0.5)), 0.5), 0.5)
        else:
            expected = np.maximum(z, 0) if activation == "relu" else np.where(z > 0, z, 0.01 * z)
        assert layer.z.tobytes() == z.tobytes() and layer.a.tobytes() == expected.tobytes()
        assert layer.a.dtype == dtype and act.layer is not None
        a = layer.a.copy()  # with recycle, the next layer's f(z) may take this array
