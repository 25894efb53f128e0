"""Per-layer unit counts: dead units (zero for every sample) and distinct units (how many different
functions a layer's units compute; 1 under zero or constant initialization)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from . import unit_kernels
from .stats import Array, Extent, is_wide

DISTINCT_RTOL = 1e-5  # units closer than this (relative to the layer's largest |value|) are one


def dead_units(a: Array) -> int:
    """Units whose activation is exactly zero for every sample (a: samples x units)."""
    return int(a.shape[1] - np.count_nonzero((a != 0).any(axis=0)))


def distinct_units(a: Array, extent: Extent) -> int | None:
    """How many different functions the units of a layer compute (a: samples x units).

    Units within DISTINCT_RTOL * max|a| of each other on every sample count as one (and so do
    chains of them): 1 under zero or constant initialization. Units are sorted by a random
    projection, which equal units share, and only units whose projections are close are compared,
    sample by sample, each pair dropped at its first difference: sorted neighbours, then, where a
    unit with a tied projection sorts between two equal ones, the groups either side of it. None
    when the layer holds NaN or inf: units are then not comparable.
    """
    return unit_counts(a, extent)[1]


@lru_cache(maxsize=8)
def _projection(samples: int, dtype: np.dtype[np.floating]) -> tuple[NDArray[np.floating], float]:
    """The projection's fixed random weights, and their sum: made once per number of samples."""
    r = np.random.default_rng(0x1D5).uniform(0.5, 1.5, samples).astype(dtype)
    r.flags.writeable = False
    return r, float(r.sum())


def unit_counts(a: Array, extent: Extent) -> tuple[int, int | None]:
    """dead_units(a) and distinct_units(a, extent), sharing one projection of the layer."""
    units = int(a.shape[1])
    if extent.finite < extent.size:
        return dead_units(a), None
    if units < 2:
        return dead_units(a), units
    if extent.low == extent.high:  # one value everywhere (zero init): every unit is the same
        return (units if extent.low == 0.0 else 0), 1
    # Projections of values this large would overflow float32.
    wide = is_wide(extent.low, extent.high)
    r, r_sum = _projection(int(a.shape[0]), np.dtype(np.float64) if wide else a.dtype)
    keys = (r @ (a.astype(np.float64) if wide else a)).astype(np.float64)
    scale = max(abs(extent.low), abs(extent.high))
    tol = DISTINCT_RTOL * max(scale, float(np.finfo(np.float32).tiny))
    # Two units within tol everywhere have projections within tol * sum(r), plus rounding.
    key_tol = tol * r_sum + 1e-5 * float(np.abs(keys).max())
    # The rest in one compiled call: only units with a 0 key can be dead; sorted neighbours within
    # key_tol compared on the samples, the tolerance in the layer's dtype (as NumPy compares a
    # Python float with a float32 array), then groups rejoined (see unit_kernels._rejoined).
    return unit_kernels.dead_and_distinct(np.ascontiguousarray(a), keys, a.dtype.type(tol), key_tol)
