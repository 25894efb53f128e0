"""The activations' kernels against the NumPy steps they replace, bit for bit: ReLU, leaky ReLU and
its slope, sigmoid's 0.5 + 0.5 t after tanh, over random shapes and values with the awkward ones
mixed in (subnormals, -0.0, huge values, inf, NaN), float32 and float64, any layout, lengths
around the vector loops' ends."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine import jit
from app.engine.layers import activation_kernels as kernels
from app.engine.layers import activations
from app.engine.layers.activations import ACTIVATIONS, sigmoid
from tests.engine.bits import same_bits

Array = np.ndarray
DTYPES = [np.float32, np.float64]


def _values(rng: np.random.Generator, shape: tuple[int, ...], dtype: type, mix: float) -> Array:
    x = rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 3) + rng.uniform(-2, 2)
    info = np.finfo(dtype)
    awkward = [float(v) for v in (0.0, -0.0, info.smallest_subnormal, -info.smallest_subnormal)]
    awkward += [float(info.tiny) / 3, float(info.max), -float(info.max), math.inf, -math.inf, math.nan]
    picks = rng.random(shape) < mix
    x[picks] = rng.choice(awkward, size=int(picks.sum()))
    out: Array = x.astype(dtype)
    return out


# --- the NumPy steps the kernels replace (activations.py before them) ---


def numpy_sigmoid(x: Array) -> Array:
    out: Array = np.multiply(x, 0.5)
    np.tanh(out, out=out)
    np.multiply(out, 0.5, out=out)
    result: Array = np.add(out, 0.5, out=out)
    return result


def numpy_leaky(z: Array, alpha: float) -> Array:
    out: Array = np.where(z > 0, z, alpha * z)
    return out


def numpy_leaky_slope(z: Array, alpha: float) -> Array:
    out: Array = np.where(z > 0, 1.0, alpha).astype(z.dtype)
    return out


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(0, 40),
    cols=st.integers(1, 300),
    f64=st.booleans(),
    mix=st.sampled_from([0.0, 0.05, 0.5]),
    alpha=st.sampled_from([0.0, 0.01, 0.1, 1 / 3, 0.3, 1.0]),
    transposed=st.booleans(),
)
def test_kernels_have_numpys_bits(
    seed: int, rows: int, cols: int, f64: bool, mix: float, alpha: float, transposed: bool
) -> None:
    dtype = np.float64 if f64 else np.float32
    z = _values(np.random.default_rng(seed), (rows, cols), dtype, mix)
    if transposed:  # a view in another layout: read in C order like NumPy's loops
        z = z.T
    with np.errstate(all="ignore"):
        same_bits(kernels.relu(z), np.maximum(z, 0), "relu")
        same_bits(kernels.leaky_relu(z, alpha), numpy_leaky(z, alpha), "leaky relu")
        same_bits(kernels.leaky_relu_slope(z, alpha), numpy_leaky_slope(z, alpha), "leaky slope")
        same_bits(sigmoid(z), numpy_sigmoid(z), "sigmoid")
        t = np.tanh(z)
        same_bits(kernels.half_plus_half(t.copy()), np.add(np.multiply(t, 0.5), 0.5), "0.5 + 0.5 t")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("length", [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 1000, 4099])
def test_kernels_at_loop_lengths(dtype: type, length: int) -> None:
    z = _values(np.random.default_rng(length), (length,), dtype, 0.2)
    with np.errstate(all="ignore"):
        same_bits(kernels.relu(z), np.maximum(z, 0), "relu")
        same_bits(kernels.leaky_relu(z, 0.01), numpy_leaky(z, 0.01), "leaky relu")
        same_bits(sigmoid(z), numpy_sigmoid(z), "sigmoid")


def test_relu_of_signed_zeros_and_nan() -> None:
    """np.maximum(z, 0) gives +0 for -0 and passes NaN on; so does the kernel."""
    for dtype in DTYPES:
        z = np.array([-0.0, 0.0, math.nan, -math.nan, -1.0, 2.0], dtype)
        same_bits(kernels.relu(z), np.maximum(z, 0), "relu")
        assert math.copysign(1.0, float(kernels.relu(z)[0])) == 1.0


def test_activations_use_the_kernels_with_numpys_bits() -> None:
    """Through the registry (the engine's path), for a layer's 2-D float32 pre-activations."""
    z = _values(np.random.default_rng(5), (64, 48), np.float32, 0.05)
    params = {"alpha": 0.02}
    with np.errstate(all="ignore"):
        same_bits(ACTIVATIONS["relu"].f(z, {}), np.maximum(z, 0), "relu")
        same_bits(ACTIVATIONS["leaky_relu"].f(z, params), numpy_leaky(z, 0.02), "leaky")
        same_bits(ACTIVATIONS["leaky_relu"].df(z, params), numpy_leaky_slope(z, 0.02), "leaky df")
        same_bits(ACTIVATIONS["sigmoid"].f(z, {}), numpy_sigmoid(z), "sigmoid")
        same_bits(ACTIVATIONS["silu"].f(z, {}), z * numpy_sigmoid(z), "silu")
    assert float(sigmoid(0.0)) == 0.5 and sigmoid(np.float32(0.0)) == 0.5  # type: ignore[arg-type]


def test_kernels_refuse_other_dtypes() -> None:
    with pytest.raises(TypeError, match="int64"):
        kernels.relu(np.arange(3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="C-contiguous"):
        kernels.half_plus_half(np.zeros((3, 4)).T)


def test_warm_up_is_listed() -> None:
    assert ".layers.activation_kernels" in jit.KERNEL_MODULES
    kernels.warm_up()


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(0, 30),
    cols=st.integers(1, 200),
    f64=st.booleans(),
    mix=st.sampled_from([0.0, 0.05, 0.5]),
    biased=st.booleans(),
    alpha=st.sampled_from([0.01, 0.3]),
)
def test_layer_kernels_have_the_bits_of_the_numpy_steps(
    seed: int, rows: int, cols: int, f64: bool, mix: float, biased: bool, alpha: float
) -> None:
    """z += b (stored in z, as NumPy's += stores it), then f(z) into out, in one pass."""
    dtype = np.float64 if f64 else np.float32
    rng = np.random.default_rng(seed)
    z = _values(rng, (rows, cols), dtype, mix)
    b = _values(rng, (cols,), dtype, mix) if biased else None
    with np.errstate(all="ignore"):
        expected_z = z.copy()
        if b is not None:
            expected_z += b
        given, out = z.copy(), np.empty_like(z)
        kernels.relu_layer(given, b, out)
        same_bits(given, expected_z, "z + b")
        same_bits(out, np.maximum(expected_z, 0), "relu(z + b)")
        given, out = z.copy(), np.empty_like(z)
        kernels.leaky_relu_layer(given, b, alpha, out)
        same_bits(given, expected_z, "z + b")
        same_bits(out, numpy_leaky(expected_z, alpha), "leaky_relu(z + b)")
        given, out = z.copy(), np.empty_like(z)
        kernels.sigmoid_layer(given, b, out)
        same_bits(given, expected_z, "z + b")
        same_bits(out, numpy_sigmoid(expected_z), "sigmoid(z + b)")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(300, 700), (1000, 131), (5, 70_000)])
