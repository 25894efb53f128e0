"""The input-output Jacobian of a network, carried forward layer by layer, and its spectrum.

J_l = da_l / dx at a sample input is built in forward mode, J_l = D_l W_l^T J_{l-1} with
D_l = diag(f'(z_l)) (maxout: the winning piece's column), in float64 so that the products of
many layers keep their small singular values.

Exact: J is carried on all N0 input directions and its singular values come from LAPACK's SVD.
Randomized (when the input or a layer is wider than EXACT_MAX): J is carried on K random
orthonormal input directions Q (N0 x K, from the QR of a Gaussian matrix) only, and the spectrum
reported is that of J Q, J restricted to a random K-dimensional subspace of inputs. By Cauchy's
interlacing theorem its singular values lie within J's (sigma_i(J Q) <= sigma_i(J), and
sigma_i(J Q) >= sigma_{i + N0 - K}(J)), so its max and min bound J's from inside, and
(N0 / K) ||J Q||_F^2 is an unbiased estimate of tr(J^T J) (Hutchinson's estimator with
orthonormal probes), from which the mean squared singular value is reported. It costs K / N0 of
the exact carry and an SVD of N_l x K instead of N_l x N0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..layers.activations import Activation, Params

Array = NDArray[np.floating]
Floats = NDArray[np.float64]
EXACT_MAX = 1024  # widths (and input dims) up to this get the exact SVD
RANDOM_DIRECTIONS = 256  # K, the random input directions beyond it


def directions(input_dim: int, widest: int, rng: np.random.Generator) -> Floats | None:
    """None for the exact method (every input direction); else K orthonormal random directions."""
    if max(input_dim, widest) <= EXACT_MAX or input_dim <= RANDOM_DIRECTIONS:
        return None
    q, r = np.linalg.qr(rng.standard_normal((input_dim, RANDOM_DIRECTIONS)))
    return np.asarray(q * np.sign(np.diag(r)), dtype=np.float64)


def carry(
    jac: Floats | None,
    probes: Floats | None,
    weights: Array,
    z: Array,
    activation: Activation,
    params: Params,
    pieces: int,
) -> Floats:
    """J of this layer's output, (samples, units, K), from the previous one's (None: the input
    layer, where J is the identity or the probes), the layer's weights (fan_in, pieces * units)
    and its pre-activations z at the samples (samples, pieces * units)."""
    w_t = weights.astype(np.float64).T  # (pieces * units, fan_in)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        # J_0 = I (or Q): the first product is W^T itself (or W^T Q), the same for every sample.
        dz = (w_t if probes is None else w_t @ probes)[None, :, :] if jac is None else np.matmul(w_t, jac)
        samples = z.shape[0]
        if pieces > 1:
            units = z.shape[1] // pieces
            mask = activation.df(z.reshape(samples, pieces, units), params).astype(np.float64)
            dz = np.broadcast_to(dz, (samples, *dz.shape[1:])).reshape(samples, pieces, units, -1)
            return np.asarray((dz * mask[..., None]).sum(axis=1), dtype=np.float64)
        slope = activation.df(z, params).astype(np.float64)
        return np.asarray(slope[:, :, None] * dz, dtype=np.float64)


@dataclass(frozen=True)
class Spectrum:
    """Singular values of J (or of J Q) pooled over the sample inputs."""

    min: float  # the smallest above the numerical rank's threshold
    max: float
    spread: float | None  # max / min; None when every value is zero
    var_sq: float  # variance of the squared singular values
    zeros: int  # values at or below max * max(N_l, K) * eps (rank-deficient directions)
    count: int
    log10_edges: Floats  # histogram of log10 sigma over the values above the threshold
    counts: NDArray[np.int64]


def squared_norm(jac: Floats) -> Floats:
    """||J||_F^2 per sample (the sum of squared singular values)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(np.einsum("sij,sij->s", jac, jac), dtype=np.float64)


def mean_squared_singular_value(jac: Floats, input_dim: int) -> float:
    """tr(J^T J) / min(N0, N_l) averaged over the samples, with tr scaled by N0 / K when J was
    carried on K < N0 random directions (an unbiased estimate of J's)."""
    _, units, k = jac.shape
    trace = float(squared_norm(jac).mean()) * input_dim / k
    return float(trace / min(input_dim, units))


def singular_values(jac: Floats) -> Floats | None:
    """Every sample's singular values, pooled; None when J holds NaN or inf."""
    if not np.isfinite(jac).all():
        return None
    return np.asarray(np.linalg.svd(jac, compute_uv=False).ravel(), dtype=np.float64)


