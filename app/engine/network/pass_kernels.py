"""Compiled kernels for the backward pass's elementwise work: dL/dz with its largest |value|,
written over the incoming gradient, and the float64 standard deviation of a layer's weights and
weight gradient.

NumPy spells sigmoid's dL/dz = s (1 - s) g as three passes over the layer and fresh arrays, and
the power-of-two normalization after it two more reductions (max and min); one loop here does the
product and the peak. Each kernel performs NumPy's operations in NumPy's order and dtype (a float32
layer stays float32: the constants come in as the array's own type), so the bits are NumPy's;
tests/engine/network/test_pass_kernels.py checks them against the NumPy steps they replace.

The peak is taken on the bits: a float with its sign bit cleared, read as an integer, orders as
|x| does (NaN above inf), and an integer max vectorizes where a float max (NaN rules, no
reassociation) runs one value per cycle: 14 us instead of 100 us for a 1000 x 100 layer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import types
from numba.extending import overload
from numpy.typing import NDArray

from ..jit import kernel

Array = NDArray[np.floating]

# The integer type of each float's bits.
_BITS: dict[np.dtype[np.floating], type[np.signedinteger]] = {
    np.dtype(np.float32): np.int32,
    np.dtype(np.float64): np.int64,
}
# NumPy's reduction buffer (np.getbufsize()): add.reduce with a dtype the array must be cast to
# sums each chunk of this many values pairwise and the chunks one after the other.
BUFFER = 8192
_PAIRWISE_BLOCK = 8  # numpy's pairwise_sum: 8 accumulators up to 128 values
_PAIRWISE_LEAF = 128


def _magnitudes(x: Any) -> Any:
    """Inside a kernel: x's values as integers (a view), whose order with the sign bit cleared is
    the order of |x|."""


def _sign_mask(x: Any) -> Any:
    """Inside a kernel: the mask that clears the sign bit of x's values seen by _magnitudes."""


def _no_magnitude(x: Any) -> Any:
    """Inside a kernel: 0 in the integer type of _magnitudes(x)."""


# Typed per dtype when a kernel compiles (a view and masks made inside the kernel: a view passed
# in as a second array would be a possible alias to LLVM, and the loop would not vectorize).
@overload(_magnitudes)
def _magnitudes_typed(x: Any) -> Any:
    itype = np.int32 if x.dtype == types.float32 else np.int64

    def view(x: Any) -> Any:
        return x.view(itype)

    return view


@overload(_sign_mask)
def _sign_mask_typed(x: Any) -> Any:
    mask = np.int32(0x7FFF_FFFF) if x.dtype == types.float32 else np.int64(0x7FFF_FFFF_FFFF_FFFF)

    def constant(x: Any) -> Any:
        return mask

    return constant


@overload(_no_magnitude)
def _no_magnitude_typed(x: Any) -> Any:
    zero = np.int32(0) if x.dtype == types.float32 else np.int64(0)

    def constant(x: Any) -> Any:
        return zero

    return constant


# Each writes dL/dz over g (one array read and written: a second output array would be a fresh
# one, whose first touch costs page faults worth three times the loop, or a possible alias that
# keeps LLVM from vectorizing) and returns the bits of its largest |value|.
@kernel
def _sigmoid_delta(s: Any, g: Any, one: Any) -> Any:
    bits, mask, m = _magnitudes(g), _sign_mask(g), _no_magnitude(g)
    for i in range(g.size):
        g[i] = (s[i] * (one - s[i])) * g[i]
        v = bits[i] & mask
        m = v if v > m else m
    return m


@kernel
def _tanh_delta(t: Any, g: Any, one: Any) -> Any:
    bits, mask, m = _magnitudes(g), _sign_mask(g), _no_magnitude(g)
    for i in range(g.size):
        g[i] = (one - t[i] * t[i]) * g[i]
        v = bits[i] & mask
        m = v if v > m else m
    return m


@kernel
def _relu_delta(z: Any, g: Any, one: Any, zero: Any) -> Any:
    bits, mask, m = _magnitudes(g), _sign_mask(g), _no_magnitude(g)
    for i in range(g.size):
        g[i] = g[i] * (one if z[i] > zero else zero)
        v = bits[i] & mask
        m = v if v > m else m
    return m


