"""Compiled loops of stats.py's binned pass: bin counts, zeros and saturated values, deviations
from the mean.

Same bits as the NumPy steps they replaced (tests/engine/measure/test_binning.py keeps those steps
and compares bit for bit): every float operation is spelled in NumPy's order and dtype, and counts
are integers, exact in any order. The sums of squares stay in NumPy (np.vecdot is a BLAS dot,
whose bits a loop here would not share), and so does the scan (min, max, np.add.reduce's pairwise
sum): NumPy's vectorized reductions take 30 us for 100,000 float32 values, a loop compiled
without fastmath (no reordered sums, so no vector lanes) 70-90 us.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..jit import kernel

LANES = 8  # copies of the counts that consecutive values alternate between (see _count)
BLOCK = 4096  # values binned at a time: their int32 indices (16 KiB) stay in L1 for the count

Floats = NDArray[np.floating[Any]]


@kernel
def deviations(x: Floats, shifted: bool, half: Any, rest: Any, mean: Any, out: Floats) -> None:
    """out = x - mean in out's dtype, or (x * half * rest) - mean when shifted (float64 values whose
    squares would leave float64, brought near 1 by two powers of two): NumPy's steps, one pass."""
    if shifted:
        for i in range(x.size):
            out[i] = x[i] * half * rest - mean
    else:
        for i in range(x.size):
            out[i] = x[i] - mean


@kernel
def tally(x: Floats, zeros: bool, low: Any, count_low: bool, high: Any, count_high: bool) -> tuple[int, int]:
    """(exact zeros, values <= low or >= high) among x, counting each only when asked; the
    thresholds are values of x's dtype, so comparing in float64 gives NumPy's answers."""
    zero_count = 0
    saturated = 0
    if zeros:
        for i in range(x.size):
            zero_count += x[i] == 0.0
    if count_low:
        for i in range(x.size):
            saturated += x[i] <= low
    if count_high:
        for i in range(x.size):
            saturated += x[i] >= high
    return zero_count, saturated


@kernel
def _indices(
    x: Floats, shifted: bool, half: Any, rest: Any, origin: Any, factor: Any, one: Any, zero: Any,
    top: Any, out: NDArray[np.int32],
) -> None:  # fmt: skip
    """out[i] = the bin slot of x[i], as stats' NumPy steps computed it in the pass's dtype (the
    dtype of origin, factor, one, zero, top): (x [* half * rest] - origin) * factor + 1, clipped
    to [0, top], truncated (no NaN reaches here: summarize bins finite values; one would go to
    slot 0, never outside the counts)."""
    if shifted:
        for i in range(x.size):
            t = (x[i] * half * rest - origin) * factor + one
            t = t if t > zero else zero
            out[i] = np.int32(t if t < top else top)
    else:
        for i in range(x.size):
            t = (x[i] - origin) * factor + one
            t = t if t > zero else zero  # np.maximum's and np.minimum's, and a NaN to slot 0
            out[i] = np.int32(t if t < top else top)


@kernel
def _count(index: NDArray[np.int32], n: int, lanes: NDArray[np.int32]) -> None:
    """lanes[i % LANES, index[i]] += 1 for the first n indices: increments of one counter in a
    row wait on each other, and ReLU's zeros or a saturated sigmoid's ones all go to one slot."""
    i = 0
    while i + 8 <= n:
        lanes[0, index[i]] += 1
        lanes[1, index[i + 1]] += 1
        lanes[2, index[i + 2]] += 1
        lanes[3, index[i + 3]] += 1
        lanes[4, index[i + 4]] += 1
        lanes[5, index[i + 5]] += 1
        lanes[6, index[i + 6]] += 1
        lanes[7, index[i + 7]] += 1
        i += 8
    while i < n:
        lanes[0, index[i]] += 1
        i += 1


@kernel
def bin_counts(
    x: Floats, shifted: bool, half: Any, rest: Any, origin: Any, factor: Any, one: Any, zero: Any,
    top: Any, index: NDArray[np.int32], lanes: NDArray[np.int32], counts: NDArray[np.int64],
) -> None:  # fmt: skip
    """counts[slot] += how many values of x fall in each slot (see _indices; top + 1 slots),
    BLOCK values at a time (x sliced, not offset: offsets cost the index loop its vectors).
    index holds BLOCK int32; lanes is (LANES, top + 1) int32 zeros, which it leaves zero."""
    for start in range(0, x.size, BLOCK):
        stop = min(x.size, start + BLOCK)
        _indices(x[start:stop], shifted, half, rest, origin, factor, one, zero, top, index)
        _count(index, stop - start, lanes)
    if x.size <= BLOCK:
        # One block: only the slots its indices name were counted (a small layer's few hundred
        # values need not pay for reading LANES x 2000 slots).
        whole = x.size - x.size % LANES  # _count's lanes: i % LANES, then lane 0 for the rest
        for i in range(x.size):
            k, j = (i % LANES if i < whole else 0), index[i]
            counts[j] += lanes[k, j]
            lanes[k, j] = 0
        return
    for k in range(LANES):
        for j in range(counts.size):
            counts[j] += lanes[k, j]
            lanes[k, j] = 0


@kernel
def percentiles(
    fine: NDArray[np.int64], low: float, width: float, shift: int, targets: NDArray[np.float64],
    lowest: float, highest: float, out: NDArray[np.float64],
) -> None:  # fmt: skip
    """out = lowest, the value at each rank of `targets` (ascending), highest: interpolated within
    the first fine bin whose count through it reaches the rank (np.searchsorted's side="left"),
    as low + (j + fraction) * width (times 2**-shift), kept within [lowest, highest]. Python's
    float steps in their order: the same bits as stats' loop over the searchsorted bins had."""
    out[0] = lowest
    j = 0
    through = fine[0]  # values in bins 0..j
    for k in range(targets.size):
        target = targets[k]
        while through < target and j + 1 < fine.size:
            j += 1
            through += fine[j]
        held = fine[j]
        fraction = (target - (through - held)) / held if held else 0.0
        value = low + (j + fraction) * width
        if shift:
            value = math.ldexp(value, -shift)
        value = lowest if lowest > value else value  # max(value, lowest), ties to value
        out[k + 1] = highest if highest < value else value  # min(value, highest)
    out[targets.size + 1] = highest


def warm_up() -> None:
    """Compile (or load) every kernel for each dtype combination stats passes them."""
    values: type[np.floating[Any]]
    for values in (np.float32, np.float64):
        x: Floats = np.array([0.0, -1.5, 2.0, 0.25, 3.0, -0.0, 1.0, 0.5, 4.0], values)
        tally(x, True, 0.1, True, 0.9, True)  # thresholds as Python floats, as stats passes them
        for dtype in (np.float32, np.float64) if values == np.float32 else (np.float64,):
            scalar = dtype  # the pass's arithmetic
            deviations(x, False, scalar(1.0), scalar(1.0), scalar(0.5), np.empty(x.size, dtype))
            counts = np.zeros(6, np.int64)
            lanes = np.zeros((LANES, counts.size), np.int32)
            bin_counts(
                x, False, scalar(1.0), scalar(1.0), scalar(-1.5), scalar(1.0), scalar(1.0),
                scalar(0.0), scalar(counts.size - 1), np.empty(BLOCK, np.int32), lanes, counts,
            )  # fmt: skip
    targets = np.array([1.0, 2.5])
    targets.flags.writeable = False  # stats' cached targets are read-only: another type to numba
    percentiles(np.array([0, 3, 1], np.int64), -1.0, 0.5, 0, targets, -1.0, 0.4, np.empty(4))
