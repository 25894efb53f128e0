"""The norm layers' arithmetic against the formulas they computed before it was made faster, bit
for bit: forward, statistics and apply, backward (input and parameter gradients) and a training
BatchNorm's running averages, over random shapes, dtypes, scales and layouts. Old links must keep
their bytes (tests/api/test_answer_digests.py pins some; this covers every shape)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine.layers import norm_kernels
from app.engine.layers.norm import EPS, NORMS, BatchNorm, Norm

Array = np.ndarray


# The reference: the layers' formulas before the einsum sums and the shared backward sums
# (x.mean, np.mean, a fresh array per step), kept here as they were.
def _old_statistics(x: Array, axis: int, centred: bool) -> tuple[Array | None, Array, Array]:
    """(mean, x - mean, ss / n) as the old forward computed them."""
    mean = x.mean(axis=axis, keepdims=True, dtype=x.dtype) if centred else None
    xc = x if mean is None else np.subtract(x, mean)
    spec = "ij,ij->j" if axis == 0 else "ij,ij->i"
    var = np.expand_dims(np.einsum(spec, xc, xc), axis) / xc.dtype.type(xc.shape[axis])
    return mean, xc, var


def _old_inv(var: Array) -> Array:
    one, eps = var.dtype.type(1.0), var.dtype.type(EPS)
    inv: Array = np.divide(one, np.sqrt(np.add(var, eps)))
    return inv


def _old_forward(norm: Norm, x: Array) -> tuple[Array, Array, Array, Array | None, Array]:
    """(y, x-hat, inv, mean, var) of the old forward."""
    mean, xc, var = _old_statistics(x, norm.axis, norm.centred)
    inv = _old_inv(var)
    xhat = xc * inv
    gamma, beta = norm.params["gamma"], norm.params.get("beta")
    if bool(np.all(gamma == 1)) and (beta is None or not np.any(beta)):
        return xhat, xhat, inv, mean, var
    y = xhat * gamma
    if beta is not None:
        y += beta
    return y, xhat, inv, mean, var


def _old_backward(norm: Norm, g: Array, xhat: Array, inv: Array) -> tuple[Array, dict[str, Array]]:
    grads = {"gamma": np.einsum("ij,ij->j", g, xhat)}
    if norm.shift:
        grads["beta"] = g.sum(axis=0)
    gamma = norm.params["gamma"]
    d = g if bool(np.all(gamma == 1)) else g * gamma
    spec = "ij,ij->j" if norm.axis == 0 else "ij,ij->i"
    along = np.expand_dims(np.einsum(spec, d, xhat), norm.axis) / g.dtype.type(xhat.shape[norm.axis])
    out = d - np.mean(d, axis=norm.axis, keepdims=True) if norm.centred else d.copy()
    out -= xhat * along
    out *= inv
    return out.astype(g.dtype, copy=False), grads


def _same_bits(a: Array | None, b: Array | None, what: str) -> None:
    """Equal bit patterns (a -0.0 for a 0.0, or another NaN, fails), and the same dtype and shape."""
    assert a is not None and b is not None, what
    assert a.dtype == b.dtype and a.shape == b.shape, f"{what}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
    bits = np.uint32 if a.dtype == np.float32 else np.uint64
    same = np.ascontiguousarray(a).view(bits) == np.ascontiguousarray(b).view(bits)
    assert same.all(), f"{what}: {np.count_nonzero(~same)} of {a.size} values differ"


def _input(
    rng: np.random.Generator, shape: tuple[int, int], dtype: type, layout: str, special: bool
) -> Array:
    """Values of any size and offset (a mean far from 0 too), in the layout asked for; `special` adds
    a constant column (variance 0), a column of -0.0 and, in another, an inf and a NaN."""
    n, w = shape
    x: Array = rng.standard_normal((n, w)) * 10.0 ** rng.uniform(-3, 3) + rng.uniform(-50, 50)
    if special and w >= 3:
        x[:, 0] = 2.5
        x[:, 1] = -0.0
        if w >= 4 and n >= 2:
            x[0, 2], x[-1, 3] = np.inf, np.nan
    x = x.astype(dtype)
    if layout == "transposed":  # F order: x.T of a C array
        return np.ascontiguousarray(x.T).T
    if layout == "strided":  # every other column of a wider array
        wide: Array = np.zeros((n, 2 * w), dtype=dtype)
        wide[:, ::2] = x
        view: Array = wide[:, ::2]
        return view
    return x


def _perturb(norm: Norm, rng: np.random.Generator) -> None:
    for p in norm.params.values():
        p += (rng.standard_normal(p.shape) * 0.7).astype(p.dtype)


def _check(kind: str, x: Array, seed: int, scaled: bool, grad_dtype: type | None = None) -> None:
    rng = np.random.default_rng(seed)
    norm = NORMS[kind](x.shape[1], x.dtype.type)
    if scaled:
        _perturb(norm, rng)
    g = (rng.standard_normal(x.shape) * 10.0 ** rng.uniform(-3, 3)).astype(grad_dtype or x.dtype)
    before = x.copy()
    with np.errstate(all="ignore"):
        y_old, xhat_old, inv_old, mean_old, _ = _old_forward(norm, x)
        dx_old, grads_old = _old_backward(norm, g, xhat_old, inv_old)
        y = norm.forward(x, keep=True)
        dx = norm.backward(g)
        _same_bits(y, y_old, "forward")
        _same_bits(dx, dx_old, "backward dx")
        for name, grad in grads_old.items():
            _same_bits(norm.grads[name], grad, f"d{name}")
        # an experiment at init skips the parameters' gradients: dx keeps its bits
        bare = NORMS[kind](x.shape[1], x.dtype.type)
        bare.params = {name: p.copy() for name, p in norm.params.items()}
        bare.parameter_gradients = False
        bare.forward(x, keep=True)
        _same_bits(bare.backward(g), dx_old, "backward dx without the parameters' gradients")
        assert bare.grads == {}
        _same_bits(norm.forward(x, keep=False), y_old, "forward without keep")
        mean, inv = norm.statistics(x)
        _same_bits(inv, inv_old, "statistics inv")
        if norm.centred:
            _same_bits(mean, mean_old, "statistics mean")
        y_applied, xhat = norm.apply(x, mean, inv)
        _same_bits(y_applied, y_old, "apply y")
        _same_bits(xhat, xhat_old, "apply x-hat")
    _same_bits(x, before, "the input, untouched")


# What the bit checks draw besides the shape: the norm, dtype, layout, special values, scale, seed.
CASES = {
    "kind": st.sampled_from(sorted(NORMS)),
    "dtype": st.sampled_from([np.float32, np.float64]),
    "layout": st.sampled_from(["C", "C", "C", "transposed", "strided"]),
    "special": st.booleans(),
    "scaled": st.booleans(),
    "seed": st.integers(0, 2**32 - 1),
}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 300), w=st.integers(1, 300), **CASES)
def test_norms_keep_their_bits(
    kind: str, n: int, w: int, dtype: type, layout: str, special: bool, scaled: bool, seed: int
) -> None:
    x = _input(np.random.default_rng(seed), (n, w), dtype, layout, special)
    _check(kind, x, seed, scaled)


# Shapes where sums change their order inside NumPy (one column: a contiguous, pairwise sum;
# long columns; wide rows past NumPy's 8192-element buffer, where the kernels stop), the
# benchmark's large layers.
EDGES = [
    (1, 1),
    (1000, 1),
    (128, 1),
    (20000, 2),
    (2, 20000),
    (4096, 512),
    (9000, 3),
    (1000, 512),
    (257, 512),
    (1, 2),
    (3, 8192),
    (2, 8193),
]


@pytest.mark.parametrize("shape", EDGES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", sorted(NORMS))
def test_norms_keep_their_bits_at_edge_shapes(kind: str, shape: tuple[int, int], dtype: type) -> None:
    for scaled in (False, True):
        _check(kind, _input(np.random.default_rng(7), shape, dtype, "C", special=True), 3, scaled)


@pytest.mark.parametrize("kind", sorted(NORMS))
def test_the_bit_checks_reach_the_kernels(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """C-ordered layers of one dtype and 2 to 8192 units (what networks make) run the kernels the
    checks above compare; other layouts, one unit, wider layers and a wider scale NumPy's steps."""
    calls: list[str] = []

    def spy(name: str) -> Any:
        kernel = getattr(norm_kernels, name)

        def counted(*args: object) -> Any:
            calls.append(name)
            return kernel(*args)

        return counted

    for name in ("batch_forward", "row_forward", "batch_backward", "row_backward"):
        monkeypatch.setattr(norm_kernels, name, spy(name))
    rng = np.random.default_rng(0)
    which = "batch" if kind == "batch" else "row"
    forward, backward = f"{which}_forward", f"{which}_backward"
    for shape, layout, expected in [
        ((30, 8), "C", [forward, backward]),
        ((2, 8192), "C", [forward, backward]),
        ((30, 8), "transposed", []),
        ((30, 8), "strided", [backward]),  # its x-hat is a new C-ordered array
        ((30, 1), "C", []),
        ((2, 8193), "C", []),
    ]:
        x = _input(rng, shape, np.float32, layout, special=False)
        norm = NORMS[kind](shape[1])
        norm.forward(x, keep=True)
        norm.backward(np.ones(shape, np.float32))
        assert calls == expected, (shape, layout)
        calls.clear()
    wide = NORMS[kind](8, np.float64)  # a float32 layer with float64 parameters: NumPy widens
    wide.forward(_input(rng, (30, 8), np.float32, "C", special=False), keep=True)
    wide.backward(np.ones((30, 8), np.float32))
    assert calls == []


