"""The forward-mode Jacobian and its spectrum: against finite differences, torch.func.jacrev
(where torch is installed) and the interlacing bounds of the randomized method."""

from __future__ import annotations

import numpy as np
import pytest

from app import codec
from app.engine.layers.activations import ACTIVATIONS
from app.engine.measure.jacobian import (
    carry,
    directions,
    mean_squared_singular_value,
    spectrum,
    spectrum_layers,
)
from app.engine.network.config import RunConfig
from app.engine.network.forward import forward, input_samples

LINK = (
    "depth=4&width=30&input_dim=20&samples=3&bias=normal&bias_std=0.2"
    "&run=maxout,he_normal,pieces:3&run=tanh,xavier,gain:1.5&run=elu,he_normal&run=gelu,orthogonal"
)
RUNS = codec.to_experiment(codec.decode(LINK)).runs


def _jacobian(run: RunConfig, position: int, x: np.ndarray, probes: np.ndarray | None = None) -> np.ndarray:
    jac = None
    for layer in forward(run, x, position, np.float64):
        params = run.activation_params_at(layer.index)
        jac = carry(jac, probes, layer.weights, layer.z, ACTIVATIONS[layer.activation], params, layer.pieces)
    assert jac is not None
    return jac


def _output(run: RunConfig, position: int, x: np.ndarray) -> np.ndarray:
    return list(forward(run, x, position, np.float64))[-1].a


@pytest.mark.parametrize("position", range(len(RUNS)))
def test_carry_matches_finite_differences(position: int) -> None:
    run = RUNS[position]
    x = input_samples(run, np.float64)
    jac = _jacobian(run, position, x)
    h, fd = 1e-6, np.zeros_like(jac)
    for i in range(run.input_dim):
        e = np.zeros(run.input_dim)
        e[i] = h
        fd[:, :, i] = (_output(run, position, x + e) - _output(run, position, x - e)) / (2 * h)
    np.testing.assert_allclose(jac, fd, atol=1e-7 * np.abs(jac).max())


@pytest.mark.parametrize("position", range(len(RUNS)))
def test_carry_matches_torch_jacrev(position: int) -> None:
    torch = pytest.importorskip("torch")
    from torch.func import jacrev

    run = RUNS[position]
    x = input_samples(run, np.float64)
    layers = list(forward(run, x, position, np.float64))
    jac = _jacobian(run, position, x)

    def net(v):
        for layer in layers:
            z = v @ torch.from_numpy(layer.weights)
            if layer.bias is not None:
                z = z + torch.from_numpy(layer.bias)
            if layer.pieces > 1:
                v = z.reshape(layer.pieces, -1).max(dim=0).values
            else:
                v = {
                    "tanh": torch.tanh,
                    "elu": torch.nn.functional.elu,
                    "gelu": torch.nn.functional.gelu,
                }[layer.activation](z)
        return v

    for s in range(x.shape[0]):
        expected = jacrev(net)(torch.from_numpy(x[s])).numpy()
        np.testing.assert_allclose(jac[s], expected, atol=1e-6 * np.abs(expected).max())


def test_random_directions_interlace_and_estimate_the_mean_square() -> None:
    run = codec.to_experiment(
        codec.decode("depth=3&width=300&input_dim=1200&samples=1&run=tanh,xavier")
    ).runs[0]
    x = input_samples(run, np.float64)
    probes = directions(run.input_dim, max(run.widths), np.random.default_rng(1))
    assert probes is not None and probes.shape == (1200, 256)
    np.testing.assert_allclose(probes.T @ probes, np.eye(256), atol=1e-12)
    exact = _jacobian(run, 0, x)
    sketch = _jacobian(run, 0, x, probes)
    np.testing.assert_allclose(sketch, exact @ probes, rtol=1e-9, atol=1e-12)
    full, part = np.linalg.svd(exact[0], compute_uv=False), np.linalg.svd(sketch[0], compute_uv=False)
    assert part.max() <= full.max() * (1 + 1e-12) and part.min() >= full.min() * (1 - 1e-12)
    estimate = mean_squared_singular_value(sketch, run.input_dim)
    assert estimate == pytest.approx(mean_squared_singular_value(exact, run.input_dim), rel=0.1)


def test_directions_exact_up_to_1024() -> None:
    rng = np.random.default_rng(0)
    assert directions(1024, 1024, rng) is None
    assert directions(100, 4096, rng) is None  # few inputs: carrying all of them is cheap
    assert directions(2048, 100, rng) is not None


def test_spectrum_of_known_singular_values() -> None:
    rng = np.random.default_rng(3)
    u, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    v, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    sigma = np.array([4.0, 2.0, 1.0, 0.0])
    jac = (u[:, :4] * sigma) @ v.T
    s = spectrum(jac[None], 10)
    assert s is not None
    assert s.max == pytest.approx(4.0) and s.min == pytest.approx(1.0) and s.spread == pytest.approx(4.0)
    assert s.zeros == 1 and s.count == 4 and int(s.counts.sum()) == 3
    assert s.var_sq == pytest.approx(np.var(sigma**2))
    assert s.log10_edges[0] == pytest.approx(0.0) and s.log10_edges[-1] == pytest.approx(np.log10(4.0))
    assert mean_squared_singular_value(jac[None], 4) == pytest.approx(21 / 4)


def test_spectrum_of_nonfinite_is_none() -> None:
    assert spectrum(np.array([[[np.inf, 1.0]]]), 5) is None


def test_spectrum_layers_evenly_spaced_ending_at_the_last() -> None:
    assert spectrum_layers(5, 8) == (1, 2, 3, 4, 5)
    assert spectrum_layers(64, 8) == (8, 16, 24, 32, 40, 48, 56, 64)
    assert spectrum_layers(10, 3)[-1] == 10 and len(spectrum_layers(10, 3)) == 3
