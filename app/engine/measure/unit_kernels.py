"""Compiled loops of units.unit_counts: dead units and distinct units of a layer, once its units'
projections (a BLAS product, which stays NumPy's) are known.

The answers are integers, so only the comparisons need NumPy's exact semantics: differences of
two units on a sample in the layer's dtype, compared with the tolerance in that dtype (NumPy casts
a Python float to the array's float32 there), and the keys' float64 arithmetic. Which pairs are
compared, and in what order, follows units.py's description; the counts are those of the NumPy
steps it replaced (tests/engine/measure/test_unit_kernels.py keeps them as the reference).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..jit import kernel

Floats = NDArray[np.floating[Any]]
Indices = NDArray[np.int64]


@kernel
def _equal_pairs(a: Floats, left: Indices, right: Indices, tol: Any, out: NDArray[np.bool_]) -> None:
    """out[i] = whether units left[i] and right[i] are within tol on every sample: |difference| in
    a's dtype (overflowing to inf: a difference all the same). Sample by sample over the pairs
    still equal, so the layer is read by rows, and most pairs drop out on the first sample."""
    pending = np.arange(left.size)
    count = left.size
    for s in range(a.shape[0]):
        kept = 0
        for i in range(count):
            p = pending[i]
            if abs(a[s, left[p]] - a[s, right[p]]) <= tol:
                pending[kept] = p
                kept += 1
        count = kept
        if count == 0:
            break
    out[:] = False
    for i in range(count):
        out[pending[i]] = True


@kernel
def _rejoined(
    a: Floats, order: Indices, ordered: NDArray[np.float64], candidates: Indices,
    same: NDArray[np.bool_], key_tol: float, tol: Any,
) -> int:  # fmt: skip
    """How many groups of sorted neighbours are the same function as an earlier group.

    Equal units need not be neighbours in the key order: a unit whose key ties with theirs can sort
    between them (a saturated layer's keys agree in float32 while its units differ by more than
    tol on a sample or two). So groups (runs of sorted neighbours found equal: candidates[same])
    two or more apart whose keys are within key_tol are compared too, by their first units, and
    equal ones merged. Only a run of three or more units within key_tol of their neighbours, two
    of which were found different, can hold such a pair: most layers have none, and leave early."""
    n = candidates.size
    run = False  # two candidates side by side
    for i in range(n - 1):
        if candidates[i + 1] - candidates[i] == 1:
            run = True
            break
    if n < 2 or not run:
        return 0
    bounds = np.flatnonzero(~same)
    apart = False
    for i in range(bounds.size - 1):
        if candidates[bounds[i + 1]] - candidates[bounds[i]] == bounds[i + 1] - bounds[i]:
            apart = True
            break
    if bounds.size < 2 or not apart:
        return 0
    size = order.size
    joined = np.zeros(size - 1, np.bool_)
    for i in range(n):
        if same[i]:
            joined[candidates[i]] = True
    first = np.empty(size, np.int64)
    groups = 0
    for q in range(size):
        if q == 0 or not joined[q - 1]:
            first[groups] = q
            groups += 1
    low = np.empty(groups)
    high = np.empty(groups)
    heads = np.empty(groups, np.int64)
    for g in range(groups):
        last = first[g + 1] - 1 if g + 1 < groups else size - 1
        low[g], high[g], heads[g] = ordered[first[g]], ordered[last], order[first[g]]
    # Group g can equal the groups from g + 2 up to the last one whose first key is within
    # key_tol of g's last: np.searchsorted(low, high + key_tol, side="right") - g - 2 of them.
    counts = np.zeros(groups, np.int64)
    total = 0
    for g in range(groups):
        limit = high[g] + key_tol
        within = np.searchsorted(low, limit, side="right")
        counts[g] = max(within - g - 2, 0)
        total += counts[g]
    if total == 0:
        return 0
    left = np.empty(total, np.int64)
    right = np.empty(total, np.int64)
    k = 0
    for g in range(groups):
        for i in range(counts[g]):
            left[k], right[k] = g, g + 2 + i
            k += 1
    equal = np.empty(total, np.bool_)
    _equal_pairs(a, heads[left], heads[right], tol, equal)
    parent = np.arange(groups)
    merged = 0
    for k in range(total):
        if not equal[k]:
            continue
        i, j = left[k], right[k]
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        while parent[j] != j:
            parent[j] = parent[parent[j]]
            j = parent[j]
        if i != j:
            parent[j] = i
            merged += 1
    return merged


@kernel
def dead_and_distinct(a: Floats, keys: NDArray[np.float64], tol: Any, key_tol: float) -> tuple[int, int]:
    """(dead units, distinct units) of a (samples x units, finite, two units or more) whose units
    project to keys: a unit is dead when zero on every sample (only units whose key is 0 can be);
    sorted neighbours whose keys are within key_tol are compared on the samples (both dead: the
    same without looking), then _rejoined."""
    units = a.shape[1]
    is_dead = np.zeros(units, np.bool_)
    dead = 0
    for u in range(units):
        if keys[u] == 0.0:
            alive = False
            for s in range(a.shape[0]):
                if a[s, u] != 0.0:
                    alive = True
                    break
            if not alive:
                is_dead[u] = True
                dead += 1
    order = np.argsort(keys, kind="mergesort")  # stable: ties keep the units' order
    ordered = keys[order]
    within = np.zeros(units - 1, np.bool_)
    for p in range(units - 1):
        within[p] = ordered[p + 1] - ordered[p] <= key_tol
    candidates = np.flatnonzero(within)
    left, right = order[candidates], order[candidates + 1]
    same = np.zeros(candidates.size, np.bool_)
    unknown = np.zeros(candidates.size, np.bool_)
    for i in range(candidates.size):
        if is_dead[left[i]] and is_dead[right[i]]:
            same[i] = True
        else:
            unknown[i] = True
    asked = np.flatnonzero(unknown)
    found = np.empty(asked.size, np.bool_)
    _equal_pairs(a, left[asked], right[asked], tol, found)
    for i in range(asked.size):
        same[asked[i]] = found[i]
    rejoined = _rejoined(a, order, ordered, candidates, same, key_tol, tol)
    return dead, units - int(np.count_nonzero(same)) - rejoined


def warm_up() -> None:
    """Compile (or load) the kernels for float32 and float64 layers."""
    dtype: type[np.floating[Any]]
    for dtype in (np.float32, np.float64):
        a: Floats = np.array([[0.0, 1.0, 1.0, 2.0], [0.0, 2.0, 2.0, 1.0], [0.0, 3.0, 3.0, 0.5]], dtype)
        keys = a.sum(axis=0).astype(np.float64)
        dead_and_distinct(a, keys, dtype(1e-5), 1e-4)
