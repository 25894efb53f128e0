"""Activations: derivatives, bounds, gains and numerical stability of every registry entry."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from app.engine.layers.activations import (
    ACTIVATIONS,
    Activation,
    erf,
    normal_cdf,
    normal_pdf,
    sigmoid,
)
from app.engine.params import ParamSpec, ParamValue, resolve_params

Float = type[np.floating[Any]]

TORCH_GAINS = {
    "sigmoid": lambda p: 1.0,
    "tanh": lambda p: 5.0 / 3.0,
    "relu": lambda p: math.sqrt(2.0),
    "leaky_relu": lambda p: math.sqrt(2.0 / (1.0 + float(p["alpha"]) ** 2)),
    "selu": lambda p: 0.75,
    "linear": lambda p: 1.0,
}


def _alternatives(spec: ParamSpec) -> list[ParamValue]:
    """Values of `spec` other than its default, inside its bounds."""
    if spec.kind == "choice":
        return [c for c in spec.choices if c != spec.default]
    if spec.kind == "int":
        low, high = int(spec.low or 0), int(spec.high if spec.high is not None else 8)
        return [v for v in range(low, min(high, low + 7) + 1) if v != spec.default]
    candidates = [0.2, 2.0, 0.5 * ((spec.low or 0.0) + (spec.high or 1.0))]
    inside: list[ParamValue] = [
        v
        for v in candidates
        if v != spec.default and (spec.low is None or v >= spec.low) and (spec.high is None or v <= spec.high)
    ]
    return inside[:2]


def _param_cases() -> list[Any]:
    """(name, params) for every activation: its defaults and each parameter varied alone."""
    cases: list[Any] = []
    for name, act in ACTIVATIONS.items():
        defaults = resolve_params(act.params, {})
        variants = [("defaults", defaults)]
        for spec in act.params:
            for value in _alternatives(spec):
                variants.append((f"{spec.name}={value}", {**defaults, spec.name: value}))
        cases.extend(pytest.param(name, params, id=f"{name}-{label}") for label, params in variants)
    return cases


PARAM_CASES = _param_cases()
NAMES = list(ACTIVATIONS)


def _takes_pieces(act: Activation) -> bool:
    """Maxout-like: z has shape (samples, pieces, units) and f reduces the pieces axis."""
    return any(spec.name == "pieces" for spec in act.params)


def _defaults(act: Activation) -> dict[str, ParamValue]:
    return resolve_params(act.params, {})


def _grid_input(act: Activation, params: dict[str, ParamValue], values: np.ndarray) -> np.ndarray:
    """`values` shaped as the activation's z: (n,) for elementwise ones, (n, pieces, 1) for maxout
    with the pieces holding distinct, well separated shifts of the values."""
    if not _takes_pieces(act):
        return values
    k = act.pieces(params)
    shifts = np.linspace(-1.5, 1.5, k) if k > 1 else np.zeros(1)
    z = values[:, None] * np.array([1.0, -0.7, 0.45, -0.3, 0.8, -1.1, 0.6, -0.9])[:k] + shifts
    out: np.ndarray = z[:, :, None].astype(values.dtype)
    return out


def _random_z(act: Activation, params: dict[str, ParamValue], rng: np.random.Generator) -> np.ndarray:
    if _takes_pieces(act):
        return rng.standard_normal((200, act.pieces(params), 30)) * 3.0
    return rng.standard_normal((200, 30)) * 3.0


@pytest.mark.parametrize(("name", "params"), PARAM_CASES)
def test_activation_df_matches_finite_differences(name: str, params: dict[str, ParamValue]) -> None:
    act = ACTIVATIONS[name]
    # An even number of points: none at the kink z = 0 (relu, leaky_relu, elu, selu).
    z = np.linspace(-8.0, 8.0, 400)
    if _takes_pieces(act):
        rng = np.random.default_rng(1)
        k = act.pieces(params)
        z3 = rng.standard_normal((300, k, 20)) * 3.0
        top2 = np.sort(z3, axis=1)
        if k > 1:  # no near-ties between the winning piece and the runner-up
            keep = (top2[:, -1, :] - top2[:, -2, :]).min(axis=1) > 1e-3
            z3 = z3[keep]
        h = 1e-6
        df = act.df(z3, params)
        assert df.shape == z3.shape
        for piece in range(k):
            step = np.zeros_like(z3)
            step[:, piece, :] = h
            numeric = (act.f(z3 + step, params) - act.f(z3 - step, params)) / (2 * h)
            np.testing.assert_allclose(df[:, piece, :], numeric, atol=1e-6)
        # The one-hot mask of the winning piece.
        np.testing.assert_array_equal(df.sum(axis=1), np.ones((z3.shape[0], 20)))
        winner = z3.argmax(axis=1)
        np.testing.assert_array_equal(np.take_along_axis(df, winner[:, None, :], axis=1)[:, 0], 1.0)
        return
    h = 1e-5
    numeric = (act.f(z + h, params) - act.f(z - h, params)) / (2 * h)
    np.testing.assert_allclose(act.df(z, params), numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("pieces", [1, 2, 3, 5])
def test_activation_maxout_takes_max_over_pieces(pieces: int) -> None:
    act = ACTIVATIONS["maxout"]
    z = np.random.default_rng(pieces).standard_normal((50, pieces, 7))
    out = act.f(z, {"pieces": pieces})
    assert out.shape == (50, 7)
    np.testing.assert_array_equal(out, z.max(axis=1))
    assert act.pieces({"pieces": pieces}) == pieces


@pytest.mark.parametrize(("name", "params"), PARAM_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_outputs_within_bounds(name: str, params: dict[str, ParamValue], dtype: Float) -> None:
    act = ACTIVATIONS[name]
    values = np.concatenate([np.linspace(-60.0, 60.0, 4001), [-1e4, -1e3, 1e3, 1e4]]).astype(dtype)
    out = act.f(_grid_input(act, params, values), params)
    low, high = act.bounds(params)
    assert np.all(np.isfinite(out))
    if low is not None:
        assert out.min() >= dtype(low)
        # The bound is attained (or approached): saturation is measured against it.
        assert out.min() - low < 1e-2 * (1.0 if high is None else high - low)
    if high is not None:
        assert out.max() <= dtype(high)
        assert high - out.max() < 1e-2 * (1.0 if low is None else high - low)
    assert act.is_bounded(params) == (low is not None and high is not None)


@pytest.mark.parametrize(("name", "params"), _param_cases())
def test_activation_gain(name: str, params: dict[str, ParamValue]) -> None:
    act = ACTIVATIONS[name]
    gain = act.gain(params)
    assert math.isfinite(gain)
    assert gain > 0
    if name in TORCH_GAINS:
        assert act.torch_gain is not None
        assert gain == pytest.approx(TORCH_GAINS[name](params), rel=1e-12, abs=0)
        return
    if act.torch_gain is not None:
        return  # a torch-defined gain this test does not know yet: finite and positive above
    # 1 / sqrt(E[f(u)^2]), u ~ N(0, 1), by Monte Carlo.
    rng = np.random.default_rng(12345)
    n = 2_000_000
    if _takes_pieces(act):
        u = rng.standard_normal((n // act.pieces(params), act.pieces(params), 1))
    else:
        u = rng.standard_normal(n)
    second = float(np.mean(act.f(u, params) ** 2))
    assert gain == pytest.approx(1.0 / math.sqrt(second), rel=1e-2, abs=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_extremes_exact(dtype: Float) -> None:
    z = np.array([-1000.0, 1000.0], dtype=dtype)
    out = sigmoid(z)
    assert out.dtype == dtype
    assert out[0] == 0.0
    assert out[1] == 1.0
    np.testing.assert_array_equal(ACTIVATIONS["sigmoid"].f(z, {}), [0.0, 1.0])


EXTREMES = [-1e4, -1e3, -100.0, -30.0, -1.0, -1e-30, 0.0, 1e-30, 1.0, 30.0, 100.0, 1e3, 1e4]


@pytest.mark.parametrize(("name", "params"), PARAM_CASES)
def test_activation_extreme_inputs_finite(name: str, params: dict[str, ParamValue]) -> None:
    act = ACTIVATIONS[name]
    z = _grid_input(act, params, np.array(EXTREMES, dtype=np.float32))
    out = act.f(z, params)
    grad = act.df(z, params)
    assert out.dtype == np.float32
    assert grad.dtype == np.float32
    assert np.all(np.isfinite(out))
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("name", NAMES)
def test_activation_huge_float32_no_warning(name: str) -> None:
    """Finite inputs whose result float32 can still represent give it with no warning
    (1e38 rather than float32's largest value, which SELU's scale 1.05 must overflow)."""
    act = ACTIVATIONS[name]
    params = _defaults(act)
    z = _grid_input(act, params, np.array([-1e38, -1e30, -1e20, 1e20, 1e30, 1e38], dtype=np.float32))
    out = act.f(z, params)
    grad = act.df(z, params)
    assert not np.any(np.isnan(out))
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize(("name", "params"), PARAM_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_dtype_preserved(name: str, params: dict[str, ParamValue], dtype: Float) -> None:
    act = ACTIVATIONS[name]
    z = _random_z(act, params, np.random.default_rng(3)).astype(dtype)
    out, grad = act.f(z, params), act.df(z, params)
    assert out.dtype == dtype
    assert grad.dtype == dtype
    assert grad.shape == z.shape
    assert out.shape == (z.shape[0], z.shape[-1])


@pytest.mark.parametrize(("name", "params"), PARAM_CASES)
def test_activation_monotone_flag_has_nonnegative_slope(name: str, params: dict[str, ParamValue]) -> None:
    act = ACTIVATIONS[name]
    grad = act.df(_grid_input(act, params, np.linspace(-10.0, 10.0, 1001)), params)
    if act.monotone:
        assert grad.min() >= 0.0
    elif not _takes_pieces(act):
        assert grad.min() < 0.0  # a non-monotone elementwise function decreases somewhere


def test_erf_matches_math_erf() -> None:
    x = np.linspace(-7.0, 7.0, 28_001)
    expected = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(erf(x) - expected)) < 2e-7
    assert erf(np.array([0.0]))[0] == pytest.approx(0.0, abs=2e-7)
    np.testing.assert_array_equal(erf(-x), -erf(x))


def test_erf_float32_extremes() -> None:
    x = np.array([-1e4, -6.0, 0.5, 6.0, 1e4], dtype=np.float32)
    out = erf(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [math.erf(float(v)) for v in x], atol=2e-7)


def test_normal_cdf_and_pdf() -> None:
    x = np.linspace(-6.0, 6.0, 1201)
    cdf = np.array([0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x])
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    assert np.max(np.abs(normal_cdf(x) - cdf)) < 2e-7
    np.testing.assert_allclose(normal_pdf(x), pdf, rtol=1e-12)


def test_activation_registry_names_match() -> None:
    for name, act in ACTIVATIONS.items():
        assert act.name == name
        assert act.formula
        names = [spec.name for spec in act.params]
        assert len(names) == len(set(names))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_in_one_array_has_the_formulas_bits(dtype: type[np.floating]) -> None:
    """sigmoid computes 0.5 + 0.5 * tanh(0.5 * x) step by step in one array: the same bits as the
    formula, its input untouched, and scalars still work."""
    from app.engine.layers.activations import sigmoid

    x = (np.random.default_rng(3).standard_normal((300, 7)) * 30).astype(dtype)
    before = x.copy()
    s = sigmoid(x)
    expected = 0.5 + 0.5 * np.tanh(0.5 * x)
    assert s.dtype == expected.dtype == dtype
    assert s.tobytes() == expected.tobytes()
    assert x.tobytes() == before.tobytes()
    scalar: Any = dtype(2.0)
    assert float(sigmoid(scalar)) == float(0.5 + 0.5 * np.tanh(dtype(1.0)))
