"""The compiled binned pass against the NumPy steps it replaced, kept here as the reference: the
same bin counts, zeros, saturated values and sums of squares, bit for bit, on random shapes and
values of both dtypes, edge values (subnormals, -0.0, values near float64's limits) and sizes
around every block and chunk boundary."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from app.engine.measure import binning
from app.engine.measure.stats import (
    CHUNK,
    PERCENTILES,
    RESCALE_RANGE,
    RESCALE_SQUARES,
    SQUARE_ROW,
    Extent,
    _arithmetic,
    _binned_pass,
    _Pass,
    _percentiles,
    _shift,
    _times_power_of_two,
)

Floats = NDArray[np.floating[Any]]

# The reference: stats._binned_pass as NumPy steps (commit e2aaacd), its block and lane logic
# included, since what it did is what the answers pinned in tests/api/test_answer_digests.py mean.
OLD_BLOCK = 32 * SQUARE_ROW
OLD_LANES = 4
OLD_SPREAD = 8
OLD_CROWDED = 16


def _old_row_squares(b: Floats, first: int, rows: int, row_dots: Floats) -> float:
    start_row = first // SQUARE_ROW
    end_row = min(rows, (first + b.size) // SQUARE_ROW)
    whole = (end_row - start_row) * SQUARE_ROW
    if whole:
        head = b[:whole].reshape(end_row - start_row, SQUARE_ROW)
        np.vecdot(head, head, out=row_dots[start_row:end_row])
    if end_row < rows or whole == b.size:
        return 0.0
    tail = b[whole:]
    return float(np.dot(tail, tail))


def numpy_binned_pass(
    flat: Floats,
    low: float,
    high: float,
    bins: int,
    mean: float | None = None,
    saturation: tuple[float | None, float | None] = (None, None),
    zeros: bool = False,
    squares_shift: int = 0,
    spread_rule: tuple[float, int] = (OLD_SPREAD, OLD_CROWDED),
) -> _Pass:
    data = (float(np.min(flat)), float(np.max(flat)))
    shift, scale, dtype = _arithmetic(flat.dtype, low, high, bins)
    origin, factor = dtype(math.ldexp(low, shift)), dtype(scale)
    inside = (
        shift == 0
        and low <= data[0]
        and data[1] <= high
        and float(origin) <= data[0]
        and int((dtype(data[1]) - origin) * factor + dtype(1.0)) <= bins + 1
    )
    stride = bins + 2
    spread = (data[1] - data[0]) * spread_rule[0] >= high - low
    offsets = ((np.arange(2 * CHUNK) % OLD_LANES) * stride).astype(np.int32)
    lanes: NDArray[np.intp] | None = None
    out = _Pass(np.zeros(stride, dtype=np.int64))
    n = flat.size if flat.size <= 2 * CHUNK else CHUNK
    buf = np.empty(OLD_BLOCK, dtype)
    index32, index = np.empty(OLD_BLOCK, np.int32), np.empty(OLD_BLOCK, np.intp)
    mask_buf = np.empty(OLD_BLOCK, np.bool_)
    mask = mask_buf if zeros or saturation != (None, None) else None
    lo_sat, hi_sat = saturation
    row_dots = np.empty(n // SQUARE_ROW, dtype)
    with np.errstate(over="ignore", under="ignore"):
        for start in range(0, flat.size, n):
            chunk = flat[start : start + n]
            rows = chunk.size // SQUARE_ROW
            tail_squares = 0.0
            for first in range(0, chunk.size, OLD_BLOCK):
                block = chunk[first : first + OLD_BLOCK]
                b, i32, i = buf[: block.size], index32[: block.size], index[: block.size]
                if mean is not None:
                    if squares_shift:
                        _times_power_of_two(block, squares_shift, out=b)
                        np.subtract(b, math.ldexp(mean, squares_shift), out=b)
                    else:
                        np.subtract(block, dtype(mean), out=b)
                    tail_squares += _old_row_squares(b, first, rows, row_dots)
                crowd = out.zeros + out.saturated
                if mask is not None:
                    m = mask[: block.size]
                    if zeros:
                        out.zeros += int(np.count_nonzero(np.equal(block, 0, out=m)))
                    if lo_sat is not None:
                        out.saturated += int(np.count_nonzero(np.less_equal(block, lo_sat, out=m)))
                    if hi_sat is not None:
                        out.saturated += int(np.count_nonzero(np.greater_equal(block, hi_sat, out=m)))
                if inside:
                    if origin:
                        np.subtract(block, origin, out=b)
                    np.multiply(b if origin else block, factor, out=b)
                    np.add(b, dtype(1.0), out=i32, casting="unsafe")
                else:
                    if shift:
                        _times_power_of_two(block, shift, out=b)
                        np.subtract(b, origin, out=b)
                    else:
                        np.subtract(block, origin, out=b)
                    np.multiply(b, factor, out=b)
                    np.add(b, dtype(1.0), out=b)
                    np.maximum(b, 0, out=b)
                    np.minimum(b, bins + 1, out=i32, casting="unsafe")
                if spread and (out.zeros + out.saturated - crowd) * spread_rule[1] <= block.size:
                    np.copyto(i, i32)
                    out.counts += np.bincount(i, minlength=stride)
                else:
                    if lanes is None:
                        lanes = np.zeros(OLD_LANES * stride, dtype=np.intp)
                    np.add(i32, offsets[: block.size], out=i32)
                    np.copyto(i, i32)
                    np.add.at(lanes, i, 1)
            if mean is not None:
                out.squares += float(np.add.reduce(row_dots[:rows], dtype=np.float64)) + tail_squares
    if lanes is not None:
        out.counts += lanes.reshape(OLD_LANES, stride).sum(axis=0)
    return out


def _same(new: _Pass, old: _Pass) -> None:
    assert new.counts.dtype == old.counts.dtype == np.int64
    np.testing.assert_array_equal(new.counts, old.counts)
    assert (new.zeros, new.saturated) == (old.zeros, old.saturated)
    assert math.copysign(1.0, new.squares) == math.copysign(1.0, old.squares)
    assert new.squares == old.squares or (math.isnan(new.squares) and math.isnan(old.squares))


SIZES = sorted(
    {1, 2, 7, 8, 9}
    | {k * m + d for k in (SQUARE_ROW, binning.BLOCK, OLD_BLOCK) for m in (1, 2, 3) for d in (-1, 0, 1)}
    | {100_000, 2 * CHUNK - 1, 2 * CHUNK, 2 * CHUNK + 1, 3 * CHUNK + 4097}
)
SPECIALS = np.array(
    [0.0, -0.0, 1e-45, -1e-45, 1e-40, 1.17549435e-38, 3.0e38, -3.0e38, 1.0, -1.0, 0.5, 1e-310, 1e300]
)


def _values(dtype: type[np.floating[Any]], size: int, seed: int, kind: str) -> Floats:
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.integers(-30, 30) if kind == "scaled" else 1.0
    x = rng.standard_normal(size) * scale
    if kind == "relu":
        x = np.maximum(x, 0.0)
    elif kind == "sigmoid":  # crowded at both bounds
        x = 1.0 / (1.0 + np.exp(-8.0 * x))
    elif kind == "specials":
        where = rng.random(size) < 0.2
        x[where] = rng.choice(SPECIALS, int(where.sum()))
    elif kind == "constant":
        x = np.full(size, rng.standard_normal())
    with np.errstate(over="ignore"):
        x = x.astype(dtype)
    return x[np.isfinite(x)] if np.isfinite(x).any() else np.zeros(1, dtype)


def _ranges(x: Floats, rng: np.random.Generator) -> list[tuple[float, float]]:
    low, high = float(np.min(x)), float(np.max(x))
    span = high - low if high > low else max(abs(low), 1e-300)
    ranges = [
        (low, high if high > low else low + span),
        (low - 0.37 * span, high + 3.1 * span),  # wider: spread over part of it
        (low + 0.25 * span, high - 0.25 * span),  # cut: clipped values either side
        (low - 40.0 * span, high),  # a sliver of it
        (float(rng.uniform(low - span, high)), float(rng.uniform(high, high + 2 * span)) + span),
    ]
    if x.dtype == np.float64:
        ranges += [(-1e300, 1e300), (low * 1e-250, low * 1e-250 + 1e-310)]  # shifted passes
    return [(a, b) for a, b in ranges if math.isfinite(a) and math.isfinite(b) and a < b]


def _check(x: Floats, seed: int, bins: int) -> None:
    rng = np.random.default_rng(seed)
    low_x, high_x = float(np.min(x)), float(np.max(x))
    flat = x
    with np.errstate(over="ignore"):
        mean = float(np.mean(x.astype(np.float64)))
    squares_shift = _shift(RESCALE_SQUARES, low_x, high_x)
    if squares_shift and x.dtype != np.float64:
        return  # summarize passes such values as float64
    thresholds = [float(x.dtype.type(t)) for t in np.quantile(x, [0.1, 0.9])]
    for low, high in _ranges(x, rng):
        for kwargs in (
            {},
            {"mean": mean, "squares_shift": squares_shift, "zeros": True},
            {"mean": mean, "saturation": (thresholds[0], thresholds[1]), "zeros": bool(rng.integers(2))},
            {"saturation": (None, thresholds[1])},
            {"saturation": (thresholds[0], None)},
        ):
            new = _binned_pass(flat, low, high, bins, **kwargs)
            _same(new, numpy_binned_pass(flat, low, high, bins, **kwargs))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    dtype=st.sampled_from([np.float32, np.float64]),
    size=st.one_of(st.integers(1, 5000), st.sampled_from(SIZES)),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["normal", "scaled", "relu", "sigmoid", "specials", "constant"]),
    bins=st.sampled_from([1, 2, 7, 30, 2048, 2070, 4000]),
)
def test_binned_pass_matches_the_numpy_steps(
    dtype: type[np.floating[Any]], size: int, seed: int, kind: str, bins: int
) -> None:
    _check(_values(dtype, size, seed, kind), seed, bins)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binned_pass_matches_at_every_boundary_size(size: int, dtype: type[np.floating[Any]]) -> None:
    for kind in ("normal", "relu", "specials"):
        _check(_values(dtype, size, size, kind), size, 30 * 69)


def test_binned_pass_matches_whichever_way_the_numpy_steps_counted() -> None:
    """The reference counted spread values with np.bincount and crowded ones in lanes: both
    paths of it, and the kernel, agree."""
    x = _values(np.float32, 3 * CHUNK + 4097, 5, "relu")
    for rule in ((0.0, 16), (1e30, 0)):
        _same(
            _binned_pass(x, -1.0, 5.0, 2070, zeros=True),
            numpy_binned_pass(x, -1.0, 5.0, 2070, zeros=True, spread_rule=rule),
        )


def test_bin_counts_slots_every_value_in_range() -> None:
    """Values beyond either end, by any distance (inf after scaling), go to the end slots, and
    the lanes are left zero for the next call."""
    x = np.array([-3.0e38, -1.0, 0.0, 0.999, 1.0, 2.0, 3.0e38, 1e-45, -0.0], np.float32)
    counts = np.zeros(4, np.int64)
    index, lanes = np.empty(binning.BLOCK, np.int32), np.zeros((binning.LANES, 4), np.int32)
    f32 = np.float32
    binning.bin_counts(x, False, f32(1), f32(1), f32(0), f32(2), f32(1), f32(0), f32(3), index, lanes, counts)
    # Slot x * 2 + 1, clipped to [0, 3]: -3e38 (-inf) and -1 under; 0, 1e-45 and -0.0 in the first
    # bin, 0.999 in the second; 1.0 (the top edge: summarize moves it back), 2 and 3e38 (inf) over.
    np.testing.assert_array_equal(counts, [2, 3, 1, 3])
    assert not lanes.any()


def test_tally_counts_only_what_is_asked() -> None:
    x = np.array([0.0, -0.0, 0.1, 0.9, 0.95, 0.02, 1.0], np.float64)
    assert binning.tally(x, True, 0.03, True, 0.97, True) == (2, 4)
    assert binning.tally(x, False, 0.03, True, 0.97, False) == (0, 3)
    assert binning.tally(x, True, 0.0, False, 0.0, False) == (2, 0)


@pytest.mark.parametrize(
    ("values", "dtype"), [(np.float32, np.float32), (np.float32, np.float64), (np.float64, np.float64)]
)
def test_deviations_are_numpy_subtract(values: type[np.floating[Any]], dtype: type[np.floating[Any]]) -> None:
    """In the pass's dtype: a float32 tensor binned on a range too narrow for float32 (scale
    beyond 1e30) subtracts in float64."""
    x = _values(values, 4097, 3, "specials")
    out = np.empty(x.size, dtype)
    binning.deviations(x, False, dtype(1.0), dtype(1.0), dtype(0.3), out)
    assert out.tobytes() == np.subtract(x, dtype(0.3), out=np.empty(x.size, dtype)).tobytes()


def test_deviations_shifted_are_two_power_of_two_products() -> None:
    x = np.array([1e300, -1e300, 1e-300, 5e-324, -0.0, 3.5], np.float64)
    for k in (-1000, -3, 7, 1074):
        half = k // 2
        out = np.empty(x.size)
        binning.deviations(x, True, 2.0**half, 2.0 ** (k - half), 0.25, out)
        with np.errstate(over="ignore", under="ignore"):
            expected = _times_power_of_two(x, k, np.empty(x.size)) - 0.25
        assert out.tobytes() == expected.tobytes()


def test_the_reference_can_fail() -> None:
    """_same tells a count one off, and a sum of squares one bit off, from the reference's."""
    x = _values(np.float32, 1000, 1, "normal")
    old = numpy_binned_pass(x, -1.0, 1.0, 30, mean=0.0)
    new = _binned_pass(x, -1.0, 1.0, 30, mean=0.0)
    new.counts[3] += 1
    with pytest.raises(AssertionError):
        _same(new, old)
    new = _binned_pass(x, -1.0, 1.0, 30, mean=0.0)
    new.squares = float(np.nextafter(new.squares, math.inf))
    with pytest.raises(AssertionError):
        _same(new, old)


