"""The norm layers' kernels against the NumPy steps they replace, bit for bit: each sum (a row's
np.add.reduce, a row's and a column's einsum) and each kernel's outputs, over random shapes and
values with the awkward ones mixed in (subnormals, -0.0, huge values that overflow when squared,
inf, NaN), float32 and float64, sizes around NumPy's blocks of 8, 16 and 128 and its recursion."""

from __future__ import annotations

import itertools
from typing import Any

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine import jit
from app.engine.layers import norm_kernels as kernels
from app.engine.layers.norm_kernels import EPS, MAX_UNITS
from tests.engine.bits import same_bits

Array = np.ndarray
DTYPES = [np.float32, np.float64]


def _values(rng: np.random.Generator, shape: tuple[int, ...], dtype: type, mix: float) -> Array:
    """Normal values of a random scale and offset; a share `mix` of them replaced by awkward ones."""
    x = rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 3) + rng.uniform(-50, 50)
    info = np.finfo(dtype)
    awkward = np.array(
        [
            0.0,
            -0.0,
            info.smallest_subnormal,
            -3 * info.smallest_subnormal,
            info.tiny / 3,
            info.max / 2,
            -info.max,
            1e3,
        ]
    )
    picks = rng.random(shape) < mix
    x[picks] = rng.choice(awkward, size=int(picks.sum()))
    out: Array = x.astype(dtype)
    return out


# (a kernel's scalar comes back as a Python float: exact for both dtypes, cast back to compare)
def _row_sums_are_numpys(a: Array, what: str) -> None:
    """The kernels' row sums (+0.0 plus the pairwise sums, as the kernels add them) of four rows
    made of a (a, reversed, negated, a's values shuffled), by the leaves up to 128 values and by
    the width's plan past them, against np.add.reduce over each row."""
    rows = np.stack([a, a[::-1], -a, np.random.default_rng(a.size).permutation(a)])
    dtype = a.dtype.type
    orders = ((0, 1, 2, 3), (3, 2, 1, 0), (1, 1, 1, 1))  # (the kernels' last rows repeat the last)
    for r, together in itertools.product(orders, (True, False)):  # side by side, one after another
        if a.size <= 128:
            sums = kernels._pairwise_leaves(rows, r[0], r[1], r[2], r[3], 0, a.size, together)
        else:
            plan, scratch = kernels._pairwise_plan(a.size), np.full((65, 4), 7.0, a.dtype)
            sums = kernels._row_sums(rows, r[0], r[1], r[2], r[3], plan, scratch[:64], together)
            assert (scratch[64] == 7.0).all(), f"{what}: the partial sums ran past the kernels' 64 rows"
        got = np.array([dtype(0) + dtype(s) for s in sums], a.dtype)
        same_bits(got, np.add.reduce(rows[list(r)], axis=1), f"{what}, rows {r}, together {together}")


# Lengths where NumPy's sums change shape: below and at 8, blocks of 16 (einsum's float32
# vectors) and 128 (the pairwise leaves), the recursion's splits, the kernels' widest row.
LENGTHS = [
    1,
    2,
    3,
    4,
    5,
    7,
    8,
    9,
    15,
    16,
    17,
    31,
    33,
    127,
    128,
    129,
    135,
    136,
    255,
    256,
    257,
    1031,
    4096,
    MAX_UNITS,
]


@pytest.mark.parametrize("width", [MAX_UNITS + 1, 1 << 16, 1 << 20])
def test_row_sums_past_the_kernels_widest_rows(width: int) -> None:
    """The row sums hold any width in the kernels' 64 rows of partial sums (the layers stop at
    MAX_UNITS, the sums themselves do not)."""
    _row_sums_are_numpys(np.random.default_rng(width).standard_normal(width).astype(np.float32), "wide")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.one_of(st.sampled_from(LENGTHS), st.integers(1, 3000)),
    dtype=st.sampled_from(DTYPES),
    mix=st.sampled_from([0.0, 0.0, 0.05, 0.5]),
    specials=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_row_sums_are_numpys(n: int, dtype: type, mix: float, specials: bool, seed: int) -> None:
    """_pairwise_leaves and _row_sums are np.add.reduce over a row (+0.0 plus NumPy's pairwise
    sum), _einsum_dots is np.einsum('ij,ij->i') (16-byte lanes, no fused multiply-add)."""
    rng = np.random.default_rng(seed)
    a, b = _values(rng, (2, n), dtype, mix)
    if specials and n >= 3:
        a[rng.integers(n)] = rng.choice([np.inf, -np.inf, np.nan])
    with np.errstate(all="ignore"):
        _row_sums_are_numpys(a, "row sums")
        _dots_are_numpys(np.stack([a, b]), np.stack([b, a]), "row dots")
        _dots_are_numpys(np.stack([a, b]), np.stack([a, b]), "row squares")


