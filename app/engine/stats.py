"""Histograms and statistics of one layer's tensors, in as few passes over memory as possible.

At the seeds' sizes np.histogram would cost 20x the matrix products it summarizes, so values are
binned by computed indices (one multiply, one cast, np.bincount) in cache-sized chunks, and the
chunk loop also accumulates the squared deviations, exact zeros and saturated values while the
chunk is hot. Percentiles are read off a fine histogram (as TensorBoard's distributions are): the
display bins are each split into sub-bins, and a tensor that fills less than an eighth of the
display range gets a histogram of its own range, so a percentile is never off by more than
(max - min) / 256 and usually by less than (max - min) / 2000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

PERCENTILES = (0.0, 6.68, 15.87, 30.85, 50.0, 69.15, 84.13, 93.32, 100.0)
"""TensorBoard's distribution bands: min, then +-1.5, 1, 0.5 sigma around the median, then max."""
SATURATION_MARGIN = 0.03  # within 3% of the output range from either bound counts as saturated
FINE_BINS = 2048  # sub-bins across a range, for percentiles
CHUNK = 1 << 16  # elements per chunk: 256 KiB of float32 stays in cache for the fused passes
DISTINCT_RTOL = 1e-5  # units closer than this (relative to the layer's largest |value|) are one

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


def _wide(low: float, high: float) -> bool:
    """Whether float32 arithmetic on values this large could overflow (sums, squares, spans)."""
    return max(abs(low), abs(high)) > 1e15


def _float32_unsafe(low: float, high: float) -> bool:
    """Values so large their squares overflow float32, or so small (a vanished signal) that their
    squares underflow to 0 and the std would read 0."""
    magnitude = max(abs(low), abs(high))
    return magnitude > 1e15 or 0.0 < magnitude < 1e-15


def _mean(flat: Array, low: float, high: float) -> float:
    return float(flat.mean(dtype=np.float64 if _wide(low, high) else None))


def scan(x: Array) -> Extent:
    flat = _flat(x)
    if flat.size == 0:
        return Extent(0, 0, math.nan, math.nan, math.nan, 0, 0)
    low, high = float(flat.min()), float(flat.max())
    if math.isfinite(low) and math.isfinite(high):
        return Extent(flat.size, flat.size, low, high, _mean(flat, low, high), 0, 0)
    # Overflowing networks produce inf and then NaN: count them, summarize the rest.
    nan = int(np.count_nonzero(np.isnan(flat)))
    finite_values = flat[np.isfinite(flat)]
    inf = flat.size - nan - finite_values.size
    if finite_values.size == 0:
        return Extent(flat.size, 0, math.nan, math.nan, math.nan, nan, inf)
    return Extent(
        flat.size,
        finite_values.size,
        float(finite_values.min()),
        float(finite_values.max()),
        _mean(finite_values, float(finite_values.min()), float(finite_values.max())),
        nan,
        inf,
    )


@dataclass
class _Pass:
    """What one chunked pass accumulates."""

    counts: NDArray[np.int64]  # [below, fine bins..., at or above the top edge]
    squares: float = 0.0
    zeros: int = 0
    saturated: int = 0


def _binned_pass(
    flat: Array,
    low: float,
    high: float,
    bins: int,
    mean: float | None = None,
    saturation: tuple[float, float] | None = None,
) -> _Pass:
    """Bin `flat` into `bins` equal bins on [low, high], plus one under and one over bin;
    optionally also accumulate squared deviations from `mean`, zeros and saturated values."""
    scale = bins / (high - low)
    out = _Pass(np.zeros(bins + 2, dtype=np.int64))
    n = min(CHUNK, flat.size)
    # float32 arithmetic is exact enough for binning, except for ranges so narrow (vanished
    # signals: 1e-40 wide) or values so large that the scaled values would overflow it.
    dtype = np.float64 if scale > 1e30 or flat.dtype == np.float64 or _wide(low, high) else np.float32
    buf = np.empty(n, dtype=dtype)
    index = np.empty(n, dtype=np.intp)
    for start in range(0, flat.size, CHUNK):
        chunk = flat[start : start + CHUNK]
        b, i = buf[: chunk.size], index[: chunk.size]
        if mean is not None:
            np.subtract(chunk, dtype(mean), out=b)
            out.squares += float(np.dot(b, b))
            out.zeros += int(np.count_nonzero(chunk == 0))
        if saturation is not None:
            out.saturated += int(np.count_nonzero(chunk <= saturation[0]))
            out.saturated += int(np.count_nonzero(chunk >= saturation[1]))
        np.subtract(chunk, dtype(low), out=b)
        np.multiply(b, dtype(scale), out=b)
        np.add(b, dtype(1.0), out=b)
        np.clip(b, 0, bins + 1, out=b)
        i[...] = b  # truncation is floor here: b >= 0
        np.add(out.counts, np.bincount(i, minlength=bins + 2), out=out.counts)
    return out


