"""The backward pass's kernels against the NumPy steps they replace, bit for bit: each dL/dz
product and its peak, the peak alone and np.std(dtype=np.float64), over random shapes and values
with the awkward ones mixed in (subnormals, -0.0, huge values, inf, NaN), float32 and float64,
lengths around NumPy's pairwise blocks (8, 128), its recursion and its 8192-value cast buffer."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine import jit
from app.engine.layers.activations import ACTIVATIONS
from app.engine.network import pass_kernels as kernels
from tests.engine.bits import same_bits

Array = np.ndarray
DTYPES = [np.float32, np.float64]


def _same_float(a: float, b: float, what: str) -> None:
    assert (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b)), (
        f"{what}: {a!r} != {b!r}"
    )


def _values(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: type, mix: float, nonfinite: bool
) -> Array:
    """Normal values of a random scale and offset; a share `mix` replaced by awkward ones."""
    x = rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 3) + rng.uniform(-2, 2)
    info = np.finfo(dtype)
    awkward = [
        float(v) for v in (0.0, -0.0, info.smallest_subnormal, -3 * info.smallest_subnormal, info.tiny / 3)
    ]
    awkward += [float(info.max) / 2]
    awkward += [-float(info.max), 1.0, -1.0, 0.5, 1e3]
    if nonfinite:
        awkward += [math.inf, -math.inf, math.nan, -math.nan]
    picks = rng.random(shape) < mix
    x[picks] = rng.choice(awkward, size=int(picks.sum()))
    out: Array = x.astype(dtype)
    return out


# --- the NumPy steps the kernels replace (backward.py before them) ---


def numpy_peak(x: Array) -> float:
    # max |x| as max(max x, -min x): two reductions (NaN propagates through both)
    if not x.size:
        return 0.0
    return max(float(np.maximum.reduce(x, axis=None)), -float(np.minimum.reduce(x, axis=None)))


def numpy_sigmoid_delta(s: Array, g: Array, dtype: type) -> Array:
    slope = np.subtract(1.0, s)
    slope = np.multiply(s, slope, out=slope)
    out: Array = (slope * g).astype(dtype, copy=False)
    return out


def numpy_tanh_delta(t: Array, g: Array, dtype: type) -> Array:
    slope = np.square(t)
    slope = np.subtract(1.0, slope, out=slope)
    out: Array = (slope * g).astype(dtype, copy=False)
    return out


def numpy_relu_delta(z: Array, g: Array) -> Array:
    out: Array = np.multiply(g, z > 0, dtype=z.dtype)
    return out


def _check_delta(got: tuple[Array, float], expected: Array, what: str) -> None:
    out, peak = got
    same_bits(out, expected, what)
    reference = numpy_peak(expected)
    assert (math.isnan(peak) and math.isnan(reference)) or peak == reference, (
        f"{what} peak {peak} != {reference}"
    )


LENGTHS = [0, 1, 2, 7, 8, 9, 15, 16, 17, 127, 128, 129, 255, 256, 257, 1000, 8191, 8192, 8193, 16385, 40_000]


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(0, 40),
    cols=st.integers(1, 300),
    f64=st.booleans(),
    mix=st.sampled_from([0.0, 0.05, 0.5]),
    nonfinite=st.booleans(),
)
def test_deltas_have_numpys_bits(
    seed: int, rows: int, cols: int, f64: bool, mix: float, nonfinite: bool
) -> None:
    dtype = np.float64 if f64 else np.float32
    rng = np.random.default_rng(seed)
    shape = (rows, cols)
    a = _values(rng, shape, dtype, mix, nonfinite)
    g = _values(rng, shape, dtype, mix, nonfinite)
    s = np.clip(a, 0, 1) if not nonfinite else a  # a sigmoid's output, or anything
    with np.errstate(all="ignore"):
        # each kernel writes over its g: a copy, so the reference reads the original
        _check_delta(kernels.sigmoid_delta(s, g.copy()), numpy_sigmoid_delta(s, g, dtype), "sigmoid")
        _check_delta(kernels.tanh_delta(a, g.copy()), numpy_tanh_delta(a, g, dtype), "tanh")
        _check_delta(kernels.relu_delta(a, g.copy()), numpy_relu_delta(a, g), "relu")
        slope = _values(rng, shape, dtype, mix, nonfinite)
        _check_delta(kernels.product_delta(slope, g.copy()), (slope * g).astype(dtype), "product")


def test_deltas_are_written_over_g() -> None:
    """g is given up: dL/dz is written where it was (no fresh array to fault in), and the
    array returned is g itself."""
    rng = np.random.default_rng(3)
    s = rng.random((50, 33)).astype(np.float32)
    g = rng.standard_normal((50, 33)).astype(np.float32)
    for kernel in (kernels.sigmoid_delta, kernels.tanh_delta, kernels.relu_delta, kernels.product_delta):
        given = g.copy()
        out, _ = kernel(s, given)
        assert out is given


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("length", LENGTHS)
def test_peak_and_deltas_at_block_lengths(dtype: type, length: int) -> None:
    """Every length around the vector loops' ends; the peak in any position, NaN and inf alone."""
    rng = np.random.default_rng(length)
    x = _values(rng, (length,), dtype, 0.05, False)
    _same_float(kernels.peak(x), numpy_peak(x), "peak")
    g = _values(rng, (length,), dtype, 0.05, False)
    with np.errstate(all="ignore"):
        _check_delta(kernels.sigmoid_delta(x, g.copy()), numpy_sigmoid_delta(x, g, dtype), "sigmoid")
    for special in (math.inf, -math.inf, math.nan):
        for where in {0, length // 2, length - 1} if length else set():
            y = x.copy()
            y[where] = special
            got, expected = kernels.peak(y), numpy_peak(y)
            assert (math.isnan(got) and math.isnan(expected)) or got == expected


def test_peak_of_a_strided_view_and_a_2d_array() -> None:
    x = np.random.default_rng(1).standard_normal((60, 40)).astype(np.float32)
    for view in (x, x.T, x[::3, 1::2], x[:0]):
        _same_float(kernels.peak(view), numpy_peak(view), "peak")


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 130),
    cols=st.integers(1, 400),
    f64=st.booleans(),
    mix=st.sampled_from([0.0, 0.05]),
    offset=st.sampled_from([0.0, 1.0, 1e4]),
)
def test_std64_has_numpys_bits(seed: int, rows: int, cols: int, f64: bool, mix: float, offset: float) -> None:
    """Random shapes reach past one 8192-value buffer (float32's mean is summed in chunks)."""
    dtype = np.float64 if f64 else np.float32
    rng = np.random.default_rng(seed)
    x: Array = (_values(rng, (rows, cols), dtype, mix, False) + dtype(offset)).astype(dtype)
    with np.errstate(all="ignore"):
        _same_float(kernels.std64(x), float(x.std(dtype=np.float64)), "std")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("length", [*LENGTHS[1:], 3 * 8192 + 5, 100_003])
