"""Pairs of inputs with a chosen correlation, and the correlation of their pre-activations.

The correlation of two pre-activation vectors is measured as the mean-field theory defines it,
q12 / sqrt(q11 q22) with q_ab = z_a . z_b / N (no mean subtracted: the theory's z have mean 0),
and averaged over independent pairs, whose spread (sd across pairs) goes with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ..params import ConfigError

Array = NDArray[np.floating]


def pair_inputs(
    c0: Sequence[float], pairs: int, dim: int, second_moment: float, rng: np.random.Generator
) -> NDArray[np.float32]:
    """Rows x1, x2 of each pair, for each c0 in turn and then each pair: 2 len(c0) pairs rows.

    Both rows of a pair have squared norm dim * second_moment (each feature's E[x^2] is the run's)
    and correlation exactly c0: x2 = c0 x1 + sqrt(1 - c0^2) y with y orthogonal to x1, of x1's norm.
    """
    if dim < 2:
        raise ConfigError("input_dim", "must be at least 2 for pairs of inputs with a chosen correlation")
    rows = np.empty((2 * len(c0) * pairs, dim), dtype=np.float64)
    scale = math.sqrt(dim * second_moment)
    for i, c in enumerate(c0):
        g = rng.standard_normal((pairs, 2, dim))
        a = g[:, 0] / np.linalg.norm(g[:, 0], axis=1, keepdims=True)
        b = g[:, 1] - (g[:, 1] * a).sum(axis=1, keepdims=True) * a
        b /= np.linalg.norm(b, axis=1, keepdims=True)
        start = 2 * i * pairs
        rows[start : start + 2 * pairs : 2] = scale * a
        rows[start + 1 : start + 2 * pairs : 2] = scale * (c * a + math.sqrt(max(1.0 - c * c, 0.0)) * b)
    return rows.astype(np.float32)


def pair_correlations(z: Array, groups: int, pairs: int) -> tuple[list[float | None], list[float | None]]:
    """Per group (c0) of `pairs` consecutive row pairs of z: the mean correlation over the pairs and
    its sd across them (None where a vector is all zeros or holds NaN or inf)."""
    z64 = z.reshape(z.shape[0], -1).astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        first, second = z64[0::2], z64[1::2]
        cross = (first * second).sum(axis=1)
        norms = np.sqrt((first * first).sum(axis=1) * (second * second).sum(axis=1))
        c = cross / norms
    means: list[float | None] = []
    sds: list[float | None] = []
    for group in c.reshape(groups, pairs):
        if not np.isfinite(group).all():
            means.append(None)
            sds.append(None)
            continue
        means.append(float(group.mean()))
        sds.append(float(group.std()))
    return means, sds