@numba.njit(**{**jit.OPTIONS, "cache": False})
def _einsum_dots_of(a: Array, b: Array, rows: Array, together: bool) -> tuple[float, float, float, float]:
    """The intrinsic _einsum_dots of four rows, called from compiled code (as the kernels do)."""
    return kernels._einsum_dots(a, b, rows[0], rows[1], rows[2], rows[3], together)  # type: ignore[no-any-return]


def _einsum_dots(a: Array, b: Array, rows: Array) -> tuple[float, ...]:
    """_einsum_dots's four rows side by side and one after another: the same values (checked),
    returned once."""
    together, apart = _einsum_dots_of(a, b, rows, True), _einsum_dots_of(a, b, rows, False)
    dtype = a.dtype.type
    same_bits(
        np.array(together, dtype), np.array(apart, dtype), "rows side by side against one after another"
    )
    return tuple(float(v) for v in together)


def _dots_are_numpys(p: Array, q: Array, what: str) -> None:
    """_einsum_dots of two rows side by side (twice each), and of one row (the last, alone, as the
    kernels' last rows repeat it), are einsum's."""
    expected = np.einsum("ij,ij->i", p, q)
    dtype = p.dtype.type
    two = np.array(_einsum_dots(p, q, np.array([0, 1, 0, 1])), dtype)
    same_bits(two, expected[[0, 1, 0, 1]], f"{what}, two rows")
    one = np.array(_einsum_dots(p, q, np.array([1, 1, 1, 1])), dtype)
    same_bits(one, expected[[1, 1, 1, 1]], f"{what}, one row")


DOT_WIDTHS = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100, 128, 129, 512, 1000, MAX_UNITS]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("width", DOT_WIDTHS)
def test_einsum_dots_of_four_rows_are_einsums(dtype: type, width: int) -> None:
    """_einsum_dots of four distinct rows, in any order and repeated (the kernels' last group of
    one, two or three rows names the last row again), against einsum, with awkward values mixed in."""
    rng = np.random.default_rng(width)
    for n in (1, 2, 3, 4, 5, 9):
        p, q = _values(rng, (n, width), dtype, 0.05), _values(rng, (n, width), dtype, 0.0)
        with np.errstate(all="ignore"):
            expected = np.einsum("ij,ij->i", p, q)
            squares = np.einsum("ij,ij->i", p, p)
            for first in range(0, n, 4):
                rows = np.minimum(np.arange(first, first + 4), n - 1)
                same_bits(np.array(_einsum_dots(p, q, rows), dtype), expected[rows], f"{n} rows from {first}")
                same_bits(np.array(_einsum_dots(p, p, rows), dtype), squares[rows], f"{n} squares")
            rows = rng.integers(0, n, 4)
            same_bits(np.array(_einsum_dots(p, q, rows), dtype), expected[rows], f"rows {rows}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", LENGTHS)
def test_sums_of_signed_zeros_and_tiny_values(dtype: type, n: int) -> None:
    """All -0.0 (NumPy's sums give +0.0), -0.0 among +0.0, and subnormals only."""
    tiny = np.finfo(dtype).smallest_subnormal
    rows: list[Array] = [
        np.full(n, -0.0, dtype),
        np.where(np.arange(n) % 3 == 0, 0.0, -0.0).astype(dtype),
        np.full(n, -tiny, dtype),
        (np.arange(n) % 5 * tiny).astype(dtype),
    ]
    for a in rows:
        _row_sums_are_numpys(a, f"sum {a[:3]}")
        _dots_are_numpys(np.stack([a, a[::-1]]), np.stack([a, a[::-1]]), f"dots {a[:3]}")


# The NumPy steps each kernel replaces (norm.py's whole-array steps for these layouts).
def _batch_forward_steps(x: Array, gamma: Array, beta: Array, scale: bool, shift: bool) -> tuple[Array, ...]:
    dt = x.dtype.type
    mean = np.einsum("ij->j", x) / dt(x.shape[0])
    centred = np.subtract(x, mean)
    var = np.einsum("ij,ij->j", centred, centred) / dt(x.shape[0])
    inv = dt(1.0) / np.sqrt(var + dt(EPS))
    xhat = centred * inv
    y = xhat
    if scale:
        y = xhat * gamma
        if shift:
            y += beta
    return mean, var, inv, xhat, y