def test_std64_at_block_lengths(dtype: type, length: int) -> None:
    rng = np.random.default_rng(length + 1)
    x = _values(rng, (length,), dtype, 0.0, False) * dtype(1e3) + dtype(7)
    _same_float(kernels.std64(x), float(x.std(dtype=np.float64)), "std")
    with np.errstate(all="ignore"):
        for special in (math.inf, math.nan, np.finfo(dtype).max):
            y = x.copy()
            y[length // 2] = special
            _same_float(kernels.std64(y), float(y.std(dtype=np.float64)), f"std with {special}")


def test_std64_of_special_arrays() -> None:
    with np.errstate(all="ignore"):
        for x in (
            np.zeros((3, 3), np.float32),
            np.full(10, -0.0),
            np.full((100, 100), 0.1, np.float32),
            np.array([np.finfo(np.float32).smallest_subnormal] * 9, np.float32),
            np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32)[::2, ::3],
            # Fortran order (orthogonal weights wider than tall), over one cast buffer and under
            np.asfortranarray(np.random.default_rng(1).standard_normal((60, 150)).astype(np.float32)),
            np.asfortranarray(np.random.default_rng(2).standard_normal((300, 301)).astype(np.float32)),
            np.asfortranarray(np.random.default_rng(3).standard_normal((70, 90))),
            np.random.default_rng(4).standard_normal((150, 60)).astype(np.float32).T,
        ):
            _same_float(kernels.std64(x), float(x.std(dtype=np.float64)), f"std of {x.dtype}{x.shape}")
        assert math.isnan(kernels.std64(np.zeros((0, 4), np.float32)))


