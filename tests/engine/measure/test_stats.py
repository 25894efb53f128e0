"""Histograms and statistics against NumPy's own functions on the same data."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app.engine.measure.binning import BLOCK
from app.engine.measure.stats import (
    CHUNK,
    FINE_BINS,
    PERCENTILES,
    SATURATION_MARGIN,
    SQUARE_ROW,
    Parts,
    TensorStats,
    scan,
    summarize,
)

Float = type[np.floating[Any]]

N = 100_000
# Values are binned by a float32 multiply and a cast, np.histogram (on the values in float64) by
# float64 comparisons with its edges: a value within float32 rounding of an edge (about 1e-7 of a
# bin index) may land in the neighbouring bin. Out of 1e5 values only a handful are that close to
# one of the edges: at most 10 values of 1e5 may be counted in a neighbouring bin.
BOUNDARY_TOLERANCE = 10

Sampler = Callable[[np.random.Generator, int], np.ndarray]
DISTRIBUTIONS: dict[str, Sampler] = {
    "normal": lambda rng, n: rng.standard_normal(n),
    "shifted": lambda rng, n: 1000.0 + 0.5 * rng.standard_normal(n),
    "uniform": lambda rng, n: rng.uniform(-3.0, 7.0, n),
    "exponential": lambda rng, n: rng.exponential(2.0, n),
    "bimodal": lambda rng, n: np.where(rng.random(n) < 0.3, -5.0, 4.0) + 0.2 * rng.standard_normal(n),
    "cauchy": lambda rng, n: rng.standard_cauchy(n),
    "relu": lambda rng, n: np.maximum(rng.standard_normal(n), 0.0),
    "tiny": lambda rng, n: 1e-30 * rng.standard_normal(n),
    "huge": lambda rng, n: 1e30 * rng.standard_normal(n),
}


def _data(name: str, dtype: Float = np.float32, n: int = N, seed: int = 0) -> np.ndarray:
    return DISTRIBUTIONS[name](np.random.default_rng(seed), n).astype(dtype)


def _own_range(x: np.ndarray) -> tuple[float, float]:
    return float(np.min(x)), float(np.max(x))


def _summary(x: np.ndarray, bins: int = 30, **kwargs: object) -> TensorStats:
    extent = scan(x)
    display = kwargs.pop("display", None) or (extent.low, extent.high)
    return summarize(x, extent, display, bins, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
@pytest.mark.parametrize("bins", [1, 7, 30, 200])
def test_summarize_counts_match_np_histogram(name: str, bins: int) -> None:
    x = _data(name)
    stats = _summary(x, bins)
    # On float32 data np.histogram computes float32 edges; on float64 data the summary's edges.
    expected, edges = np.histogram(x.astype(np.float64), bins=bins, range=_own_range(x))
    np.testing.assert_array_equal(stats.edges, edges)
    assert stats.counts.dtype == np.int64
    assert int(stats.counts.sum()) == N
    assert int(np.abs(stats.counts - expected).sum()) <= BOUNDARY_TOLERANCE
    assert (stats.below, stats.above) == (0, 0)


@pytest.mark.parametrize("name", ["normal", "exponential", "bimodal"])
def test_summarize_counts_on_wider_display_range(name: str) -> None:
    x = _data(name)
    low, high = _own_range(x)
    display = (low - 3.0, high + 11.0)
    stats = _summary(x, 40, display=display)
    expected, _ = np.histogram(x.astype(np.float64), bins=40, range=display)
    assert int(stats.counts.sum()) == N
    assert int(np.abs(stats.counts - expected).sum()) <= BOUNDARY_TOLERANCE


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_summarize_mean_std(name: str, dtype: Float) -> None:
    x = _data(name, dtype)
    stats = _summary(x)
    x64 = x.astype(np.float64)
    assert stats.count == N
    assert stats.std is not None
    assert stats.mean is not None
    std = float(np.std(x64))
    assert stats.mean == pytest.approx(float(np.mean(x64)), rel=1e-6, abs=1e-6 * std)
    assert stats.std == pytest.approx(std, rel=1e-5, abs=0)
    assert stats.min == float(x64.min())
    assert stats.max == float(x64.max())


def _check_percentiles(stats: TensorStats, x: np.ndarray) -> None:
    assert stats.percentiles is not None
    x64 = x[np.isfinite(x)].astype(np.float64)
    expected = np.percentile(x64, PERCENTILES)
    bound = (x64.max() - x64.min()) / 256.0  # the bound the stats module documents
    assert len(stats.percentiles) == len(PERCENTILES)
    np.testing.assert_array_less(
        np.abs(np.array(stats.percentiles) - expected), bound + 1e-12 * abs(x64).max()
    )
    assert stats.percentiles[0] == x64.min()
    assert stats.percentiles[-1] == x64.max()
    assert list(stats.percentiles) == sorted(stats.percentiles)


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
@pytest.mark.parametrize("bins", [1, 30, 200])
def test_summarize_percentiles_within_bound(name: str, bins: int) -> None:
    x = _data(name)
    _check_percentiles(_summary(x, bins), x)


@pytest.mark.parametrize("name", ["normal", "exponential", "bimodal"])
@pytest.mark.parametrize("widen", [2.0, 7.5, 8.5, 100.0])
def test_summarize_percentiles_on_wide_display(name: str, widen: float) -> None:
    """A display range up to 8x the data's uses its own fine bins; beyond, the data's range."""
    x = _data(name)
    low, high = _own_range(x)
    span = high - low
    _check_percentiles(_summary(x, 30, display=(low - widen * span / 2, high + widen * span / 2)), x)


def test_summarize_percentiles_usually_much_closer() -> None:
    """On smooth data the documented typical error: under (max - min) / 2000."""
    x = _data("normal")
    stats = _summary(x)
    assert stats.percentiles is not None
    error = np.abs(np.array(stats.percentiles) - np.percentile(x.astype(np.float64), PERCENTILES))
    assert float(error.max()) < float(np.ptp(x)) / 2000
    assert FINE_BINS >= 2000


@pytest.mark.parametrize("bounds", [(0.0, 1.0), (-1.0, 1.0), (-1.7581, 3.0)])
def test_summarize_saturated_fraction(bounds: tuple[float, float]) -> None:
    low, high = bounds
    rng = np.random.default_rng(1)
    x = (low + (high - low) / (1.0 + np.exp(-3.0 * rng.standard_normal(N)))).astype(np.float32)
    stats = _summary(x, 30, display=bounds, bounds=bounds)
    margin = SATURATION_MARGIN * (high - low)
    x64 = x.astype(np.float64)
    expected = np.count_nonzero((x64 <= low + margin) | (x64 >= high - margin)) / N
    assert SATURATION_MARGIN == 0.03
    assert stats.saturated_fraction == pytest.approx(expected, abs=2 / N)
    assert 0.1 < expected < 0.9


@pytest.mark.parametrize("bounds", [(None, None), (0.0, None), (None, 1.0)])
def test_summarize_saturation_needs_both_bounds(bounds: tuple[float | None, float | None]) -> None:
    assert _summary(_data("normal"), bounds=bounds).saturated_fraction is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_summarize_zero_fraction(dtype: Float) -> None:
    x = _data("relu", dtype)
    stats = _summary(x)
    assert stats.zero_fraction == np.count_nonzero(x == 0) / N
    assert 0.4 < stats.zero_fraction < 0.6
    assert _summary(_data("normal")).zero_fraction == 0.0


def _with_non_finite(dtype: Float) -> tuple[np.ndarray, np.ndarray]:
    x = _data("normal", dtype)
    rng = np.random.default_rng(2)
    where = rng.permutation(N)
    x[where[:100]] = np.nan
    x[where[100:130]] = np.inf
    x[where[130:150]] = -np.inf
    x[where[150:1150]] = 0.0
    return x, x[np.isfinite(x)].astype(np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scan_counts_non_finite(dtype: Float) -> None:
    x, finite = _with_non_finite(dtype)
    extent = scan(x)
    assert (extent.size, extent.finite, extent.nan, extent.inf) == (N, N - 150, 100, 50)
    assert (extent.low, extent.high) == (finite.min(), finite.max())
    assert extent.mean == pytest.approx(float(finite.mean()), abs=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_summarize_excludes_non_finite(dtype: Float) -> None:
    x, finite = _with_non_finite(dtype)
    stats = _summary(x, 25)
    assert (stats.nan_count, stats.inf_count, stats.count) == (100, 50, finite.size)
    expected, _ = np.histogram(finite, bins=25, range=(finite.min(), finite.max()))
    assert int(stats.counts.sum()) == finite.size
    assert int(np.abs(stats.counts - expected).sum()) <= BOUNDARY_TOLERANCE
    assert stats.mean == pytest.approx(float(finite.mean()), abs=1e-6)
    assert stats.std == pytest.approx(float(finite.std()), rel=1e-5, abs=0)
    _check_percentiles(stats, x)
    # 1000 exact zeros: a fraction of all values or of the finite ones (the module leaves which open).
    assert round(stats.zero_fraction * N) == 1000 or round(stats.zero_fraction * finite.size) == 1000


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_summarize_nothing_finite(value: float) -> None:
    x = np.full(1000, value, np.float32)
    stats = _summary(x, 10, display=(0.0, 1.0), bounds=(0.0, 1.0))
    assert stats.count == 0
    assert int(stats.counts.sum()) == 0
    assert stats.counts.shape == (10,)
    assert stats.mean is None
    assert stats.std is None
    assert stats.percentiles is None
    assert stats.nan_count + stats.inf_count == 1000
    assert stats.saturated_fraction == 0.0


def test_scan_empty() -> None:
    extent = scan(np.zeros((0, 5), np.float32))
    assert (extent.size, extent.finite) == (0, 0)


@pytest.mark.parametrize(("low", "high"), [(-1.0, 1.5), (0.5, 3.0), (-10.0, -2.0)])
def test_summarize_explicit_range_below_above(low: float, high: float) -> None:
    x = _data("normal")
    x[:50] = high  # values on the top edge belong to the last bin
    x[50:80] = low
    stats = _summary(x, 20, display=(low, high), explicit_range=True)
    below = int(np.count_nonzero(x < low))
    above = int(np.count_nonzero(x > high))
    assert (stats.below, stats.above) == (below, above)
    assert int(stats.counts.sum()) == N - below - above
    expected, _ = np.histogram(x.astype(np.float64), bins=20, range=(low, high))
    assert int(np.abs(stats.counts - expected).sum()) <= BOUNDARY_TOLERANCE
    assert stats.counts[-1] >= 50
    assert stats.counts[0] >= 30
    # Statistics still describe all the data, not only the part in range.
    assert stats.mean == pytest.approx(float(x.astype(np.float64).mean()), abs=1e-5)
    _check_percentiles(stats, x)


@pytest.mark.parametrize("value", [0.0, 3.0, -1e-20, 7e25])
def test_summarize_constant(value: float) -> None:
    x = np.full(5000, value, np.float32)
    v = float(x[0])
    half = max(0.5, abs(v) / 8)
    # An odd number of bins puts the value in the middle of the middle bin, far from any edge.
    stats = _summary(x, 9, display=(v - half, v + half))
    assert stats.std == 0.0
    assert stats.mean == v
    assert stats.percentiles == (v,) * len(PERCENTILES)
    assert int(stats.counts.sum()) == 5000
    assert int(np.count_nonzero(stats.counts)) == 1
    assert stats.zero_fraction == (1.0 if value == 0.0 else 0.0)
    expected, _ = np.histogram(x.astype(np.float64), bins=9, range=(v - half, v + half))
    np.testing.assert_array_equal(stats.counts, expected)
    assert stats.counts[4] == 5000


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_summarize_values_near_float32_max(dtype: Float) -> None:
    x = (np.random.default_rng(3).standard_normal(10_000) * 5e37).astype(dtype)
    stats = _summary(x, 20)
    x64 = x.astype(np.float64)
    assert int(stats.counts.sum()) == x.size
    assert stats.std == pytest.approx(float(x64.std()), rel=1e-6, abs=0)
    assert stats.mean == pytest.approx(float(x64.mean()), rel=1e-6, abs=1e-6 * float(x64.std()))


@pytest.mark.parametrize(
    "magnitude",
    [
        1e-10,
        1e-18,
        1e-21,
        1e-25,
        1e-30,
    ],
)
def test_summarize_std_of_vanished_signal_on_wide_range(magnitude: float) -> None:
    """Layers whose values vanished (ReLU, std 0.01, 50 layers: ~1e-33) share a display range
    with healthy runs; their std must still be their own, not 0."""
    x = (np.random.default_rng(0).standard_normal(10_000) * magnitude).astype(np.float32)
    stats = _summary(x, 30, display=(-1.0, 1.0))
    assert stats.std == pytest.approx(float(x.astype(np.float64).std()), rel=1e-5, abs=0)
    assert int(stats.counts.sum()) == x.size


def _scaled_reference(x: np.ndarray, exponent: int) -> tuple[float, float]:
    """mean and std of float64 values too small or too large to square, computed on x * 2**exponent."""
    y = np.ldexp(x.astype(np.float64), exponent)
    return float(np.ldexp(y.mean(), -exponent)), float(np.ldexp(y.std(), -exponent))


@pytest.mark.parametrize("magnitude", [1e-310, 1e-320, 1e-200])
def test_summarize_subnormal_float64_range(magnitude: float) -> None:
    """A float64 layer whose values are subnormal (a vanished gradient at its true scale): its own
    range is narrower than bins / float64 max, and the statistics must still be its own."""
    x = np.random.default_rng(1).standard_normal(20_000) * magnitude
    stats = _summary(x, 30)
    assert int(stats.counts.sum()) == stats.count == x.size
    assert (stats.below, stats.above) == (0, 0)
    assert (stats.min, stats.max) == (float(x.min()), float(x.max()))
    assert np.all(np.isfinite(stats.edges)) and np.all(np.diff(stats.edges) >= 0)
    mean, std = _scaled_reference(x, 1100)
    assert stats.std == pytest.approx(std, rel=1e-6, abs=0)
    assert stats.mean == pytest.approx(mean, rel=1e-6, abs=1e-6 * std)
    assert stats.percentiles is not None and list(stats.percentiles) == sorted(stats.percentiles)
    assert stats.percentiles[0] == x.min() and stats.percentiles[-1] == x.max()
    if magnitude > 1e-300:  # a normal range: np.histogram bins it as well
        expected, _ = np.histogram(x, bins=30, range=(float(x.min()), float(x.max())))
        assert int(np.abs(stats.counts - expected).sum()) <= BOUNDARY_TOLERANCE


def test_summarize_two_subnormal_values() -> None:
    """The narrowest range float64 has: 0 and the smallest subnormal."""
    x = np.array([0.0, 5e-324, 5e-324, 0.0, 5e-324])
    stats = _summary(x, 30)
    assert int(stats.counts.sum()) == 5 and (stats.below, stats.above) == (0, 0)
    assert (stats.counts[0], stats.counts[-1]) == (2, 3)
    assert stats.zero_fraction == 0.4 and stats.min == 0.0 and stats.max == 5e-324


def test_summarize_range_wider_than_float64() -> None:
    """float64 values from -1.5e308 to 1.5e308: high - low overflows, and so would their sum."""
    x = np.random.default_rng(2).uniform(-1.5, 1.5, 20_000) * 1e308
    stats = _summary(x, 30)
    assert int(stats.counts.sum()) == stats.count == x.size
    assert np.all(np.isfinite(stats.edges)) and stats.edges[0] == x.min() and stats.edges[-1] == x.max()
    expected, _ = np.histogram(x / 4, bins=30, range=(float(x.min()) / 4, float(x.max()) / 4))
    assert int(np.abs(stats.counts - expected).sum()) <= BOUNDARY_TOLERANCE
    mean, std = _scaled_reference(x, -600)
    assert stats.mean == pytest.approx(mean, rel=1e-6, abs=1e-6 * std)
    assert stats.std == pytest.approx(std, rel=1e-6, abs=0)
    _check_percentiles_scaled(stats, x, 4.0)


def _check_percentiles_scaled(stats: TensorStats, x: np.ndarray, divisor: float) -> None:
    assert stats.percentiles is not None
    expected = np.percentile(x / divisor, PERCENTILES) * divisor
    bound = (x.max() / divisor - x.min() / divisor) / 256.0 * divisor
    assert np.all(np.abs(np.array(stats.percentiles) / divisor - expected / divisor) < bound / divisor)
    assert list(stats.percentiles) == sorted(stats.percentiles)


def _chunk_squares(x: np.ndarray, mean: float) -> float:
    """The sum of squared deviations as stats has always grouped it: per chunk (the whole tensor
    up to 2 * CHUNK values), float32 dots of SQUARE_ROW-value rows summed in float64, plus the dot
    of the values after the last whole row."""
    n = x.size if x.size <= 2 * CHUNK else CHUNK
    total = 0.0
    for start in range(0, x.size, n):
        b = x[start : start + n] - np.float32(mean)
        rows = b.size // SQUARE_ROW
        head = b[: rows * SQUARE_ROW].reshape(rows, SQUARE_ROW)
        tail = b[rows * SQUARE_ROW :]
        total += float(np.add.reduce(np.vecdot(head, head), dtype=np.float64)) + float(np.dot(tail, tail))
    return total


@pytest.mark.parametrize(
    "size", [1, 1000, BLOCK, BLOCK + 1, 100_000, 2 * CHUNK, 2 * CHUNK + 1, 3 * CHUNK + 4097]
)
def test_summarize_std_blocks_sum_squares_as_chunks_did(size: int) -> None:
    """A pass works in blocks, but squares are summed in the same groups as ever: the std's last
    bits (and so old links' answers) do not depend on the block size."""
    x = np.random.default_rng(size).standard_normal(size).astype(np.float32)
    extent = scan(x)
    stats = summarize(x, extent, (extent.low - 1.0, extent.high + 1.0), 30)
    assert stats.std == math.sqrt(_chunk_squares(x, extent.mean) / size)


def _parts_cases() -> list[tuple[str, np.ndarray, tuple[float | None, float | None]]]:
    rng = np.random.default_rng(11)
    z = rng.standard_normal((400, 50)).astype(np.float32) * 3
    return [
        ("pre", z, (None, None)),
        ("relu", np.maximum(z, 0), (0.0, None)),  # half zeros
        ("sigmoid", (0.5 + 0.5 * np.tanh(2 * z)).astype(np.float32), (0.0, 1.0)),  # saturated
        ("tiny", z * np.float32(1e-20), (None, None)),  # computed in float64
        ("float64", z.astype(np.float64), (None, None)),
    ]


@pytest.mark.parametrize(("name", "x", "bounds"), _parts_cases(), ids=[c[0] for c in _parts_cases()])
def test_summarize_with_parts_gives_the_same_results_on_any_range(
    name: str, x: np.ndarray, bounds: tuple[float | None, float | None]
) -> None:
    """A tensor summarized again on another range with the Parts of its first summary (only the
    bins counted again) gives exactly what a summary without them gives: ranges that hold it,
    cut it (below/above: its own range's percentiles), dwarf it (own-range percentiles too), and
    one wide enough to switch the pass to float64 (the parts are then computed afresh)."""
    extent = scan(x)
    low, high = extent.low, extent.high
    span = high - low
    ranges = [
        (low, high),
        (low - 20 * span, high + 20 * span),
        (low + span / 3, high - span / 3),
        (-1e20, 1e20),
        (low - span, high),
    ]
    parts = Parts()
    for explicit in (False, True):
        for display in ranges:
            with_parts = summarize(x, extent, display, 30, bounds, explicit, parts=parts)
            alone = summarize(x, extent, display, 30, bounds, explicit)
            for field in alone.__dataclass_fields__:
                a, b = getattr(with_parts, field), getattr(alone, field)
                if isinstance(a, np.ndarray):
                    assert a.tobytes() == b.tobytes(), (name, display, field)
                else:
                    assert repr(a) == repr(b), (name, display, field)
    assert parts.dtypes is not None