def test_sigmoid_layer_across_its_blocks(dtype: type, shape: tuple[int, int]) -> None:
    """Blocks of rows (about SIGMOID_BLOCK values, a last short one; or one row wider than a
    block) give the bits of the whole array's NumPy steps."""
    rng = np.random.default_rng(shape[1])
    z = _values(rng, shape, dtype, 0.01)
    b = _values(rng, shape[1:], dtype, 0.0)
    given, out = z.copy(), np.empty_like(z)
    with np.errstate(all="ignore"):
        kernels.sigmoid_layer(given, b, out)
        same_bits(out, numpy_sigmoid(z + b), "sigmoid(z + b)")


def test_layer_kernels_refuse_what_they_cannot_read() -> None:
    z, out = np.zeros((4, 3), np.float32), np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="bias must be"):
        kernels.relu_layer(z, np.zeros(4, np.float32), out)
    with pytest.raises(ValueError, match="bias must be"):
        kernels.relu_layer(z, np.zeros(3, np.float64), out)
    with pytest.raises(ValueError, match="alike"):
        kernels.leaky_relu_layer(z, None, 0.1, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="C-contiguous"):
        kernels.relu_layer(np.zeros((3, 4), np.float32).T, None, out)
    with pytest.raises(ValueError, match="overlap"):
        kernels.relu_layer(z, None, z)


_COEFFS = (
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
    0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
)  # fmt: skip


