"""The C-map: its 2-D integral against closed forms, the variance map and Monte Carlo; its fixed
point and depth scales for Poole et al. 2016's tanh networks (sigma_b 0.3, figures 1-2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app import codec
from app.engine.correlation_theory import (
    NO_C_MAP,
    FixedPoint,
    c_map,
    fixed_point,
    pair_expectation,
    run_correlation_theory,
)
from app.engine.layers.activations import ACTIVATIONS
from app.engine.network.diagnostics import make_options, run_diagnostics
from app.engine.theory import fixed_point as q_fixed_point
from app.engine.theory import moments, run_theory

SMOOTH = [name for name in ACTIVATIONS if name not in NO_C_MAP]


def _defaults(name: str) -> dict[str, float | int | str]:
    return {s.name: s.default for s in ACTIVATIONS[name].params}


@pytest.mark.parametrize("q", [0.3, 1.0, 5.0, 100.0, 1e4])
def test_pair_expectation_relu_matches_the_arc_cosine_kernel(q: float) -> None:
    c = np.array([-0.9, -0.3, 0.0, 0.3, 0.7, 0.95, 0.999, 1.0])
    exact = q / (2 * math.pi) * (np.sqrt(1 - c**2) + (math.pi - np.arccos(c)) * c)
    got = pair_expectation("relu", {}, q, c)
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-5 * q)


@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("q", [0.3, 5.0, 1000.0])
def test_pair_expectation_at_c1_is_the_variance_maps_moment(name: str, q: float) -> None:
    p = _defaults(name)
    m = moments(name, p, np.array(q))
    assert pair_expectation(name, p, q, np.array([1.0]))[0] == pytest.approx(float(m.second), rel=1e-5)
    assert pair_expectation(name, p, q, np.array([1.0]), True)[0] == pytest.approx(float(m.slope2), rel=5e-5)


@pytest.mark.parametrize(("name", "q", "c"), [("tanh", 1.0, 0.5), ("tanh", 20.0, -0.3), ("gelu", 2.0, 0.8)])
def test_pair_expectation_matches_monte_carlo(name: str, q: float, c: float) -> None:
    rng = np.random.default_rng(7)
    u1, u2 = rng.standard_normal((2, 2_000_000))
    f = ACTIVATIONS[name].f
    z1, z2 = math.sqrt(q) * u1, math.sqrt(q) * (c * u1 + math.sqrt(1 - c * c) * u2)
    sample = f(z1, _defaults(name)) * f(z2, _defaults(name))
    se = sample.std() / math.sqrt(sample.size)
    assert abs(pair_expectation(name, _defaults(name), q, np.array([c]))[0] - sample.mean()) < 4 * se


def test_c_map_keeps_identical_inputs_identical() -> None:
    c, q = c_map("tanh", {}, 2.0, 0.09, 1.5, np.array([1.0, 0.5]))
    assert c[0] == pytest.approx(1.0, abs=1e-12)
    assert q == pytest.approx(2.0 * float(moments("tanh", {}, np.array(1.5)).second) + 0.09, rel=1e-6)


def _poole(sigma_w: float) -> FixedPoint:
    q_star = float(q_fixed_point("tanh", {}, np.array(sigma_w**2), np.array(0.09)))
    return fixed_point("tanh", {}, sigma_w**2, 0.09, q_star)


def test_fixed_point_poole_tanh_ordered_goes_to_one_chaotic_below_one() -> None:
    ordered, middle, chaotic = _poole(1.3), _poole(2.3), _poole(4.0)
    assert ordered.chi1 is not None and ordered.chi1 < 1 and ordered.c_star == 1.0
    assert middle.chi1 is not None and middle.chi1 > 1 and middle.c_star is not None
    assert chaotic.chi1 is not None and chaotic.c_star is not None
    assert 0 < chaotic.c_star < middle.c_star < 0.5  # more chaotic, less correlated (Poole fig. 2)
    # c* is a fixed point of the C-map, and C'(c*) < 1 makes it stable
    for fp, sw in ((middle, 2.3), (chaotic, 4.0)):
        assert fp.q_star is not None and fp.c_star is not None and fp.slope_c_star is not None
        image = c_map("tanh", {}, sw**2, 0.09, fp.q_star, np.array([fp.c_star]))[0][0]
        assert image == pytest.approx(fp.c_star, abs=1e-9)
        assert 0 < fp.slope_c_star < 1 and fp.xi_c == pytest.approx(-1 / math.log(fp.slope_c_star))
    # ordered: xi_c = -1 / log chi1 (Schoenholz et al. 2017)
    assert ordered.xi_c == pytest.approx(-1 / math.log(ordered.chi1), rel=1e-6)


def test_fixed_point_xi_q_is_the_variance_maps_relaxation() -> None:
    fp = _poole(2.3)
    assert fp.q_star is not None and fp.xi_q is not None
    q, gaps = 3.0 * fp.q_star, []
    for _ in range(4):  # |q_l - q*| shrinks by exp(-1 / xi_q) a layer near q*
        gaps.append(abs(q - fp.q_star))
        q = 2.3**2 * float(moments("tanh", {}, np.array(q)).second) + 0.09
    assert gaps[-1] / gaps[-2] == pytest.approx(math.exp(-1 / fp.xi_q), rel=0.05)


def test_fixed_point_critical_tanh_has_no_finite_xi_c() -> None:
    fp = fixed_point("tanh", {}, 1.0, 0.0, 1e-3)  # near sigma_w = 1, sigma_b = 0: chi1 ~ 1
    assert fp.chi1 is not None and fp.chi1 < 1 and fp.c_star == 1.0
    assert fp.xi_c is not None and fp.xi_c > 100


def test_run_correlation_theory_maxout_says_it_has_no_prediction() -> None:
    run = codec.to_experiment(codec.decode("run=maxout,he_normal")).runs[0]
    theory = run_correlation_theory(run, (0.5,))
    assert theory.predicted[0][0] is not None  # the first layer is affine in the inputs
    assert all(row == (None,) for row in theory.predicted[1:])
    assert "maxout" in theory.note


def test_run_correlation_theory_variances_are_the_runs() -> None:
    run = codec.to_experiment(codec.decode("depth=6&bias=normal&bias_std=0.3&run=tanh,xavier,gain:2")).runs[0]
    theory = run_correlation_theory(run, (0.2, 0.9))
    assert theory.q == pytest.approx([layer.q for layer in run_theory(run).layers], rel=1e-5)


@pytest.mark.parametrize(
    "runs", ["run=tanh,xavier,gain:1.3&run=tanh,xavier,gain:4", "run=relu,he_normal&run=gelu,he_normal"]
)
def test_run_correlation_theory_matches_wide_networks(runs: str) -> None:
    """Monte Carlo at width 1000: the measured correlation, averaged over four networks (each one
    draw moves it by about 0.02 here), is within 0.02 of the prediction at every layer and c0."""
    measured = []
    predicted = None
    for seed in range(4):
        query = f"depth=10&width=1000&input_dim=1000&samples=2&seed={seed}&bias=normal&bias_std=0.3&{runs}"
        result = run_diagnostics(
            codec.to_experiment(codec.decode(query)),
            make_options(c0=[0.1, 0.5, 0.9, 0.99], pairs=16, jacobian=0),
        )
        measured.append([[layer.measured for layer in run.correlation] for run in result.runs])
        predicted = [[layer.predicted for layer in run.correlation] for run in result.runs]
    gap = np.abs(np.mean(np.array(measured, dtype=float), axis=0) - np.array(predicted, dtype=float))
    assert gap.max() < 0.02
