"""Mean-field theory against closed forms, Monte Carlo and the texts' numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app import codec
from app.engine.layers.activations import ACTIVATIONS
from app.engine.network.config import RunConfig
from app.engine.network.experiment import run_experiment
from app.engine.network.inputs import INPUTS
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


# ---------------------------------------------------------------- the theory at its edges


def _measured_q(query: str) -> tuple[RunConfig, list[float], list[float]]:
    """A wide float64 network's second moment of z per layer, and its dL/dz std per layer."""
    config = codec.to_experiment(codec.decode(query))
    layers = run_experiment(config, np.float64).runs[0].layers
    q = [float((m.pre.std or 0.0) ** 2 + (m.pre.mean or 0.0) ** 2) for m in layers]
    grad = [float(m.grad.std or 0.0) if m.grad is not None else math.nan for m in layers]
    return config.runs[0], q, grad


@pytest.mark.parametrize(
    "run",
    [
        "bias=normal&bias_std=0.7&run=tanh,lsuv,gain:2",
        "bias=normal&bias_std=0.7&run=relu,lsuv,gain:2",
        "bias=normal&bias_std=0.3&run=tanh,lsuv,gain:0.5",
    ],
)
def test_theory_lsuv_with_gain_and_bias_matches_a_wide_network(run: str) -> None:
    """LSUV scales W until Var(z) = 1 with the bias included (within its tolerance of 0.1), then
    multiplies W by the gain: q is near gain^2 (1 - sigma_b^2) + sigma_b^2, not gain^2."""
    config, measured, grad = _measured_q(f"depth=4&width=1000&samples=1000&{run}")
    theory = run_theory(config)
    for m, p in zip(measured, theory.layers, strict=True):
        assert m == pytest.approx(p.q, rel=0.08)
    for g, p in zip(grad, theory.layers, strict=True):
        assert g == pytest.approx(p.gradient_scale, rel=0.15)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_theory_maxout_gradient_scale_matches_the_backward_pass(k: int) -> None:
    """dL/dz has one entry per piece and only the winning piece of k passes the gradient."""
    config, _, grad = _measured_q(f"depth=3&width=1000&samples=500&run=maxout,glorot_normal,pieces:{k}")
    theory = run_theory(config)
    assert theory.layers[-1].gradient_scale == pytest.approx(math.sqrt(1 / k))  # E[f'^2] = 1 / k
    for g, p in zip(grad, theory.layers, strict=True):
        assert g == pytest.approx(p.gradient_scale, rel=0.05)


@pytest.mark.parametrize(
    "query",
    [
        "run=relu,normal,std:0.15",  # sigma_w^2 = 2.25: q grows by 1.125 a layer
        "bias=normal&bias_std=0.3&run=relu,he_normal",  # q grows by sigma_b^2 = 0.09 a layer
        "bias=normal&bias_std=0.3&run=elu,he_normal",
    ],
)
def test_theory_q_star_is_none_when_the_map_diverges_slowly(query: str) -> None:
    theory = run_theory(_run(query))
    assert theory.q_star is None
    assert theory.phase != "ordered"


def test_theory_q_star_closed_forms_of_slow_maps() -> None:
    # ReLU with sigma_w^2 = 1: q* = sigma_b^2 / (1 - sigma_w^2 / 2)
    relu = run_theory(_run("bias=normal&bias_std=0.3&run=relu,normal,std:0.1"))
    assert relu.q_star == pytest.approx(0.09 / 0.5, rel=1e-9)
    # tanh at sigma_w = 1 without a bias: q shrinks like 1 / (2 l) towards q* = 0, where chi = 1
    tanh = run_theory(_run("run=tanh,xavier"))
    assert tanh.q_star is not None and tanh.q_star < 1e-6
    assert tanh.chi_star == pytest.approx(1.0, abs=1e-6)


def test_theory_gelu_bistable_run_follows_its_own_start() -> None:
    """GELU at sigma_w 1.48, sigma_b 0.2 has a stable q* = 0.11 and an unstable one at 1.37 above
    which q grows without bound: a network started above 1.37 explodes, one started below settles.
    The diagram agrees with each run when it starts the map where that run starts."""
    base = "depth=8&width=1000&input_dim=1000&samples=400&bias=normal&bias_std=0.2"
    std = 1.48 / math.sqrt(1000)
    for input_std, phase in ((1.5, "chaotic"), (0.3, "ordered")):
        run, measured, _ = _measured_q(f"{base}&input_std={input_std}&run=gelu,normal,std:{std!r}")
        theory = run_theory(run)
        for m, p in zip(measured, theory.layers, strict=True):
            assert m == pytest.approx(p.q, rel=0.2)  # 8 layers of finite-width drift
        assert theory.phase == phase
        if phase == "chaotic":
            assert measured[-1] > 1.4 * measured[0]  # 4.96 -> 7.64
            assert theory.q_star is None
        else:
            assert measured[-1] < 0.7 * measured[0]  # 0.239 -> 0.151, towards 0.113
            assert theory.q_star == pytest.approx(0.113, rel=0.02)
        log_chi, _ = phase_diagram("gelu", {}, np.array([1.48]), np.array([0.2]), q0=theory.layers[0].q)
        assert phase_of(10.0 ** float(log_chi[0, 0])) == phase
    from app.engine.theory import bistable_points

    assert bistable_points("gelu", {}, np.array([1.48]), np.array([0.2]))[0, 0]


