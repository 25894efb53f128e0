"""Mean-field correlation map (Poole et al. 2016; depth scales of Schoenholz et al. 2017).

Two inputs of equal squared norm N0 q_in and correlation c0 give pre-activations that are, in a
wide random network, jointly Gaussian with variance q_l each and correlation c_l, where

    c_1 = (sigma_w^2 q_in c0 + sigma_b^2) / q_1,
    c_{l+1} = (sigma_w^2 E[f(z1) f(z2)] + sigma_b^2) / q_{l+1},   z1, z2 ~ N(0, q_l), corr c_l

and q_{l+1} = sigma_w^2 E[f(z)^2] + sigma_b^2 is the variance map of theory.py (the same integral
at c = 1, so c = 1 maps to 1 exactly). At the fixed point q* this is Poole's C-map; it always has
c = 1 as a fixed point, with slope chi1 = C'(1) = sigma_w^2 E[f'(z)^2]: ordered networks
(chi1 < 1) send every pair to c = 1, chaotic ones (chi1 > 1) to a c* < 1. Depth scales:
xi_q = -1 / log G'(q*) with G the variance map (G'(q*) = chi1 + sigma_w^2 E[f f''], found here by
differentiating G numerically, so no f'' is needed) and xi_c = -1 / log C'(c*) with
C'(c) = sigma_w^2 E[f'(z1) f'(z2)].

The two-dimensional expectation is Gauss-Legendre quadrature with u1, u2 ~ N(0, 1),
z1 = sqrt(q) u1 and z2 = sqrt(q) (c u1 + s u2), s = sqrt(1 - c^2): u1's line splits at 0 (the kink
of ReLU-like f) and at |z1| = BEND_Z (where f bends, for large q), and for each u1 the u2 line splits
likewise around the point where z2 = 0. Maxout (a max over pieces) has no closed C-map here: it
says so instead of predicting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache

import numpy as np
from numpy.typing import NDArray

from .layers.activations import ACTIVATIONS, normal_pdf
from .network.config import RunConfig
from .network.inputs import INPUTS
from .params import ParamValue
from .theory import BEND_Z, HALF_LINE_END, Q_MAX, moments, run_theory

Floats = NDArray[np.float64]
SEGMENT_NODES = 24  # Gauss-Legendre nodes per segment; 4 segments on u1's line, 5 on u2's
ROOT_GRID = 401  # c values where the chaotic fixed point c* < 1 is looked for, then bisected
NO_C_MAP = {"maxout": "no C-map prediction for maxout (the max over pieces has no 2-D closed form here)"}


@cache
def _legendre(nodes: int = SEGMENT_NODES) -> tuple[Floats, Floats]:
    x, w = np.polynomial.legendre.leggauss(nodes)
    return (x + 1.0) / 2.0, w / 2.0  # on [0, 1]


def _segments(breaks: Floats, nodes: int = SEGMENT_NODES) -> tuple[Floats, Floats]:
    """Nodes and weights (times the normal density) on [-END, END] split at `breaks` (..., k),
    sorted, inside the line: returns arrays (..., (k + 1) * nodes)."""
    t, wt = _legendre(nodes)
    edges = np.concatenate(
        [
            np.full((*breaks.shape[:-1], 1), -HALF_LINE_END),
            breaks,
            np.full((*breaks.shape[:-1], 1), HALF_LINE_END),
        ],
        axis=-1,
    )
    start, span = edges[..., :-1, None], np.diff(edges, axis=-1)[..., None]  # (..., k + 1, 1)
    u = start + span * t
    w = span * wt * normal_pdf(u)
    return u.reshape(*u.shape[:-2], -1), w.reshape(*w.shape[:-2], -1)


def _clip(x: Floats) -> Floats:
    return np.clip(x, -HALF_LINE_END, HALF_LINE_END)


def pair_expectation(
    name: str, params: Mapping[str, ParamValue], q: float, c: Floats, derivative: bool = False
) -> Floats:
    """E[g(z1) g(z2)] for z1, z2 ~ N(0, q) with correlation c (an array), g = f or f' (derivative)."""
    c = np.clip(np.asarray(c, dtype=np.float64), -1.0, 1.0)
    root = math.sqrt(q)
    s = np.sqrt(np.maximum(1.0 - c * c, 0.0))
    bend = min(BEND_Z / root, HALF_LINE_END) if root > 0 else HALF_LINE_END
    u1, w1 = _segments(np.array([-bend, 0.0, bend]))  # (n,)
    activation = ACTIVATIONS[name]
    g = activation.df if derivative else activation.f
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # Per c and per u1 node, where z2 = 0 on the u2 line and how far from it f bends.
        safe_s = np.maximum(s, 1e-300)[:, None]
        centre = _clip(np.nan_to_num(-c[:, None] * u1[None, :] / safe_s))  # (nc, n)
        reach = np.where(root * safe_s > 0, BEND_Z / (root * safe_s), np.inf)
        reach = np.broadcast_to(reach, centre.shape)
        # 0 as well: one segment of SEGMENT_NODES over the whole line is only good to 6e-4
        zero = np.zeros_like(centre)
        breaks = np.sort(
            np.stack([_clip(centre - reach), centre, _clip(centre + reach), zero], axis=-1), axis=-1
        )
        u2, w2 = _segments(breaks)  # (nc, n, m)
        z1 = root * u1
        z2 = root * (c[:, None, None] * u1[None, :, None] + s[:, None, None] * u2)
        g1 = g(z1, params)
        g2 = g(z2, params)
    inner = (g2 * w2).sum(axis=-1)  # (nc, n): E over u2 of g(z2) given u1
    return np.asarray(inner @ (g1 * w1), dtype=np.float64)


