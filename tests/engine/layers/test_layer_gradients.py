"""Every layer type's backward against central differences in float64, one layer at a time."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from app.engine.layers.dense import Dense
from app.engine.layers.norm import NORMS, Norm
from app.engine.layers.pointwise import Pointwise
from app.engine.layers.residual import Layer, Residual

Array = np.ndarray
H = 1e-6


def _numeric(f: Callable[[], float], x: Array) -> Array:
    """Central differences of f with respect to every entry of x (changed in place, restored)."""
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        keep = x[i]
        x[i] = keep + H
        up = f()
        x[i] = keep - H
        down = f()
        x[i] = keep
        out[i] = (up - down) / (2 * H)
    return out


def _check(layer: object, x: Array, seed: int = 1, atol: float = 1e-8) -> None:
    """dL/dx and dL/d(every parameter) of L = sum(R * layer(x)) against central differences."""
    rng = np.random.default_rng(seed)
    out = layer.forward(x, keep=True)  # type: ignore[attr-defined]
    r = rng.standard_normal(out.shape)

    def loss() -> float:
        return float(np.sum(r * layer.forward(x)))  # type: ignore[attr-defined]

    layer.forward(x, keep=True)  # type: ignore[attr-defined]
    dx = layer.backward(r)  # type: ignore[attr-defined]
    np.testing.assert_allclose(dx, _numeric(loss, x), rtol=1e-6, atol=atol)
    params: dict[str, Array] = layer.params  # type: ignore[attr-defined]
    grads = dict(layer.grads)  # type: ignore[attr-defined]
    assert set(grads) == set(params)
    for name, p in params.items():
        np.testing.assert_allclose(grads[name], _numeric(loss, p), rtol=1e-6, atol=1e-8, err_msg=name)


def _x(shape: tuple[int, int] = (7, 5), seed: int = 0) -> Array:
    return np.random.default_rng(seed).standard_normal(shape) * 1.3 + 0.2


def _perturbed(norm: Norm) -> Norm:
    """Scale and shift away from 1 and 0, so their gradients are checked where they matter."""
    rng = np.random.default_rng(5)
    for p in norm.params.values():
        p += rng.standard_normal(p.shape) * 0.5
    return norm


def test_dense() -> None:
    rng = np.random.default_rng(2)
    _check(Dense(rng.standard_normal((5, 4)), rng.standard_normal(4)), _x())
    _check(Dense(rng.standard_normal((5, 3)), None), _x())


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu", "selu", "softplus"])
def test_activation(name: str) -> None:
    from app.engine.layers.activations import ACTIVATIONS

    params = {p.name: p.default for p in ACTIVATIONS[name].params}
    # GELU's erf is a fit good to 1.2e-7 (activations.py): its f' is exact, its differences not
    _check(Pointwise(name, params), _x(), atol=1e-6 if name == "gelu" else 1e-8)


@pytest.mark.parametrize("kind", sorted(NORMS))
def test_norm(kind: str) -> None:
    _check(_perturbed(NORMS[kind](5, np.float64)), _x())


@pytest.mark.parametrize("kind", sorted(NORMS))
def test_norm_starts_as_scale_one_shift_zero(kind: str) -> None:
    norm = NORMS[kind](4, np.float64)
    assert np.all(norm.params["gamma"] == 1.0)
    assert "beta" not in norm.params if kind == "rms" else np.all(norm.params["beta"] == 0.0)


def test_norms_standardize_along_their_axis() -> None:
    x = _x((50, 8))
    bn, ln, rms = (NORMS[k](8, np.float64).forward(x) for k in ("batch", "layer", "rms"))
    np.testing.assert_allclose(bn.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(bn.var(axis=0), x.var(axis=0) / (x.var(axis=0) + 1e-5))
    np.testing.assert_allclose(ln.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(
        np.mean(rms**2, axis=1), np.mean(x**2, axis=1) / (np.mean(x**2, axis=1) + 1e-5)
    )


def _branch(m: int, width: int = 5, seed: int = 3) -> list[Layer]:
    rng = np.random.default_rng(seed)
    layers: list[Layer] = []
    for _ in range(m):
        layers += [
            Pointwise("tanh", {}),
            Dense(rng.standard_normal((width, width)) * 0.6, rng.standard_normal(width)),
        ]
    return layers


@pytest.mark.parametrize("m", [1, 2])
@pytest.mark.parametrize("placement", ["pre", "post", None])
@pytest.mark.parametrize("norm", ["batch", "layer", "rms"])
@pytest.mark.parametrize("learn", [False, True])
def test_residual(m: int, placement: str | None, norm: str, learn: bool) -> None:
    n = None if placement is None else _perturbed(NORMS[norm](5, np.float64))
    block = Residual(_branch(m), 0.7, n, placement or "pre", learn_scale=learn)  # type: ignore[arg-type]
    rng = np.random.default_rng(9)
    x = _x()
    out = block.forward(x, keep=True)
    r = rng.standard_normal(out.shape)

    def loss() -> float:
        return float(np.sum(r * block.forward(x)))

    dx = block.backward(r)
    np.testing.assert_allclose(dx, _numeric(loss, x), rtol=1e-6, atol=1e-8)
    inner = [*block.children(), block]
    for layer in inner:
        for name, p in layer.params.items():  # type: ignore[attr-defined]
            got = np.asarray(layer.grads[name])  # type: ignore[attr-defined]
            np.testing.assert_allclose(got, _numeric(loss, p), rtol=1e-6, atol=1e-8, err_msg=name)


def test_rezero_starts_as_the_identity() -> None:
    x = _x()
    block = Residual(_branch(2), 0.0, None, learn_scale=True)
    np.testing.assert_array_equal(block.forward(x), x)


def test_backward_without_a_kept_forward_is_refused() -> None:
    dense = Dense(np.ones((5, 2)), None)
    dense.forward(_x())
    with pytest.raises(RuntimeError, match="keep=True"):
        dense.backward(np.ones((7, 2)))


@pytest.mark.parametrize("pieces", [2, 3])
def test_maxout(pieces: int) -> None:
    """Maxout as a layer: the largest of each unit's k pieces (laid out side by side as the plain
    stack's), g routed to the winner."""
    from app.engine.layers.pointwise import Maxout

    layer = Maxout("maxout", {"pieces": pieces})
    z = np.random.default_rng(3).standard_normal((6, 4 * pieces))
    out = layer.forward(z, keep=True)
    np.testing.assert_array_equal(out, z.reshape(6, pieces, 4).max(axis=1))
    g = np.random.default_rng(4).standard_normal(out.shape)
    np.testing.assert_allclose(
        layer.backward(g), _numeric(lambda: float(np.sum(g * layer.forward(z))), z), atol=1e-8
    )
    with pytest.raises(ValueError, match="elementwise"):
        Maxout("relu", {})


