"""unit_counts' compiled loops against the NumPy steps they replaced, kept here as the reference
(commit e2aaacd's units.py): the same dead and distinct units on layers made to be hard, with equal,
nearly equal (at the tolerance, in float32) and dead units, tied keys and rejoined groups."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from app.engine.measure.stats import CHUNK, Extent, is_wide, scan
from app.engine.measure.units import DISTINCT_RTOL, _projection, dead_units, unit_counts

Floats = NDArray[np.floating[Any]]
SIGNATURE_ROWS = 32
REJOINED: list[int] = []  # the reference's rejoined counts, to show the tests reach that path


def _old_equal(a: Floats, left: NDArray[np.intp], right: NDArray[np.intp], tol: float) -> NDArray[np.bool_]:
    out = np.zeros(left.size, dtype=np.bool_)
    pending = np.arange(left.size)
    rows = int(a.shape[0])
    start, step = 0, SIGNATURE_ROWS
    with np.errstate(over="ignore"):
        while pending.size and start < rows:
            block = a[start : start + step]
            gap = np.abs(np.take(block, left, axis=1) - np.take(block, right, axis=1))
            keep = gap.max(axis=0) <= tol
            left, right, pending = left[keep], right[keep], pending[keep]
            start += step
            step = max(SIGNATURE_ROWS, CHUNK // max(1, left.size))
    out[pending] = True
    return out


def _old_rejoined(
    a: Floats,
    order: NDArray[np.intp],
    ordered: NDArray[np.float64],
    candidates: NDArray[np.intp],
    same: NDArray[np.bool_],
    key_tol: float,
    tol: float,
) -> int:
    if candidates.size < 2 or not (candidates[1:] - candidates[:-1] == 1).any():
        return 0
    bounds = np.flatnonzero(~same)
    if (
        bounds.size < 2
        or not (candidates[bounds[1:]] - candidates[bounds[:-1]] == bounds[1:] - bounds[:-1]).any()
    ):
        return 0
    joined = np.zeros(order.size - 1, dtype=np.bool_)
    joined[candidates[same]] = True
    first = np.flatnonzero(np.concatenate([[True], ~joined]))
    last = np.concatenate([first[1:] - 1, [joined.size]])
    low, high, heads = ordered[first], ordered[last], order[first]
    groups = np.arange(first.size)
    count = np.maximum(np.searchsorted(low, high + key_tol, side="right") - groups - 2, 0)
    total = int(count.sum())
    if total == 0:
        return 0
    left = np.repeat(groups, count)
    right = left + 2 + np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    equal = _old_equal(a, heads[left], heads[right], tol)
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


def numpy_unit_counts(a: Floats, extent: Extent) -> tuple[int, int | None]:
    n_units = int(a.shape[1])
    if extent.finite < extent.size:
        return dead_units(a), None
    if n_units < 2:
        return dead_units(a), n_units
    if extent.low == extent.high:
        return (n_units if extent.low == 0.0 else 0), 1
    wide = is_wide(extent.low, extent.high)
    r, r_sum = _projection(int(a.shape[0]), np.dtype(np.float64) if wide else a.dtype)
    keys = (r @ (a.astype(np.float64) if wide else a)).astype(np.float64)
    suspects = np.flatnonzero(keys == 0)
    if suspects.size * 8 < n_units:
        alive = (np.take(a, suspects, axis=1) != 0).any(axis=0)
    else:
        alive = (a != 0).any(axis=0)[suspects]
    is_dead = np.zeros(n_units, dtype=np.bool_)
    is_dead[suspects[~alive]] = True
    dead = int(suspects.size - np.count_nonzero(alive))
    scale = max(abs(extent.low), abs(extent.high))
    tol = DISTINCT_RTOL * max(scale, float(np.finfo(np.float32).tiny))
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    key_tol = tol * r_sum + 1e-5 * float(np.abs(keys).max())
    candidates = np.flatnonzero(ordered[1:] - ordered[:-1] <= key_tol)
    left, right = order[candidates], order[candidates + 1]
    if dead:
        same = is_dead[left] & is_dead[right]
        unknown = np.flatnonzero(~same)
        same[unknown] = _old_equal(a, left[unknown], right[unknown], tol)
    else:
        same = _old_equal(a, left, right, tol)
    rejoined = _old_rejoined(a, order, ordered, candidates, same, key_tol, tol)
    REJOINED.append(rejoined)
    return dead, n_units - int(np.count_nonzero(same)) - rejoined


def _layer(kind: str, dtype: type[np.floating[Any]], samples: int, width: int, seed: int) -> Floats:
    """Layers whose units are hard to tell apart."""
    rng = np.random.default_rng(seed)
    if kind == "discrete":  # few values: equal and dead units, tied keys
        a = rng.integers(0, int(rng.integers(1, 4)), (samples, width)).astype(np.float64)
    elif kind == "near":  # copies of a few units, moved by about the tolerance
        base = rng.standard_normal((samples, int(rng.integers(1, 5))))
        a = base[:, rng.integers(0, base.shape[1], width)]
        tol = DISTINCT_RTOL * float(np.abs(base).max())
        factors = rng.choice([0.0, 0.5, 0.999, 1.0, 1.001, 2.0, 50.0], width)
        a = a + factors * tol * rng.choice([-1.0, 1.0], (samples, width)) * (
            rng.random((samples, width)) < 0.3
        )
    elif kind == "saturated":  # ones but for a few cells: keys agree, units differ on a sample or two
        a = np.ones((samples, width))
        cells = rng.random((samples, width)) < rng.choice([0.002, 0.01, 0.05])
        a[cells] -= rng.choice([1e-6, 1e-5, 2e-5, 1e-3], int(cells.sum()))
        a[:, rng.random(width) < 0.1] = 0.0
    else:  # relu-like, some dead units and some duplicated
        a = np.maximum(rng.standard_normal((samples, width)) - rng.uniform(0, 2), 0.0)
        a[:, rng.random(width) < 0.2] = 0.0
        twins = rng.integers(0, width, width // 3)
        a[:, rng.integers(0, width, twins.size)] = a[:, twins]
    scale = float(rng.choice([1.0, 1.0, 1e-20, 1e20]))
    with np.errstate(over="ignore"):
        return (a * scale).astype(dtype)


def _check(a: Floats) -> None:
    extent = scan(a)
    assert unit_counts(a, extent) == numpy_unit_counts(a, extent)


KINDS = ["discrete", "near", "saturated", "relu"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(KINDS),
    dtype=st.sampled_from([np.float32, np.float64]),
    samples=st.integers(1, 70),
    width=st.integers(2, 120),
    seed=st.integers(0, 2**32 - 1),
)
def test_unit_counts_match_the_numpy_steps(
    kind: str, dtype: type[np.floating[Any]], samples: int, width: int, seed: int
) -> None:
    _check(_layer(kind, dtype, samples, width, seed))


def test_unit_counts_match_where_groups_are_rejoined() -> None:
    """Saturated layers whose tied keys sort a different unit between equal ones: the reference
    merges groups there (its rejoined count is not 0 in some of these), and so does the kernel."""
    REJOINED.clear()
    for seed in range(300):
        _check(_layer("saturated", np.float32, 40, 64, seed))
    assert sum(1 for r in REJOINED if r > 0) >= 5


@pytest.mark.parametrize("layout", ["transposed", "sliced"])
def test_unit_counts_of_a_layer_not_in_c_order(layout: str) -> None:
    a = _layer("relu", np.float32, 200, 50, 1)
    view = np.asfortranarray(a) if layout == "transposed" else np.repeat(a, 2, axis=1)[:, ::2]
    np.testing.assert_array_equal(view, a)
    assert unit_counts(view, scan(view)) == numpy_unit_counts(a, scan(a))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_difference_of_exactly_the_tolerance_is_equal(dtype: type[np.floating[Any]]) -> None:
    """Units differing by the tolerance in the layer's dtype on one sample are one function, and
    by the next value above it two. The layer's largest |value| is 7: float32(7e-5) is above the
    Python float 7e-5, so compared in float64 a float32 layer's units would be two."""
    tol = dtype(DISTINCT_RTOL * 7.0)
    assert dtype == np.float64 or float(tol) > DISTINCT_RTOL * 7.0
    for gap, distinct in ((tol, 2), (np.nextafter(tol, dtype(1.0)), 3)):
        a = np.array([[7.0, 7.0, -1.0], [0.0, gap, 0.5], [0.25, 0.25, 0.75]], dtype)
        extent = scan(a)
        assert unit_counts(a, extent) == numpy_unit_counts(a, extent) == (0, distinct)


WORKLOAD = """
import json, numpy as np
from app.engine.measure import stats, unit_kernels, units
unit_kernels.warm_up()
warm = {str(s) for s in unit_kernels.dead_and_distinct.signatures}
rng = np.random.default_rng(0)
for dtype in (np.float32, np.float64):
    for scale in (1.0, 1e-30, 1e30):
        with np.errstate(over="ignore"):
            x = (scale * rng.standard_normal((300, 40))).astype(dtype)
        for layer in (x, np.maximum(x, 0), np.asfortranarray(x)):
            units.unit_counts(layer, stats.scan(layer))
print(json.dumps(sorted({str(s) for s in unit_kernels.dead_and_distinct.signatures} - warm)))
"""


def test_warm_up_compiles_every_signature_units_uses() -> None:
    """A fresh process that ran warm_up compiles nothing more for layers of both dtypes, wide
    or not, in C or Fortran order."""
    done = subprocess.run([sys.executable, "-c", WORKLOAD], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