def c_map(
    name: str, params: Mapping[str, ParamValue], sigma_w2: float, sigma_b2: float, q: float, c: Floats
) -> tuple[Floats, float]:
    """The correlation after one layer, for pre-activations of variance q and correlation c, and the
    next variance q' (the same integral at c = 1)."""
    both = pair_expectation(name, params, q, np.append(np.asarray(c, dtype=np.float64), 1.0))
    q_next = sigma_w2 * float(both[-1]) + sigma_b2
    with np.errstate(divide="ignore", invalid="ignore"):
        return (sigma_w2 * both[:-1] + sigma_b2) / q_next, q_next


@dataclass(frozen=True)
class FixedPoint:
    """The C-map at the hidden layers' fixed point q*: None where there is none to speak of."""

    q_star: float | None
    c_star: float | None  # the stable correlation: 1 when chi1 <= 1
    chi1: float | None  # C'(1) = sigma_w^2 E[f'(z)^2] at q*
    slope_c_star: float | None  # C'(c*) = sigma_w^2 E[f'(z1) f'(z2)]
    xi_q: float | None  # depth scale of the variance's approach to q*; None where it diverges
    xi_c: float | None  # depth scale of the correlation's approach to c*; None where it diverges


@dataclass(frozen=True)
class CorrelationTheory:
    c0: tuple[float, ...]
    predicted: tuple[tuple[float | None, ...], ...]  # [layer][c0]: predicted c of the pre-activations
    q: tuple[float, ...]  # predicted q per layer (the variance map, as theory.run_theory)
    fixed: FixedPoint
    note: str = ""


def _depth_scale(slope: float) -> float | None:
    """-1 / log(slope) for 0 < slope < 1; None (infinite or undefined) otherwise."""
    # Within rounding of 1 (ReLU's linear variance map at sigma_w^2 = 2): infinite, not 1e12 layers.
    if not (0.0 < slope < 1.0 - 1e-9) or not math.isfinite(slope):
        return None
    return -1.0 / math.log(slope)


