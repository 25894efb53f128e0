"""Compiled kernels for the activations' elementwise work around their transcendental functions.

ReLU and leaky ReLU are one loop each here where NumPy spends a comparison, a product and a
select (np.where) or a scalar cast (np.maximum against a Python 0), and a layer's bias is added in
the same loop (NumPy: its own pass, z += b); erf's polynomial (GELU's) is one loop before NumPy's
exp instead of about twenty passes and fresh arrays; sigmoid's 0.5 + 0.5 * t after
NumPy's tanh is one loop instead of two passes. Transcendental functions stay NumPy's (numba's
would give other bits). Each kernel performs NumPy's operations in its order and dtype (a float32
array stays float32: the constants come in as the array's own type), so the bits are NumPy's;
tests/engine/layers/test_activation_kernels.py checks them against the NumPy steps they replace.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..jit import kernel

Array = NDArray[np.floating]
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@kernel
def _relu(z: Any, zero: Any, out: Any) -> None:
    # np.maximum(z, 0): z where z > 0 or z is NaN (NaN propagates), else +0 (also for z = -0)
    for i in range(z.size):
        v = z[i]
        out[i] = v if v > zero or v != v else zero


@kernel
def _leaky_relu(z: Any, alpha: Any, zero: Any, out: Any) -> None:
    # np.where(z > 0, z, alpha * z), alpha in z's dtype as NumPy casts a Python float
    for i in range(z.size):
        v = z[i]
        out[i] = v if v > zero else alpha * v


@kernel
def _relu_bias(z: Any, b: Any, zero: Any, out: Any) -> None:
    # z += b (a row vector), then np.maximum(z, 0): the sum is stored in z, as NumPy's += stores it
    for r in range(z.shape[0]):
        for c in range(z.shape[1]):
            v = z[r, c] + b[c]
            z[r, c] = v
            out[r, c] = v if v > zero or v != v else zero


@kernel
def _leaky_relu_bias(z: Any, b: Any, alpha: Any, zero: Any, out: Any) -> None:
    for r in range(z.shape[0]):
        for c in range(z.shape[1]):
            v = z[r, c] + b[c]
            z[r, c] = v
            out[r, c] = v if v > zero else alpha * v


@kernel
def _halve(z: Any, half: Any, out: Any) -> None:
    # np.multiply(z, 0.5): sigmoid's first step
    for i in range(z.size):
        out[i] = z[i] * half


@kernel
def _halve_bias(z: Any, b: Any, half: Any, out: Any) -> None:
    # z += b (a row vector), then out = z * 0.5
    for r in range(z.shape[0]):
        for c in range(z.shape[1]):
            v = z[r, c] + b[c]
            z[r, c] = v
            out[r, c] = v * half


@kernel
def _leaky_relu_slope(z: Any, one: Any, alpha: Any, zero: Any, out: Any) -> None:
    # np.where(z > 0, 1.0, alpha).astype(z.dtype): alpha rounded once to z's dtype
    for i in range(z.size):
        out[i] = one if z[i] > zero else alpha


@kernel
def _half_plus_half(t: Any, half: Any) -> None:
    # np.multiply(t, 0.5, out=t) then np.add(t, 0.5, out=t): two roundings, no fused multiply-add
    for i in range(t.size):
        t[i] = t[i] * half + half


@kernel
def _erfc_exponent(
    x: Any, c: Any, one: Any, half: Any, cap: Any, t: Any, arg: Any
) -> None:  # fmt: skip
    # erf's steps before its exp: z = np.minimum(np.abs(x), cap); t = 1 / (1 + 0.5 z); the
    # Chebyshev polynomial in t by Horner (poly = c + t * poly, from the last coefficient);
    # arg = poly - z * z. Each in x's dtype, in that order. The ten coefficients are a tuple:
    # a fixed count unrolls Horner's loop, so the loop over x vectorizes (a loop over an array
    # of coefficients ran one value at a time, 6 ns a value).
    c0, c1, c2, c3, c4, c5, c6, c7, c8, c9 = c
    for i in range(x.size):
        a = abs(x[i])
        z = cap if a > cap else a  # np.minimum: a NaN stays NaN
        ti = one / (one + half * z)
        poly = c8 + ti * c9
        poly = c7 + ti * poly
        poly = c6 + ti * poly
        poly = c5 + ti * poly
        poly = c4 + ti * poly
        poly = c3 + ti * poly
        poly = c2 + ti * poly
        poly = c1 + ti * poly
        poly = c0 + ti * poly
        t[i] = ti
        arg[i] = poly - z * z


@kernel
def _gauss_exponent(x: Any, minus_half: Any, cap: Any, arg: Any) -> None:
    # normal_pdf's steps before its exp: z = np.minimum(np.abs(x), cap); arg = -0.5 * z * z
    for i in range(x.size):
        a = abs(x[i])
        z = cap if a > cap else a  # np.minimum: a NaN stays NaN
        arg[i] = minus_half * z * z


@kernel
def _erf_from_erfc(x: Any, t: Any, e: Any, one: Any) -> None:
    # erf's steps after its exp, over t: np.copysign(1 - t * e, x)
    for i in range(x.size):
        t[i] = math.copysign(one - t[i] * e[i], x[i])


@kernel
def _nonpositive(x: Any, zero: Any, m: Any) -> None:
    # np.minimum(x, 0): 0 where x > 0 or x is zero (np.minimum(-0.0, 0) is +0), NaN stays
    for i in range(x.size):
        v = x[i]
        m[i] = v if v < zero or v != v else zero


@kernel
def _elu_finish(x: Any, e: Any, alpha: Any, scale: Any, scaled: bool, zero: Any) -> None:
    # np.where(x > 0, x, alpha * e), times scale after (SELU) when `scaled`, written over e (one
    # array read and written: an `out` that is e, passed twice, kept LLVM from vectorizing, 9x)
    for i in range(x.size):
        v = x[i] if x[i] > zero else alpha * e[i]
        e[i] = scale * v if scaled else v


@kernel
def _elu_slope_finish(x: Any, e: Any, one: Any, alpha: Any, scale: Any, scaled: bool, zero: Any) -> None:
    # np.where(x > 0, 1.0, alpha * e), times scale after (SELU) when `scaled`, written over e
    for i in range(x.size):
        v = one if x[i] > zero else alpha * e[i]
        e[i] = scale * v if scaled else v


def _float_array(z: Array) -> Array:
    """z as a C-contiguous float32 or float64 array of its shape (itself when it is one; a 0-d
    array stays 0-d, which np.ascontiguousarray would make 1-d)."""
    x = np.asarray(z)
    if not x.flags.c_contiguous:
        x = x.copy(order="C")
    if x.dtype not in DTYPES:
        raise TypeError(f"the activations' kernels take float32 or float64 arrays, not {x.dtype}")
    return x


def relu(z: Array) -> Array:
    """max(z, 0) in a fresh array of z's shape and dtype, as np.maximum(z, 0)."""
    x = _float_array(z)
    out = np.empty(x.shape, x.dtype)
    _relu(x.reshape(-1), x.dtype.type(0.0), out.reshape(-1))
    return out


