"""Mean-field signal propagation (Poole et al. 2016, Schoenholz et al. 2017).

In a wide network with zero-mean random weights, every layer's pre-activations are Gaussian with
variance q_l, given by the variance map

    q_1 = sigma_w^2 E[x^2] + sigma_b^2,    q_l = sigma_w^2 E[f(sqrt(q_{l-1}) u)^2] + sigma_b^2,

(u ~ N(0, 1), sigma_w^2 = fan_in x Var(W), sigma_b^2 = Var(b)), and a gradient passing back through
layer l is multiplied by chi_l = sigma_w^2 E[f'(sqrt(q_l) u)^2]: chi < 1 vanishes (ordered phase),
chi > 1 explodes (chaotic), chi = 1 at the fixed point q* is critical.

Expectations use closed forms where they exist (ReLU, leaky ReLU, linear, maxout's order
statistics) and otherwise Gaussian quadrature on each half-line, u in [-12, 0] and [0, 12]:
every activation here is smooth on either side of 0, but several (ELU, SELU) have a jump in f' at
0, where Gauss-Hermite across the kink converges only like 1/n (1% error for SELU's E[f'^2] at 96
nodes, 0.5% at 200); split at the kink, 2 x 48 nodes are exact to 1e-8.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from .activations import ACTIVATIONS, normal_cdf, normal_pdf
from .config import RunConfig
from .initializers import BIASES, INITIALIZERS
from .inputs import INPUTS
from .params import ParamValue

HALF_LINE_NODES = 48  # Gauss-Legendre nodes on each side of the kink at u = 0
HALF_LINE_END = 12.0  # the normal density is below 1e-31 beyond
CRITICAL_BAND = 0.05  # |chi - 1| below this counts as critical
FIXED_POINT_ITERATIONS = 500
Q_MAX = 1e30  # beyond this the signal has exploded (float32 overflows near 3e38)

Floats = NDArray[np.float64]
Phase = Literal["ordered", "critical", "chaotic"]


@dataclass(frozen=True)
class Moments:
    """E[f], E[f^2] and E[f'^2] of f(sqrt(q) u), u ~ N(0, 1), for an array of q."""

    mean: Floats
    second: Floats
    slope2: Floats


@cache
def _nodes() -> tuple[Floats, Floats]:
    """Nodes u and weights w with sum(w * g(u)) = E[g(u)], u ~ N(0, 1), split at 0."""
    x, w = np.polynomial.legendre.leggauss(HALF_LINE_NODES)
    half = (x + 1.0) * HALF_LINE_END / 2.0
    weights = w * HALF_LINE_END / 2.0 * normal_pdf(half)
    return np.concatenate([-half[::-1], half]), np.concatenate([weights[::-1], weights])


def _max_of_normals_second_moment(k: int) -> float:
    """E[max(u_1..u_k)^2] for iid standard normals: density k phi(u) Phi(u)^(k-1)."""
    u = np.linspace(-12.0, 12.0, 48_001)
    return float(np.trapezoid(u * u * k * normal_pdf(u) * normal_cdf(u) ** (k - 1), u))


def _max_of_normals_mean(k: int) -> float:
    u = np.linspace(-12.0, 12.0, 48_001)
    return float(np.trapezoid(u * k * normal_pdf(u) * normal_cdf(u) ** (k - 1), u))


def moments(name: str, params: Mapping[str, ParamValue], q: Floats) -> Moments:
    """Gaussian moments of activation `name` at pre-activation variances q (any shape)."""
    q = np.asarray(q, dtype=np.float64)
    s = np.sqrt(q)
    if name == "relu":
        return Moments(s / math.sqrt(2.0 * math.pi), q / 2.0, np.full_like(q, 0.5))
    if name == "leaky_relu":
        a = float(params["alpha"])
        return Moments(
            (1.0 - a) * s / math.sqrt(2.0 * math.pi),
            q * (1.0 + a * a) / 2.0,
            np.full_like(q, (1 + a * a) / 2),
        )
    if name == "linear":
        return Moments(np.zeros_like(q), q.copy(), np.ones_like(q))
    if name == "maxout":
        # Each unit takes the largest of k independent N(0, q) pieces; the gradient reaches one piece.
        k = int(params["pieces"])
        return Moments(s * _max_of_normals_mean(k), q * _max_of_normals_second_moment(k), np.ones_like(q))
    activation = ACTIVATIONS[name]
    nodes, weights = _nodes()
    z = s[..., None] * nodes  # (..., nodes)
    with np.errstate(over="ignore", invalid="ignore"):
        f = activation.f(z, params)
        df = activation.df(z, params)
    return Moments(f @ weights, (f * f) @ weights, (df * df) @ weights)


@dataclass(frozen=True)
class LayerTheory:
    q: float  # predicted variance of z
    mean: float  # predicted mean of the activations
    variance: float  # predicted variance of the activations
    chi: float  # gradient growth factor through this layer
    gradient_scale: float  # predicted std of dL/dz for a standard-normal gradient at the output


@dataclass(frozen=True)
class RunTheory:
    layers: tuple[LayerTheory, ...]
    sigma_w2: tuple[float, ...]  # per layer: fan_in x Var(W) (effective, for LSUV)
    sigma_b2: float
    q_star: float | None  # fixed point of the hidden layers' variance map; None if it diverges
    chi_star: float
    phase: Phase
    note: str = ""


def phase_of(chi: float) -> Phase:
    if chi < 1.0 - CRITICAL_BAND:
        return "ordered"
    if chi > 1.0 + CRITICAL_BAND:
        return "chaotic"
    return "critical"


def _sigma_w2(run: RunConfig, layer: int, q_in: float, sigma_b2: float) -> float:
    fan_in = run.input_dim if layer == 0 else run.widths[layer - 1]
    init = INITIALIZERS[run.init]
    params = run.init_params()
    if init.data_dependent:
        # LSUV rescales every layer to Var(z) = 1, then multiplies by the gain: the map's own
        # sigma_w^2 that lands on q = gain^2 (with the bias) from this layer's input.
        gain2 = float(params["gain"]) ** 2
        return max(gain2 - sigma_b2, 0.0) / q_in if q_in > 0 else 0.0
    return fan_in * init.variance(fan_in, run.widths[layer], params)


def fixed_point(
    name: str, params: Mapping[str, ParamValue], sigma_w2: Floats, sigma_b2: Floats, q0: float = 1.0
) -> Floats:
    """q* of the variance map for arrays of (sigma_w^2, sigma_b^2); inf where it explodes."""
    q = np.full(np.broadcast(sigma_w2, sigma_b2).shape, q0, dtype=np.float64)
    for _ in range(FIXED_POINT_ITERATIONS):
        new = sigma_w2 * moments(name, params, np.minimum(q, Q_MAX)).second + sigma_b2
        new = np.where(new > Q_MAX, np.inf, new)
        if np.allclose(new, q, rtol=1e-10, atol=1e-300, equal_nan=True):
            return new
        q = new
    return q


def chi(name: str, params: Mapping[str, ParamValue], sigma_w2: Floats, q: Floats) -> Floats:
    q = np.asarray(q, dtype=np.float64)
    finite = np.where(np.isfinite(q), q, Q_MAX)
    return np.asarray(sigma_w2 * moments(name, params, finite).slope2, dtype=np.float64)


def run_theory(run: RunConfig) -> RunTheory:
    """The mean-field prediction for every layer of a run."""
    bias = BIASES[run.bias]
    sigma_b2 = bias.variance(run.bias_params())
    q_in = INPUTS[run.input].second_moment(run.input_params())
    qs, sigmas, stats, slopes = [], [], [], []
    for j in range(run.depth):
        name = run.activation_at(j)
        params = run.activation_params_at(j)
        s_w2 = _sigma_w2(run, j, q_in, sigma_b2)
        q = s_w2 * q_in + sigma_b2
        m = moments(name, params, np.array(min(q, Q_MAX)))
        qs.append(q)
        sigmas.append(s_w2)
        slopes.append(float(m.slope2))
        stats.append((float(m.mean), max(float(m.second - m.mean**2), 0.0), s_w2 * float(m.slope2)))
        q_in = float(m.second) if q < Q_MAX else math.inf
    # Backward, for a standard-normal gradient arriving at the last layer's output:
    # Var(dL/dz_j) = E[f'(z_j)^2] * fan_out_(j+1) Var(W_(j+1)) * Var(dL/dz_(j+1)).
    variances = [slopes[-1]] * run.depth
    for j in range(run.depth - 2, -1, -1):
        fan_in = run.widths[j]
        back = sigmas[j + 1] / fan_in * run.widths[j + 1]  # fan_out x Var(W) of layer j + 1
        variances[j] = slopes[j] * back * variances[j + 1]
    scales = [math.sqrt(v) if math.isfinite(v) else math.inf for v in variances]
    hidden = run.activation
    params = run.activation_params()
    s_w2 = sigmas[-1] if run.depth == 1 else sigmas[1]  # a hidden layer's (the first reads inputs)
    q_star_arr = fixed_point(hidden, params, np.array(s_w2), np.array(sigma_b2), qs[0])
    q_star = float(q_star_arr)
    chi_star = float(chi(hidden, params, np.array(s_w2), q_star_arr))
    note = ""
    if run.init in ("zeros", "constant"):
        note = "mean field assumes zero-mean random weights: it does not describe constant weights"
    elif run.bias == "constant" and float(run.bias_params()["bias_value"]) != 0.0:
        note = "mean field assumes zero-mean biases: a constant bias shifts z, which it does not model"
    return RunTheory(
        layers=tuple(
            LayerTheory(q=q, mean=m, variance=v, chi=c, gradient_scale=g)
            for q, (m, v, c), g in zip(qs, stats, scales, strict=True)
        ),
        sigma_w2=tuple(sigmas),
        sigma_b2=sigma_b2,
        q_star=q_star if math.isfinite(q_star) else None,
        chi_star=chi_star,
        phase=phase_of(chi_star),
        note=note,
    )


LOG_Q_GRID = np.linspace(-12.0, 12.0, 2401)  # log10 q: 100 points per decade


@cache
def _tables(name: str, params: tuple[tuple[str, ParamValue], ...]) -> tuple[Floats, Floats]:
    """E[f^2] and E[f'^2] on a fine log grid of q: the phase diagram iterates the variance map
    for thousands of (sigma_w, sigma_b) at once, and interpolating these smooth curves is ~100x
    cheaper than evaluating the activation at every quadrature node each time."""
    m = moments(name, dict(params), 10.0**LOG_Q_GRID)
    return m.second, m.slope2


def phase_diagram(
    name: str, params: Mapping[str, ParamValue], sigma_w: Floats, sigma_b: Floats
) -> tuple[Floats, Floats]:
    """log10 chi at the fixed point over a grid (rows: sigma_b, columns: sigma_w), and q*."""
    second, slope2 = _tables(name, tuple(sorted(params.items())))
    w2, b2 = np.meshgrid(
        np.asarray(sigma_w, dtype=np.float64) ** 2, np.asarray(sigma_b, dtype=np.float64) ** 2
    )
    q = np.ones_like(w2)
    with np.errstate(divide="ignore", over="ignore"):
        for _ in range(FIXED_POINT_ITERATIONS):
            log_q = np.log10(np.clip(q, 10.0 ** LOG_Q_GRID[0], 10.0 ** LOG_Q_GRID[-1]))
            q = w2 * np.interp(log_q, LOG_Q_GRID, second) + b2
        log_q = np.log10(np.clip(q, 10.0 ** LOG_Q_GRID[0], 10.0 ** LOG_Q_GRID[-1]))
        log_chi = np.log10(w2 * np.interp(log_q, LOG_Q_GRID, slope2))
    return log_chi, q
