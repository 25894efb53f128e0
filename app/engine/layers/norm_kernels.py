"""Compiled kernels of the normalization layers (norm.py): forward and backward of BatchNorm,
LayerNorm and RMSNorm in one or two passes over the layer instead of NumPy's four to eight.

Same bits as the NumPy steps they replace (tests/engine/layers/test_norm_kernels.py compares them
step by step, and test_norm.py the layers with the formulas they had). Each sum spells the order
NumPy adds in, on a C-ordered (samples, units) array of 2 to 8192 units:

- a column sum (np.einsum "ij->j", "ij,ij->j"): each column from +0.0, row after row, a product
  rounded before it is added;
- a row sum (np.add.reduce over axis 1): +0.0 plus NumPy's pairwise sum of the row (_pairwise);
- a row sum of products (np.einsum "ij,ij->i"): einsum's SIMD loop at NumPy's x86-64 baseline
  (16-byte vectors, no fused multiply-add): one accumulator per lane, blocks of four vectors added
  last to first, a zero-padded last vector, then the lanes added pairwise (_row_dots). Past 8192
  values einsum's buffer splits the row, so wider layers keep the NumPy steps.

Elementwise steps are the same IEEE operations in the same order and dtype (a float32 layer stays
float32: the scalars come in as the layer's dtype).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..jit import kernel

Array = NDArray[np.floating]
EPS = 1e-5  # added to the variance, as torch's default
MAX_UNITS = 8192  # einsum's buffer (NPY_BUFSIZE elements): a wider row is summed in pieces


# The row helpers take a 2-D array and a row index, not a row (a view made in a loop costs its
# reference counting each time: ~0.5 of a pass at 1000 x 100), and rows of up to 128 values
# call the pairwise sum's leaf directly (passing _row_sum its stacks doubled the sum's time).
@kernel
def _pairwise_leaf(a: Any, row: int, lo: int, n: int) -> Any:
    """NumPy's pairwise_sum of a[row, lo:lo + n] for n <= 128: below 8 values one after another,
    otherwise eight accumulators over strides of 8, added as a tree, then the rest one by one."""
    if n < 8:
        res = a[row, lo]  # NumPy starts at -0.0, which a[lo] + ... equals bit for bit
        for i in range(1, n):
            res += a[row, lo + i]
        return res
    r0, r1, r2, r3 = a[row, lo], a[row, lo + 1], a[row, lo + 2], a[row, lo + 3]
    r4, r5, r6, r7 = a[row, lo + 4], a[row, lo + 5], a[row, lo + 6], a[row, lo + 7]
    end = n - n % 8
    i = 8
    while i < end:
        k = lo + i
        r0 += a[row, k]
        r1 += a[row, k + 1]
        r2 += a[row, k + 2]
        r3 += a[row, k + 3]
        r4 += a[row, k + 4]
        r5 += a[row, k + 5]
        r6 += a[row, k + 6]
        r7 += a[row, k + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[row, lo + i]
        i += 1
    return res


@kernel
def _row_sum(a: Any, row: int, stack: Any, values: Any) -> Any:
    """np.add.reduce of a[row]: the reduction's +0.0, plus NumPy's pairwise sum, which past 128
    values sums the two halves (split at a multiple of 8) alike and adds them. NumPy recurses;
    here a stack of (start, count, halves done) and one of partial sums (numba's disk cache
    breaks recursive kernels): 64 levels, any size."""
    n = a.shape[1]
    zero = a.dtype.type(0)
    if n <= 128:
        return zero + _pairwise_leaf(a, row, 0, n)
    stack[0, 0], stack[0, 1], stack[0, 2] = 0, n, 0
    top, filled = 1, 0
    while top > 0:
        lo, m, done = stack[top - 1, 0], stack[top - 1, 1], stack[top - 1, 2]
        if m <= 128:
            values[filled] = _pairwise_leaf(a, row, lo, m)
            filled += 1
            top -= 1
            continue
        half = m // 2
        half -= half % 8
        if done == 2:  # both halves summed: add them (first + second, as NumPy)
            values[filled - 2] = values[filled - 2] + values[filled - 1]
            filled -= 1
            top -= 1
            continue
        stack[top - 1, 2] = done + 1
        stack[top, 0] = lo if done == 0 else lo + half
        stack[top, 1] = half if done == 0 else m - half
        stack[top, 2] = 0
        top += 1
    return zero + values[0]


@kernel
def _lane(a: Any, b: Any, row: int, k: int, step: int, s: Any) -> Any:
    """One lane of a block of four vectors, `step` values apart, added last to first onto s."""
    return a[row, k] * b[row, k] + (
        a[row, k + step] * b[row, k + step]
        + (a[row, k + 2 * step] * b[row, k + 2 * step] + (a[row, k + 3 * step] * b[row, k + 3 * step] + s))
    )


@kernel
def _row_dots(a: Any, b: Any, row: int, two: bool) -> Any:
    """np.einsum("ij,ij->i") of rows `row` and `row + 1` (with `two`; else of `row`, twice), side
    by side: SSE lanes (4 float32s or 2 float64s), one accumulator per lane, blocks of four
    vectors added last to first, a zero-padded last vector, the lanes added pairwise. Each row's
    sum is a chain of dependent additions in that order, so two rows' chains interleaved keep the
    adder busy (~0.3 of a pass less at 1000 x 100)."""
    n = a.shape[1]
    zero = a.dtype.type(0)
    other = row + 1 if two else row
    s0, s1, s2, s3 = zero, zero, zero, zero
    t0, t1, t2, t3 = zero, zero, zero, zero
    k = 0
    if a.itemsize == 4:
        while n - k >= 16:
            s0 = _lane(a, b, row, k, 4, s0)
            t0 = _lane(a, b, other, k, 4, t0)
            s1 = _lane(a, b, row, k + 1, 4, s1)
            t1 = _lane(a, b, other, k + 1, 4, t1)
            s2 = _lane(a, b, row, k + 2, 4, s2)
            t2 = _lane(a, b, other, k + 2, 4, t2)
            s3 = _lane(a, b, row, k + 3, 4, s3)
            t3 = _lane(a, b, other, k + 3, 4, t3)
            k += 16
        while k < n:  # a vector at a time, zero-padded (adding +0.0 turns a -0.0 lane to +0.0)
            s0 = a[row, k] * b[row, k] + s0
            t0 = a[other, k] * b[other, k] + t0
            s1 = (a[row, k + 1] * b[row, k + 1] if k + 1 < n else zero) + s1
            t1 = (a[other, k + 1] * b[other, k + 1] if k + 1 < n else zero) + t1
            s2 = (a[row, k + 2] * b[row, k + 2] if k + 2 < n else zero) + s2
            t2 = (a[other, k + 2] * b[other, k + 2] if k + 2 < n else zero) + t2
            s3 = (a[row, k + 3] * b[row, k + 3] if k + 3 < n else zero) + s3
            t3 = (a[other, k + 3] * b[other, k + 3] if k + 3 < n else zero) + t3
            k += 4
        return zero + ((s0 + s1) + (s2 + s3)), zero + ((t0 + t1) + (t2 + t3))
    while n - k >= 8:
        s0 = _lane(a, b, row, k, 2, s0)
        t0 = _lane(a, b, other, k, 2, t0)
        s1 = _lane(a, b, row, k + 1, 2, s1)
        t1 = _lane(a, b, other, k + 1, 2, t1)
        k += 8
    while k < n:
        s0 = a[row, k] * b[row, k] + s0
        t0 = a[other, k] * b[other, k] + t0
        s1 = (a[row, k + 1] * b[row, k + 1] if k + 1 < n else zero) + s1
        t1 = (a[other, k + 1] * b[other, k + 1] if k + 1 < n else zero) + t1
        k += 2
    return zero + (s0 + s1), zero + (t0 + t1)


@kernel
def batch_forward(x: Any, gamma: Any, beta: Any, scale: bool, shift: bool, xhat: Any, y: Any) -> Any:
    """BatchNorm's forward over a C-ordered (n, w) x: returns (mean, var, inv) per unit and writes
    x-hat = (x - mean) * inv and, with `scale`, y = x-hat * gamma (+ beta with `shift`); xhat and
    y may be one array (y written last). Three reads of x: its sums, its squares around the mean,
    the output. (Each flag picks a loop of its own: a test inside a loop kept LLVM from
    vectorizing it. No helper takes an array inside a loop: each call counts its references.)"""
    n, w = x.shape
    nf = x.dtype.type(n)
    total = np.zeros(w, x.dtype)
    for i in range(n):
        for j in range(w):
            total[j] = x[i, j] + total[j]
    mean = total / nf
    squares = np.zeros(w, x.dtype)
    for i in range(n):
        for j in range(w):
            d = x[i, j] - mean[j]
            squares[j] = d * d + squares[j]
    var = squares / nf
    inv = x.dtype.type(1.0) / np.sqrt(var + x.dtype.type(EPS))
    for i in range(n):
        if scale and shift:
            for j in range(w):
                t = (x[i, j] - mean[j]) * inv[j]
                xhat[i, j] = t
                y[i, j] = t * gamma[j] + beta[j]
        elif scale:
            for j in range(w):
                t = (x[i, j] - mean[j]) * inv[j]
                xhat[i, j] = t
                y[i, j] = t * gamma[j]
        else:
            for j in range(w):
                xhat[i, j] = (x[i, j] - mean[j]) * inv[j]
    return mean, var, inv


@kernel
def row_forward(
    x: Any, gamma: Any, beta: Any, centred: bool, scale: bool, shift: bool, xhat: Any, y: Any
) -> Any:
    """LayerNorm's (centred) or RMSNorm's forward, a row at a time while it is in cache: returns
    inv per sample and writes x-hat (and y with `scale`), as batch_forward. One read of x."""
    n, w = x.shape
    nf = x.dtype.type(w)
    zero, eps, one = x.dtype.type(0), x.dtype.type(EPS), x.dtype.type(1.0)
    inv = np.empty(n, x.dtype)
    stack, values = np.empty((64, 3), np.int64), np.empty(64, x.dtype)  # the pairwise sums'
    for i in range(0, n, 2):  # two rows at a time, for _row_dots
        last = min(i + 2, n)
        if centred:
            for row in range(i, last):
                m = (
                    zero + _pairwise_leaf(x, row, 0, w) if w <= 128 else _row_sum(x, row, stack, values)
                ) / nf
                for j in range(w):
                    xhat[row, j] = x[row, j] - m
            q0, q1 = _row_dots(xhat, xhat, i, last - i == 2)
        else:
            q0, q1 = _row_dots(x, x, i, last - i == 2)
        for row in range(i, last):
            r = one / np.sqrt((q0 if row == i else q1) / nf + eps)
            inv[row] = r
            if centred:
                for j in range(w):
                    xhat[row, j] *= r
            else:
                for j in range(w):
                    xhat[row, j] = x[row, j] * r
            if scale and shift:
                for j in range(w):
                    y[row, j] = xhat[row, j] * gamma[j] + beta[j]
            elif scale:
                for j in range(w):
                    y[row, j] = xhat[row, j] * gamma[j]
    return inv


@kernel
def batch_backward(
    g: Any, xhat: Any, inv: Any, gamma: Any, unscaled: bool, parameters: bool, out: Any
) -> Any:
    """BatchNorm's dx (into out) and, with `parameters` (or unscaled: dx is made of them), the
    sums over the batch of g * x-hat and g (gamma's and beta's gradients), returned. With d = g
    times gamma: dx = ((d - mean(d)) - x-hat * mean(d * x-hat)) * inv. Two reads of g and x-hat."""
    n, w = g.shape
    nf = g.dtype.type(n)
    gg = np.zeros(w, g.dtype)
    bg = np.zeros(w, g.dtype)
    along = np.zeros(w, g.dtype)
    mean = np.zeros(w, g.dtype)
    for i in range(n):
        if unscaled:  # d is g: its sums are the parameters' gradients
            for j in range(w):
                gg[j] = g[i, j] * xhat[i, j] + gg[j]
                bg[j] = g[i, j] + bg[j]
        elif parameters:
            for j in range(w):
                gg[j] = g[i, j] * xhat[i, j] + gg[j]
                bg[j] = g[i, j] + bg[j]
                d = g[i, j] * gamma[j]
                along[j] = d * xhat[i, j] + along[j]
                mean[j] = d + mean[j]
        else:
            for j in range(w):
                d = g[i, j] * gamma[j]
                along[j] = d * xhat[i, j] + along[j]
                mean[j] = d + mean[j]
    if unscaled:
        along = gg / nf
        mean = bg / nf
    else:
        along = along / nf
        mean = mean / nf
    for i in range(n):
        if unscaled:
            for j in range(w):
                out[i, j] = ((g[i, j] - mean[j]) - xhat[i, j] * along[j]) * inv[j]
        else:
            for j in range(w):
                out[i, j] = ((g[i, j] * gamma[j] - mean[j]) - xhat[i, j] * along[j]) * inv[j]
    return gg, bg


@kernel
def row_backward(
    g: Any, xhat: Any, inv: Any, gamma: Any, centred: bool, unscaled: bool, parameters: bool, out: Any
) -> Any:
    """LayerNorm's (centred) or RMSNorm's dx (into out), a row at a time, and with `parameters`
    the sums over the batch of g * x-hat and g, returned. dx = ((d - mean(d)) - x-hat * mean(d *
    x-hat)) * inv per sample (RMSNorm without mean(d)), d = g times gamma (held in out's row
    until it is replaced). One read of g and x-hat."""
    n, w = g.shape
    nf = g.dtype.type(w)
    gg = np.zeros(w, g.dtype)
    bg = np.zeros(w, g.dtype)
    stack, values = np.empty((64, 3), np.int64), np.empty(64, g.dtype)  # the pairwise sums'
    zero = g.dtype.type(0)
    m = zero
    for i in range(0, n, 2):  # two rows at a time, for _row_dots
        last = min(i + 2, n)
        for row in range(i, last):
            if parameters:
                for j in range(w):
                    gg[j] = g[row, j] * xhat[row, j] + gg[j]
                    bg[j] = g[row, j] + bg[j]
            if not unscaled:
                for j in range(w):
                    out[row, j] = g[row, j] * gamma[j]
        if unscaled:
            a0, a1 = _row_dots(g, xhat, i, last - i == 2)
        else:
            a0, a1 = _row_dots(out, xhat, i, last - i == 2)
        for row in range(i, last):
            along = (a0 if row == i else a1) / nf
            r = inv[row]
            if unscaled and centred:
                m = (
                    zero + _pairwise_leaf(g, row, 0, w) if w <= 128 else _row_sum(g, row, stack, values)
                ) / nf
                for j in range(w):
                    out[row, j] = ((g[row, j] - m) - xhat[row, j] * along) * r
            elif unscaled:
                for j in range(w):
                    out[row, j] = (g[row, j] - xhat[row, j] * along) * r
            elif centred:  # d (g * gamma) is in out's row
                m = (
                    zero + _pairwise_leaf(out, row, 0, w) if w <= 128 else _row_sum(out, row, stack, values)
                ) / nf
                for j in range(w):
                    out[row, j] = ((out[row, j] - m) - xhat[row, j] * along) * r
            else:
                for j in range(w):
                    out[row, j] = (out[row, j] - xhat[row, j] * along) * r
    return gg, bg


def fits(*arrays: Array) -> bool:
    """The kernels' layout: 2-D C-ordered float32 or float64 arrays of one dtype with 2 to
    MAX_UNITS columns (one column and wider rows are summed in other orders by NumPy; other
    layouts and mixed dtypes keep norm.py's NumPy steps)."""
    first = arrays[0]
    if first.ndim != 2 or not 2 <= first.shape[1] <= MAX_UNITS or first.dtype not in (np.float32, np.float64):
        return False
    return all(a.dtype == first.dtype and (a.ndim != 2 or a.flags.c_contiguous) for a in arrays)


def warm_up() -> None:
    """Compile (or load) every kernel for float32 and float64 layers, with each flag's values."""
    for dtype in (np.float32, np.float64):
        x = np.arange(6, dtype=dtype).reshape(3, 2)
        p = np.ones(2, dtype)
        for flag in (False, True):
            out = np.empty_like(x)
            _, _, inv = batch_forward(x, p, p, flag, flag, out, out)
            inv_rows = row_forward(x, p, p, flag, flag, flag, out, out)
            batch_backward(x, out, inv, p, flag, flag, np.empty_like(x))
            row_backward(x, out, inv_rows, p, flag, flag, flag, np.empty_like(x))