@kernel
def _product_delta(slope: Any, g: Any) -> Any:
    bits, mask, m = _magnitudes(g), _sign_mask(g), _no_magnitude(g)
    for i in range(g.size):
        g[i] = slope[i] * g[i]
        v = bits[i] & mask
        m = v if v > m else m
    return m


@kernel
def _maxout_delta(z: Any, g: Any, pieces: Any, one: Any, zero: Any, out: Any) -> None:
    """out[r, p U + u] = (1 if piece p wins unit u of sample r else 0) * g[r, u], for z and out of
    shape (samples, pieces * U), g of shape (samples, U). The winner is np.argmax's over the
    pieces: the first maximum, or the first NaN (NumPy treats NaN as the largest and stops)."""
    units = g.shape[1]
    best = np.empty(units, z.dtype)
    win = np.empty(units, np.int64)
    for r in range(z.shape[0]):
        for u in range(units):
            best[u] = z[r, u]
            win[u] = 0
        for p in range(1, pieces):
            for u in range(units):
                v = z[r, p * units + u]
                b = best[u]
                # not v <= b: v larger, or v NaN; a NaN already found stays (NumPy breaks there)
                if b == b and not v <= b:
                    best[u] = v
                    win[u] = p
        for p in range(pieces):
            for u in range(units):
                out[r, p * units + u] = (one if win[u] == p else zero) * g[r, u]


@kernel
def _peak_bits(x: Any) -> Any:
    bits, mask, m = _magnitudes(x), _sign_mask(x), _no_magnitude(x)
    for i in range(bits.size):
        v = bits[i] & mask
        m = v if v > m else m
    return m


@kernel
def _leaf_sum(x: Any, lo: Any, n: Any) -> Any:
    """numpy's pairwise_sum of float64(x[lo:lo + n]) for n <= 128: below 8 values one by one,
    else eight running sums over strides of 8, combined as a tree, then the rest one by one."""
    if n < 8:
        res = -0.0
        for i in range(lo, lo + n):
            res += np.float64(x[i])
        return res
    r0, r1, r2, r3 = np.float64(x[lo]), np.float64(x[lo + 1]), np.float64(x[lo + 2]), np.float64(x[lo + 3])
    r4, r5, r6, r7 = (
        np.float64(x[lo + 4]),
        np.float64(x[lo + 5]),
        np.float64(x[lo + 6]),
        np.float64(x[lo + 7]),
    )
    end = lo + n - n % 8
    for i in range(lo + 8, end, 8):
        r0 += np.float64(x[i])
        r1 += np.float64(x[i + 1])
        r2 += np.float64(x[i + 2])
        r3 += np.float64(x[i + 3])
        r4 += np.float64(x[i + 4])
        r5 += np.float64(x[i + 5])
        r6 += np.float64(x[i + 6])
        r7 += np.float64(x[i + 7])
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(end, lo + n):
        res += np.float64(x[i])
    return res


@kernel
def _leaf_squares(x: Any, lo: Any, n: Any, mean: Any) -> Any:
    """_leaf_sum of (float64(x) - mean) ** 2, the squares numpy's _var sums."""
    if n < 8:
        res = -0.0
        for i in range(lo, lo + n):
            d = np.float64(x[i]) - mean
            res += d * d
        return res
    d0, d1, d2, d3 = (
        np.float64(x[lo]) - mean,
        np.float64(x[lo + 1]) - mean,
        np.float64(x[lo + 2]) - mean,
        np.float64(x[lo + 3]) - mean,
    )
    d4, d5, d6, d7 = (
        np.float64(x[lo + 4]) - mean,
        np.float64(x[lo + 5]) - mean,
        np.float64(x[lo + 6]) - mean,
        np.float64(x[lo + 7]) - mean,
    )
    r0, r1, r2, r3, r4, r5, r6, r7 = d0 * d0, d1 * d1, d2 * d2, d3 * d3, d4 * d4, d5 * d5, d6 * d6, d7 * d7
    end = lo + n - n % 8
    for i in range(lo + 8, end, 8):
        d0, d1, d2, d3 = (
            np.float64(x[i]) - mean,
            np.float64(x[i + 1]) - mean,
            np.float64(x[i + 2]) - mean,
            np.float64(x[i + 3]) - mean,
        )
        d4, d5, d6, d7 = (
            np.float64(x[i + 4]) - mean,
            np.float64(x[i + 5]) - mean,
            np.float64(x[i + 6]) - mean,
            np.float64(x[i + 7]) - mean,
        )
        r0 += d0 * d0
        r1 += d1 * d1
        r2 += d2 * d2
        r3 += d3 * d3
        r4 += d4 * d4
        r5 += d5 * d5
        r6 += d6 * d6
        r7 += d7 * d7
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(end, lo + n):
        d = np.float64(x[i]) - mean
        res += d * d
    return res


