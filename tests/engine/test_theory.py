"""Mean-field theory against closed forms, Monte Carlo and the texts' numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app import codec
from app.engine.activations import ACTIVATIONS
from app.engine.config import RunConfig
from app.engine.experiment import run_experiment
from app.engine.inputs import INPUTS
from app.engine.params import resolve_params
from app.engine.theory import moments, phase_diagram, phase_of, run_theory


def _run(query: str) -> RunConfig:
    return codec.to_experiment(codec.decode(query)).runs[0]


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("q", [0.3, 1.0, 4.0])
def test_theory_moments_match_monte_carlo(name: str, q: float) -> None:
    params = resolve_params(ACTIVATIONS[name].params, {})
    rng = np.random.default_rng(7)
    k = ACTIVATIONS[name].pieces(params)
    shape = (400_000, k, 1) if k > 1 else (400_000,)
    z = math.sqrt(q) * rng.standard_normal(shape)
    f = ACTIVATIONS[name].f(z, params)
    df = ACTIVATIONS[name].df(z, params)
    slope2 = (df**2).sum(axis=1) if k > 1 else df**2  # maxout: the gradient reaches one piece
    m = moments(name, params, np.array(q))
    assert float(m.mean) == pytest.approx(f.mean(), abs=0.01 * math.sqrt(q))
    assert float(m.second) == pytest.approx((f**2).mean(), rel=0.01)
    assert float(m.slope2) == pytest.approx(slope2.mean(), rel=0.01, abs=1e-4)


def test_theory_relu_chi_is_half_sigma_w2_and_critical_at_he() -> None:
    for std, expected in ((0.1, 100 * 0.01 / 2), (math.sqrt(2 / 100), 1.0), (0.2, 100 * 0.04 / 2)):
        theory = run_theory(_run(f"run=relu,normal,std:{std!r}"))
        assert theory.chi_star == pytest.approx(expected, rel=1e-9)
    he = run_theory(_run("run=relu,he_normal"))
    assert he.phase == "critical" and he.chi_star == pytest.approx(1.0)
    assert phase_of(0.5) == "ordered" and phase_of(2.0) == "chaotic"


def test_theory_tanh_with_bias_0_3_is_critical_near_sigma_w_1_396() -> None:
    sigma_w = np.linspace(1.2, 1.6, 401)
    log_chi, _ = phase_diagram("tanh", {}, sigma_w, np.array([0.3]))
    assert sigma_w[np.argmin(np.abs(log_chi[0]))] == pytest.approx(1.396, abs=0.005)


def test_theory_phase_diagram_relu_critical_line_and_shape() -> None:
    sigma_w = np.linspace(0.5, 3.0, 100)
    sigma_b = np.linspace(0.0, 1.0, 100)
    log_chi, q_star = phase_diagram("relu", {}, sigma_w, sigma_b)
    assert log_chi.shape == q_star.shape == (100, 100)
    # ReLU: chi = sigma_w^2 / 2 whatever the bias
    np.testing.assert_allclose(log_chi, np.log10(sigma_w**2 / 2)[None, :].repeat(100, axis=0), atol=1e-6)


def test_theory_nielsen_variances_are_501_and_1_5() -> None:
    nielsen = "bias=normal&depth=1&input_dim=1000&input=binary&run=sigmoid,"
    assert run_theory(_run(nielsen + "normal")).layers[0].q == pytest.approx(501.0)
    assert run_theory(_run(nielsen + "xavier")).layers[0].q == pytest.approx(1.5)


@pytest.mark.parametrize(
    "query",
    [
        "run=tanh,xavier",
        "run=relu,he_normal",
        "run=sigmoid,xavier",
        "run=selu,lecun_normal",
        "run=gelu,he_normal",
        "bias=normal&bias_std=0.3&run=tanh,normal,std:0.045",
        "input=uniform&run=leaky_relu,he_normal,alpha:0.2",
        "run=maxout,glorot_normal",
    ],
)
def test_theory_variance_map_matches_a_wide_network(query: str) -> None:
    config = codec.to_experiment(codec.decode(f"depth=4&width=2000&samples=300&{query}"))
    run = config.runs[0]
    measured = run_experiment(config, np.float64).runs[0].layers
    predicted = run_theory(run).layers
    theory = run_theory(run)
    mean = INPUTS[run.input].mean(run.input_params())
    second = INPUTS[run.input].second_moment(run.input_params())
    for j, (m, p) in enumerate(zip(measured, predicted, strict=True)):
        assert m.pre.std is not None and m.pre.mean is not None
        assert m.post.std is not None and m.post.mean is not None
        q = m.pre.std**2 + m.pre.mean**2
        # One step of the map, from the second moment this network's previous layer really has.
        # The part of E[a^2] carried by the mean of a (sigmoid: 94%) reaches z through one random
        # direction per unit, so it is known only to sqrt(2 / units): allow 4 such deviations.
        rel = 0.02 + 4 * math.sqrt(2 / 2000) * mean**2 / second
        assert q == pytest.approx(theory.sigma_w2[j] * second + theory.sigma_b2, rel=rel)
        # The whole map from the inputs: at finite width q drifts a few percent per layer.
        assert q == pytest.approx(p.q, rel=0.12)
        mean, second = m.post.mean, m.post.std**2 + m.post.mean**2
        # The activation's moments, at the variance this network really has.
        params = run.output_params() if j == run.depth - 1 else run.activation_params()
        at = moments(m.activation, params, np.array(m.pre.std**2 + m.pre.mean**2))
        assert m.post.mean == pytest.approx(float(at.mean), abs=0.03 * math.sqrt(float(at.second)))
        assert m.post.std**2 + m.post.mean**2 == pytest.approx(float(at.second), rel=0.03)


def test_theory_constant_weights_carry_a_note() -> None:
    assert "zero-mean" in run_theory(_run("run=tanh,zeros")).note
    assert run_theory(_run("run=tanh,xavier")).note == ""