def _row_forward_steps(
    x: Array, gamma: Array, beta: Array, centred: bool, scale: bool, shift: bool
) -> tuple[Array, ...]:
    dt = x.dtype.type
    c = np.subtract(x, np.add.reduce(x, axis=1, keepdims=True) / dt(x.shape[1])) if centred else x
    inv = dt(1.0) / np.sqrt(np.einsum("ij,ij->i", c, c) / dt(x.shape[1]) + dt(EPS))
    xhat = c * inv[:, None]
    y = xhat
    if scale:
        y = xhat * gamma
        if shift:
            y += beta
    return inv, xhat, y


def _backward_steps(
    g: Array, xhat: Array, inv: Array, gamma: Array, axis: int, centred: bool, unscaled: bool
) -> tuple[Array, Array, Array]:
    dt = g.dtype.type
    count = dt(g.shape[axis])
    spec = "ij,ij->j" if axis == 0 else "ij,ij->i"
    gamma_grad, beta_grad = np.einsum("ij,ij->j", g, xhat), np.einsum("ij->j", g)
    d = g if unscaled else g * gamma
    along = np.expand_dims(np.einsum(spec, d, xhat) / count, axis)
    out = d.copy()
    if centred:
        total = np.einsum("ij->j", d) if axis == 0 else np.add.reduce(d, axis=1)
        out = d - np.expand_dims(total / count, axis)
    out -= xhat * along
    out *= np.expand_dims(inv, axis)
    return out, gamma_grad, beta_grad


Source = tuple[Array, Array, Array, bool]  # what a backward kernel reads: src, shift, scale, plain


def _sources(x: Array, xhat: Array, shift: Array, scale: Array) -> dict[str, Source]:
    """The two forms a layer keeps for its backward: x-hat itself (plain), or its input x with
    the statistics that make x-hat again, (x - shift) * scale."""
    count = shift.size
    plain = (xhat, np.zeros(count, x.dtype), np.ones(count, x.dtype), True)
    return {"x-hat": plain, "x and the statistics": (x, shift, scale, False)}


def _backward_is_the_steps(
    backward: Any,
    sources: dict[str, Source],
    expected: tuple[Array, Array, Array],
    what: str,
    gradients: bool,
) -> None:
    """backward(src, shift, scale, plain, out) -> the parameters' gradients, from each source:
    dx (and those gradients) against the NumPy steps' `expected` (dx, d gamma, d beta)."""
    dx, gamma_grad, beta_grad = expected
    for source, (src, shift, scale, plain) in sources.items():
        out = np.empty_like(dx)
        grads = backward(src, shift, scale, plain, out)
        same_bits(out, dx, f"{what}: dx from {source}")
        if gradients:
            same_bits(grads[0], gamma_grad, f"{what}: d gamma from {source}")
            same_bits(grads[1], beta_grad, f"{what}: d beta from {source}")


def _row_kernels_are_the_steps(
    x: Array, g: Array, gamma: Array, beta: Array, centred: bool, first: bool, second: bool
) -> None:
    """row_forward (inv, the means, y, and x-hat where the width is not taken in steps; y in
    x-hat's own array) and row_backward, from x-hat itself and from x and the statistics, against
    the NumPy steps."""
    dt = x.dtype.type
    xhat, y, means = np.empty_like(x), np.empty_like(x), np.empty(x.shape[0], x.dtype)
    if not first:  # without a scale, y is x-hat: one array
        y = xhat
    inv = kernels.row_forward(x, gamma, beta, centred, first, second, xhat, y, means)
    inv_ref, xhat_ref, y_ref = _row_forward_steps(x, gamma, beta, centred, first, second)
    means_ref = np.add.reduce(x, axis=1) / dt(x.shape[1]) if centred else np.zeros(x.shape[0], x.dtype)
    same_bits(inv, inv_ref, f"row forward inv, centred {centred}")
    same_bits(means, means_ref, f"row forward means, centred {centred}")
    same_bits(y, y_ref, f"row forward y, centred {centred}, scale {first}")
    if first and not kernels.in_steps(x.shape[1]):
        same_bits(xhat, xhat_ref, f"row forward x-hat, centred {centred}")
    one = np.empty_like(x)  # y in x-hat's own array (forward without keep): y's bits
    kernels.row_forward(x, gamma, beta, centred, True, second, one, one, means)
    same_bits(one, _row_forward_steps(x, gamma, beta, centred, True, second)[2], "row y in place")
    _backward_is_the_steps(
        lambda src, shift, scale, plain, out: kernels.row_backward(
            g, src, shift, scale, plain, inv, gamma, centred, first, second, out
        ),
        _sources(x, xhat_ref, means_ref, inv_ref),
        _backward_steps(g, xhat_ref, inv_ref, gamma, 1, centred, first),
        f"row backward, centred {centred}, unscaled {first}",
        gradients=second,
    )