@pytest.mark.parametrize("kind", sorted(NORMS))
def test_norms_keep_their_bits_with_a_wider_gradient(kind: str) -> None:
    """A float64 gradient through a float32 layer (rounded where it was)."""
    x = _input(np.random.default_rng(1), (50, 20), np.float32, "C", special=False)
    _check(kind, x, 2, scaled=False, grad_dtype=np.float64)
    _check(kind, x, 2, scaled=True, grad_dtype=np.float64)


@pytest.mark.parametrize(
    ("dtype", "x_dtype"),
    [(np.float32, np.float32), (np.float64, np.float64), (np.float32, np.float64), (np.float64, np.float32)],
)
@pytest.mark.parametrize("width", [1, 2, 64])
def test_training_batch_norm_keeps_its_running_averages_bits(dtype: type, x_dtype: type, width: int) -> None:
    """The moving averages take forward's mean and variance: the old formulas' bits, step by step
    (moved_averages where the dtypes agree; a layer fed another dtype keeps NumPy's promotions)."""
    norm = BatchNorm(width, dtype)
    norm.track = True
    rng = np.random.default_rng(4)
    mean: Array = np.zeros(width, dtype)
    var: Array = np.ones(width, dtype)
    for step in range(5):
        x = _input(rng, (100, width), x_dtype, "C", special=False)
        _, _, _, batch_mean, batch_var = _old_forward(norm, x)
        assert batch_mean is not None
        mean = (0.9 * mean + (1 - 0.9) * batch_mean[0]).astype(batch_mean.dtype)
        var = (0.9 * var + (1 - 0.9) * batch_var[0]).astype(batch_var.dtype)
        norm.forward(x, keep=True)
        _same_bits(norm.running_mean, mean, f"running mean, step {step}")
        _same_bits(norm.running_var, var, f"running variance, step {step}")
        norm.backward(rng.standard_normal(x.shape).astype(x_dtype))
        _perturb(norm, rng)  # as an optimizer step would: the next forward scales and shifts


