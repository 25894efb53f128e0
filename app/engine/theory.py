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
nodes, 0.5% at 200); split at the kink, 2 x 48 nodes are exact to 1e-8. For large q the
activations bend within |u| < a few / sqrt(q), which nodes spread over [0, 12] miss (tanh's
E[f'^2] was 1.7% off at q = 1000, 15% at 3162), so above q = 4 each half-line is split again at
|z| = sqrt(q) |u| = 24: 48 nodes where f bends, 48 over the smooth rest (1e-9 at every q).

E[f^2] grows with q for every activation here, so the variance map is increasing and its orbits
are monotone: from q_1 the map settles on the nearest stable fixed point in the direction it
moves, or runs to 0 or to infinity. GELU and SiLU (E[f^2] is about q / 4 near 0 and q / 2 far out)
have two attractors for some (sigma_w, sigma_b), a small q* and infinity split by an unstable q*:
there the phase depends on where the map starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from .activations import ACTIVATIONS, Activation, normal_cdf, normal_pdf
from .config import RunConfig
from .initializers import BIASES, INITIALIZERS, LSUV_MAX_PASSES, LSUV_TOLERANCE
from .inputs import INPUTS
from .params import ParamValue

HALF_LINE_NODES = 48  # Gauss-Legendre nodes on each side of the kink at u = 0
HALF_LINE_END = 12.0  # the normal density is below 1e-31 beyond
BEND_Z = 24.0  # for q > (BEND_Z / HALF_LINE_END)^2 = 4, a half-line splits at |z| = BEND_Z
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


@cache
def _unit_nodes() -> tuple[Floats, Floats]:
    """Gauss-Legendre nodes and weights on [0, 1], twice over: for [0, cut] and [cut, end]."""
    x, w = np.polynomial.legendre.leggauss(HALF_LINE_NODES)
    t, wt = (x + 1.0) / 2.0, w / 2.0
    return np.concatenate([t, t]), np.concatenate([wt, wt])


def _split_nodes(s: Floats) -> tuple[Floats, Floats]:
    """Nodes and weights as _nodes', for each scale s = sqrt(q) > BEND_Z / HALF_LINE_END: each
    half-line in two, [0, BEND_Z / s] (where f(s u) bends) and [BEND_Z / s, HALF_LINE_END]."""
    t, wt = _unit_nodes()
    n = HALF_LINE_NODES
    cut = (BEND_Z / s)[..., None]
    start = np.where(np.arange(2 * n) < n, 0.0, cut)  # each node's segment: [start, start + span]
    span = np.where(np.arange(2 * n) < n, cut, HALF_LINE_END - cut)
    half = start + span * t
    weights = span * wt * normal_pdf(half)
    return np.concatenate([-half, half], axis=-1), np.concatenate([weights, weights], axis=-1)


@cache
def _max_of_normals_second_moment(k: int) -> float:
    """E[max(u_1..u_k)^2] for iid standard normals: density k phi(u) Phi(u)^(k-1)."""
    u = np.linspace(-12.0, 12.0, 48_001)
    return float(np.trapezoid(u * u * k * normal_pdf(u) * normal_cdf(u) ** (k - 1), u))


@cache
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
    wide = s > BEND_Z / HALF_LINE_END
    if not wide.any():
        return _quadrature(activation, params, s, *_nodes())
    if wide.all():
        return _quadrature(activation, params, s, *_split_nodes(s))
    narrow = _quadrature(activation, params, s[~wide], *_nodes())
    broad = _quadrature(activation, params, s[wide], *_split_nodes(s[wide]))
    out = []
    for left, right in zip(
        (narrow.mean, narrow.second, narrow.slope2), (broad.mean, broad.second, broad.slope2), strict=True
    ):
        o = np.empty_like(q)
        o[~wide], o[wide] = left, right
        out.append(o)
    return Moments(*out)


def _quadrature(
    activation: Activation, params: Mapping[str, ParamValue], s: Floats, nodes: Floats, weights: Floats
) -> Moments:
    """E[f], E[f^2], E[f'^2] of f(s u) on nodes (shared, or one row per s) with their weights."""
    z = s[..., None] * nodes  # (..., nodes)
    with np.errstate(over="ignore", invalid="ignore"):
        fz, dfz = activation.f(z, params), activation.df(z, params)
    if weights.ndim == 1:
        return Moments(fz @ weights, (fz * fz) @ weights, (dfz * dfz) @ weights)
    return Moments((fz * weights).sum(-1), (fz * fz * weights).sum(-1), (dfz * dfz * weights).sum(-1))


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
    s_w2 = fan_in * init.variance(fan_in, run.widths[layer], params)
    if init.data_dependent:
        # LSUV as the engine runs it (network.lsuv_rescale), on this layer's mean-field input:
        # W /= sqrt(Var(z)) with the bias inside Var(z), until Var(z) is within the tolerance of 1;
        # then W *= gain, which scales only the weights' part: q = gain^2 (1 - sigma_b^2) + sigma_b^2
        # once converged (2.53 for gain 2 and sigma_b 0.7, not gain^2 = 4).
        for _ in range(LSUV_MAX_PASSES):
            variance = s_w2 * q_in + sigma_b2
            if not math.isfinite(variance) or variance == 0.0 or abs(variance - 1.0) < LSUV_TOLERANCE:
                break
            s_w2 /= variance
        s_w2 *= float(params["gain"]) ** 2
    return s_w2


def fixed_point(
    name: str, params: Mapping[str, ParamValue], sigma_w2: Floats, sigma_b2: Floats, q0: float = 1.0
) -> Floats:
    """The q* that the variance map started at q0 settles on, for arrays of (sigma_w^2,
    sigma_b^2): inf where it explodes, 0 where it vanishes.

    The map is iterated; where it has not settled after FIXED_POINT_ITERATIONS (a map that grows
    by 0.09 or by 12% a layer, or creeps towards 0 like 1 / l), the orbit is monotone and its limit
    is the first root of g(q) - q in the direction it moves, found on a log grid and bisected.
    """
    w2, b2 = np.broadcast_arrays(np.asarray(sigma_w2, np.float64), np.asarray(sigma_b2, np.float64))
    q = np.full(w2.shape, q0, dtype=np.float64)
    for _ in range(FIXED_POINT_ITERATIONS):
        new = w2 * moments(name, params, np.minimum(q, Q_MAX)).second + b2
        new = np.where(new > Q_MAX, np.inf, new)
        # np.allclose(new, q, rtol=1e-10, atol=1e-300, equal_nan=True), without its overhead
        with np.errstate(invalid="ignore"):
            close = (np.abs(new - q) <= 1e-300 + 1e-10 * np.abs(q)) | (new == q) | (new != new) & (q != q)
        if close.all():
            return new
        q = new
    out = q.copy()
    for i in np.ndindex(q.shape):
        if math.isfinite(q[i]):
            out[i] = _limit(name, params, float(w2[i]), float(b2[i]), float(q[i]))
    return out


ROOT_GRID_STEP = 0.05  # log10 q between the points where a slow map's limit is looked for
Q_MIN = 1e-30  # below this a vanishing map's limit is 0 (as Q_MAX is infinity)
# |g(q) - q| / q below this is rounding (the quadrature is good to ~1e-15): a map that grows by
# sigma_b^2 = 0.09 a layer no longer visibly grows at q = 1e15, yet has no fixed point there.
RESOLVED = 1e-12


def _limit(name: str, params: Mapping[str, ParamValue], w2: float, b2: float, q: float) -> float:
    """Where the monotone orbit through q ends: the first root of h(q) = w2 E[f^2] + b2 - q in the
    direction h(q) points, where h clearly changes sign (inf or 0 if it never does)."""

    def h(x: Floats) -> Floats:
        return np.asarray(w2 * moments(name, params, x).second + b2 - x, dtype=np.float64)

    rising = float(h(np.array(q))) > 0
    if (q >= Q_MAX) if rising else (q <= Q_MIN):
        return math.inf if rising else 0.0
    end = math.log10(Q_MAX) if rising else math.log10(Q_MIN)
    steps = max(1, math.ceil(abs(end - math.log10(q)) / ROOT_GRID_STEP))
    grid = np.logspace(math.log10(q), end, steps + 1)
    relative = h(grid) / grid
    stops = np.flatnonzero(relative < -RESOLVED if rising else relative > RESOLVED)
    if stops.size == 0:
        return math.inf if rising else 0.0
    lo, hi = math.log10(grid[stops[0] - 1]), math.log10(grid[stops[0]])
    for _ in range(60):  # bisection in log q down to a relative 1e-12 or so
        mid = 0.5 * (lo + hi)
        if (float(h(np.array(10.0**mid))) > 0) == rising:
            lo = mid
        else:
            hi = mid
    return float(10.0 ** (0.5 * (lo + hi)))


def chi(name: str, params: Mapping[str, ParamValue], sigma_w2: Floats, q: Floats) -> Floats:
    q = np.asarray(q, dtype=np.float64)
    finite = np.where(np.isfinite(q), q, Q_MAX)
    return np.asarray(sigma_w2 * moments(name, params, finite).slope2, dtype=np.float64)


def run_theory(run: RunConfig) -> RunTheory:
    """The mean-field prediction for every layer of a run."""
    bias = BIASES[run.bias]
    sigma_b2 = bias.variance(run.bias_params())
    q_in = INPUTS[run.input].second_moment(run.input_params())
    qs, sigmas, stats, slopes, pieces = [], [], [], [], []
    for j in range(run.depth):
        name = run.activation_at(j)
        params = run.activation_params_at(j)
        s_w2 = _sigma_w2(run, j, q_in, sigma_b2)
        q = s_w2 * q_in + sigma_b2
        m = moments(name, params, np.array(min(q, Q_MAX)))
        qs.append(q)
        sigmas.append(s_w2)
        pieces.append(ACTIVATIONS[name].pieces(params))
        # E[f'^2] per entry of z: maxout's moments sum over its k pieces, of which one wins.
        slopes.append(float(m.slope2) / pieces[-1])
        stats.append((float(m.mean), max(float(m.second - m.mean**2), 0.0), s_w2 * float(m.slope2)))
        q_in = float(m.second) if q < Q_MAX else math.inf
    # Backward, for a standard-normal gradient arriving at the last layer's output:
    # Var(dL/dz_j) = E[f'(z_j)^2] * fan_out_(j+1) Var(W_(j+1)) * Var(dL/dz_(j+1)), with one
    # column of W (and one entry of z) per maxout piece.
    variances = [slopes[-1]] * run.depth
    for j in range(run.depth - 2, -1, -1):
        fan_in = run.widths[j]
        back = sigmas[j + 1] / fan_in * run.widths[j + 1] * pieces[j + 1]  # fan_out x Var(W)
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
