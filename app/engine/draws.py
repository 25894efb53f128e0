"""Normal draws from a NumPy Generator in compiled loops: bit for bit what
`Generator.standard_normal` gives, and the generator left where that call leaves it.

Every link's numbers start from these draws (inputs, weights, the backward pass's upstream
gradient), and NumPy spends 8-9 ns a value on them here: about 6 ms of a 3-run comparison's
answer. The same algorithms compiled, about 3 ns a value:

- float64: NumPy's ziggurat (random_standard_normal), one 64-bit draw a value, from the same
  PCG64 through its own C functions.
- float32: NumPy's float32 ziggurat takes 32 random bits a value, which PCG64 cuts from 64-bit
  draws, low half first, keeping the high half for its next call. Made here from 64-bit draws in
  the same order, with the generator's own 32-bit call for what it holds at the start (its kept
  half) and for the last value, so that it keeps what it would have kept: the next draw from it,
  compiled or NumPy's, continues the same stream (tests/engine/test_draws.py checks values and
  states over seeds, sizes and starts).

The rare branches (0.7% of values) are NumPy's C code (numpy/random/src/distributions), with the
tables numba.np.random copies. (numba's own transcription compares the float32 wedge in float32,
where NumPy's C compares in double: it disagrees once in ~2.5e7 values, and every value after
that is shifted by one.) Small draws (a bias) and other bit generators keep NumPy's call. One
difference stays, outside the stream: a PCG64 holding no half draw keeps a stale `uinteger` in
its state dict after NumPy's float32 call, and 0 after this one (`bit_generator.state` and a
pickled generator differ there; the values drawn next do not).
"""

from __future__ import annotations

import ctypes
import operator
from collections.abc import Sequence
from typing import Any, SupportsIndex

import numpy as np
from numpy.typing import NDArray

from .jit import kernel

try:  # numba's transcription of NumPy's ziggurats: the same tables
    from llvmlite import ir
    from numba import float32, float64, uint32, uint64
    from numba.core import types
    from numba.core.extending import intrinsic
    from numba.np.random._constants import (
        fi_double,
        fi_float,
        ki_double,
        ki_float,
        wi_double,
        wi_float,
        ziggurat_nor_inv_r,
        ziggurat_nor_inv_r_f,
        ziggurat_nor_r,
        ziggurat_nor_r_f,
    )

    COMPILED = True
except ImportError:  # a numba without them: NumPy's draws (the same numbers, slower)
    COMPILED = False

MIN_VALUES = 1024  # below this, NumPy's own call is as fast

_LOW = 0xFFFFFFFF

# NumPy's C API for bit generators (numpy/random/bitgen.h): a PCG64's `capsule` holds a pointer to
# its bitgen_t, {void *state; next_uint64; next_uint32; next_double; next_raw}. Read from there,
# not from `.ctypes`, whose ctypes.cast calls leave reference cycles for the collector (numba's
# own unboxing of a Generator goes through it: dozens of cyclic objects per experiment).
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_STATE, _NEXT_UINT64, _NEXT_UINT32, _NEXT_DOUBLE = range(4)


def _bitgen_call(member: int, returns: Any) -> Any:
    """A compiled call of the bit generator's function `member` on its state, given the address
    of its bitgen_t."""

    @intrinsic
    def call(typingctx: Any, bitgen: Any) -> Any:
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            pointer = ir.IntType(8).as_pointer()
            slots = builder.inttoptr(args[0], pointer.as_pointer())
            state = builder.load(builder.gep(slots, [ir.Constant(ir.IntType(64), _STATE)]))
            function = ir.FunctionType(context.get_value_type(returns), (pointer,))
            address = builder.load(builder.gep(slots, [ir.Constant(ir.IntType(64), member)]))
            return builder.call(builder.bitcast(address, function.as_pointer()), (state,))

        return returns(bitgen), codegen

    return call


if COMPILED:
    _next_uint64 = _bitgen_call(_NEXT_UINT64, types.uint64)
    _next_uint32 = _bitgen_call(_NEXT_UINT32, types.uint32)
    _next_double = _bitgen_call(_NEXT_DOUBLE, types.float64)


@kernel
def _fill_float64(bitgen: int, out: Any) -> None:
    """out[:] = NumPy's random_standard_normal, value after value."""
    for i in range(out.size):
        while True:
            r = _next_uint64(bitgen)
            idx = r & uint64(0xFF)
            r >>= uint64(8)
            rabs = (r >> uint64(1)) & uint64(0x000FFFFFFFFFFFFF)
            x = float64(rabs) * wi_double[idx]
            if r & uint64(1):
                x = -x
            if rabs < ki_double[idx]:
                break  # 99.3% of values
            if idx == 0:  # the tail
                while True:
                    xx = -ziggurat_nor_inv_r * np.log1p(-_next_double(bitgen))
                    yy = -np.log1p(-_next_double(bitgen))
                    if yy + yy > xx * xx:
                        break
                x = ziggurat_nor_r + xx
                if (rabs >> uint64(8)) & uint64(1):
                    x = -x
                break
            if ((fi_double[idx - 1] - fi_double[idx]) * _next_double(bitgen) + fi_double[idx]) < np.exp(
                -0.5 * x * x
            ):
                break
        out[i] = x


