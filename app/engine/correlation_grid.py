"""The C-map's fixed point c* and depth scale xi_c over a whole (sigma_w, sigma_b) grid at once.

correlation_theory.fixed_point solves one point with a 2-D quadrature of ~11,500 nodes per
correlation, 400 correlations to bracket the root and 40 bisections: seconds a point. A phase
diagram has up to 200 x 200. What makes it cheap: at the fixed point q*, the C-map

    C(c) = (sigma_w^2 E[f(z1) f(z2)] + sigma_b^2) / (sigma_w^2 E[f(z)^2] + sigma_b^2)

depends on the grid point only through q*, sigma_w^2 and sigma_b^2, and the expensive integral
only through (q*, c). So the normalised kernels

    rho_f(q, c) = E[f(z1) f(z2)] / E[f(z)^2],    rho_d(q, c) = E[f'(z1) f'(z2)] / E[f'(z)^2]

(z1, z2 ~ N(0, q), correlation c; rho_f as D = (1 - rho_f) / (1 - c), see _decade) are tabulated
once per activation and decade of q, with the same segmented Gauss-Legendre quadrature, and read
at each point's q* by interpolation; then every point's root is found at once. c = cos(theta),
and the table's variable is t = sqrt(2 theta / pi) in [0, 1] (c from 1 to 0): where f is close
to a step (tanh at q ~ 5000)
the kernel bends within theta ~ 1 / sqrt(q) of c = 1, which t spreads out.

c* >= 0 always: C(0) = (sigma_w^2 E[f]^2 + sigma_b^2) / q' >= 0, and C is convex on [0, 1]
(a power series in c with coefficients >= 0, Mehler's expansion), with C(1) = 1. So chi1 =
C'(1) <= 1 leaves c = 1 the attractor (xi_c = -1 / log chi1) and chi1 > 1 gives one root in
[0, 1), where xi_c = -1 / log C'(c*), C'(c*) = sigma_w^2 E[f'(z1) f'(z2)] = chi1 rho_d(q*, c*).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from .correlation_theory import NO_C_MAP, SEGMENT_NODES, _clip, _segments
from .layers.activations import ACTIVATIONS
from .params import ParamValue
from .theory import BEND_Z, HALF_LINE_END, LOG_Q_GRID, Q_MAX, Moments, _tables, phase_diagram

Floats = NDArray[np.float64]
T_NODES = 33  # Chebyshev-Lobatto nodes in t on [0, 1]
Q_NODES = 7  # Chebyshev-Lobatto nodes in log10 q per decade (shared at the decade's ends)
JUMP_NODES = 16  # Gauss-Legendre nodes a segment where f' jumps (u1's line has 8 segments there)
Q_DECADES = (-12, 12)  # the phase diagram's table of q (theory.LOG_Q_GRID)
REGULA_FALSI_STEPS = 40  # from a bracket of at most 0.05 in t: most points need 5-10


def _lobatto(n: int) -> tuple[Floats, Floats]:
    """Chebyshev-Lobatto nodes on [0, 1] (ascending) and their barycentric weights."""
    x = (1.0 - np.cos(np.pi * np.arange(n) / (n - 1))) / 2.0
    w = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    w[0] *= 0.5
    w[-1] *= 0.5
    return x, w


T_GRID, T_WEIGHTS = _lobatto(T_NODES)
Q_GRID, Q_WEIGHTS = _lobatto(Q_NODES)


def _barycentric(x: Floats, nodes: Floats, weights: Floats) -> tuple[Floats, Floats]:
    """Terms w_j / (x - x_j) per point (..., n) and their sums: the interpolant at x is
    (terms @ values) / sums. A point on a node gets a term of ~1e300 there, which outweighs
    the rest to the last bit (the weights are at most 1)."""
    diff = np.asarray(x, dtype=np.float64)[..., None] - nodes
    terms = weights / np.where(diff == 0.0, 1e-300, diff)
    return terms, terms.sum(axis=-1)


def _theta(t: Floats) -> Floats:
    return np.pi / 2.0 * t * t


def pair_kernels(
    name: str, params: Mapping[str, ParamValue], q: Floats, c: Floats, nodes: int | None = None
) -> tuple[Floats, Floats, Floats]:
    """E[f(z1) f(z2)], E[f'(z1) f'(z2)] and E[(f(z1) - f(z2))^2] / 2 (= E[f^2] - E[f(z1) f(z2)],
    without its cancellation near c = 1) for every q (n,) and c (m,): arrays (n, m). The
    quadrature of correlation_theory.pair_expectation (`nodes` per segment), less the segments
    it clips to zero length (for q <= 4 the bends lie beyond the line's ends): same sums, a
    third of the work there. Where f' jumps at 0 (ELU, SELU), u1's line also splits at 2 s and
    6 s (s = sqrt(1 - c^2)): E over u2 of f'(z2) steps from one side's slope to the other's
    within a few s of u1 = 0, which one segment per half-line missed by up to 1e-3 near c = 1
    (SELU's C'(c*) came out above 1 beside the critical line); JUMP_NODES a segment there keep
    the kernels within 1e-6 of 48 and the cost near the smooth activations'."""
    q = np.asarray(q, dtype=np.float64)
    c = np.clip(np.asarray(c, dtype=np.float64), -1.0, 1.0)
    s = np.sqrt(np.maximum(1.0 - c * c, 0.0))
    activation = ACTIVATIONS[name]
    steps = _derivative_jumps(name, tuple(sorted(params.items())))
    nodes = nodes or (JUMP_NODES if steps else SEGMENT_NODES)
    ff, dd, gap = (np.empty((q.size, c.size)) for _ in range(3))
    for i, qi in enumerate(q.tolist()):
        root = math.sqrt(qi)
        bend = min(BEND_Z / root, HALF_LINE_END)
        line = np.array([-bend, 0.0, bend] if bend < HALF_LINE_END else [0.0])
        cuts = np.broadcast_to(line, (c.size, line.size))  # (m, b): u1's breaks for each c
        if steps:
            near = _clip(np.outer(s, [-6.0, -2.0, 2.0, 6.0]))
            cuts = np.sort(np.concatenate([cuts, near], axis=-1), axis=-1)
        u1, w1 = _segments(np.ascontiguousarray(cuts), nodes)  # (m, k)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            safe_s = np.maximum(s, 1e-300)[:, None]  # (m, 1)
            centre = _clip(np.nan_to_num(-c[:, None] * u1 / safe_s))  # (m, k)
            reach = np.broadcast_to(BEND_Z / (root * safe_s), centre.shape)
            zero = np.zeros_like(centre)
            if (reach >= 2 * HALF_LINE_END).all():  # centre +- reach lie beyond the line's ends
                breaks = np.sort(np.stack([centre, zero], axis=-1), axis=-1)
            else:
                parts = [_clip(centre - reach), centre, _clip(centre + reach), zero]
                breaks = np.sort(np.stack(parts, axis=-1), axis=-1)
            u2, w2 = _segments(breaks, nodes)  # (m, k, j)
            z1 = root * u1
            z2 = root * (c[:, None, None] * u1[..., None] + s[:, None, None] * u2)
            f1, d1 = activation.f(z1, params) * w1, activation.df(z1, params) * w1
            f2, d2 = activation.f(z2, params), activation.df(z2, params)
        # einsum, not BLAS: the same sums in the same order whatever the thread count
        ff[i] = np.einsum("mk,mk->m", (f2 * w2).sum(axis=-1), f1)
        dd[i] = np.einsum("mk,mk->m", (d2 * w2).sum(axis=-1), d1)
        with np.errstate(invalid="ignore", over="ignore"):
            apart = (activation.f(z1, params)[..., None] - f2) ** 2
        gap[i] = 0.5 * np.einsum("mk,mk->m", (apart * w2).sum(axis=-1), w1)
    return ff, dd, gap


@lru_cache(maxsize=64)
def _derivative_jumps(name: str, params: tuple[tuple[str, ParamValue], ...]) -> bool:
    """Whether f' jumps at 0 (ReLU's kinds, ELU with alpha != 1, SELU), read off the activation."""
    side = ACTIVATIONS[name].df(np.array([-1e-9, 1e-9]), dict(params))
    return bool(abs(float(side[1]) - float(side[0])) > 1e-6)


@lru_cache(maxsize=512)  # 2 x 7 x 33 floats each: 2 MB when full
def _decade(name: str, params: tuple[tuple[str, ParamValue], ...], decade: int) -> tuple[Floats, Floats]:
    """D and rho_d at Q_NODES values of log10 q in [decade, decade + 1] times T_NODES of t: arrays
    (Q_NODES, T_NODES), rows by q. D = (1 - rho_f) / (1 - c): the C-map's gap from c = 1 over
    c's, finite at c = 1 (q E[f'^2] / E[f^2], Price's theorem), so the sign of C(c) - c is read
    where both are within 1e-11 of 1. Built on first use (~0.1 s a decade) and kept."""
    q = 10.0 ** (decade + Q_GRID)
    ff, dd, gap = pair_kernels(name, dict(params), q, np.cos(_theta(T_GRID)))
    with np.errstate(divide="ignore", invalid="ignore"):
        one_minus_c = 2.0 * np.sin(_theta(T_GRID[1:]) / 2.0) ** 2  # 1 - cos, exact near 0
        d = np.concatenate([(q * dd[:, 0] / ff[:, 0])[:, None], gap[:, 1:] / ff[:, :1] / one_minus_c], axis=1)
        rho_d = dd / dd[:, :1]  # t = 0 is c = 1
    out = np.nan_to_num(d, nan=0.0), np.nan_to_num(rho_d, nan=1.0)
    for table in out:
        table.flags.writeable = False  # shared by every later request
    return out


def kernels_at(name: str, params: Mapping[str, ParamValue], q: Floats) -> tuple[Floats, Floats]:
    """D and rho_d at each q (n,) on T_GRID: (n, T_NODES) each, interpolated in log10 q between
    the decade's nodes. q must lie within 10^Q_DECADES."""
    key = tuple(sorted(params.items()))
    lq = np.log10(np.asarray(q, dtype=np.float64))
    decade = np.clip(np.floor(lq), Q_DECADES[0], Q_DECADES[1] - 1).astype(int)
    d = np.empty((lq.size, T_NODES))
    rho_d = np.empty((lq.size, T_NODES))
    for k in np.unique(decade).tolist():
        here = decade == k
        table_d, table_rho = _decade(name, key, k)
        terms, sums = _barycentric(lq[here] - k, Q_GRID, Q_WEIGHTS)
        d[here] = np.einsum("pk,kt->pt", terms, table_d) / sums[:, None]
        rho_d[here] = np.einsum("pk,kt->pt", terms, table_rho) / sums[:, None]
    return d, rho_d


MOMENT_STENCIL = 4  # Lagrange points in log q on theory's table: error ~1e-9 relative at 100 a decade


def _moments(name: str, params: Mapping[str, ParamValue], q: Floats) -> Moments:
    """E[f^2] and E[f'^2] at each q (within theory's table), by cubic interpolation in log q on
    the phase diagram's table: the quadrature at 40,000 points cost ~1 s, this ~5 ms. The mean
    is not needed here (left 0)."""
    second, slope2 = _tables(name, tuple(sorted(params.items())))
    step = LOG_Q_GRID[1] - LOG_Q_GRID[0]
    x = (np.log10(q) - LOG_Q_GRID[0]) / step
    base = np.clip(np.floor(x).astype(int) - 1, 0, LOG_Q_GRID.size - MOMENT_STENCIL)
    u = x - base  # in [1, 2) inside the table: the stencil's nodes are 0, 1, 2, 3
    out = []
    for table in (second, slope2):
        total = np.zeros_like(u)
        for k in range(MOMENT_STENCIL):
            basis = np.ones_like(u)
            for j in range(MOMENT_STENCIL):
                if j != k:
                    basis *= (u - j) / (k - j)
            total += basis * table[base + k]
        out.append(total)
    return Moments(np.zeros_like(u), out[0], out[1])


@dataclass(frozen=True)
class GridFixedPoint:
    """c*, C'(c*) and xi_c per point (arrays of the inputs' shape); NaN where there is no value:
    q* is 0 or infinite, or xi_c is infinite (C'(c*) = 1, within rounding)."""

    c_star: Floats
    slope_c_star: Floats
    xi_c: Floats


def fixed_points(
    name: str, params: Mapping[str, ParamValue], sigma_w2: Floats, sigma_b2: Floats, q_star: Floats
) -> GridFixedPoint:
    """correlation_theory.fixed_point's c*, C'(c*) and xi_c for arrays of (sigma_w^2, sigma_b^2,
    q*) at once (equal within ~1e-7 in c*)."""
    w2, b2, q = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (sigma_w2, sigma_b2, q_star)))
    shape = q.shape
    w2, b2, q = w2.ravel(), b2.ravel(), q.ravel()
    c_star = np.full(q.size, np.nan)
    slope = np.full(q.size, np.nan)
    lo_q, hi_q = 10.0 ** Q_DECADES[0], 10.0 ** Q_DECADES[1]
    valid = np.isfinite(q) & (q > 0) & (q < Q_MAX) & (name not in NO_C_MAP)
    valid &= (q >= lo_q * (1 - 1e-12)) & (q <= hi_q * (1 + 1e-12))
    if valid.any():
        m = _moments(name, params, q[valid])
        chi1 = w2[valid] * m.slope2
        c_star[valid], slope[valid] = 1.0, chi1  # ordered: c* = 1, C'(1) = chi1
        chaotic = np.flatnonzero(valid)[chi1 > 1.0]
        if chaotic.size:
            second = m.second[chi1 > 1.0]
            c, rho_d = _chaotic_roots(name, params, w2[chaotic], b2[chaotic], q[chaotic], second)
            c_star[chaotic], slope[chaotic] = c, chi1[chi1 > 1.0] * rho_d
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = np.where((slope > 0) & (slope < 1.0 - 1e-9), -1.0 / np.log(slope), np.nan)
    return GridFixedPoint(c_star.reshape(shape), slope.reshape(shape), xi.reshape(shape))


