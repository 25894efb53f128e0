"""Bit-for-bit comparison of a compiled kernel's results with the NumPy steps it replaced."""

from __future__ import annotations

from typing import Any

import numpy as np


def same_bits(a: Any, b: Any, what: str) -> None:
    """Equal bit patterns (a -0.0 for a 0.0 fails, one ulp fails), NaN where NaN. A NaN's sign and
    payload are not compared: which operand's NaN an operation passes on IEEE leaves open (x86
    keeps the first operand's, and LLVM, like NumPy's SIMD loops, may swap an addition's or a
    product's operands); the answers count NaNs and never read their bits."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, f"{what}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
    bits = np.uint32 if a.dtype == np.float32 else np.uint64
    nan = np.isnan(a)
    assert np.array_equal(nan, np.isnan(b)), f"{what}: NaN in other places"
    same = (np.ascontiguousarray(a).view(bits) == np.ascontiguousarray(b).view(bits)) | nan
    assert same.all(), f"{what}: {np.count_nonzero(~same)} of {a.size} values differ"
