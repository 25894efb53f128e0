"""Per-layer unit counts: dead units (zero for every sample) and distinct units (how many different
functions a layer's units compute; 1 under zero or constant initialization)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from .stats import CHUNK, Array, Extent, is_wide

DISTINCT_RTOL = 1e-5  # units closer than this (relative to the layer's largest |value|) are one
SIGNATURE_ROWS = 32  # samples on which candidate pairs of equal units are compared first


def dead_units(a: Array) -> int:
    """Units whose activation is exactly zero for every sample (a: samples x units)."""
    return int(a.shape[1] - np.count_nonzero((a != 0).any(axis=0)))


def distinct_units(a: Array, extent: Extent) -> int | None:
    """How many different functions the units of a layer compute (a: samples x units).

    Units within DISTINCT_RTOL * max|a| of each other on every sample count as one (and so do
    chains of them): 1 under zero or constant initialization. Units are sorted by a random
    projection, which equal units share, and only units whose projections are close are compared,
    on a few samples first and in full only if they agree there: sorted neighbours, then, where a
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
    # A unit that is zero on every sample projects to exactly 0, so only units with a 0 key need
    # checking: a few columns, unless most of the layer is dead.
    suspects = np.flatnonzero(keys == 0)
    if suspects.size * 8 < units:
        alive = (np.take(a, suspects, axis=1) != 0).any(axis=0)
    else:
        alive = (a != 0).any(axis=0)[suspects]
    is_dead = np.zeros(units, dtype=np.bool_)
    is_dead[suspects[~alive]] = True
    dead = int(suspects.size - np.count_nonzero(alive))

    scale = max(abs(extent.low), abs(extent.high))
    tol = DISTINCT_RTOL * max(scale, float(np.finfo(np.float32).tiny))
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    # Two units within tol everywhere have projections within tol * sum(r), plus rounding.
    key_tol = tol * r_sum + 1e-5 * float(np.abs(keys).max())
    candidates = np.flatnonzero(ordered[1:] - ordered[:-1] <= key_tol)
    left, right = order[candidates], order[candidates + 1]
    if dead:
        same = is_dead[left] & is_dead[right]  # the same function, known without looking
        unknown = np.flatnonzero(~same)
        same[unknown] = _equal(a, left[unknown], right[unknown], tol)
    else:
        same = _equal(a, left, right, tol)
    # Sorted neighbours found equal make groups (runs of the key order), one function each.
    rejoined = _rejoined(a, order, ordered, candidates, same, key_tol, tol)
    return dead, units - int(np.count_nonzero(same)) - rejoined


def _equal(a: Array, left: NDArray[np.intp], right: NDArray[np.intp], tol: float) -> NDArray[np.bool_]:
    """Whether units left[i] and right[i] are within tol of each other on every sample.

    The projection's bound is loose (about half of the neighbours of a random layer pass it), so
    the pairs are compared block of samples by block, each dropped as soon as it differs: the
    first SIGNATURE_ROWS samples settle nearly every pair of different units, and only pairs that
    are still equal (symmetric layers) are compared in full. A difference of values near the
    float32 limit may overflow to inf: a difference all the same.
    """
    out = np.zeros(left.size, dtype=np.bool_)
    pending = np.arange(left.size)
    rows = int(a.shape[0])
    start, step = 0, SIGNATURE_ROWS
    with np.errstate(over="ignore"):
        while pending.size and start < rows:
            block = a[start : start + step]
            # np.take gathers columns of a row block 4x faster than block[:, left] does.
            gap = np.abs(np.take(block, left, axis=1) - np.take(block, right, axis=1))
            keep = gap.max(axis=0) <= tol
            left, right, pending = left[keep], right[keep], pending[keep]
            start += step
            step = max(SIGNATURE_ROWS, CHUNK // max(1, left.size))
    out[pending] = True
    return out


def _rejoined(
    a: Array,
    order: NDArray[np.intp],
    ordered: NDArray[np.float64],
    candidates: NDArray[np.intp],
    same: NDArray[np.bool_],
    key_tol: float,
    tol: float,
) -> int:
    """How many groups of sorted neighbours are the same function as an earlier group.

    Equal units need not be neighbours in the key order: a unit whose key ties with theirs can sort
    between them (a saturated layer's keys agree in float32 while its units differ by more than
    tol on a sample or two). So groups (runs of sorted neighbours found equal: candidates[same])
    two or more apart whose keys are within key_tol are compared too, by their first units, and
    equal ones merged."""
    # Only a run of three or more units within key_tol of their neighbours, two of which were
    # found different, can hold such a pair: most layers have none (slices, not np.diff: this runs
    # on every layer, and a few microseconds count).
    if candidates.size < 2 or not (candidates[1:] - candidates[:-1] == 1).any():
        return 0
    bounds = np.flatnonzero(~same)
    if (
        bounds.size < 2
        or not (candidates[bounds[1:]] - candidates[bounds[:-1]] == bounds[1:] - bounds[:-1]).any()
    ):
        return 0
    joined = np.zeros(order.size - 1, dtype=np.bool_)  # sorted neighbours found equal
    joined[candidates[same]] = True
    first = np.flatnonzero(np.concatenate([[True], ~joined]))  # each group's first sorted position
    last = np.concatenate([first[1:] - 1, [joined.size]])  # and its last
    low, high, units = ordered[first], ordered[last], order[first]
    # Keys are sorted: group g can equal the groups from g + 2 up to the last one whose first key
    # is within key_tol of g's last.
    groups = np.arange(first.size)
    count = np.maximum(np.searchsorted(low, high + key_tol, side="right") - groups - 2, 0)
    total = int(count.sum())
    if total == 0:
        return 0
    left = np.repeat(groups, count)
    right = left + 2 + np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    equal = _equal(a, units[left], units[right], tol)
    parent = list(range(first.size))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    merged = 0
    for i, j in zip(left[equal].tolist(), right[equal].tolist(), strict=True):
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[rj] = ri
            merged += 1
    return merged