# (the formulas as the layers computed them before their statistics were shared: each output and
# each running average must keep its bits, or old links would change their answers)
def _reference(x: Array, axis: int, centred: bool) -> Array:
    n = x.shape[axis]
    xhat = x - x.mean(axis=axis, keepdims=True, dtype=x.dtype) if centred else x
    spec = "ij,ij->j" if axis == 0 else "ij,ij->i"
    var = np.expand_dims(np.einsum(spec, xhat, xhat), axis) / x.dtype.type(n)
    inv = (1.0 / np.sqrt(var + 1e-5)).astype(x.dtype, copy=False)
    out: Array = xhat * inv
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1000, 100), (37, 13), (1, 5), (300, 700)])
@pytest.mark.parametrize("kind", sorted(NORMS))
def test_norm_forward_keeps_its_bits(kind: str, shape: tuple[int, int], dtype: type[np.floating]) -> None:
    norm = NORMS[kind](shape[1], dtype)
    x = (np.random.default_rng(0).standard_normal(shape) * 3 + 2).astype(dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.testing.assert_array_equal(norm.forward(x), _reference(x, norm.axis, norm.centred))
        mean, inv = norm.statistics(x)
        y, _ = norm.apply(x, mean, inv)
    np.testing.assert_array_equal(y, norm.forward(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_batch_norm_moves_its_averages_with_the_batchs_own_statistics(
    dtype: type[np.floating],
) -> None:
    """The running averages move by the batch's mean and variance as x.mean and x.var give them,
    bit for bit (forward computes them once for both)."""
    from app.engine.layers.norm import BatchNorm

    norm = BatchNorm(50, dtype)
    norm.track = True
    rng = np.random.default_rng(1)
    mean, var = np.zeros(50, dtype), np.ones(50, dtype)
    for step in range(4):
        x = (rng.standard_normal((128, 50)) * (step + 1) + step).astype(dtype)
        norm.forward(x)
        mean = (0.9 * mean + (1 - 0.9) * x.mean(axis=0)).astype(dtype)
        var = (0.9 * var + (1 - 0.9) * x.var(axis=0)).astype(dtype)
        np.testing.assert_array_equal(norm.running_mean, mean)
        np.testing.assert_array_equal(norm.running_var, var)
    norm.track = False
    norm.forward(x * 5)
    np.testing.assert_array_equal(norm.running_mean, mean)  # evaluation passes leave them