def _batch_kernels_are_the_steps(
    x: Array, g: Array, gamma: Array, beta: Array, first: bool, second: bool
) -> None:
    """batch_forward (its statistics and y) and batch_backward, from x-hat itself and from x and
    the statistics, against the steps."""
    y = np.empty_like(x)
    got = kernels.batch_forward(x, gamma, beta, first, second, y)
    mean, var, inv, xhat_ref, y_ref = _batch_forward_steps(x, gamma, beta, first, second)
    for name, a, b in zip(("mean", "var", "inv"), got, (mean, var, inv), strict=True):
        same_bits(a, b, f"batch forward {name}")
    same_bits(y, y_ref, f"batch forward y, scale {first}")
    _backward_is_the_steps(
        lambda src, shift, scale, plain, out: kernels.batch_backward(
            g, src, shift, scale, plain, inv, gamma, first, second, out
        ),
        _sources(x, xhat_ref, mean, inv),
        _backward_steps(g, xhat_ref, inv, gamma, 0, True, first),
        f"batch backward, unscaled {first}",
        gradients=first or second,  # (unscaled, dx is made of them)
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.one_of(st.integers(1, 300), st.sampled_from([1, 2, 1000])),
    w=st.one_of(st.integers(2, 300), st.sampled_from([2, 3, 16, 17, 128, 129, 256, 512, 513])),
    dtype=st.sampled_from(DTYPES),
    mix=st.sampled_from([0.0, 0.0, 0.02, 0.3]),
    flags=st.tuples(st.booleans(), st.booleans()),
    seed=st.integers(0, 2**32 - 1),
)
def test_kernels_are_the_numpy_steps(
    n: int, w: int, dtype: type, mix: float, flags: tuple[bool, bool], seed: int
) -> None:
    """Each kernel's every output against the NumPy steps it replaces, for each flag."""
    rng = np.random.default_rng(seed)
    x = _values(rng, (n, w), dtype, mix)
    g = _values(rng, (n, w), dtype, mix / 2)
    gamma: Array = (1 + rng.standard_normal(w) * 0.7).astype(dtype)
    beta: Array = (rng.standard_normal(w) * 0.7).astype(dtype)
    first, second = flags  # scale (forward) or unscaled (backward); shift or the parameters
    with np.errstate(all="ignore"):
        _batch_kernels_are_the_steps(x, g, gamma, beta, first, second)
        for centred in (False, True):
            _row_kernels_are_the_steps(x, g, gamma, beta, centred, first, second)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_past_the_interleaving_size_are_the_numpy_steps(dtype: type) -> None:
    """A layer past INTERLEAVE_BYTES (its rows read one after another, not four side by side; the
    batch kernels' column sums a row per loop): every kernel's outputs against the NumPy steps,
    each norm and flag (the property test's layers are smaller: four rows side by side)."""
    rng = np.random.default_rng(7)
    n, w = (1031, 1029) if dtype == np.float32 else (519, 1029)
    x, g = _values(rng, (n, w), dtype, 0.01), _values(rng, (n, w), dtype, 0.0)
    assert x.nbytes > kernels.INTERLEAVE_BYTES and not kernels._interleaved(x)
    gamma: Array = (1 + rng.standard_normal(w) * 0.7).astype(dtype)
    beta: Array = (rng.standard_normal(w) * 0.7).astype(dtype)
    with np.errstate(all="ignore"):
        for centred, first, second in itertools.product((False, True), repeat=3):
            _row_kernels_are_the_steps(x, g, gamma, beta, centred, first, second)
        for first, second in itertools.product((False, True), repeat=2):  # BatchNorm's, row by row
            _batch_kernels_are_the_steps(x, g, gamma, beta, first, second)