def fixed_point(
    name: str, params: Mapping[str, ParamValue], sigma_w2: float, sigma_b2: float, q_star: float | None
) -> FixedPoint:
    if q_star is None or not (0.0 < q_star < Q_MAX) or name in NO_C_MAP:
        return FixedPoint(q_star, None, None, None, None, None)
    chi1 = sigma_w2 * float(moments(name, params, np.array(q_star)).slope2)
    h = 1e-4 * q_star
    second = moments(name, params, np.array([q_star - h, q_star + h])).second
    g_slope = sigma_w2 * float(second[1] - second[0]) / (2 * h)
    c_star = 1.0
    if chi1 > 1.0:
        # Chaotic: C(c) > c below c* and C(c) < c between c* and 1; the last + to - change below 1.
        grid = np.linspace(-1.0, 1.0, ROOT_GRID)[:-1]
        gap = c_map(name, params, sigma_w2, sigma_b2, q_star, grid)[0] - grid
        falls = np.flatnonzero((gap[:-1] > 0) & (gap[1:] <= 0))
        if falls.size:
            lo, hi = float(grid[falls[-1]]), float(grid[falls[-1] + 1])
            for _ in range(40):
                mid = 0.5 * (lo + hi)
                if float(c_map(name, params, sigma_w2, sigma_b2, q_star, np.array([mid]))[0][0]) > mid:
                    lo = mid
                else:
                    hi = mid
            c_star = 0.5 * (lo + hi)
        else:  # C(c) > c all the way up: the only attractor is still 1 (chi1 within rounding of 1)
            c_star = 1.0
    slope_c = sigma_w2 * float(pair_expectation(name, params, q_star, np.array([c_star]), derivative=True)[0])
    return FixedPoint(q_star, c_star, chi1, slope_c, _depth_scale(g_slope), _depth_scale(slope_c))


def run_correlation_theory(run: RunConfig, c0: Sequence[float]) -> CorrelationTheory:
    """Predicted pre-activation correlation per layer for input pairs of correlation c0 whose
    features have the run's E[x^2], and the C-map's fixed point for the run's hidden layers."""
    # A prediction of the distribution: seed, samples and label play no part (as run_theory).
    return _run_correlation_theory(replace(run, seed=0, samples=1, label=None), tuple(float(c) for c in c0))


@lru_cache(maxsize=64)
def _run_correlation_theory(run: RunConfig, c0: tuple[float, ...]) -> CorrelationTheory:
    theory = run_theory(run)
    sigma_b2 = theory.sigma_b2
    q_in = INPUTS[run.input].second_moment(run.input_params())
    starts = np.asarray(c0, dtype=np.float64)
    hidden_w2 = theory.sigma_w2[1] if run.depth > 1 else theory.sigma_w2[0]
    fixed = fixed_point(run.activation, run.activation_params(), hidden_w2, sigma_b2, theory.q_star)
    notes = [theory.note] if theory.note else []
    q = theory.sigma_w2[0] * q_in + sigma_b2
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (theory.sigma_w2[0] * q_in * starts + sigma_b2) / q
    rows: list[tuple[float | None, ...]] = []
    qs = [q]
    for j in range(run.depth):
        rows.append(tuple(float(x) if math.isfinite(x) else None for x in c))
        if j == run.depth - 1:
            break
        name = run.activation_at(j)
        if name in NO_C_MAP or not (0.0 < q < Q_MAX):
            if name in NO_C_MAP:
                notes.append(NO_C_MAP[name])
            rows.extend(tuple(None for _ in starts) for _ in range(run.depth - 1 - j))
            qs.extend(layer.q for layer in theory.layers[j + 1 :])
            break
        c, q = c_map(name, run.activation_params_at(j), theory.sigma_w2[j + 1], sigma_b2, q, c)
        qs.append(q)
    return CorrelationTheory(tuple(float(x) for x in starts), tuple(rows), tuple(qs), fixed, "; ".join(notes))