def test_the_reference_can_fail() -> None:
    """The comparison sees one ulp and a zero's sign (so the tests above can fail)."""
    a = np.array([1.0, 0.0], np.float32)
    with pytest.raises(AssertionError):
        _same_bits(a, np.array([np.nextafter(np.float32(1), np.float32(2)), 0.0], np.float32), "ulp")
    with pytest.raises(AssertionError):
        _same_bits(a, np.array([1.0, -0.0], np.float32), "sign")


@pytest.mark.parametrize("kind", list(NORMS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scale_one_and_shift_zero_are_read_as_before(kind: str, dtype: type) -> None:
    """_unscaled and _identity (compared as bytes) answer as (gamma == 1).all() and
    not beta.any() did: -0.0 is a zero shift, one ulp off 1 or 0, NaN and -1 are not."""
    width = 7
    odd: list[Any] = [
        np.nextafter(dtype(1), dtype(2)),
        np.nextafter(dtype(1), dtype(0)),
        -1.0,
        np.nan,
        0.0,
        np.inf,
    ]
    for gamma_value in [1.0, *odd]:
        betas: list[Any] = [0.0, -0.0, np.finfo(dtype).smallest_subnormal, 1.0, np.nan]
        for beta_value in betas:
            norm = NORMS[kind](width, dtype)
            norm.params["gamma"][3] = gamma_value
            if "beta" in norm.params:
                norm.params["beta"][5] = beta_value
            beta = norm.params.get("beta")
            unscaled = bool((norm.params["gamma"] == 1).all())
            assert norm._unscaled() == unscaled, (gamma_value, beta_value)
            assert norm._identity() == (unscaled and (beta is None or not beta.any())), (
                gamma_value,
                beta_value,
            )


@pytest.mark.parametrize("kind", sorted(NORMS))
def test_a_scaled_layer_refuses_an_input_of_another_width(kind: str) -> None:
    """A scale and shift of 16 units beside 32 columns: NumPy's broadcasting error, as before the
    kernels (which read the scale as a vector of the rows' length: `fits` sends them elsewhere)."""
    layer = NORMS[kind](16)
    _perturb(layer, np.random.default_rng(0))
    x = np.ones((4, 32), np.float32)
    assert not norm_kernels.fits(x, *layer.params.values())
    with pytest.raises(ValueError, match="broadcast"):
        layer.forward(x)
