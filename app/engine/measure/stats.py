"""Histograms and statistics of one layer's tensors, in as few passes over memory as possible.

At the seeds' sizes np.histogram would cost 20x the matrix products it summarizes, so values are
binned by computed indices ((x - low) * scale + 1, clipped, truncated) and counted, and the same
pass also counts exact zeros and saturated values and writes the deviations from the mean whose
squares give the std. These loops are compiled (binning.py): NumPy spent a pass over memory per
step, about 1 ns a value each, and a summary took a dozen. The compiled loops keep the NumPy
steps' bits exactly (each operation in the same order and dtype; tests/engine/measure/
test_binning.py compares them with those steps), and the squares are still summed by NumPy's
BLAS dot products (np.vecdot), whose bits a loop would not share. Nothing is computed that the
tensor's extent shows cannot occur (no zeros in (0, 1)).
Percentiles are read off a fine histogram (as TensorBoard's distributions are): the display bins
are each split into sub-bins, and a tensor that fills less than an eighth of the display range
gets a histogram of its own range, so a percentile is never off by more than (max - min) / 256
and usually by less than (max - min) / 2000.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from . import binning

PERCENTILES = (0.0, 6.68, 15.87, 30.85, 50.0, 69.15, 84.13, 93.32, 100.0)
"""TensorBoard's distribution bands: min, then +-1.5, 1, 0.5 sigma around the median, then max."""
SATURATION_MARGIN = 0.03  # within 3% of the output range from either bound counts as saturated
FINE_BINS = 2048  # sub-bins across a range, for percentiles
# Values per chunk: the sums of squares are added chunk by chunk (and a large tensor's scan sums
# chunks of 2 * CHUNK), a grouping that sets the std's and the mean's last bits, so it stays.
CHUNK = 1 << 16
SQUARE_ROW = 1024  # values per dot product in the sum of squares (see _chunk_squares)
# float64 layers (a vanished gradient at its true scale, a float64 network) may hold values whose
# spans, bin scales, sums or squares leave float64: beyond these magnitudes they are computed on
# the values times a power of two (exact) and scaled back. float32 values never come near them.
RESCALE_RANGE = 2.0**900  # spans and bin scales (bins / (high - low))
RESCALE_SQUARES = 2.0**500  # squared deviations
FLOAT32_MAX = float(np.finfo(np.float32).max)

Array = NDArray[np.floating]


@dataclass(frozen=True)
class Extent:
    """The first, cheap pass over a tensor: its finite range and mean, and its non-finite counts."""

    size: int
    finite: int
    low: float
    high: float
    mean: float
    nan: int
    inf: int


@dataclass(frozen=True)
class TensorStats:
    edges: NDArray[np.float64]
    counts: NDArray[np.int64]
    count: int  # finite values
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    percentiles: tuple[float, ...] | None
    zero_fraction: float
    saturated_fraction: float | None
    nan_count: int
    inf_count: int
    below: int  # finite values under an explicit range
    above: int  # finite values over it


def _flat(x: Array) -> Array:
    return np.ascontiguousarray(x).reshape(-1)


def is_wide(low: float, high: float) -> bool:
    """Whether float32 arithmetic on values this large could overflow (sums, squares, spans)."""
    return max(abs(low), abs(high)) > 1e15


def _float32_unsafe(low: float, high: float) -> bool:
    """Values so large their squares overflow float32, or so small (a vanished signal) that their
    squares underflow to 0 and the std would read 0."""
    magnitude = max(abs(low), abs(high))
    return magnitude > 1e15 or 0.0 < magnitude < 1e-15


def float32_gap(low: float, high: float) -> float:
    """The distance between neighbouring float32 values at the larger end of [low, high]: bins
    narrower than this cannot tell the values of a float32 network apart (5e-324 is 0 in float32)."""
    magnitude = np.float32(min(max(abs(low), abs(high)), FLOAT32_MAX))
    if not magnitude:
        return float(np.nextafter(magnitude, np.float32(1.0)))  # the smallest subnormal, 1.4e-45
    return float(magnitude) - float(np.nextafter(magnitude, np.float32(0.0)))