def _chaotic_roots(
    name: str, params: Mapping[str, ParamValue], w2: Floats, b2: Floats, q: Floats, second: Floats
) -> tuple[Floats, Floats]:
    """The root c* in [0, 1) of C(c) = c per point (chi1 > 1), and rho_d there, for every point at
    once. C(c) - c = (1 - c) g(t) with g = 1 - (sigma_w^2 E[f^2] / q') D(t): g(0) = 1 - chi1 q / q'
    < 0 and g(1) = C(0) >= 0, so the first node where g >= 0 brackets the root, which regula falsi
    (the Illinois variant) then closes on the interpolant."""
    d, rho_d = kernels_at(name, params, q)
    ratio = w2 * second / (w2 * second + b2)
    index = np.arange(q.size)
    at_nodes = 1.0 - ratio[:, None] * d
    rising = at_nodes >= 0.0
    first = np.argmax(rising, axis=1)
    # g(1) = C(0) >= 0 but rounding can leave it a hair below where c* = 0 (odd f, sigma_b = 0);
    # and g(0) >= 0 is chi1 within rounding of 1: c* = 1 there.
    first = np.where(rising.any(axis=1), first, T_NODES - 1)
    lo_t, hi_t = T_GRID[np.maximum(first - 1, 0)], T_GRID[first]  # g(lo) < 0 <= g(hi)
    lo_h, hi_h = at_nodes[index, np.maximum(first - 1, 0)], at_nodes[index, first]
    side = np.zeros(q.size)  # which end stayed put last step: -1 low, +1 high (Illinois)
    t = hi_t.copy()
    live = np.flatnonzero(first > 0)  # points still closing in; each leaves once its g is ~0
    for _ in range(REGULA_FALSI_STEPS):
        if live.size == 0:
            break
        lt, ht_, lh, hh = lo_t[live], hi_t[live], lo_h[live], hi_h[live]
        with np.errstate(divide="ignore", invalid="ignore"):
            guess = np.where(hh != lh, (lt * hh - ht_ * lh) / (hh - lh), 0.5 * (lt + ht_))
        guess = np.clip(np.nan_to_num(guess, nan=0.5), lt, ht_)
        value = 1.0 - ratio[live] * _at(guess, d[live])
        t[live] = guess
        up = value >= 0.0
        # The end kept twice running has its g halved, so the estimate moves past it.
        lh = np.where(up & (side[live] == -1), 0.5 * lh, lh)
        hh = np.where(~up & (side[live] == 1), 0.5 * hh, hh)
        hi_t[live], hi_h[live] = np.where(up, guess, ht_), np.where(up, value, hh)
        lo_t[live], lo_h[live] = np.where(up, lt, guess), np.where(up, lh, value)
        side[live] = np.where(up, -1.0, 1.0)
        live = live[(np.abs(value) >= 1e-14) & (hi_t[live] - lo_t[live] > 1e-13)]
    return np.cos(_theta(t)), _at(t, rho_d)