@pytest.mark.parametrize(
    ("name", "sigma_w", "sigma_b", "expected"),
    [
        ("gelu", 1.48, 0.2, True),
        ("gelu", 1.50, 0.1, True),
        ("gelu", 1.30, 0.2, False),  # one stable q*
        ("gelu", 1.48, 0.5, False),
        ("gelu", 2.50, 0.2, False),  # only explodes
        ("silu", 1.60, 0.2, True),
        ("silu", 1.52, 0.4, True),
        ("silu", 1.30, 0.2, False),
        ("tanh", 1.50, 0.2, False),
        ("relu", 1.50, 0.2, False),
    ],
)
def test_theory_bistable_points(name: str, sigma_w: float, sigma_b: float, expected: bool) -> None:
    from app.engine.theory import bistable_points

    mask = bistable_points(name, {}, np.array([sigma_w]), np.array([sigma_b]))
    assert mask.shape == (1, 1) and bool(mask[0, 0]) is expected


def test_theory_no_bistable_points_for_monotone_maps() -> None:
    from app.engine.theory import bistable_points

    sigma_w, sigma_b = np.linspace(0.1, 4.0, 40), np.linspace(0.0, 2.0, 21)
    for name in ("tanh", "relu", "sigmoid", "selu", "softplus", "linear"):
        params = resolve_params(ACTIVATIONS[name].params, {})
        assert not bistable_points(name, params, sigma_w, sigma_b).any(), name


def _reference_moments(name: str, q: float) -> tuple[float, float]:
    """E[f^2] and E[f'^2] by the trapezoid rule in z = sqrt(q) u: fine steps where f varies (|z| < 60),
    coarse ones beyond, each side of the kink at 0 on its own."""
    params = resolve_params(ACTIVATIONS[name].params, {})
    s = math.sqrt(q)
    end = 12.0 * s
    near = np.linspace(0.0, min(60.0, end), 600_001)
    far = np.linspace(60.0, end, 200_001) if end > 60.0 else np.array([])
    second = slope2 = 0.0
    for sign in (-1.0, 1.0):
        for z in (near, far):
            if z.size == 0:
                continue
            signed = sign * np.maximum(z, 1e-300)  # one-sided at 0
            density = np.exp(-0.5 * (z / s) ** 2) / math.sqrt(2 * math.pi) / s
            f = ACTIVATIONS[name].f(signed, params)
            df = ACTIVATIONS[name].df(signed, params)
            second += float(np.trapezoid(f * f * density, z))
            slope2 += float(np.trapezoid(df * df * density, z))
    return second, slope2


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "elu", "selu", "gelu", "silu", "softplus"])
@pytest.mark.parametrize("q", [30.0, 1e3, 3162.0, 1e4, 1e6])
def test_theory_moments_accurate_at_large_q(name: str, q: float) -> None:
    second, slope2 = _reference_moments(name, q)
    m = moments(name, resolve_params(ACTIVATIONS[name].params, {}), np.array(q))
    assert float(m.second) == pytest.approx(second, rel=1e-6)
    assert float(m.slope2) == pytest.approx(slope2, rel=1e-6)


@pytest.mark.parametrize("q", [1e4, 1e6, 1e10, 1e20])
def test_theory_tanh_moments_at_large_q_match_closed_forms(q: float) -> None:
    """For large q the density is flat where tanh bends: E[1 - tanh^2] = 2 phi(0) / sqrt(q) and
    E[tanh'^2] = E[sech^4] = (4 / 3) phi(0) / sqrt(q), up to relative terms of order 1 / q."""
    phi0 = 1 / math.sqrt(2 * math.pi)
    m = moments("tanh", {}, np.array(q))
    assert 1.0 - float(m.second) == pytest.approx(2 * phi0 / math.sqrt(q), rel=1e-3)
    assert float(m.slope2) == pytest.approx(4 / 3 * phi0 / math.sqrt(q), rel=1e-3)


def test_theory_phase_diagram_tanh_is_critical_at_sigma_w_1_without_bias() -> None:
    """Without a bias q* = 0 for sigma_w <= 1, where chi = sigma_w^2 tanh'(0)^2 = sigma_w^2."""
    sigma_w = np.linspace(0.9, 1.1, 201)
    log_chi, q_star = phase_diagram("tanh", {}, sigma_w, np.array([0.0]))
    below = sigma_w < 1.0 - 1e-9
    np.testing.assert_allclose(log_chi[0, below], 2 * np.log10(sigma_w[below]), atol=1e-9)
    np.testing.assert_array_equal(q_star[0, below], 0.0)
    assert (log_chi[0, sigma_w > 1.0 + 1e-9] > 0).all()


def test_theory_makes_no_prediction_past_its_largest_variance() -> None:
    # 20 ReLU layers with std 1 explode by about 7x a layer: the measured std reaches 1e16-1e17
    # (finite in float32), while the variance map stops at Q_MAX = 1e30. Past it the prediction
    # is absent, not the value at 1e30 (a flat line at 7e14 under measured values of 1e17).
    config = codec.to_experiment(codec.decode("depth=20&grad=0&run=relu,normal"))
    run = config.runs[0]
    theory = run_experiment(config).runs[0].theory
    assert theory is not None
    past = [layer for layer in theory.layers if layer.q >= 1e30]
    assert past, "the network must explode past the map's range for this test"
    for layer in past:
        assert math.isnan(layer.mean) and math.isinf(layer.variance)
    within = [layer for layer in theory.layers if layer.q < 1e30]
    assert within and all(math.isfinite(layer.variance) for layer in within)
    assert run.depth == 20


def test_theory_run_theory_is_the_same_for_every_seed_and_sample_count() -> None:
    """The prediction is of the distribution: seed, samples and label change nothing (it is
    cached without them), while the network's settings do."""
    first = run_theory(_run("seed=1&samples=300&run=tanh,xavier,label:a"))
    assert run_theory(_run("seed=99&samples=2000&run=tanh,xavier")) == first
    assert run_theory(_run("run=tanh,xavier,gain:2")) != first