@kernel
def _leaf(x: Any, lo: Any, n: Any, mean: Any, squares: Any) -> Any:
    return _leaf_squares(x, lo, n, mean) if squares else _leaf_sum(x, lo, n)


@kernel
def _pairwise(x: Any, lo: Any, n: Any, mean: Any, squares: Any) -> Any:
    """numpy's pairwise_sum over x[lo:lo + n]: halves (the first a multiple of 8 values long) down
    to leaves of at most 128 values, each node the sum of its halves. Walked with an explicit
    stack, depth first, left before right, as numpy's recursion adds them."""
    if n <= _PAIRWISE_LEAF:
        return _leaf(x, lo, n, mean, squares)
    starts = np.empty(64, np.int64)
    sizes = np.empty(64, np.int64)
    state = np.empty(64, np.int64)  # 0: enter the left half, 1: the right half, 2: both done
    left = np.empty(64, np.float64)
    right = np.empty(64, np.float64)
    depth = 0
    starts[0], sizes[0], state[0] = lo, n, 0
    while True:
        node_lo, node_n = starts[depth], sizes[depth]
        if node_n <= _PAIRWISE_LEAF:
            value = _leaf(x, node_lo, node_n, mean, squares)
        elif state[depth] < 2:
            half = node_n // 2
            half -= half % _PAIRWISE_BLOCK
            child_lo, child_n = (node_lo, half) if state[depth] == 0 else (node_lo + half, node_n - half)
            state[depth] += 1
            depth += 1
            starts[depth], sizes[depth], state[depth] = child_lo, child_n, 0
            continue
        else:
            value = left[depth] + right[depth]
        if depth == 0:
            return value
        depth -= 1
        if state[depth] == 1:
            left[depth] = value
        else:
            right[depth] = value


@kernel
def _std64(x: Any, chunk: Any) -> Any:
    """np.std(x, dtype=np.float64) of a flat float32 or float64 array, in numpy's order: the mean
    from add.reduce (a float32 array is cast in chunks of BUFFER values, each summed pairwise,
    the chunks in turn: `chunk` is BUFFER; a float64 one is summed pairwise whole: `chunk` >= n),
    then the squared deviations summed pairwise whole (numpy holds them in a float64 array),
    divided by n, and the root."""
    n = x.size
    total = 0.0
    for lo in range(0, n, chunk):
        total += _pairwise(x, lo, min(chunk, n - lo), 0.0, False)
    mean = total / n
    return np.sqrt(_pairwise(x, 0, n, mean, True) / n)


def _flat(x: Array) -> Array:
    """x as one row of values in C order (a view when x is C-contiguous)."""
    return np.ascontiguousarray(x).reshape(-1)


def _given_up(g: Array, *inputs: Array) -> Array:
    """g flat, to be written over: C-contiguous, writeable, float32 or float64, and of the shape
    and dtype of the other inputs (a kernel reads them all by one flat index)."""
    if g.dtype not in _BITS:
        raise TypeError(f"the backward pass's kernels take float32 or float64 layers, not {g.dtype}")
    for x in inputs:
        if x.shape != g.shape or x.dtype != g.dtype:
            raise ValueError(
                f"the backward pass's kernels take arrays of one shape and dtype, not {x.dtype}{x.shape} "
                f"and g's {g.dtype}{g.shape}"
            )
    if not (g.flags.c_contiguous and g.flags.writeable):
        raise ValueError("g is written over: it must be a C-contiguous, writeable array")
    return g.reshape(-1)


def _as_float(bits: np.signedinteger | int, dtype: np.dtype[np.floating]) -> float:
    """The float whose bits (sign cleared) the kernel's max found: |x|'s peak, NaN above inf."""
    return float(np.array(bits, _BITS[dtype]).view(dtype))


