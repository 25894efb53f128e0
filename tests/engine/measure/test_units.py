"""Dead and distinct units of a layer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.engine.measure.stats import scan
from app.engine.measure.units import dead_units, distinct_units, unit_counts

Float = type[np.floating[Any]]


def test_dead_units() -> None:
    rng = np.random.default_rng(0)
    a = np.maximum(rng.standard_normal((200, 50)), 0).astype(np.float32)
    a[:, [3, 7, 11]] = 0.0
    a[:-1, 20] = 0.0  # alive on one sample: not dead
    assert dead_units(a) == 3
    assert dead_units(np.zeros((10, 6), np.float32)) == 6
    assert dead_units(np.ones((10, 6), np.float32)) == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_distinct_units_identical_columns(dtype: Float) -> None:
    column = np.random.default_rng(0).standard_normal((500, 1))
    a = np.repeat(column, 100, axis=1).astype(dtype)
    assert distinct_units(a, scan(a)) == 1
    zeros = np.zeros((500, 100), dtype)
    assert distinct_units(zeros, scan(zeros)) == 1
    halves = np.full((500, 100), 0.5, dtype)
    assert distinct_units(halves, scan(halves)) == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("units", [1, 2, 100, 3000])
def test_distinct_units_random(dtype: Float, units: int) -> None:
    a = np.random.default_rng(1).standard_normal((300, units)).astype(dtype)
    assert distinct_units(a, scan(a)) == units


@pytest.mark.parametrize("k", [1, 2, 5, 37])
def test_distinct_units_duplicated_groups(k: int) -> None:
    rng = np.random.default_rng(k)
    base = rng.standard_normal((400, k))
    a = base[:, rng.permutation(np.repeat(np.arange(k), 6))].astype(np.float32)
    assert distinct_units(a, scan(a)) == k


def test_distinct_units_tiny_noise_is_identical() -> None:
    rng = np.random.default_rng(4)
    base = rng.standard_normal((300, 8)) * 5.0
    a = base[:, np.repeat(np.arange(8), 10)]
    noisy = a + 1e-9 * float(np.abs(a).max()) * rng.standard_normal(a.shape)
    assert not np.array_equal(noisy[:, 0], noisy[:, 1])
    assert distinct_units(noisy, scan(noisy)) == 8
    # A few float32 ulps of rounding are no difference either.
    a32 = (a * (1 + 2e-7 * rng.standard_normal(a.shape))).astype(np.float32)
    assert not np.array_equal(a32[:, 0], a32[:, 1])
    assert distinct_units(a32, scan(a32)) == 8


def test_distinct_units_small_real_differences_count() -> None:
    rng = np.random.default_rng(5)
    column = rng.standard_normal((300, 1))
    a = np.repeat(column, 20, axis=1)
    a[7, :] += np.arange(20) * 1e-3  # each unit differs from the next on one sample by 1e-3
    assert distinct_units(a, scan(a)) == 20


def test_distinct_units_tiny_scale_layer() -> None:
    """A layer whose values all vanished towards 0 (std 0.01, many layers) still has distinct units."""
    a = np.random.default_rng(6).standard_normal((300, 50)).astype(np.float32) * np.float32(1e-30)
    assert distinct_units(a, scan(a)) == 50


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_distinct_units_non_finite_is_none(value: float) -> None:
    """Units holding NaN or inf are not comparable: no count rather than a wrong one."""
    a = np.random.default_rng(7).standard_normal((30, 12)).astype(np.float32)
    a[3, 4] = value
    assert distinct_units(a, scan(a)) is None


@pytest.mark.parametrize("magnitude", [1e20, 1e37, 3e38])
def test_distinct_units_huge_values(magnitude: float) -> None:
    """Values whose projections would overflow float32 give no warning and the right count."""
    a = np.random.default_rng(8).standard_normal((1000, 10)) * (magnitude / 4)
    a[:, 5] = a[:, 4]
    a[0, 0] = magnitude
    a32 = a.astype(np.float32)
    assert distinct_units(a32, scan(a32)) == 9


@pytest.mark.parametrize("seed", range(5))
def test_unit_counts_dead_matches_the_definition(seed: int) -> None:
    """The experiment's fast path (dead units found from the projection) against the definition."""
    rng = np.random.default_rng(seed)
    a = np.maximum(rng.standard_normal((300, 80)) - 1.5, 0).astype(np.float32)
    a[:, rng.choice(80, size=seed * 5, replace=False)] = 0.0
    dead, distinct = unit_counts(a, scan(a))
    assert dead == int((~(a != 0).any(axis=0)).sum())
    assert distinct == distinct_units(a, scan(a)) == 80 - dead + (1 if dead else 0)


def _components(a: np.ndarray) -> int:
    """The definition, by brute force: units within DISTINCT_RTOL * max|a| of each other on every
    sample are one, and so, in a chain, are the units they are one with."""
    from app.engine.measure.units import DISTINCT_RTOL

    tol = DISTINCT_RTOL * float(np.abs(a).max())
    a64 = a.astype(np.float64)
    parent = list(range(a.shape[1]))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(a.shape[1]):
        close = np.abs(a64[:, i + 1 :] - a64[:, i : i + 1]).max(axis=0) <= tol
        for j in np.flatnonzero(close) + i + 1:
            parent[root(int(j))] = root(i)
    return len({root(i) for i in range(a.shape[1])})


def test_distinct_units_equal_units_apart_in_the_sorted_order() -> None:
    """Two equal units with a third between them in key order (its key tied with theirs in float32,
    itself more than the tolerance away on one sample) are one unit, not two."""
    from app.engine.layers.activations import sigmoid

    a = sigmoid(3 * np.random.default_rng(3).standard_normal((1000, 40))).astype(np.float32)
    saturated = np.ones(1000, np.float32)
    saturated[:5] = 0.5
    a[:, 10] = a[:, 12] = saturated
    a[:, 11] = saturated
    a[700, 11] = np.float32(1 - 2e-5)  # 2e-5 from the others on one sample; the tolerance is 1e-5
    assert distinct_units(a, scan(a)) == _components(a) == 39


@pytest.mark.parametrize(
    ("query", "layer"),
    [
        ("width=100&seed=0&run=sigmoid,normal,std:5", 4),  # 99 units, not 100
        ("width=300&seed=2&run=sigmoid,normal,std:1", 4),  # 293, not 294
        ("width=300&seed=0&run=sigmoid,normal,std:2", 4),  # 289, not 290
        ("width=300&seed=2&run=sigmoid,normal,std:10", 2),  # 295, not 296
    ],
)
def test_distinct_units_saturated_sigmoid_layers_match_the_definition(query: str, layer: int) -> None:
    from app import codec
    from app.engine.network.forward import forward, input_samples

    run = codec.to_experiment(codec.decode(f"depth=5&samples=1000&{query}")).runs[0]
    a = list(forward(run, input_samples(run), 0))[layer].a
    assert distinct_units(a, scan(a)) == _components(a)
