"""Weight and bias initializers: sampled moments against each entry's exact variance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from app.engine.layers.initializers import (
    BIASES,
    INITIALIZERS,
    TRUNCATED_VARIANCE,
    TRUNCATION,
    orthogonal,
    truncated_standard_normal,
)
from app.engine.params import ParamSpec, ParamValue, resolve_params

# Large enough for a 2% tolerance on the variance to be many standard errors wide (the sample
# variance of 1.5e6 normal values has a relative standard error of 0.12%); fan_in != fan_out so
# that fan-in, fan-out and fan-average formulas differ.
FAN_IN, FAN_OUT = 1500, 1000


def _alternative(spec: ParamSpec) -> ParamValue:
    """A value of a float/int parameter other than its default, inside its bounds."""
    for v in (2.5, 0.3, 3.0):
        if (
            v != spec.default
            and (spec.low is None or v >= spec.low)
            and (spec.high is None or v <= spec.high)
        ):
            return v
    raise AssertionError(f"no alternative value for {spec.name}")


def _variants(specs: tuple[ParamSpec, ...]) -> list[tuple[str, dict[str, ParamValue]]]:
    """The defaults; every numeric parameter changed at once (gain != 1 among them); and every
    choice of every choice parameter, with and without the numeric changes."""
    defaults = resolve_params(specs, {})
    altered = dict(defaults)
    for spec in specs:
        if spec.kind != "choice":
            altered[spec.name] = _alternative(spec)
    variants = [("defaults", defaults)]
    if altered != defaults:
        variants.append(("altered", altered))
    for spec in specs:
        if spec.kind == "choice":
            for choice in spec.choices:
                if choice != spec.default:
                    variants.append((f"{spec.name}={choice}", {**defaults, spec.name: choice}))
                    variants.append((f"altered-{spec.name}={choice}", {**altered, spec.name: choice}))
    return variants


def _cases(registry: dict[str, Any]) -> list[Any]:
    return [
        pytest.param(name, params, id=f"{name}-{label}")
        for name, entry in registry.items()
        for label, params in _variants(entry.params)
    ]


INIT_CASES = _cases(INITIALIZERS)
BIAS_CASES = _cases(BIASES)


@pytest.mark.parametrize(("name", "params"), INIT_CASES)
def test_initializer_moments_match_variance(name: str, params: dict[str, ParamValue]) -> None:
    init = INITIALIZERS[name]
    w = init.sample(FAN_IN, FAN_OUT, np.random.default_rng(7), params)
    assert w.shape == (FAN_IN, FAN_OUT)
    assert w.dtype == np.float32
    assert np.all(np.isfinite(w))
    expected = init.variance(FAN_IN, FAN_OUT, params)
    assert expected >= 0.0
    if expected == 0.0:
        assert np.ptp(w) == 0.0  # a deterministic initializer: one value everywhere
        return
    mean = float(w.mean(dtype=np.float64))
    var = float(w.var(dtype=np.float64))
    assert abs(mean) < 6.0 * math.sqrt(expected / w.size)
    assert var == pytest.approx(expected, rel=0.02, abs=0)


@pytest.mark.parametrize(("name", "params"), INIT_CASES)
def test_initializer_reproducible_from_generator(name: str, params: dict[str, ParamValue]) -> None:
    init = INITIALIZERS[name]
    a = init.sample(60, 40, np.random.default_rng(3), params)
    b = init.sample(60, 40, np.random.default_rng(3), params)
    np.testing.assert_array_equal(a, b)
    if init.variance(60, 40, params) > 0:
        c = init.sample(60, 40, np.random.default_rng(4), params)
        assert not np.array_equal(a, c)


@pytest.mark.parametrize(("fan_in", "fan_out"), [(300, 200), (200, 300), (250, 250), (1, 40), (40, 1)])
@pytest.mark.parametrize("gain", [1.0, 2.5, 0.1])
def test_initializer_orthogonal_is_orthogonal(fan_in: int, fan_out: int, gain: float) -> None:
    w = orthogonal(fan_in, fan_out, np.random.default_rng(0), gain).astype(np.float64)
    assert w.shape == (fan_in, fan_out)
    gram = w.T @ w if fan_in >= fan_out else w @ w.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(fan_in, fan_out)), atol=1e-5 * gain**2)
    params = {"gain": gain}
    assert INITIALIZERS["orthogonal"].variance(fan_in, fan_out, params) == pytest.approx(
        float(np.mean(w**2)), rel=1e-5, abs=0
    )
    via_registry = INITIALIZERS["orthogonal"].sample(fan_in, fan_out, np.random.default_rng(0), params)
    np.testing.assert_array_equal(via_registry, w.astype(np.float32))


def test_initializer_orthogonal_signs_uniform() -> None:
    """The signs of R's diagonal are folded into Q: the diagonal of Q is not biased positive."""
    diagonals = np.concatenate([np.diag(orthogonal(8, 8, np.random.default_rng(s), 1.0)) for s in range(200)])
    assert abs(float(np.mean(diagonals > 0)) - 0.5) < 0.1


@pytest.mark.parametrize("name", [n for n, i in INITIALIZERS.items() if i.data_dependent])
@pytest.mark.parametrize(("fan_in", "fan_out"), [(300, 200), (200, 300)])
def test_initializer_data_dependent_starts_orthogonal(name: str, fan_in: int, fan_out: int) -> None:
    """LSUV starts from an orthonormal matrix (its gain is applied after the data rescaling)."""
    params = resolve_params(INITIALIZERS[name].params, {"gain": 3.0})
    w = INITIALIZERS[name].sample(fan_in, fan_out, np.random.default_rng(1), params).astype(np.float64)
    gram = w.T @ w if fan_in >= fan_out else w @ w.T
    np.testing.assert_allclose(gram, np.eye(min(fan_in, fan_out)), atol=1e-5)