# Each X_delta writes dL/dz over g, the gradient the caller gives up (the layer's dtype, as NumPy's
# product of two arrays of that dtype), and returns it with its largest |value| (NaN when a value
# is NaN).


def sigmoid_delta(s: Array, g: Array) -> tuple[Array, float]:
    """(s * (1 - s)) * g: sigmoid's f'(z) g from its output s."""
    peak = _sigmoid_delta(_flat(s), _given_up(g, s), s.dtype.type(1.0))
    return g, _as_float(peak, g.dtype)


def tanh_delta(t: Array, g: Array) -> tuple[Array, float]:
    """(1 - t * t) * g: tanh's f'(z) g from its output t (np.square(t) is t * t)."""
    peak = _tanh_delta(_flat(t), _given_up(g, t), t.dtype.type(1.0))
    return g, _as_float(peak, g.dtype)


def relu_delta(z: Array, g: Array) -> tuple[Array, float]:
    """g * (z > 0), as np.multiply(g, z > 0, dtype=z.dtype): times 1.0 or 0.0, so 0 * g keeps
    its sign, and an inf or NaN g gives NaN."""
    peak = _relu_delta(_flat(z), _given_up(g, z), z.dtype.type(1.0), z.dtype.type(0.0))
    return g, _as_float(peak, g.dtype)


def product_delta(slope: Array, g: Array) -> tuple[Array, float]:
    """slope * g, any elementwise activation's f'(z) g."""
    peak = _product_delta(_flat(slope), _given_up(g, slope))
    return g, _as_float(peak, g.dtype)


def maxout_delta(z: Array, g: Array, pieces: int) -> tuple[Array, float]:
    """dL/dz of a maxout layer: g routed to each unit's winning piece (np.argmax over the pieces),
    0 * g to the others, in a fresh array of z's shape and dtype (z: (samples, pieces * units)),
    and its largest |value|: NumPy's (one_hot(argmax) * g[:, None, :]).reshape(z.shape)."""
    if z.dtype not in _BITS or g.dtype != z.dtype or z.ndim != 2 or g.ndim != 2 or len(g) != len(z):
        raise ValueError(
            "maxout_delta takes z (samples, pieces * units) and g (samples, units), float32 or "
            f"float64 alike, not {z.dtype}{z.shape} and {g.dtype}{g.shape}"
        )
    if pieces < 1 or z.shape[1] != pieces * g.shape[1]:
        raise ValueError(f"z's {z.shape[1]} columns are not {pieces} pieces of g's {g.shape[1]} units")
    out = np.empty(z.shape, z.dtype)
    kind = z.dtype.type
    _maxout_delta(np.ascontiguousarray(z), np.ascontiguousarray(g), pieces, kind(1.0), kind(0.0), out)
    return out, peak(out)


def peak(x: Array) -> float:
    """max |x| (0.0 for an empty x, NaN when a value is NaN), as max(max x, -min x)."""
    if x.dtype not in _BITS:
        raise TypeError(f"peak takes float32 or float64 arrays, not {x.dtype}")
    return _as_float(_peak_bits(_flat(x)), x.dtype)


def std64(x: Array) -> float:
    """np.std(x, dtype=np.float64) of a float32 or float64 array, bit for bit, in one read for
    the mean and one for the deviations (numpy: five passes and three temporaries)."""
    if x.dtype not in _BITS:
        raise TypeError(f"std64 takes float32 or float64 arrays, not {x.dtype}")
    if not x.size:
        return math.nan
    if not (x.flags.c_contiguous or x.flags.f_contiguous):
        return float(x.std(dtype=np.float64))  # numpy's own order over strided memory
    # numpy sums a contiguous array in memory order (orthogonal weights wider than tall are a
    # transpose: Fortran order); only a cast is buffered: a float64 array's mean is one pairwise sum
    return float(_std64(x.ravel(order="K"), BUFFER if x.dtype == np.float32 else x.size))


def warm_up() -> None:
    """Every kernel once for float32 and float64 layers (the engine's two dtypes)."""
    for dtype in _BITS:
        x = np.linspace(-1.0, 1.0, 200).astype(dtype)
        sigmoid_delta(x, x.copy())
        tanh_delta(x, x.copy())
        relu_delta(x, x.copy())
        product_delta(x, x.copy())
        maxout_delta(x.reshape(10, 20), x[:100].reshape(10, 10), 2)
        peak(x)
        std64(x)
