"""Input distributions: moments, ranges and Nielsen's exact binary inputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from app.engine.network.inputs import INPUTS, binary_ones
from app.engine.params import ParamValue, resolve_params


def _cases() -> list[Any]:
    cases = []
    for name, dist in INPUTS.items():
        defaults = resolve_params(dist.params, {})
        cases.append(pytest.param(name, defaults, id=f"{name}-defaults"))
        altered = {
            "input_mean": 2.5,
            "input_std": 0.3,
            "input_low": 0.5,
            "input_high": 4.0,
            "input_fraction": 0.2,
        }
        changed = {**defaults, **{k: v for k, v in altered.items() if k in defaults}}
        if changed != defaults:
            cases.append(pytest.param(name, changed, id=f"{name}-altered"))
    return cases


CASES = _cases()


@pytest.mark.parametrize(("name", "params"), CASES)
def test_input_moments(name: str, params: dict[str, ParamValue]) -> None:
    """Each distribution's samples have the mean and second moment it declares (the theory's)."""
    dist = INPUTS[name]
    samples, dim = 2000, 500
    x = dist.sample(samples, dim, np.random.default_rng(11), params)
    assert x.shape == (samples, dim)
    assert x.dtype == np.float32
    assert np.all(np.isfinite(x))
    mean, second = dist.mean(params), dist.second_moment(params)
    spread = math.sqrt(max(second - mean**2, 1e-12))
    assert float(x.mean(dtype=np.float64)) == pytest.approx(mean, abs=0.01 * spread)
    assert float(np.mean(np.square(x, dtype=np.float64))) == pytest.approx(second, rel=0.01, abs=0)


@pytest.mark.parametrize(("name", "params"), CASES)
def test_input_reproducible(name: str, params: dict[str, ParamValue]) -> None:
    dist = INPUTS[name]
    a = dist.sample(50, 40, np.random.default_rng(1), params)
    np.testing.assert_array_equal(a, dist.sample(50, 40, np.random.default_rng(1), params))
    assert not np.array_equal(a, dist.sample(50, 40, np.random.default_rng(2), params))


@pytest.mark.parametrize(("mean", "std"), [(0.0, 1.0), (-3.0, 0.5), (10.0, 4.0)])
def test_input_normal_mean_std(mean: float, std: float) -> None:
    x = INPUTS["normal"].sample(1000, 1000, np.random.default_rng(0), {"input_mean": mean, "input_std": std})
    assert float(x.mean(dtype=np.float64)) == pytest.approx(mean, abs=0.005 * std)
    assert float(x.std(dtype=np.float64)) == pytest.approx(std, rel=0.005, abs=0)


@pytest.mark.parametrize(("low", "high"), [(-1.0, 1.0), (0.0, 1.0), (2.0, 2.5), (-100.0, 100.0)])
def test_input_uniform_range(low: float, high: float) -> None:
    x = INPUTS["uniform"].sample(1000, 500, np.random.default_rng(0), {"input_low": low, "input_high": high})
    assert float(x.min()) >= low
    assert float(x.max()) <= high
    span = high - low
    assert float(x.min()) < low + 1e-3 * span
    assert float(x.max()) > high - 1e-3 * span
    assert float(x.var(dtype=np.float64)) == pytest.approx(span**2 / 12.0, rel=0.01, abs=0)


@pytest.mark.parametrize(("fraction", "dim"), [(0.5, 1000), (0.2, 100), (0.0, 10), (1.0, 10), (0.25, 3)])
def test_input_binary_exact_ones_per_sample(fraction: float, dim: int) -> None:
    x = INPUTS["binary"].sample(400, dim, np.random.default_rng(0), {"input_fraction": fraction})
    assert set(np.unique(x).tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(x.sum(axis=1), np.full(400, round(fraction * dim)))


def test_input_binary_nielsen_500_of_1000() -> None:
    x = binary_ones(300, 1000, 0.5, np.random.default_rng(5))
    np.testing.assert_array_equal(x.sum(axis=1), np.full(300, 500.0))
    # The ones sit at random positions: every feature is 1 in about half of the samples, and no
    # two samples share their pattern.
    per_feature = x.mean(axis=0)
    assert float(per_feature.min()) > 0.35
    assert float(per_feature.max()) < 0.65
    assert len({row.tobytes() for row in x}) == 300


def test_input_registry_names_match() -> None:
    for name, dist in INPUTS.items():
        assert dist.name == name
        assert dist.formula