def test_initializer_truncated_standard_normal_within_bounds() -> None:
    t = truncated_standard_normal((1000, 1000), np.random.default_rng(2))
    assert t.dtype == np.float32
    assert float(np.abs(t).max()) <= TRUNCATION
    assert float(np.abs(t).max()) > 0.99 * TRUNCATION
    assert float(t.var(dtype=np.float64)) == pytest.approx(TRUNCATED_VARIANCE, rel=0.01, abs=0)
    # The constant itself: the variance of N(0, 1) truncated to [-2, 2].
    phi2 = math.exp(-2.0) / math.sqrt(2.0 * math.pi)
    variance = TRUNCATED_VARIANCE
    assert variance == pytest.approx(1.0 - 4.0 * phi2 / math.erf(math.sqrt(2.0)), rel=1e-12, abs=0)
    assert variance == pytest.approx(0.7737413, abs=1e-6)


@pytest.mark.parametrize("std", [1.0, 0.01, 7.0])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_initializer_truncated_normal_no_values_beyond_two_std(std: float, gain: float) -> None:
    w = INITIALIZERS["truncated_normal"].sample(
        800, 600, np.random.default_rng(5), {"std": std, "gain": gain}
    )
    limit = TRUNCATION * gain * std
    assert float(np.abs(w).max()) <= limit * (1 + 1e-6)
    assert float(np.abs(w).max()) > 0.99 * limit


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_initializer_lecun_normal_truncated(gain: float) -> None:
    fan_in = 400
    w = INITIALIZERS["lecun_normal"].sample(fan_in, 500, np.random.default_rng(6), {"gain": gain})
    std = gain / math.sqrt(fan_in * TRUNCATED_VARIANCE)
    assert float(np.abs(w).max()) <= TRUNCATION * std * (1 + 1e-6)


def test_initializer_zeros_exact() -> None:
    w = INITIALIZERS["zeros"].sample(30, 20, np.random.default_rng(0), {})
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w, np.zeros((30, 20)))


@pytest.mark.parametrize(("value", "gain"), [(0.5, 1.0), (-3.0, 2.0), (0.0, 5.0)])
def test_initializer_constant_exact(value: float, gain: float) -> None:
    w = INITIALIZERS["constant"].sample(30, 20, np.random.default_rng(0), {"value": value, "gain": gain})
    np.testing.assert_array_equal(w, np.full((30, 20), np.float32(value * gain)))


@pytest.mark.parametrize(("limit", "gain"), [(1.0, 1.0), (0.05, 3.0)])
def test_initializer_uniform_range(limit: float, gain: float) -> None:
    w = INITIALIZERS["uniform"].sample(500, 400, np.random.default_rng(8), {"limit": limit, "gain": gain})
    bound = limit * gain
    assert float(w.min()) >= -bound * (1 + 1e-6)
    assert float(w.max()) <= bound * (1 + 1e-6)
    assert float(w.min()) < -0.99 * bound
    assert float(w.max()) > 0.99 * bound


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("xavier", {"gain": 1.0}, 1.0 / FAN_IN),
        ("glorot_normal", {"gain": 2.0}, 4.0 * 2.0 / (FAN_IN + FAN_OUT)),
        ("glorot_uniform", {"gain": 1.0}, 2.0 / (FAN_IN + FAN_OUT)),
        ("he_normal", {"gain": 1.0, "mode": "fan_in"}, 2.0 / FAN_IN),
        ("he_normal", {"gain": 1.0, "mode": "fan_out"}, 2.0 / FAN_OUT),
        ("he_uniform", {"gain": 0.5, "mode": "fan_out"}, 0.25 * 2.0 / FAN_OUT),
        ("lecun_normal", {"gain": 1.0}, 1.0 / FAN_IN),
        ("orthogonal", {"gain": 2.0}, 4.0 / FAN_IN),
        ("normal", {"std": 0.01, "gain": 1.0}, 1e-4),
        ("uniform", {"limit": 3.0, "gain": 1.0}, 3.0),
    ],
)
def test_initializer_variance_formulas(name: str, params: dict[str, ParamValue], expected: float) -> None:
    """The variance each entry declares is torch.nn.init's (independent of the sampler)."""
    assert INITIALIZERS[name].variance(FAN_IN, FAN_OUT, params) == pytest.approx(expected, rel=1e-12, abs=0)


@pytest.mark.parametrize(("name", "params"), BIAS_CASES)
def test_bias_moments_match_variance(name: str, params: dict[str, ParamValue]) -> None:
    bias = BIASES[name]
    n = 400_000
    b = bias.sample(n, np.random.default_rng(9), params)
    expected = bias.variance(params)
    if b is None:
        assert expected == 0.0
        return
    assert b.shape == (n,)
    assert b.dtype == np.float32
    if expected == 0.0:
        assert np.ptp(b) == 0.0
        return
    assert abs(float(b.mean(dtype=np.float64))) < 6.0 * math.sqrt(expected / n)
    assert float(b.var(dtype=np.float64)) == pytest.approx(expected, rel=0.02, abs=0)


def test_bias_exact_values() -> None:
    rng = np.random.default_rng(0)
    assert BIASES["none"].sample(5, rng, {}) is None
    np.testing.assert_array_equal(BIASES["zeros"].sample(5, rng, {}), np.zeros(5))
    np.testing.assert_array_equal(BIASES["constant"].sample(5, rng, {"bias_value": -0.25}), np.full(5, -0.25))


def test_initializer_registry_names_match() -> None:
    for registry in (INITIALIZERS, BIASES):
        for name, entry in registry.items():
            assert entry.name == name
            names = [spec.name for spec in entry.params]
            assert len(names) == len(set(names))