def leaky_relu(z: Array, alpha: float) -> Array:
    """z where z > 0, else alpha z, as np.where(z > 0, z, alpha * z)."""
    x = _float_array(z)
    out = np.empty(x.shape, x.dtype)
    kind = x.dtype.type
    _leaky_relu(x.reshape(-1), kind(alpha), kind(0.0), out.reshape(-1))
    return out


def _layer(z: Array, bias: Array | None, out: Array) -> None:
    """Refuse what a layer kernel cannot read by its indices: z and out 2-D, C-contiguous, of one
    shape and dtype (float32 or float64), z writeable, bias one value per column in z's dtype."""
    if z.dtype not in DTYPES or z.ndim != 2 or out.shape != z.shape or out.dtype != z.dtype:
        raise ValueError(
            f"a layer kernel takes 2-D float32 or float64 z and out alike, not {z.dtype}{z.shape}"
        )
    if not (z.flags.c_contiguous and z.flags.writeable and out.flags.c_contiguous and out.flags.writeable):
        raise ValueError("a layer kernel writes z and out in place: C-contiguous, writeable arrays")
    if np.may_share_memory(z, out):
        raise ValueError("a layer kernel's out must not overlap z (z is the layer's pre-activation)")
    if bias is not None and (bias.shape != z.shape[1:] or bias.dtype != z.dtype):
        raise ValueError(f"the bias must be {z.dtype}{z.shape[1:]}, not {bias.dtype}{bias.shape}")