def _shift(limit: float, *values: float) -> int:
    """0 when max |values| is within [1 / limit, limit] (or 0); otherwise the k that brings it
    into [0.5, 1) as max |values| * 2**k."""
    magnitude = max(map(abs, values))
    if magnitude == 0.0 or 1.0 / limit <= magnitude <= limit:
        return 0
    return -math.frexp(magnitude)[1]


def _times_power_of_two(x: Array, k: int, out: Array) -> Array:
    """out = x * 2**k in float64, exact unless it overflows (inf) or underflows (towards 0)."""
    half = k // 2  # 2**k itself may be beyond float64 (k up to 1074)
    with np.errstate(over="ignore", under="ignore"):
        np.multiply(x, np.float64(2.0**half), out=out)
        return np.multiply(out, np.float64(2.0 ** (k - half)), out=out)


def scan(x: Array) -> Extent:
    flat = _flat(x)
    if flat.size == 0:
        return Extent(0, 0, math.nan, math.nan, math.nan, 0, 0)
    if flat.size > 2 * CHUNK:
        low, high, mean = _scan_chunks(flat)
        if math.isfinite(low) and math.isfinite(high):
            return Extent(flat.size, flat.size, low, high, mean, 0, 0)
    else:
        # The ufuncs' reduce directly: ndarray.min / .mean add microseconds of Python per call,
        # which the seeds' small layers feel.
        low, high = float(np.minimum.reduce(flat)), float(np.maximum.reduce(flat))
        if math.isfinite(low) and math.isfinite(high):
            return Extent(flat.size, flat.size, low, high, _mean(flat, low, high), 0, 0)
    # Overflowing networks produce inf and then NaN: count them, summarize the rest.
    nan = int(np.count_nonzero(np.isnan(flat)))
    finite_values = flat[np.isfinite(flat)]
    inf = flat.size - nan - finite_values.size
    if finite_values.size == 0:
        return Extent(flat.size, 0, math.nan, math.nan, math.nan, nan, inf)
    low = float(np.minimum.reduce(finite_values))
    high = float(np.maximum.reduce(finite_values))
    return Extent(flat.size, finite_values.size, low, high, _mean(finite_values, low, high), nan, inf)