def _at(t: Floats, values: Floats) -> Floats:
    """Each point's interpolant in t (values on T_GRID, one row per point) at its own t."""
    terms, sums = _barycentric(t, T_GRID, T_WEIGHTS)
    return np.asarray(np.einsum("ij,ij->i", terms, values) / sums)


@lru_cache(maxsize=32)
def xi_c_diagram(
    name: str,
    params: tuple[tuple[str, ParamValue], ...],
    sigma_w: tuple[float, ...],
    sigma_b: tuple[float, ...],
    q0: float = 1.0,
) -> GridFixedPoint:
    """fixed_points over phase_diagram's grid (rows: sigma_b, columns: sigma_w) at its q*,
    started at q0. Kept per request: the grid of 200 x 200 costs ~1 s."""
    w = np.asarray(sigma_w, dtype=np.float64)
    b = np.asarray(sigma_b, dtype=np.float64)
    p = dict(params)
    _, q_star = phase_diagram(name, p, w, b, q0)
    return fixed_points(name, p, (w * w)[None, :], (b * b)[:, None], q_star)


def log10_xi(xi: Floats) -> list[list[float | None]]:
    """log10 xi_c rounded to 4 places, None where xi_c has no value (rows as the grid's)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(xi)
    return [[round(v, 4) if math.isfinite(v) else None for v in row] for row in out.tolist()]