def relu_layer(z: Array, bias: Array | None, out: Array) -> None:
    """z += bias (when there is one), then max(z, 0) into out, in one pass: the steps
    z += bias; out[...] = np.maximum(z, 0)."""
    _layer(z, bias, out)
    zero = z.dtype.type(0.0)
    if bias is None:
        _relu(z.reshape(-1), zero, out.reshape(-1))
    else:
        _relu_bias(z, bias, zero, out)


# Values per block of rows in sigmoid_layer: its three passes (halve, NumPy's tanh, 0.5 + 0.5 t)
# run over a block while it is in cache (forward.ACTIVATION_BLOCK's reason).
SIGMOID_BLOCK = 1 << 16


def sigmoid_layer(z: Array, bias: Array | None, out: Array) -> None:
    """z += bias (when there is one), then sigmoid(z) into out: 0.5 + 0.5 tanh(0.5 z) as
    activations.sigmoid spells it, block by block of rows, the bias and the halving in one pass
    and NumPy's tanh where the block is."""
    _layer(z, bias, out)
    half = z.dtype.type(0.5)
    step = max(1, SIGMOID_BLOCK // max(1, z.shape[1]))
    for start in range(0, len(z), step):
        rows, block = z[start : start + step], out[start : start + step]
        if bias is None:
            _halve(rows.reshape(-1), half, block.reshape(-1))
        else:
            _halve_bias(rows, bias, half, block)
        np.tanh(block, out=block)
        _half_plus_half(block.reshape(-1), half)


def leaky_relu_layer(z: Array, bias: Array | None, alpha: float, out: Array) -> None:
    """z += bias (when there is one), then leaky_relu(z, alpha) into out, in one pass."""
    _layer(z, bias, out)
    kind = z.dtype.type
    if bias is None:
        _leaky_relu(z.reshape(-1), kind(alpha), kind(0.0), out.reshape(-1))
    else:
        _leaky_relu_bias(z, bias, kind(alpha), kind(0.0), out)


def leaky_relu_slope(z: Array, alpha: float) -> Array:
    """1 where z > 0, else alpha, in z's dtype, as np.where(z > 0, 1.0, alpha).astype(z.dtype)."""
    x = _float_array(z)
    out = np.empty(x.shape, x.dtype)
    kind = x.dtype.type
    _leaky_relu_slope(x.reshape(-1), kind(1.0), kind(alpha), kind(0.0), out.reshape(-1))
    return out


def erf(x: Array, coeffs: tuple[float, ...], cap: float) -> Array:
    """1 - erfc(|x|) with x's sign, erfc(z) = t exp(poly(t) - z^2), t = 1 / (1 + z / 2) and
    z = min(|x|, cap), in x's dtype (integers as float64, as NumPy promotes them): the NumPy steps
    in one compiled pass, NumPy's exp, and one more pass."""
    x = np.asarray(x)
    if x.dtype.kind in "biu":
        x = x.astype(np.float64)
    x = _float_array(x)
    kind = x.dtype.type
    t, arg = np.empty(x.shape, x.dtype), np.empty(x.shape, x.dtype)
    flat = x.reshape(-1)
    ts, args = t.reshape(-1), arg.reshape(-1)
    if len(coeffs) != 10:
        raise ValueError(f"erf's kernel spells a polynomial of 10 coefficients, not {len(coeffs)}")
    typed = tuple(kind(c) for c in coeffs)
    _erfc_exponent(flat, typed, kind(1.0), kind(0.5), kind(cap), ts, args)
    np.exp(arg, out=arg)
    _erf_from_erfc(flat, ts, args, kind(1.0))
    return t


def elu(z: Array, alpha: float, scale: float | None = None) -> Array:
    """np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0))), times `scale` (SELU's lambda) when
    given, in z's dtype: NumPy's expm1 between two compiled passes (np.where alone cost 3.7 ns a
    value, the whole 4.5)."""
    x = _float_array(z)
    kind = x.dtype.type
    flat, out = x.reshape(-1), np.empty(x.shape, x.dtype)
    e = out.reshape(-1)
    _nonpositive(flat, kind(0.0), e)
    np.expm1(e, out=e)
    _elu_finish(flat, e, kind(alpha), kind(1.0 if scale is None else scale), scale is not None, kind(0.0))
    return out


def elu_slope(z: Array, alpha: float, scale: float | None = None) -> Array:
    """np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0))) in z's dtype, times `scale` when
    given: ELU's (and SELU's) f'(z)."""
    x = _float_array(z)
    kind = x.dtype.type
    flat, out = x.reshape(-1), np.empty(x.shape, x.dtype)
    e = out.reshape(-1)
    _nonpositive(flat, kind(0.0), e)
    np.exp(e, out=e)
    _elu_slope_finish(
        flat,
        e,
        kind(1.0),
        kind(alpha),
        kind(1.0 if scale is None else scale),
        scale is not None,
        kind(0.0),
    )
    return out


def normal_pdf(x: Array, scale: float, cap: float) -> Array:
    """scale * exp(-0.5 * z * z), z = min(|x|, cap), in x's dtype (integers as float64): one
    compiled pass, NumPy's exp and its product in place (NumPy: five passes, four arrays)."""
    x = np.asarray(x)
    if x.dtype.kind in "biu":
        x = x.astype(np.float64)
    x = _float_array(x)
    kind = x.dtype.type
    out = np.empty(x.shape, x.dtype)
    _gauss_exponent(x.reshape(-1), kind(-0.5), kind(cap), out.reshape(-1))
    np.exp(out, out=out)
    np.multiply(out, kind(scale), out=out)
    return out


def half_plus_half(t: Array) -> Array:
    """0.5 + 0.5 * t, written over t (C-contiguous, float32 or float64), in t's dtype."""
    if t.dtype not in DTYPES or not t.flags.c_contiguous or not t.flags.writeable:
        raise ValueError("half_plus_half writes over a C-contiguous, writeable float32 or float64 array")
    _half_plus_half(t.reshape(-1), t.dtype.type(0.5))
    return t


def warm_up() -> None:
    """Every kernel once for float32 and float64 arrays (the engine's two dtypes)."""
    for dtype in DTYPES:
        x: Array = np.linspace(-1.0, 1.0, 50).astype(dtype)
        relu(x)
        leaky_relu(x, 0.01)
        layer = x.reshape(5, 10)
        relu_layer(layer.copy(), None, np.empty_like(layer))
        relu_layer(layer.copy(), layer[0].copy(), np.empty_like(layer))
        leaky_relu_layer(layer.copy(), None, 0.01, np.empty_like(layer))
        leaky_relu_layer(layer.copy(), layer[0].copy(), 0.01, np.empty_like(layer))
        sigmoid_layer(layer.copy(), None, np.empty_like(layer))
        sigmoid_layer(layer.copy(), layer[0].copy(), np.empty_like(layer))
        leaky_relu_slope(x, 0.01)
        half_plus_half(x.copy())
        erf(x, tuple(np.linspace(-1.0, 1.0, 10)), 10.0)
        normal_pdf(x, 0.5, 40.0)
        for scale in (None, 1.5):
            elu(x, 1.0, scale)
            elu_slope(x, 1.0, scale)
