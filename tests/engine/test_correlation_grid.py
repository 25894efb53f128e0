"""c* and xi_c over a grid at once: against correlation_theory's one-point solver (its quadrature,
bracketing and bisection), against Monte Carlo networks of width 1000, and over phase diagrams."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.engine import correlation_grid
from app.engine.correlation_grid import fixed_points, pair_kernels, xi_c_diagram
from app.engine.correlation_theory import fixed_point, pair_expectation
from app.engine.layers.activations import ACTIVATIONS
from app.engine.theory import fixed_point as q_fixed_point
from app.engine.theory import moments, phase_diagram

C = np.array([0.0, 0.2, 0.7, 0.95, 0.9999, 1.0])


@pytest.mark.parametrize("name", ["tanh", "gelu", "softplus", "elu"])  # f' continuous (ELU's alpha 1)
@pytest.mark.parametrize("q", [0.01, 3.9, 4.1, 300.0])  # either side of q = 4, where the line splits
def test_pair_kernels_are_pair_expectations_quadrature(name: str, q: float) -> None:
    p = {"alpha": 1.0} if name == "elu" else {}
    ff, dd, gap = pair_kernels(name, p, np.array([q]), C)
    np.testing.assert_allclose(ff[0], pair_expectation(name, p, q, C), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        dd[0], pair_expectation(name, p, q, C, derivative=True), rtol=1e-12, atol=1e-15
    )
    # E[(f(z1) - f(z2))^2] / 2 is E[f^2] - E[f(z1) f(z2)] (to the quadrature's 1e-6), without its
    # cancellation as c -> 1
    np.testing.assert_allclose(gap[0, :3], ff[0, -1] - ff[0, :3], rtol=1e-5)
    assert gap[0, -1] == 0.0 and 0 < gap[0, -2] < 1e-3 * ff[0, -1]


@pytest.mark.parametrize("q", [0.01, 1.0, 7.0, 300.0])
def test_pair_kernels_split_u1_where_f_prime_jumps(q: float) -> None:
    """SELU's f' jumps at 0: with u1's line split at 2 s and 6 s as well, 16 nodes a segment
    agree with 48 to 1e-6 up to c = 0.99999; the one-point quadrature was up to 1e-3 off there."""
    c = np.array([0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999, 1.0])
    ff, dd, _ = pair_kernels("selu", {}, np.array([q]), c)
    fine_f, fine_d, _ = pair_kernels("selu", {}, np.array([q]), c, nodes=48)
    np.testing.assert_allclose(dd[0], fine_d[0], rtol=1e-6)
    np.testing.assert_allclose(ff[0], fine_f[0], rtol=1e-6, atol=1e-12 * q)  # E[f]^2 ~ 0 at q = 1
    old = pair_expectation("selu", {}, q, c, derivative=True)
    assert np.abs(old / old[-1] - fine_d[0] / fine_d[0][-1]).max() > 1e-5  # what the split fixes


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "gelu", "selu", "softplus"])
def test_moments_interpolated_match_the_quadrature(name: str) -> None:
    q = 10.0 ** np.random.default_rng(3).uniform(-11.9, 11.9, 500)
    got, exact = correlation_grid._moments(name, {}, q), moments(name, {}, q)
    np.testing.assert_allclose(got.second, exact.second, rtol=1e-7)
    np.testing.assert_allclose(got.slope2, exact.slope2, rtol=1e-7)


POINTS = [
    ("tanh", {}, 1.3, 0.3),  # ordered (Poole et al.'s sigma_b 0.3)
    ("tanh", {}, 1.45, 0.3),  # chaotic, near the critical line: c* 0.87, xi_c 34
    ("tanh", {}, 2.3, 0.3),
    ("tanh", {}, 4.0, 0.3),
    ("tanh", {}, 3.0, 0.0),  # odd f without bias: c* = 0
    ("tanh", {}, 20.0, 30.0),  # q* ~ 1300: tanh is nearly a step
    ("sigmoid", {}, 6.0, 0.5),
    ("selu", {}, 1.2, 0.3),
    ("elu", {"alpha": 2.0}, 1.2, 0.3),  # chaotic with a finite q*: chi1 1.16
    ("softplus", {}, 1.3, 0.2),
]


@pytest.mark.parametrize(("name", "params", "sigma_w", "sigma_b"), POINTS)
def test_fixed_points_match_the_one_point_solver(
    name: str, params: dict[str, float], sigma_w: float, sigma_b: float
) -> None:
    q = float(q_fixed_point(name, params, np.array(sigma_w**2), np.array(sigma_b**2)))
    one = fixed_point(name, params, sigma_w**2, sigma_b**2, q)
    grid = fixed_points(name, params, np.array([sigma_w**2]), np.array([sigma_b**2]), np.array([q]))
    assert one.c_star is not None and one.xi_c is not None and one.slope_c_star is not None
    assert grid.c_star[0] == pytest.approx(one.c_star, abs=1e-5)
    assert grid.slope_c_star[0] == pytest.approx(one.slope_c_star, rel=1e-4)
    assert grid.xi_c[0] == pytest.approx(one.xi_c, rel=5e-4)


def _monte_carlo_c(
    name: str, sigma_w: float, sigma_b: float, q: float, c0: float, width: int = 1000, seed: int = 5
) -> float:
    """The correlation of input pairs' pre-activations deep in a random network of `width`: 16
    pairs started at correlation c0 with variance q*, averaged over the pairs and layers 50-150
    (each layer's draw moves c by ~0.03; xi_c layers apart they are independent)."""
    f = ACTIVATIONS[name].f
    rng = np.random.default_rng(seed)
    u, v = rng.standard_normal((2, width, 16))
    h = math.sqrt(q) * np.concatenate([u, c0 * u + math.sqrt(1 - c0 * c0) * v], axis=1)
    seen = []
    for layer in range(150):
        w = rng.standard_normal((width, width), dtype=np.float32) * np.float32(sigma_w / math.sqrt(width))
        h = w @ f(h, {}) + sigma_b * rng.standard_normal((width, 1))
        if layer >= 50:
            a, b = h[:, :16], h[:, 16:]
            seen.append(np.mean((a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))))
    return float(np.mean(seen))