@kernel
def _next32(bitgen: int, held: Any, own: bool) -> Any:
    """PCG64's next 32 bits: the half held in held[1] (held[0] says whether one is), else the low
    half of a new 64-bit draw, keeping the high one; with `own`, the bit generator's own call
    (which keeps the half in the generator instead)."""
    if held[0]:
        held[0] = 0
        return uint32(held[1])
    if own:
        return _next_uint32(bitgen)
    v = _next_uint64(bitgen)
    held[0] = 1
    held[1] = v >> uint64(32)
    return uint32(v & uint64(_LOW))


@kernel
def _uniform32(bitgen: int, held: Any, own: bool) -> Any:
    """NumPy's next_float: 24 random bits in [0, 1)."""
    return float32(float32(_next32(bitgen, held, own) >> uint32(8)) * float32(1.0) / float32(16777216.0))


@kernel
def _fill_float32(bitgen: int, out: Any, generator_holds: bool) -> None:
    """out[:] = NumPy's random_standard_normal_f, value after value, for a PCG64. No half draw is
    left here at the end: the last value draws through the generator's own 32-bit call."""
    held = np.zeros(2, np.uint64)
    n = out.size
    first = generator_holds
    for i in range(n):
        own = i == n - 1
        while True:
            r = _next32(bitgen, held, own or first)
            first = False
            idx = r & uint32(0xFF)
            rabs = (r >> uint32(9)) & uint32(0x0007FFFFF)
            x = float32(float32(rabs) * wi_float[idx])
            if (r >> uint32(8)) & uint32(1):
                x = -x
            if rabs < ki_float[idx]:
                break  # 99.3% of values
            if idx == 0:  # the tail
                while True:
                    xx = float32(-ziggurat_nor_inv_r_f * np.log1p(float32(-_uniform32(bitgen, held, own))))
                    yy = float32(-np.log1p(float32(-_uniform32(bitgen, held, own))))
                    if float32(yy + yy) > float32(xx * xx):
                        break
                x = float32(ziggurat_nor_r_f + xx)
                if (rabs >> uint32(8)) & uint32(1):
                    x = -x
                break
            # the wedge: NumPy's C compares the float32 left side with exp(-0.5 * x * x) in double
            # (-0.5 is a double; numba's transcription compares in float32, which disagrees about
            # once in 2.5e7 values and shifts the stream by one from there)
            edge = (fi_float[idx - 1] - fi_float[idx]) * _uniform32(bitgen, held, own) + fi_float[idx]
            if float64(edge) < np.exp(-0.5 * float64(x) * float64(x)):
                break
        out[i] = x


def standard_normal(
    rng: np.random.Generator,
    shape: SupportsIndex | Sequence[SupportsIndex],
    dtype: type[np.floating] = np.float32,
    out: NDArray[np.floating] | None = None,
) -> NDArray[np.floating]:
    """`rng.standard_normal(shape, dtype=dtype, out=out)`, the same values, and the generator
    left where that call leaves it."""
    dims = (operator.index(shape),) if not isinstance(shape, Sequence) else tuple(map(operator.index, shape))
    kind, bits = np.dtype(dtype), rng.bit_generator
    compiled = (
        COMPILED
        and int(np.prod(dims)) >= MIN_VALUES
        and type(bits) is np.random.PCG64
        and kind in (np.float32, np.float64)
        and (out is None or (out.shape == dims and out.dtype == kind and out.flags.carray))
    )
    if not compiled:  # NumPy's call, which also says what is wrong with an `out`
        drawn: NDArray[np.floating] = rng.standard_normal(shape, dtype=dtype, out=out)
        return drawn
    result = np.empty(shape, kind) if out is None else out
    flat = result.reshape(-1)  # a view: `out` is C-contiguous, as NumPy requires of it
    bitgen = _capsule_pointer(bits.capsule, b"BitGenerator")
    with bits.lock:  # as NumPy's own call: one thread at a time draws from a generator
        if kind == np.float64:
            _fill_float64(bitgen, flat)
        else:
            _fill_float32(bitgen, flat, bool(bits.state["has_uint32"]))
    return result


def warm_up() -> None:
    """Compile (or load) the fills for both dtypes."""
    if COMPILED:
        for dtype, holds in ((np.float32, False), (np.float32, True), (np.float64, False)):
            rng = np.random.default_rng(0)
            if holds:
                rng.standard_normal(1, dtype=np.float32)
            standard_normal(rng, MIN_VALUES, dtype)