def test_bin_counts_keeps_a_nan_inside_the_counts() -> None:
    """summarize never bins a NaN, but a slot is never outside the counts whatever the value."""
    x = np.array([np.nan, 0.5, -np.inf, np.inf], np.float64)
    counts = np.zeros(4, np.int64)
    index, lanes = np.empty(binning.BLOCK, np.int32), np.zeros((binning.LANES, 4), np.int32)
    binning.bin_counts(x, False, 1.0, 1.0, 0.0, 2.0, 1.0, 0.0, 3.0, index, lanes, counts)
    np.testing.assert_array_equal(counts, [2, 0, 1, 1])


def numpy_percentiles(fine: NDArray[np.int64], low: float, high: float, extent: Extent) -> tuple[float, ...]:
    """stats._percentiles as it was (commit e2aaacd): np.searchsorted, then Python floats."""
    cumulative = np.cumsum(fine)
    shift = _shift(RESCALE_RANGE, low, high)
    low, high = math.ldexp(low, shift), math.ldexp(high, shift)
    width = (high - low) / fine.size
    targets = [q / 100.0 * extent.finite for q in PERCENTILES[1:-1]]
    found = np.searchsorted(cumulative, np.array(targets), side="left")
    helds = fine[found]
    befores, helds = (cumulative[found] - helds).tolist(), helds.tolist()
    values = [extent.low]
    for target, j, before, held in zip(targets, found.tolist(), befores, helds, strict=True):
        fraction = (target - before) / held if held else 0.0
        values.append(min(max(math.ldexp(low + (j + fraction) * width, -shift), extent.low), extent.high))
    values.append(extent.high)
    return tuple(values)