@pytest.mark.parametrize(
    ("name", "sigma_w", "sigma_b", "c0"),
    [("tanh", 2.3, 0.3, 0.9), ("tanh", 4.0, 0.3, 0.05)],
)
def test_fixed_points_match_monte_carlo_at_width_1000(
    name: str, sigma_w: float, sigma_b: float, c0: float
) -> None:
    """Poole et al.'s chaotic tanh networks (c* 0.16 and 0.03), pairs started on either side."""
    q = float(q_fixed_point(name, {}, np.array(sigma_w**2), np.array(sigma_b**2)))
    grid = fixed_points(name, {}, np.array([sigma_w**2]), np.array([sigma_b**2]), np.array([q]))
    assert grid.c_star[0] < 0.6  # chaotic
    assert abs(_monte_carlo_c(name, sigma_w, sigma_b, q, c0) - grid.c_star[0]) < 0.02


def _diagram(name: str, w_max: float, b_max: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    w = np.linspace(w_max / steps, w_max, steps)
    return w, np.linspace(0.0, b_max, steps)


def test_xi_c_diagram_ordered_side_is_minus_one_over_log_chi() -> None:
    w, b = _diagram("tanh", 4.0, 1.0, 60)
    log_chi, q_star = phase_diagram("tanh", {}, w, b)
    fp = xi_c_diagram("tanh", (), tuple(w), tuple(b))
    assert fp.xi_c.shape == fp.c_star.shape == (60, 60)
    # q* = 0 (tanh without bias below sigma_w 1) has no C-map to speak of, as fixed_point says
    ordered = np.isfinite(q_star) & (q_star > 0) & (log_chi < -0.01)
    chaotic = np.isfinite(q_star) & (q_star > 0) & (log_chi > 0.01)
    assert ordered.sum() > 500 and chaotic.sum() > 500
    assert (fp.c_star[ordered] == 1.0).all() and (fp.c_star[chaotic] < 1.0).all()
    # chi1 from the quadrature at each point's q* (log_chi reads a table linearly: 4e-4 off near 1)
    chi1 = (w * w)[None, :] * moments("tanh", {}, np.where(ordered, q_star, 1.0)).slope2
    np.testing.assert_allclose(fp.xi_c[ordered], -1.0 / np.log(chi1[ordered]), rtol=1e-6)
    # the correlation's depth scale is longest next to the critical line, on both sides
    row = int(np.argmin(np.abs(b - 0.3)))
    peak = int(np.nanargmax(fp.xi_c[row]))
    assert abs(log_chi[row, peak]) < 0.02
    assert np.nanmax(fp.xi_c[row]) > 20 * np.nanmin(fp.xi_c[row, -10:])


def test_xi_c_diagram_has_no_value_where_q_star_is_0_or_infinite_or_no_c_map() -> None:
    w, b = _diagram("relu", 4.0, 1.0, 40)
    _, q_star = phase_diagram("relu", {}, w, b)
    fp = xi_c_diagram("relu", (), tuple(w), tuple(b))
    assert np.isnan(fp.xi_c[~np.isfinite(q_star)]).all() and (~np.isfinite(q_star)).any()
    maxout = xi_c_diagram("maxout", (("pieces", 2),), tuple(w), tuple(b))
    assert np.isnan(maxout.xi_c).all() and np.isnan(maxout.c_star).all()


def test_xi_c_diagram_is_the_same_with_its_tables_rebuilt() -> None:
    """Determinism: a cold start (tables built anew) gives the same bits as a warm one."""
    w, b = _diagram("gelu", 3.0, 0.6, 30)
    warm = xi_c_diagram("gelu", (), tuple(w), tuple(b))
    xi_c_diagram.cache_clear()
    correlation_grid._decade.cache_clear()
    cold = xi_c_diagram("gelu", (), tuple(w), tuple(b))
    assert warm is not cold
    np.testing.assert_array_equal(warm.xi_c, cold.xi_c)
    np.testing.assert_array_equal(warm.c_star, cold.c_star)


@pytest.mark.parametrize(("name", "params"), [("selu", ()), ("elu", (("alpha", 2.0),)), ("tanh", ())])
def test_xi_c_diagram_has_a_value_beside_the_critical_line(
    name: str, params: tuple[tuple[str, float], ...]
) -> None:
    """Chaotic points next to the line have c* within 1e-3 of 1 and C'(c*) within 1e-3 of 1: the
    sign of C(c) - c there is read from D (no cancellation), and SELU's kernels split where f'
    jumps; before, such points came out with C'(c*) > 1 and no value (holes along the line)."""
    w, b = _diagram(name, 4.0, 1.0, 100)
    log_chi, q_star = phase_diagram(name, dict(params), w, b)
    fp = xi_c_diagram(name, params, tuple(w), tuple(b))
    defined = np.isfinite(q_star) & (q_star > 0) & (np.abs(log_chi) > 1e-4)
    assert np.isfinite(fp.xi_c[defined]).all()
    chaotic = defined & (fp.c_star < 1)
    assert (fp.slope_c_star[chaotic] < 1).all()
    assert fp.c_star[chaotic].max() > 0.999  # the test reaches the line's neighbourhood
