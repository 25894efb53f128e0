"""Activation functions: each one's forward formula, derivative, bounds and gain side by side.

Elementwise activations map z of shape (samples, units) to an array of the same shape. Maxout is
the one that is not elementwise: its z has shape (samples, pieces, units) and it takes the max
over the pieces axis; its derivative is the one-hot mask of the winning piece.

What the measurements mean for maxout (Goodfellow et al. 2013; k = `pieces`, 2 by default):
- z, the "pre" histogram, holds every piece's value, k per unit and sample (the losing ones too),
  not only the winner's: the winners' values are f(z), the "post" histogram.
- dL/dz, the gradient histogram, is likewise k per unit and sample: the winning piece's entry
  carries the unit's gradient with slope 1, the k - 1 others are exactly 0.
- dead: as for every activation, a unit whose output is exactly 0 on every sample. A maxout unit
  never is, except by accident, and its gradient always passes through one piece. A *piece* can
  die, though: one that wins on no sample gets no gradient (measure/pieces.py counts them).
- saturated: an activation bounded on both sides near either bound. Maxout is unbounded both ways
  (its bounds are None), so its saturated fraction is null: there is nothing to saturate at.
- the price: k weight sets, k times a plain layer's weights and biases (cost.parameter_count).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from numpy.typing import NDArray

from ..params import ParamSpec, ParamValue
from . import activation_kernels

Array = NDArray[np.floating]
Params = Mapping[str, ParamValue]
Bounds = tuple[float | None, float | None]

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_ERFC_COEFFS = (
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
    0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
)  # fmt: skip


def sigmoid(x: Array) -> Array:
    # 0.5 * (1 + tanh(x / 2)) equals 1 / (1 + e^-x) but never overflows: sigmoid(+-1000) is 1 / 0.
    # 0.5 + 0.5 * tanh(0.5 * x) step by step in one array: the same bits, no temporaries; the
    # steps after tanh in one compiled loop.
    out: Array = np.multiply(x, 0.5, order="C")
    if not isinstance(out, np.ndarray) or out.ndim == 0:  # a scalar: no array to reuse
        result: Array = 0.5 + 0.5 * np.tanh(out)
        return result
    np.tanh(out, out=out)
    return activation_kernels.half_plus_half(out)


def erf(x: Array) -> Array:
    """Error function with fractional error below 1.2e-7 (Numerical Recipes' Chebyshev fit of erfc).

    NumPy has no erf; this accuracy is far below float32 resolution, so GELU needs no SciPy.
    |x| is capped at 10 (erf(10) = 1 in double; z * z cannot overflow).
    """
    return activation_kernels.erf(x, _ERFC_COEFFS, 10.0)


def normal_cdf(x: Array) -> Array:
    return 0.5 * (1.0 + erf(x * _SQRT_HALF))


def normal_pdf(x: Array) -> Array:
    # |x| capped at 40: the density is 0 in double beyond 40; z * z cannot overflow
    return activation_kernels.normal_pdf(x, _INV_SQRT_2PI, 40.0)


def _maxout(z: Array) -> Array:
    out: Array = z.max(axis=-2)
    return out


def _maxout_grad(z: Array) -> Array:
    # One-hot mask of the winning piece (the first one on ties), same shape as z.
    winner = z.argmax(axis=-2)
    mask = np.zeros_like(z)
    np.put_along_axis(mask, np.expand_dims(winner, -2), 1.0, axis=-2)
    return mask


@dataclass(frozen=True)
class Activation:
    name: str
    formula: str
    f: Callable[[Array, Params], Array]
    df: Callable[[Array, Params], Array]
    bounds: Callable[[Params], Bounds]
    params: tuple[ParamSpec, ...] = ()
    torch_gain: Callable[[Params], float] | None = None
    note: str = ""
    monotone: bool = field(default=True)
    # z += bias (when there is one) and f(z) into `out` in one compiled pass, for a layer's 2-D
    # C-contiguous z (forward.py); None: the bias is added, then f applied, by NumPy
    layer: Callable[[Array, Array | None, Params, Array], None] | None = None

    def pieces(self, params: Params) -> int:
        """How many affine maps feed one unit (maxout's k; 1 for elementwise activations)."""
        return int(params.get("pieces", 1))

    def gain(self, params: Params) -> float:
        """torch.nn.init.calculate_gain where PyTorch defines one; otherwise the gain that keeps
        the second moment: 1 / sqrt(E[f(u)^2]) for u ~ N(0, 1)."""
        if self.torch_gain is not None:
            return self.torch_gain(params)
        return _second_moment_gain(self.name, tuple(sorted(params.items())))

    def is_bounded(self, params: Params) -> bool:
        low, high = self.bounds(params)
        return low is not None and high is not None


def _fixed(low: float | None, high: float | None) -> Callable[[Params], Bounds]:
    return lambda _params: (low, high)


ALPHA_LEAKY = ParamSpec(
    "alpha",
    0.01,
    "slope for z < 0 (the texts' 0.01; 'the algorithm may choose another')",
    low=0.0,
    high=1.0,
)
ALPHA_ELU = ParamSpec("alpha", 1.0, "ELU's saturation value for z -> -inf is -alpha", low=0.0, high=10.0)
PIECES = ParamSpec("pieces", 2, "number of affine maps whose maximum a unit takes", kind="int", low=2, high=8)


def _f_float(p: Params, key: str) -> float:
    return float(p[key])


_ACTIVATION_LIST = [
    Activation(
        "sigmoid",
        "σ(z) = 1 / (1 + e^(−z)),  σ′ = σ (1 − σ)",
        lambda z, p: sigmoid(z),
        lambda z, p: (lambda s: s * (1.0 - s))(sigmoid(z)),
        _fixed(0.0, 1.0),
        torch_gain=lambda p: 1.0,
        note="saturates at both ends and is not zero-centred",
        layer=lambda z, b, p, out: activation_kernels.sigmoid_layer(z, b, out),
    ),
    Activation(
        "tanh",
        "tanh(z),  tanh′ = 1 − tanh²",
        lambda z, p: np.tanh(z),
        lambda z, p: 1.0 - np.tanh(z) ** 2,
        _fixed(-1.0, 1.0),
        torch_gain=lambda p: 5.0 / 3.0,
        note="zero-centred, still saturates",
    ),
    Activation(
        "relu",
        "max(0, z)",
        lambda z, p: activation_kernels.relu(z),
        lambda z, p: (z > 0).astype(z.dtype),
        _fixed(0.0, None),
        torch_gain=lambda p: math.sqrt(2.0),
        note="a unit negative for every sample is dead: zero gradient forever",
        layer=lambda z, b, p, out: activation_kernels.relu_layer(z, b, out),
    ),
    Activation(
        "leaky_relu",
        "max(α z, z)",
        lambda z, p: activation_kernels.leaky_relu(z, _f_float(p, "alpha")),
        lambda z, p: activation_kernels.leaky_relu_slope(z, _f_float(p, "alpha")),
        _fixed(None, None),
        params=(ALPHA_LEAKY,),
        torch_gain=lambda p: math.sqrt(2.0 / (1.0 + _f_float(p, "alpha") ** 2)),
        note="no dead units",
        layer=lambda z, b, p, out: activation_kernels.leaky_relu_layer(z, b, _f_float(p, "alpha"), out),
    ),
    Activation(
        "elu",
        "z if z > 0 else α (e^z − 1)",
        lambda z, p: activation_kernels.elu(z, _f_float(p, "alpha")),
        lambda z, p: activation_kernels.elu_slope(z, _f_float(p, "alpha")),
        lambda p: (-_f_float(p, "alpha"), None),
        params=(ALPHA_ELU,),
    ),
    Activation(
        "selu",
        "λ · elu(z, α) with λ ≈ 1.0507, α ≈ 1.6733",
        lambda z, p: activation_kernels.elu(z, SELU_ALPHA, SELU_SCALE),
        lambda z, p: activation_kernels.elu_slope(z, SELU_ALPHA, SELU_SCALE),
        _fixed(-SELU_SCALE * SELU_ALPHA, None),
        torch_gain=lambda p: 0.75,
        note="self-normalizing with LeCun normal initialization",
    ),
    Activation(
        "gelu",
        "z · Φ(z)  (Φ: the standard normal CDF)",
        lambda z, p: z * normal_cdf(z),
        lambda z, p: normal_cdf(z) + z * normal_pdf(z),
        _fixed(-0.17, None),
        monotone=False,
    ),
    Activation(
        "silu",
        "z · σ(z)  (also called swish)",
        lambda z, p: z * sigmoid(z),
        lambda z, p: (lambda s: s * (1.0 + z * (1.0 - s)))(sigmoid(z)),
        _fixed(-0.2785, None),
        monotone=False,
    ),
    Activation(
        "softplus",
        "log(1 + e^z),  derivative σ(z)",
        lambda z, p: np.logaddexp(0, z).astype(z.dtype, copy=False),
        lambda z, p: sigmoid(z),
        _fixed(0.0, None),
    ),
    Activation(
        "linear",
        "z",
        lambda z, p: z.copy(),
        lambda z, p: np.ones_like(z),
        _fixed(None, None),
        torch_gain=lambda p: 1.0,
    ),
    Activation(
        "maxout",
        "max_k (a · W_k + b_k)  over k = 1..pieces, each piece with its own weights",
        lambda z, p: _maxout(z),
        lambda z, p: _maxout_grad(z),
        _fixed(None, None),
        params=(PIECES,),
        note="neither dead units nor saturation, at the price of k = pieces weight sets per layer; "
        "z and dL/dz histograms hold every piece (the losing pieces' dL/dz is 0)",
        monotone=False,
    ),
]

ACTIVATIONS: dict[str, Activation] = {a.name: a for a in _ACTIVATION_LIST}


@cache
def _second_moment_gain(name: str, params: tuple[tuple[str, ParamValue], ...]) -> float:
    """1 / sqrt(E[f(u)^2]), u ~ N(0, 1), by the trapezoid rule on a fine grid (the integrands
    have kinks at 0, where Gauss-Hermite converges slowly)."""
    activation = ACTIVATIONS[name]
    p = dict(params)
    u = np.linspace(-12.0, 12.0, 48_001)
    density = normal_pdf(u)
    k = activation.pieces(p)
    if k > 1:
        # The max of k iid N(0, 1) has density k φ(u) Φ(u)^(k-1); maxout takes that max.
        second = np.trapezoid(u * u * k * density * normal_cdf(u) ** (k - 1), u)
    else:
        second = np.trapezoid(activation.f(u, p) ** 2 * density, u)
    return float(1.0 / math.sqrt(second))