def _scan_chunks(flat: Array) -> tuple[float, float, float]:
    """min, max and mean of a large array in one pass over memory instead of three: each chunk is
    reduced three ways while in cache. The chunks' float32 sums add up in float64."""
    n = 2 * CHUNK
    count = -(-flat.size // n)
    lows, highs = np.empty(count, flat.dtype), np.empty(count, flat.dtype)
    total = 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # sums of wide or non-finite values: redone
        for k in range(count):
            chunk = flat[k * n : (k + 1) * n]
            lows[k], highs[k] = np.minimum.reduce(chunk), np.maximum.reduce(chunk)
            total += float(np.add.reduce(chunk))
    low, high = float(np.minimum.reduce(lows)), float(np.maximum.reduce(highs))
    if not (math.isfinite(low) and math.isfinite(high)):
        return low, high, math.nan  # the caller counts NaN and inf and starts over
    if low == high or is_wide(low, high):
        return low, high, _mean(flat, low, high)
    return low, high, total / flat.size


def _mean(flat: Array, low: float, high: float) -> float:
    if low == high:
        return low
    shift = _shift(RESCALE_RANGE, low, high)
    if shift < 0:  # float64 values near its limit, whose sum would overflow
        scaled = _times_power_of_two(flat, shift, np.empty(flat.size, np.float64))
        return math.ldexp(float(np.add.reduce(scaled)) / flat.size, -shift)
    # Pairwise summation in the array's dtype is accurate; float64 only where float32 could overflow.
    # The division stays in that dtype too, as ndarray.mean's does.
    total = np.add.reduce(flat, dtype=np.float64 if is_wide(low, high) else None)
    return float(total / total.dtype.type(flat.size))


@dataclass
class Parts:
    """What a summary computes that its display range does not change: the squared deviations,
    zeros and saturated values, and the percentiles of the tensor's own range. A caller that
    summarizes the same tensor again on another range (a run repeated beside a run whose change
    moved the shared range) passes the Parts of the first summary and only the bins are counted
    again. They hold for the dtypes they were computed in (a wide range computes in float64)."""

    dtypes: tuple[np.dtype[np.floating], np.dtype[np.floating]] | None = None  # (values', pass's)
    squares: float = 0.0
    zeros: int = 0
    saturated: int = 0
    own_percentiles: tuple[float, ...] | None = None


@dataclass
class _Pass:
    """What one chunked pass accumulates."""

    counts: NDArray[np.int64]  # [below, fine bins..., at or above the top edge]
    squares: float = 0.0
    zeros: int = 0
    saturated: int = 0


_SCRATCH = threading.local()


def _scratch(stride: int) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """This thread's work arrays for binning.bin_counts: a block's indices, and (LANES, stride)
    zeroed lane counts (the kernel leaves them zero). Fresh arrays cost a page fault per 4 KiB."""
    held = _SCRATCH.__dict__.get("bins")
    if held is None or held[1].size < binning.LANES * stride:
        held = _SCRATCH.bins = (np.empty(binning.BLOCK, np.int32), np.zeros(binning.LANES * stride, np.int32))
    return held[0], held[1][: binning.LANES * stride].reshape(binning.LANES, stride)


def _deviation_buffer(n: int, dtype: type[np.floating]) -> Array:
    """This thread's array of n values of `dtype` for a chunk's deviations from the mean."""
    arrays: dict[type[np.floating], Array] = _SCRATCH.__dict__.setdefault("deviations", {})
    held = arrays.get(dtype)
    if held is None or held.size < n:
        held = arrays[dtype] = np.empty(n, dtype)
    return held[:n]


def _squares(flat: Array, dtype: type[np.floating], mean: float, shift: int) -> float:
    """The sum of squared deviations of flat from `mean` (of flat * 2**shift from mean * 2**shift),
    in `dtype`: per chunk (all of flat up to 2 * CHUNK values), the dot products of its
    SQUARE_ROW-value rows summed in float64, plus the dot of the values after its last whole row;
    the chunks' sums added in turn. One dot over a whole chunk drifts by 2e-5 on saturated layers
    (every |b| near 1), these by under 1e-7. The grouping sets the std's last bits: it stays."""
    n = flat.size if flat.size <= 2 * CHUNK else CHUNK
    buffer = _deviation_buffer(n, dtype)
    half = shift // 2  # 2**shift itself may be beyond float64 (shift up to 1074)
    center = dtype(math.ldexp(mean, shift))
    total = 0.0
    # Squared deviations of 1e-20 underflow in float32 (summarize passes such values as float64).
    with np.errstate(over="ignore", under="ignore"):
        for start in range(0, flat.size, n):
            chunk = flat[start : start + n]
            b = buffer[: chunk.size]
            binning.deviations(chunk, shift != 0, dtype(2.0**half), dtype(2.0 ** (shift - half)), center, b)
            rows = chunk.size // SQUARE_ROW
            head = b[: rows * SQUARE_ROW].reshape(rows, SQUARE_ROW)
            tail = b[rows * SQUARE_ROW :]
            tail_squares = float(np.dot(tail, tail)) if tail.size else 0.0
            total += float(np.add.reduce(np.vecdot(head, head), dtype=np.float64)) + tail_squares
    return total


def _arithmetic(
    values: np.dtype[np.floating], low: float, high: float, bins: int
) -> tuple[int, float, type[np.floating]]:
    """A pass's power-of-two shift, bin scale and dtype for `bins` bins on [low, high]."""
    # A range beyond float64's comfort (wider than 1e271, or narrower than bins / 1e308: a
    # vanished float64 signal) is binned as x * 2**shift on [low, high] * 2**shift, exactly.
    shift = _shift(RESCALE_RANGE, low, high)
    scale = bins / (math.ldexp(high, shift) - math.ldexp(low, shift))
    # float32 arithmetic is exact enough for binning, except for ranges so narrow (vanished
    # signals: 1e-40 wide) or values so large that the scaled values would overflow it.
    wide = scale > 1e30 or values == np.float64 or is_wide(low, high) or shift != 0
    return shift, scale, np.float64 if wide else np.float32


def _binned_pass(
    flat: Array,
    low: float,
    high: float,
    bins: int,
    mean: float | None = None,
    saturation: tuple[float | None, float | None] = (None, None),
    zeros: bool = False,
    squares_shift: int = 0,
) -> _Pass:
    """Bin `flat` into `bins` equal bins on [low, high], plus one under and one over bin;
    optionally also accumulate squared deviations from `mean` (of the values times
    2**squares_shift), zeros and saturated values (at or beyond either threshold that is not
    None: values of flat's dtype)."""
    shift, scale, dtype = _arithmetic(flat.dtype, low, high, bins)
    half = shift // 2
    stride = bins + 2
    out = _Pass(np.zeros(stride, dtype=np.int64))
    index, lanes = _scratch(stride)
    # Slot (x - low) * scale + 1 in the pass's dtype, clipped to [0, bins + 1] and truncated: the
    # + 1 makes room for the under bin (truncation is floor from -1 up), and values far outside
    # a scaled range overflow to inf and are clipped like the rest. A range beyond float64's
    # comfort is binned as x * 2**shift on [low, high] * 2**shift, exactly.
    binning.bin_counts(
        flat, shift != 0, dtype(2.0**half), dtype(2.0 ** (shift - half)), dtype(math.ldexp(low, shift)),
        dtype(scale), dtype(1.0), dtype(0.0), dtype(bins + 1), index, lanes, out.counts,
    )  # fmt: skip
    lo_sat, hi_sat = saturation
    if zeros or lo_sat is not None or hi_sat is not None:
        out.zeros, out.saturated = binning.tally(
            flat, zeros, lo_sat or 0.0, lo_sat is not None, hi_sat or 0.0, hi_sat is not None
        )
    if mean is not None:
        out.squares = _squares(flat, dtype, mean, squares_shift)
    return out


@lru_cache(maxsize=64)
def _targets(finite: int) -> NDArray[np.float64]:
    """The ranks the inner PERCENTILES fall at among `finite` values."""
    targets = np.array([q / 100.0 * finite for q in PERCENTILES[1:-1]])
    targets.flags.writeable = False
    return targets


def _percentiles(fine: NDArray[np.int64], low: float, high: float, extent: Extent) -> tuple[float, ...]:
    """The PERCENTILES by linear interpolation within the fine bin holding each."""
    shift = _shift(RESCALE_RANGE, low, high)  # 0 but for float64 ranges near its limits
    low, high = math.ldexp(low, shift), math.ldexp(high, shift)
    out = np.empty(len(PERCENTILES))
    binning.percentiles(
        fine, low, (high - low) / fine.size, shift, _targets(extent.finite), extent.low, extent.high, out
    )
    return tuple(out.tolist())


def _edges(low: float, high: float, bins: int) -> NDArray[np.float64]:
    """bins + 1 equal steps from low to high (computed on a power-of-two multiple of the range
    where high - low itself would overflow or its steps underflow). Cached, read-only: the runs
    of a layer share their range, and bounded activations share theirs across layers."""
    # -0.0 == 0.0 as a key, but its edges start at -0.0: the signs are part of the key.
    return _cached_edges(low, high, bins, math.copysign(1.0, low), math.copysign(1.0, high))


@lru_cache(maxsize=256)
def _cached_edges(low: float, high: float, bins: int, *_signs: float) -> NDArray[np.float64]:
    shift = _shift(RESCALE_RANGE, low, high)
    if not shift:
        edges = np.linspace(low, high, bins + 1)
    else:
        edges = np.ldexp(np.linspace(math.ldexp(low, shift), math.ldexp(high, shift), bins + 1), -shift)
    edges.flags.writeable = False
    return edges


def summarize(
    x: Array,
    extent: Extent,
    display: tuple[float, float],
    bins: int,
    bounds: tuple[float | None, float | None] = (None, None),
    explicit_range: bool = False,
    parts: Parts | None = None,
) -> TensorStats:
    """Histogram `x` on `display` (lo, hi) with `bins` bins and compute its statistics.

    `bounds` are the activation's output bounds: saturation is reported only when both exist.
    Values outside an explicit range are counted in `below` / `above`, not in the bins.
    `parts`: filled on a first summary of x, read on the next ones (same x, extent, bins and
    bounds; any display range), which then only count the bins: the same results.
    """
    low, high = display
    edges = _edges(low, high, bins)
    lo_b, hi_b = bounds
    saturation = None
    if lo_b is not None and hi_b is not None:
        margin = SATURATION_MARGIN * (hi_b - lo_b)
        saturation = (lo_b + margin, hi_b - margin)
    bounded = saturation is not None
    if extent.finite == 0:
        return TensorStats(
            edges, np.zeros(bins, np.int64), 0, None, None, None, None, None, 0.0,
            0.0 if bounded else None, extent.nan, extent.inf, 0, 0,
        )  # fmt: skip
    flat = _flat(x)
    if extent.finite < flat.size:
        flat = flat[np.isfinite(flat)]
    if flat.dtype != np.float64 and (_float32_unsafe(extent.low, extent.high) or is_wide(low, high)):
        flat = flat.astype(np.float64)
    # Count only what the extent says can occur: no zeros in (0, 1), no saturation in (0.2, 0.8).
    # The thresholds are compared as the pass compares them, in the values' dtype.
    thresholds: tuple[float | None, float | None] = (None, None)
    if saturation is not None:
        lo_s, hi_s = (float(flat.dtype.type(t)) for t in saturation)
        thresholds = (lo_s if extent.low <= lo_s else None, hi_s if extent.high >= hi_s else None)
    zeros = extent.low <= 0.0 <= extent.high
    per_bin = max(1, -(-FINE_BINS // bins))
    squares_shift = _shift(RESCALE_SQUARES, extent.low, extent.high)  # 0 for every float32 tensor
    dtypes = (flat.dtype, np.dtype(_arithmetic(flat.dtype, low, high, bins * per_bin)[2]))
    if parts is not None and parts.dtypes == dtypes:
        main = _binned_pass(flat, low, high, bins * per_bin)  # the bins alone
        main.squares, main.zeros, main.saturated = parts.squares, parts.zeros, parts.saturated
    else:
        main = _binned_pass(flat, low, high, bins * per_bin, extent.mean, thresholds, zeros, squares_shift)
        if parts is not None:
            parts.dtypes, parts.own_percentiles = dtypes, None
            parts.squares, parts.zeros, parts.saturated = main.squares, main.zeros, main.saturated
    below = int(main.counts[0])
    # The top slot holds values at the top edge and beyond; the edge belongs to the last bin.
    above = int(np.count_nonzero(flat > high)) if explicit_range and extent.high > high else 0
    fine = main.counts[1:-1].copy()
    fine[-1] += int(main.counts[-1]) - above
    counts = fine.reshape(bins, per_bin).sum(axis=1)

    own_span = extent.high - extent.low
    if own_span == 0.0:
        percentiles = (extent.low,) * len(PERCENTILES)
    elif below == 0 and above == 0 and own_span * 8 >= high - low:
        percentiles = _percentiles(fine, low, high, extent)
    elif parts is not None and parts.own_percentiles is not None:  # the same values' own range
        percentiles = parts.own_percentiles
    else:
        own = _binned_pass(flat, extent.low, extent.high, FINE_BINS)
        own_fine = own.counts[1:-1].copy()
        own_fine[-1] += int(own.counts[-1])
        percentiles = _percentiles(own_fine, extent.low, extent.high, extent)
        if parts is not None:
            parts.own_percentiles = percentiles

    n = extent.finite
    return TensorStats(
        edges=edges,
        counts=counts,
        count=n,
        mean=extent.mean,
        std=math.ldexp(math.sqrt(main.squares / n), -squares_shift),
        min=extent.low,
        max=extent.high,
        percentiles=percentiles,
        zero_fraction=main.zeros / n,
        saturated_fraction=main.saturated / n if bounded else None,
        nan_count=extent.nan,
        inf_count=extent.inf,
        below=below,
        above=above,
    )