def _percentiles(fine: NDArray[np.int64], low: float, high: float, extent: Extent) -> tuple[float, ...]:
    cumulative = np.cumsum(fine)
    width = (high - low) / fine.size
    values = []
    for q in PERCENTILES:
        if q == 0.0:
            values.append(extent.low)
            continue
        if q == 100.0:
            values.append(extent.high)
            continue
        target = q / 100.0 * extent.finite
        j = int(np.searchsorted(cumulative, target, side="left"))
        before = cumulative[j - 1] if j else 0
        fraction = (target - before) / fine[j] if fine[j] else 0.0
        values.append(min(max(low + (j + fraction) * width, extent.low), extent.high))
    return tuple(values)


def summarize(
    x: Array,
    extent: Extent,
    display: tuple[float, float],
    bins: int,
    bounds: tuple[float | None, float | None] = (None, None),
    explicit_range: bool = False,
) -> TensorStats:
    """Histogram `x` on `display` (lo, hi) with `bins` bins and compute its statistics.

    `bounds` are the activation's output bounds: saturation is reported only when both exist.
    Values outside an explicit range are counted in `below` / `above`, not in the bins.
    """
    low, high = display
    edges = np.linspace(low, high, bins + 1)
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
    if flat.dtype != np.float64 and (_float32_unsafe(extent.low, extent.high) or _wide(low, high)):
        flat = flat.astype(np.float64)
    per_bin = max(1, -(-FINE_BINS // bins))
    main = _binned_pass(flat, low, high, bins * per_bin, extent.mean, saturation)
    below = int(main.counts[0])
    # The top slot holds values at the top edge and beyond; the edge belongs to the last bin.
    above = int(np.count_nonzero(flat > high)) if explicit_range else 0
    fine = main.counts[1:-1].copy()
    fine[-1] += int(main.counts[-1]) - above
    counts = fine.reshape(bins, per_bin).sum(axis=1)

    own_span = extent.high - extent.low
    if own_span == 0.0:
        percentiles = (extent.low,) * len(PERCENTILES)
    elif below == 0 and above == 0 and own_span * 8 >= high - low:
        percentiles = _percentiles(fine, low, high, extent)
    else:
        own = _binned_pass(flat, extent.low, extent.high, FINE_BINS)
        own_fine = own.counts[1:-1].copy()
        own_fine[-1] += int(own.counts[-1])
        percentiles = _percentiles(own_fine, extent.low, extent.high, extent)

    n = extent.finite
    return TensorStats(
        edges=edges,
        counts=counts,
        count=n,
        mean=extent.mean,
        std=math.sqrt(main.squares / n),
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


def dead_units(a: Array) -> int:
    """Units whose activation is exactly zero for every sample (a: samples x units)."""
    return int(a.shape[1] - np.count_nonzero((a != 0).any(axis=0)))


def distinct_units(a: Array, extent: Extent) -> int | None:
    """How many different functions the units of a layer compute (a: samples x units).

    Units within DISTINCT_RTOL * max|a| of each other on every sample count as one: 1 under zero or
    constant initialization. Units are sorted by a random projection, which equal units share,
    and only neighbours whose projections are close are compared in full. None when the layer
    holds NaN or inf: units are then not comparable.
    """
    units = int(a.shape[1])
    if extent.finite < extent.size:
        return None
    if units < 2:
        return units
    scale = max(abs(extent.low), abs(extent.high))
    if _wide(extent.low, extent.high):
        a = a.astype(np.float64)  # projections of values this large would overflow float32
    tol = DISTINCT_RTOL * max(scale, float(np.finfo(np.float32).tiny))
    r = np.random.default_rng(0x1D5).uniform(0.5, 1.5, int(a.shape[0])).astype(a.dtype)
    keys = (r @ a).astype(np.float64)
    order = np.argsort(keys, kind="stable")
    gaps = np.diff(keys[order])
    # Two units within tol everywhere have projections within tol * sum(r), plus rounding.
    key_tol = tol * float(r.sum()) + 1e-5 * float(np.abs(keys).max())
    candidates = np.flatnonzero(gaps <= key_tol)
    different = int(units - 1 - candidates.size)
    step = max(1, CHUNK // max(1, a.shape[0]))
    for start in range(0, candidates.size, step):
        pick = candidates[start : start + step]
        diff = np.abs(a[:, order[pick]] - a[:, order[pick + 1]]).max(axis=0)
        different += int(np.count_nonzero(diff > tol))
    return 1 + different