def test_the_kernels_refuse_what_they_cannot_read() -> None:
    """A kernel reads its inputs by one flat index, unchecked: other shapes or dtypes, or a g it
    cannot write over in C order, are refused before it runs."""
    f32 = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="one shape"):
        kernels.sigmoid_delta(f32, np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="one shape and dtype"):
        kernels.relu_delta(f32, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="C-contiguous"):
        kernels.tanh_delta(f32, np.zeros((3, 4), np.float32).T)
    readonly = np.zeros((4, 3), np.float32)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        kernels.product_delta(f32, readonly)
    with pytest.raises(TypeError, match="float16"):
        kernels.product_delta(np.zeros(3, np.float16), np.zeros(3, np.float16))
    with pytest.raises(TypeError, match="int64"):
        kernels.peak(np.zeros(3, np.int64))


def test_warm_up_is_listed_and_compiles_every_dtype() -> None:
    assert ".network.pass_kernels" in jit.KERNEL_MODULES
    kernels.warm_up()
    dispatchers: list[Any] = [
        kernels._sigmoid_delta,
        kernels._tanh_delta,
        kernels._relu_delta,
        kernels._peak_bits,
        kernels._maxout_delta,
    ]
    for dispatcher in dispatchers:
        assert {sig[0].dtype.name for sig in dispatcher.signatures} >= {"float32", "float64"}


def test_cached_kernels_load_without_compiling() -> None:
    """A fresh process loads the kernels from numba's disk cache (warm_up above wrote it): no
    compilation, so a request never waits for LLVM."""
    code = (
        "import time; t = time.perf_counter();"
        "from app.engine.network import pass_kernels as k; k.warm_up();"
        "import sys; print(sum(len(d.stats.cache_misses) for d in "
        "(k._sigmoid_delta, k._tanh_delta, k._relu_delta, k._product_delta, k._peak_bits, k._std64, "
        "k._maxout_delta)))"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True, env={**os.environ}
    )
    assert done.stdout.strip() == "0", done.stdout + done.stderr


def numpy_maxout_delta(z: Array, g: Array, pieces: int) -> Array:
    # the NumPy steps backward._delta took: maxout's one-hot df times g, routed to the pieces
    slope = ACTIVATIONS["maxout"].df(z.reshape(len(z), pieces, z.shape[1] // pieces), {"pieces": pieces})
    out: Array = (slope * g[:, None, :]).reshape(z.shape).astype(z.dtype, copy=False)
    return out


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(0, 30),
    units=st.integers(1, 70),
    pieces=st.integers(2, 8),
    f64=st.booleans(),
    mix=st.sampled_from([0.0, 0.05, 0.5]),
    ties=st.booleans(),
)
def test_maxout_delta_has_numpys_bits(
    seed: int, rows: int, units: int, pieces: int, f64: bool, mix: float, ties: bool
) -> None:
    """The winner is np.argmax's: the first of equal maxima (ties: values drawn from a few, -0.0
    against 0.0), the first NaN; the other pieces get 0 * g (-0.0, or NaN for an inf g)."""
    dtype = np.float64 if f64 else np.float32
    rng = np.random.default_rng(seed)
    z = _values(rng, (rows, pieces * units), dtype, mix, True)
    if ties:
        z = rng.choice(np.array([-1.0, 0.0, -0.0, 2.0, math.nan], dtype), size=z.shape)
    g = _values(rng, (rows, units), dtype, mix, True)
    with np.errstate(all="ignore"):
        _check_delta(kernels.maxout_delta(z, g, pieces), numpy_maxout_delta(z, g, pieces), "maxout")


def test_maxout_delta_refuses_shapes_that_do_not_fit() -> None:
    z = np.zeros((4, 6), np.float32)
    with pytest.raises(ValueError, match="not 4 pieces"):
        kernels.maxout_delta(z, np.zeros((4, 3), np.float32), 4)
    with pytest.raises(ValueError, match="alike"):
        kernels.maxout_delta(z, np.zeros((4, 3)), 2)