@settings(max_examples=500, deadline=None)
@given(
    bins=st.integers(1, 300),
    seed=st.integers(0, 2**32 - 1),
    sparse=st.floats(0.0, 0.99),
    scale=st.sampled_from([1.0, 1e-300, 1e300, 1e-30, 5e-324]),
    origin=st.floats(-10.0, 10.0),
)
def test_percentiles_match_the_numpy_steps(
    bins: int, seed: int, sparse: float, scale: float, origin: float
) -> None:
    """Counts with empty runs, one full bin, ranges near float64's limits (shifted) and extremes
    that cut the interpolated values, -0.0 among them: the same floats, bit for bit."""
    rng = np.random.default_rng(seed)
    fine = rng.integers(0, 50, bins) * (rng.random(bins) >= sparse)
    if not fine.any():
        fine[rng.integers(bins)] = 1
    low, high = origin * scale, (origin + rng.uniform(0.001, 20.0)) * scale
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        return
    lowest = float(rng.choice([low, low + (high - low) * 0.01, -0.0 if low <= 0.0 else low]))
    highest = float(rng.choice([high, high - (high - low) * 0.02]))
    finite = int(fine.sum())
    extent = Extent(finite, finite, lowest, max(highest, lowest), 0.0, 0, 0)
    new = _percentiles(fine.astype(np.int64), low, high, extent)
    old = numpy_percentiles(fine.astype(np.int64), low, high, extent)
    assert [v.hex() for v in new] == [v.hex() for v in old]