def spectrum(jac: Floats, bins: int) -> Spectrum | None:
    """The pooled singular values' statistics and histogram; None when J holds NaN or inf."""
    values = singular_values(jac)
    return None if values is None else summarize_spectrum(values, max(jac.shape[1], jac.shape[2]), bins)


def summarize_spectrum(values: Floats, size: int, bins: int) -> Spectrum:
    """Statistics and histogram of singular values of matrices whose larger side is `size` (for
    the numerical-rank threshold), pooled from any number of them."""
    top = float(values.max()) if values.size else 0.0
    threshold = top * size * np.finfo(np.float64).eps
    kept = values[values > threshold]
    zeros = int(values.size - kept.size)
    squares = values * values
    if kept.size == 0:
        return Spectrum(
            0.0, 0.0, None, float(squares.var()), zeros, int(values.size), np.zeros(0), np.zeros(0, np.int64)
        )
    logs = np.log10(kept)
    low, high = float(logs.min()), float(logs.max())
    if high - low < 1e-9:  # all equal (orthogonal linear layers): a bin of width 0.1 around them
        low, high = low - 0.05, high + 0.05
    counts, edges = np.histogram(logs, bins=bins, range=(low, high))
    low_value = float(kept.min())
    return Spectrum(
        min=low_value,
        max=top,
        spread=top / low_value if low_value > 0 else None,
        var_sq=float(squares.var()),
        zeros=zeros,
        count=int(values.size),
        log10_edges=edges,
        counts=counts.astype(np.int64),
    )


def spectrum_layers(depth: int, most: int) -> tuple[int, ...]:
    """1-based layers whose full spectrum is computed: `most` of them, evenly spaced, ending at the last."""
    if depth <= most:
        return tuple(range(1, depth + 1))
    return tuple(sorted({max(1, math.ceil(depth * (i + 1) / most)) for i in range(most)}))


# Layer by layer, for layer networks (network/diagnostics.py): J of a layer's output from J of its
# input, one function per layer type. J is (samples, units, K); at the network's input it is None
# (the identity, or the probes), and a dense layer's product with it is the same for every sample
# (1, units, K) until an activation or a norm makes it per sample.


def dense_jvp(jac: Floats | None, probes: Floats | None, weights: Array) -> Floats:
    """J of z = a W + b: W^T J (W^T, or W^T Q, at the input)."""
    w_t = weights.astype(np.float64).T
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if jac is None:
            return (w_t if probes is None else w_t @ probes)[None, :, :]
        return np.asarray(np.matmul(w_t, jac), dtype=np.float64)


def activation_jvp(jac: Floats, z: Array, activation: Activation, params: Params, pieces: int) -> Floats:
    """J of f(z): diag f'(z) J (maxout: each unit's winning piece's rows of J)."""
    samples = z.shape[0]
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if pieces > 1:
            units = z.shape[1] // pieces
            mask = activation.df(z.reshape(samples, pieces, units), params).astype(np.float64)
            split = jac.reshape(jac.shape[0], pieces, units, jac.shape[-1])
            return np.asarray(
                np.einsum("spu,spuk->suk", mask, np.broadcast_to(split, (samples, *split.shape[1:])))
            )
        slope = activation.df(z, params).astype(np.float64)
        return np.asarray(slope[:, :, None] * jac, dtype=np.float64)


def norm_jvp(jac: Floats, xhat: Array, inv: Array, gamma: Array, per_sample: bool, centred: bool) -> Floats:
    """J of y = gamma x-hat. Per sample (LayerNorm, RMSNorm, over each sample's n units):
    dx-hat = inv (dx - mean_u(dx) - x-hat <x-hat, dx> / n), the mean term only when centred. Per
    unit over a batch (BatchNorm) with the batch's statistics held fixed: dx-hat = inv dx."""
    x64 = xhat.astype(np.float64)
    scale = inv.astype(np.float64)
    jac = np.broadcast_to(jac, (xhat.shape[0], *jac.shape[1:]))  # the input's J is every sample's
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if not per_sample:
            out = jac * scale.reshape(1, -1, 1)
        else:
            n = xhat.shape[1]
            out = jac - jac.mean(axis=1, keepdims=True) if centred else jac.copy()
            along = np.einsum("su,suk->sk", x64, jac) / n
            out -= x64[:, :, None] * along[:, None, :]
            out *= scale.reshape(-1, 1, 1)
        out *= gamma.astype(np.float64)[None, :, None]  # in place: J is the largest array here
        return np.asarray(out, dtype=np.float64)
