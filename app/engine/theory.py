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
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from .layers.activations import ACTIVATIONS, Activation, normal_cdf, normal_pdf
from .layers.initializers import BIASES, INITIALIZERS, LSUV_MAX_PASSES, LSUV_TOLERANCE
from .network.config import RunConfig
from .network.inputs import INPUTS
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
    phase: Phase | None  # None where the prediction has no phase (layer networks)
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
    # The prediction is of the distribution, not of one draw: seed, samples and label play no
    # part, so a link with a new seed (or a slider over range, bins, axes) reuses it (~1 ms a run).
    return _run_theory(replace(run, seed=0, samples=1, label=None))


def clear_cache() -> None:
    """Forget the predictions made (for benchmarks that time a first request)."""
    _run_theory.cache_clear()


@lru_cache(maxsize=256)
def _run_theory(run: RunConfig) -> RunTheory:
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
        if q < Q_MAX:
            stats.append((float(m.mean), max(float(m.second - m.mean**2), 0.0), s_w2 * float(m.slope2)))
        else:  # past Q_MAX the map is not followed: no prediction, rather than the values at Q_MAX
            stats.append((math.nan, math.inf, math.inf))
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
Q_GRID = 10.0**LOG_Q_GRID


@cache
def _tables(name: str, params: tuple[tuple[str, ParamValue], ...]) -> tuple[Floats, Floats]:
    """E[f^2] and E[f'^2] on a fine log grid of q: the phase diagram solves the variance map for
    thousands of (sigma_w, sigma_b) at once, and reading these smooth curves is ~100x cheaper than
    evaluating the activation at every quadrature node each time."""
    m = moments(name, dict(params), 10.0**LOG_Q_GRID)
    return m.second, m.slope2


@dataclass(frozen=True)
class _Map:
    """The variance maps of one activation for a column of sigma_b, as seen from a start q0.

    g(q) = sigma_w^2 E[f^2] + sigma_b^2 exceeds q exactly where sigma_w^2 > W(q) = (q - sigma_b^2)
    / E[f^2] (E[f^2] > 0). So from q0 an orbit rises if sigma_w^2 > W(q0), until the first q above
    with W(q) >= sigma_w^2, and falls otherwise, until the first q below with W(q) <= sigma_w^2:
    with the running max of W above q0 and its running min below, each is a sorted search."""

    threshold: Floats  # W on LOG_Q_GRID, one row per sigma_b
    start: Floats  # W(q0) per sigma_b
    rising: Floats  # running max of W from the first node above q0 upwards
    falling: Floats  # running min of W from the last node below q0 downwards
    lq0: float
    above: int  # the first node above q0
    below: int  # the last node below q0
    slope2: Floats  # E[f'^2] on LOG_Q_GRID


def _map(name: str, params: Mapping[str, ParamValue], sigma_b: Floats, q0: float) -> _Map:
    second, slope2 = _tables(name, tuple(sorted(params.items())))
    b2 = np.asarray(sigma_b, dtype=np.float64).reshape(-1, 1) ** 2
    lq0 = float(np.clip(math.log10(q0), LOG_Q_GRID[0], LOG_Q_GRID[-1]))
    above = int(np.searchsorted(LOG_Q_GRID, lq0, side="right"))
    below = int(np.searchsorted(LOG_Q_GRID, lq0, side="left")) - 1
    threshold = (Q_GRID - b2) / second
    start = (10.0**lq0 - b2[:, 0]) / float(np.interp(lq0, LOG_Q_GRID, second))
    rising = np.maximum.accumulate(threshold[:, above:], axis=1)
    falling = np.minimum.accumulate(threshold[:, below::-1], axis=1) if below >= 0 else threshold[:, :0]
    return _Map(threshold, start, rising, falling, lq0, above, below, slope2)


def _settle(m: _Map, row: NDArray[np.intp], w2: Floats, i: NDArray[np.intp], j: NDArray[np.intp]) -> Floats:
    """log10 q* reached from q0 by the maps (row, w2), given i = how many of m.rising[row] are below
    w2 and j = how many of m.falling[row] are above: the root of W(q) = w2 between the nodes (or
    q0) around it, interpolated in log q; inf if the orbit rises off the table, -inf (q* = 0) if
    it falls off."""
    n, grid, t = LOG_Q_GRID.size, LOG_Q_GRID, m.threshold
    start = m.start[row]
    # Where no root is found the interpolations divide by a zero step; np.where drops them.
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.minimum(m.above + i, n - 1)
        lo_q = np.where(i == 0, m.lq0, grid[k - 1])
        lo_w = np.where(i == 0, start, t[row, k - 1])
        rise = lo_q + (w2 - lo_w) / (t[row, k] - lo_w) * (grid[k] - lo_q)
        rise = np.where(m.above + i < n, rise, np.inf)
        k = np.maximum(m.below - j, 0)
        up = np.minimum(k + 1, n - 1)
        hi_q = np.where(j == 0, m.lq0, grid[up])
        hi_w = np.where(j == 0, start, t[row, up])
        fall = grid[k] + (w2 - t[row, k]) / (hi_w - t[row, k]) * (hi_q - grid[k])
        fall = np.where(m.below - j >= 0, fall, -np.inf)
    return np.where(w2 > start, rise, np.where(w2 < start, fall, m.lq0))