def test_the_step_plan_takes_widths_whose_leaves_are_whole_steps() -> None:
    """_step_plan: each leaf's end in steps of UNIT where every leaf of the width's pairwise sum
    starts and ends at a whole step; none otherwise (those widths keep the loops of four rows)."""
    for w in (16, 32, 48, 64, 96, 112, 128, 160, 256, 384, 512, 1024, 2048, 4096, MAX_UNITS):
        plan, ends = kernels._pairwise_plan(w), kernels._step_plan(w)
        assert ends.size == plan.shape[0], w
        assert list(ends) == [(start + count) // kernels.UNIT for start, count, _ in plan], w
    for w in (2, 8, 15, 17, 24, 100, 120, 136, 200, 1000, 784):  # 1000: leaves of 120, 128, ...
        assert kernels._step_plan(w).size == 0, w


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("w", [16, 48, 128, 160, 512, 1024, 2048])
def test_the_row_kernels_in_steps_are_the_numpy_steps(dtype: type, w: int) -> None:
    """Widths the row kernels take in steps (the forward's pipeline of three rows, _forward_step;
    the backward's sums beside the row before's output, _dots_sums_and_output): inv, the means, y
    (apart and in x-hat's array; x-hat itself is not written there), dx and the parameters'
    gradients from both sources against the NumPy steps, each norm and flag, with one, two, three,
    five and 37 rows and awkward values mixed in."""
    assert kernels._step_plan(w).size
    rng = np.random.default_rng(w)
    for n in (1, 2, 3, 5, 37):
        x, g = _values(rng, (n, w), dtype, 0.02), _values(rng, (n, w), dtype, 0.01)
        gamma: Array = (1 + rng.standard_normal(w) * 0.7).astype(dtype)
        beta: Array = (rng.standard_normal(w) * 0.7).astype(dtype)
        with np.errstate(all="ignore"):
            for centred, first, second in itertools.product((False, True), repeat=3):
                _row_kernels_are_the_steps(x, g, gamma, beta, centred, first, second)


def test_the_comparison_sees_an_ulp_a_zeros_sign_and_a_nan() -> None:
    one = np.array([1.0, 0.0, 2.0], np.float32)
    for other in (
        [np.nextafter(np.float32(1), np.float32(2)), 0.0, 2.0],
        [1.0, -0.0, 2.0],
        [1.0, 0.0, np.nan],
    ):
        with pytest.raises(AssertionError):
            same_bits(one, np.array(other, np.float32), "changed")
    same_bits(np.array([np.nan]), np.array([-np.nan]), "NaNs")


def test_the_steps_reference_can_fail() -> None:
    """The references above see a sum in another order (so the tests can fail): the pairwise
    row sum is not a sequential one, and einsum's lanes are not a sequential dot."""
    x = np.random.default_rng(0).standard_normal((1, 1000)).astype(np.float32)
    sequential = np.cumsum(x[0])[-1]
    assert np.add.reduce(x, axis=1)[0] != sequential
    assert np.einsum("ij,ij->i", x, x)[0] != np.cumsum(x[0] * x[0])[-1]


def test_fits_takes_a_networks_layers_only() -> None:
    x = np.zeros((4, 3), np.float32)
    p = np.ones(3, np.float32)
    assert kernels.fits(x, p, p)
    assert kernels.fits(np.zeros((1, 2)), np.ones(2))
    assert kernels.fits(np.zeros((2, MAX_UNITS), np.float32))
    assert not kernels.fits(np.zeros((2, MAX_UNITS + 1), np.float32))  # einsum's buffer splits a row
    assert not kernels.fits(np.zeros((4, 1), np.float32))  # one column: NumPy's pairwise sum
    assert not kernels.fits(np.asfortranarray(np.zeros((4, 3), np.float32)), p)
    assert not kernels.fits(np.zeros((4, 6), np.float32)[:, ::2], p)
    assert not kernels.fits(x, np.ones(3, np.float64))  # a wider scale: NumPy widens first
    assert not kernels.fits(x, np.ones(6, np.float32)[::2])  # a strided scale: read as a vector
    assert not kernels.fits(x, np.ones(4, np.float32))  # another length: NumPy's steps refuse it
    assert not kernels.fits(np.zeros((4, 3), np.float16))
    assert not kernels.fits(np.zeros(3, np.float32))


def test_warm_up_compiles_each_kernel_for_both_dtypes() -> None:
    assert ".layers.norm_kernels" in jit.KERNEL_MODULES
    kernels.warm_up()
    for kernel in (kernels.batch_forward, kernels.row_forward, kernels.batch_backward, kernels.row_backward):
        dtypes = {str(signature[0].dtype) for signature in kernel.signatures}  # type: ignore[union-attr]
        assert dtypes == {"float32", "float64"}, kernel