def numpy_erf(x: Array) -> Array:
    # activations.erf's NumPy steps before its kernel
    z = np.minimum(np.abs(x), 10.0)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = np.full_like(t, _COEFFS[-1])
    for c in reversed(_COEFFS[:-1]):
        poly = c + t * poly
    erfc = t * np.exp(poly - z * z)
    out: Array = np.copysign(1.0 - erfc, x)
    return out


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(0, 40),
    cols=st.integers(1, 300),
    f64=st.booleans(),
    mix=st.sampled_from([0.0, 0.05, 0.5]),
    transposed=st.booleans(),
)
def test_erf_and_gelu_have_numpys_bits(
    seed: int, rows: int, cols: int, f64: bool, mix: float, transposed: bool
) -> None:
    dtype = np.float64 if f64 else np.float32
    z = _values(np.random.default_rng(seed), (rows, cols), dtype, mix)
    if transposed:
        z = z.T
    gelu = ACTIVATIONS["gelu"]
    with np.errstate(all="ignore"):
        same_bits(activations.erf(z), numpy_erf(z), "erf")
        cdf = 0.5 * (1.0 + numpy_erf(z * math.sqrt(0.5)))
        same_bits(gelu.f(z, {}), z * cdf, "gelu")
        capped = np.minimum(np.abs(z), 40.0)  # normal_pdf's NumPy steps before its kernel
        pdf = (1.0 / math.sqrt(2.0 * math.pi)) * np.exp(-0.5 * capped * capped)
        same_bits(activations.normal_pdf(z), pdf, "normal pdf")
        same_bits(gelu.df(z, {}), cdf + z * pdf, "gelu df")


def test_erf_of_the_theory_grids_and_integers() -> None:
    """float64 grids (the theory's quadratures), values past the cap of 10, integers (as float64)."""
    u = np.linspace(-12.0, 12.0, 48_001)
    same_bits(activations.erf(u), numpy_erf(u), "grid")
    same_bits(activations.normal_cdf(u), 0.5 * (1.0 + numpy_erf(u * math.sqrt(0.5))), "cdf")
    capped = np.minimum(np.abs(u), 40.0)
    same_bits(
        activations.normal_pdf(u), (1.0 / math.sqrt(2.0 * math.pi)) * np.exp(-0.5 * capped * capped), "pdf"
    )
    ints = np.arange(-12, 13)
    same_bits(activations.erf(ints), numpy_erf(ints), "integers")  # type: ignore[arg-type]


def numpy_elu(x: Array, alpha: float) -> Array:
    out: Array = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
    return out


def numpy_elu_grad(x: Array, alpha: float) -> Array:
    out: Array = np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))).astype(x.dtype, copy=False)
    return out


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(0, 40),
    cols=st.integers(1, 300),
    f64=st.booleans(),
    mix=st.sampled_from([0.0, 0.05, 0.5]),
    alpha=st.sampled_from([0.0, 0.5, 1.0, 1 / 3, 10.0]),
    transposed=st.booleans(),
)
def test_elu_and_selu_have_numpys_bits(
    seed: int, rows: int, cols: int, f64: bool, mix: float, alpha: float, transposed: bool
) -> None:
    dtype = np.float64 if f64 else np.float32
    z = _values(np.random.default_rng(seed), (rows, cols), dtype, mix)
    if transposed:
        z = z.T
    elu, selu = ACTIVATIONS["elu"], ACTIVATIONS["selu"]
    a, scale = activations.SELU_ALPHA, activations.SELU_SCALE
    with np.errstate(all="ignore"):
        same_bits(elu.f(z, {"alpha": alpha}), numpy_elu(z, alpha), "elu")
        same_bits(elu.df(z, {"alpha": alpha}), numpy_elu_grad(z, alpha), "elu df")
        same_bits(selu.f(z, {}), scale * numpy_elu(z, a), "selu")
        same_bits(selu.df(z, {}), scale * numpy_elu_grad(z, a), "selu df")


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "selu", "gelu"])
def test_compiled_activations_keep_a_scalars_shape(name: str) -> None:
    """f and f' of a 0-d array are 0-d, as NumPy's steps gave them (np.ascontiguousarray is 1-d)."""
    activation = ACTIVATIONS[name]
    for function in (activation.f, activation.df):
        for dtype in (np.float32, np.float64):
            assert np.shape(function(np.asarray(dtype(-0.5)), {"alpha": 0.1})) == ()