def _log_chi(m: _Map, w2: Floats, log_q: Floats) -> Floats:
    slope = np.interp(np.clip(log_q, LOG_Q_GRID[0], LOG_Q_GRID[-1]), LOG_Q_GRID, m.slope2)
    with np.errstate(divide="ignore"):
        return np.asarray(np.log10(w2 * slope), dtype=np.float64)


def phase_diagram(
    name: str, params: Mapping[str, ParamValue], sigma_w: Floats, sigma_b: Floats, q0: float = 1.0
) -> tuple[Floats, Floats]:
    """log10 chi at the fixed point over a grid (rows: sigma_b, columns: sigma_w), and q* (0 where
    the map vanishes, inf where it explodes), for the map started at q0 (clipped to the table).

    A run's theory starts the map at the run's own q_1; where bistable_points is true, only a
    diagram started at that q_1 shows that run's phase."""
    m = _map(name, params, sigma_b, q0)
    w2 = np.asarray(sigma_w, dtype=np.float64) ** 2
    log_q = np.empty((m.start.size, w2.size))
    for r in range(m.start.size):
        i = np.searchsorted(m.rising[r], w2, side="left")
        j = np.searchsorted(-m.falling[r], -w2, side="left")
        log_q[r] = _settle(m, np.full(w2.size, r), w2, i, j)
    with np.errstate(over="ignore"):
        q_star = 10.0**log_q
    return _log_chi(m, w2[None, :], log_q), q_star


CRITICAL_BISECTIONS = 30  # halvings of a grid step: 0.04 / 2^30 = 4e-11


def critical_sigma_w(
    name: str,
    params: Mapping[str, ParamValue],
    sigma_w: Floats,
    sigma_b: Floats,
    log_chi: Floats,
    q0: float = 1.0,
) -> list[float | None]:
    """Per row of phase_diagram's log_chi, the first sigma_w where chi crosses 1, bisected between
    the grid's columns (a straight line between them misses: at sigma_b = 0, log chi has a kink at
    the crossing, 2 log10 sigma_w below it and ~0 above, which put tanh's at 1.0098 for a step of
    0.02); None where it does not cross."""
    sigma_w = np.asarray(sigma_w, dtype=np.float64)
    sign = np.sign(np.where(np.isfinite(log_chi), log_chi, np.nan))
    with np.errstate(invalid="ignore"):
        cross = ((sign[:, :-1] < 0) & (sign[:, 1:] >= 0)) | ((sign[:, :-1] > 0) & (sign[:, 1:] <= 0))
    found = cross.any(axis=1)
    rows = np.flatnonzero(found)
    first = np.argmax(cross[rows], axis=1)
    lo, hi = sigma_w[first], sigma_w[first + 1]
    low_sign = sign[rows, first]
    m = _map(name, params, np.asarray(sigma_b, dtype=np.float64)[rows], q0)
    index = np.arange(rows.size)
    for _ in range(CRITICAL_BISECTIONS):
        mid = 0.5 * (lo + hi)
        w2 = mid * mid
        i = (m.rising < w2[:, None]).sum(axis=1)
        j = (m.falling > w2[:, None]).sum(axis=1)
        same = np.sign(_log_chi(m, w2, _settle(m, index, w2, i, j))) == low_sign
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    out: list[float | None] = [None] * found.size
    for r, x in zip(rows.tolist(), (0.5 * (lo + hi)).tolist(), strict=True):
        out[r] = x
    return out


def bistable_points(
    name: str, params: Mapping[str, ParamValue], sigma_w: Floats, sigma_b: Floats
) -> NDArray[np.bool_]:
    """Where the map has two attractors (rows: sigma_b, columns: sigma_w), so that q* and the phase
    depend on the starting q: somewhere g(q) < q below a q' with g(q') > q' (an unstable fixed
    point between). GELU and SiLU have such points (E[f^2] / q climbs from 1/4 near 0 to 1/2);
    tanh, sigmoid, ReLU, SELU and softplus have none."""
    threshold = _map(name, params, sigma_b, 1.0).threshold
    w2 = np.asarray(sigma_w, dtype=np.float64) ** 2
    out = np.zeros((threshold.shape[0], w2.size), dtype=np.bool_)
    for r, t in enumerate(threshold):
        # The first q with g(q) < q (W(q) > w2) and the last with g(q) > q (W(q) < w2).
        first_fall = np.searchsorted(np.maximum.accumulate(t), w2, side="right")
        last_rise = np.searchsorted(np.minimum.accumulate(t[::-1])[::-1], w2, side="left") - 1
        out[r] = first_fall < last_rise
    return out