WORKLOAD = """
import json, numpy as np
from app.engine.measure import binning, stats
binning.warm_up()
names = ("bin_counts", "tally", "deviations", "percentiles")
warm = {n: {str(s) for s in getattr(binning, n).signatures} for n in names}
rng = np.random.default_rng(0)
for dtype, scales in ((np.float32, (1.0, 1e-30, 1e20)), (np.float64, (1.0, 1e-300, 1e300))):
    for scale in scales:  # in range, vanished (float64 passes), huge (shifted passes)
        x = (scale * rng.standard_normal((300, 40))).astype(dtype)
        for layer in (x, np.maximum(x, 0)):
            e = stats.scan(layer)
            for bounds in ((None, None), (0.0, 1.0)):
                for display in ((e.low, e.high), (e.low - 3 * (e.high - e.low), e.high)):
                    stats.summarize(layer, e, display, 30, bounds, parts=stats.Parts())
print(json.dumps({n: sorted({str(s) for s in getattr(binning, n).signatures} - warm[n]) for n in names}))
"""


def test_warm_up_compiles_every_signature_stats_uses() -> None:
    """A fresh process that ran warm_up compiles nothing more for summaries of both dtypes,
    bounded or not, own range or wider (a request would wait seconds for the compiler)."""
    done = subprocess.run([sys.executable, "-c", WORKLOAD], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == {n: [] for n in ("bin_counts", "tally", "deviations", "percentiles")}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_on_no_values(dtype: type[np.floating[Any]]) -> None:
    """An empty tensor (summarize never passes one) counts nothing and writes nothing."""
    x = np.empty(0, dtype)
    counts = np.zeros(4, np.int64)
    index, lanes = np.empty(binning.BLOCK, np.int32), np.zeros((binning.LANES, 4), np.int32)
    one = dtype(1.0)
    binning.bin_counts(x, False, one, one, dtype(0.0), one, one, dtype(0.0), dtype(3.0), index, lanes, counts)
    assert not counts.any() and not lanes.any()
    assert binning.tally(x, True, 0.1, True, 0.9, True) == (0, 0)
    binning.deviations(x, False, one, one, dtype(0.5), np.empty(0, dtype))


def test_passes_on_threads_at_once_give_each_thread_its_own_counts() -> None:
    """The kernels release the GIL and each thread has its own lanes and buffers: passes of
    different sizes and bin counts on four threads at once give what they give one at a time."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(9)
    jobs = []
    for k in range(24):
        x = _values(np.float32 if k % 3 else np.float64, int(rng.integers(1, 3 * CHUNK)), k, "relu")
        jobs.append((x, -0.5, float(np.max(x)) + 1.0, int(rng.choice([7, 2070, 4000])), float(np.mean(x))))

    def run(job: tuple[Floats, float, float, int, float]) -> _Pass:
        x, low, high, bins, mean = job
        return _binned_pass(x, low, high, bins, mean=mean, zeros=True)

    alone = [run(job) for job in jobs]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(run, jobs * 3))
    for i, result in enumerate(together):
        _same(result, alone[i % len(jobs)])
