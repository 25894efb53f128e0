"""Weight initializers: formula, sampler and exact variance of each, in one registry.

A weight matrix has shape (fan_in, fan_out) so a layer computes z = a @ W + b. Every initializer
takes a `gain` multiplier (as torch.nn.init does); `variance` gives the exact variance of one
entry, which the tests check against samples and the theory module uses as sigma_w^2 / fan_in.
Weights are drawn in float32: drawing is a real cost at large sizes, and float32 is what the
forward pass computes in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..draws import standard_normal
from ..params import ParamSpec, ParamValue

Params = Mapping[str, ParamValue]
Weights = NDArray[np.float32]
Sampler = Callable[[int, int, np.random.Generator, Params], Weights]

TRUNCATION = 2.0  # truncated normals are cut at +-2 standard deviations, as TensorFlow and Keras do
# Variance of N(0, 1) truncated to [-2, 2]: 1 - 2 * 2 * phi(2) / (2 * Phi(2) - 1).
TRUNCATED_VARIANCE = 1.0 - 4.0 * math.exp(-2.0) / math.sqrt(2.0 * math.pi) / math.erf(2.0 / math.sqrt(2.0))

GAIN = ParamSpec("gain", 1.0, "multiplies every weight (torch.nn.init's gain)", low=0.0, high=100.0)
STD = ParamSpec("std", 1.0, "standard deviation of the weights", low=0.0, high=100.0)
LIMIT = ParamSpec("limit", 1.0, "weights are uniform on [-limit, limit]", low=0.0, high=100.0)
VALUE = ParamSpec("value", 0.5, "every weight takes this value", low=-100.0, high=100.0)
MODE = ParamSpec(
    "mode",
    "fan_in",
    "fan_in preserves the forward signal's variance, fan_out the backward gradient's",
    kind="choice",
    choices=("fan_in", "fan_out"),
)


@dataclass(frozen=True)
class Initializer:
    name: str
    label: str  # short column title; {std}-style fields are filled from the parameters
    formula: str
    sample: Sampler
    variance: Callable[[int, int, Params], float]
    params: tuple[ParamSpec, ...] = (GAIN,)
    data_dependent: bool = False
    note: str = ""


def _gain(p: Params) -> float:
    return float(p["gain"])


def _fan(fan_in: int, fan_out: int, p: Params) -> int:
    return fan_in if p.get("mode", "fan_in") == "fan_in" else fan_out


def _normal(fan_in: int, fan_out: int, rng: np.random.Generator, std: float) -> Weights:
    w = standard_normal(rng, (fan_in, fan_out))
    w *= np.float32(std)
    return w


def _uniform(fan_in: int, fan_out: int, rng: np.random.Generator, limit: float) -> Weights:
    w = rng.random((fan_in, fan_out), dtype=np.float32)
    w *= np.float32(2.0 * limit)
    w -= np.float32(limit)
    return w


def truncated_standard_normal(shape: tuple[int, int], rng: np.random.Generator) -> Weights:
    """N(0, 1) restricted to [-2, 2] by redrawing the values outside (about 4.6% per round)."""
    w = standard_normal(rng, shape)
    outside = np.flatnonzero(np.abs(w) > TRUNCATION)
    flat = w.reshape(-1)
    while outside.size:
        flat[outside] = standard_normal(rng, outside.size)
        outside = outside[np.abs(flat[outside]) > TRUNCATION]
    return w


def orthogonal(fan_in: int, fan_out: int, rng: np.random.Generator, gain: float) -> Weights:
    """A (semi-)orthogonal matrix as torch.nn.init.orthogonal_: QR of a Gaussian matrix with the
    signs of R's diagonal folded into Q, so the distribution is uniform (Haar)."""
    rows, cols = max(fan_in, fan_out), min(fan_in, fan_out)
    a = standard_normal(rng, (rows, cols), np.float64)
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    w = q if fan_in >= fan_out else q.T
    return (gain * w).astype(np.float32)


def _orthogonal_variance(fan_in: int, fan_out: int, p: Params) -> float:
    # Each column (or row) is a unit vector of length max(fan_in, fan_out).
    return _gain(p) ** 2 / max(fan_in, fan_out)


def _glorot_std(fan_in: int, fan_out: int, p: Params) -> float:
    return _gain(p) * math.sqrt(2.0 / (fan_in + fan_out))


def _glorot_limit(fan_in: int, fan_out: int, p: Params) -> float:
    return _gain(p) * math.sqrt(6.0 / (fan_in + fan_out))


def _he_std(fan_in: int, fan_out: int, p: Params) -> float:
    return _gain(p) * math.sqrt(2.0 / _fan(fan_in, fan_out, p))


def _he_limit(fan_in: int, fan_out: int, p: Params) -> float:
    return _gain(p) * math.sqrt(6.0 / _fan(fan_in, fan_out, p))


def _lecun_normal(fan_in: int, fan_out: int, rng: np.random.Generator, p: Params) -> Weights:
    # Keras' lecun_normal: a normal truncated at 2 std, widened so its variance is exactly 1 / fan_in.
    w = truncated_standard_normal((fan_in, fan_out), rng)
    w *= np.float32(_gain(p) / math.sqrt(fan_in * TRUNCATED_VARIANCE))
    return w


def _truncated_normal(fan_in: int, fan_out: int, rng: np.random.Generator, p: Params) -> Weights:
    w = truncated_standard_normal((fan_in, fan_out), rng)
    w *= np.float32(_gain(p) * float(p["std"]))
    return w


_INITIALIZER_LIST = [
    Initializer(
        "zeros",
        "W = 0",
        "W = 0",
        lambda i, o, rng, p: np.zeros((i, o), dtype=np.float32),
        lambda i, o, p: 0.0,
        params=(),
        note="every unit of a layer computes the same function: the symmetry is never broken",
    ),
    Initializer(
        "constant",
        "W = {value}",
        "W = gain · value",
        lambda i, o, rng, p: np.full((i, o), _gain(p) * float(p["value"]), dtype=np.float32),
        lambda i, o, p: 0.0,
        params=(VALUE, GAIN),
        note="like zeros, every unit of a layer stays identical",
    ),
    Initializer(
        "normal",
        "N(0, {std}²)",
        "W ~ N(0, (gain · std)²)",
        lambda i, o, rng, p: _normal(i, o, rng, _gain(p) * float(p["std"])),
        lambda i, o, p: (_gain(p) * float(p["std"])) ** 2,
        params=(STD, GAIN),
        note="the texts' randn(n_in, n_out) * std",
    ),
    Initializer(
        "uniform",
        "U(±{limit})",
        "W ~ U(−gain · limit, gain · limit)",
        lambda i, o, rng, p: _uniform(i, o, rng, _gain(p) * float(p["limit"])),
        lambda i, o, p: (_gain(p) * float(p["limit"])) ** 2 / 3.0,
        params=(LIMIT, GAIN),
    ),
    Initializer(
        "xavier",
        "Xavier",
        "W ~ N(0, gain² / fan_in)",
        lambda i, o, rng, p: _normal(i, o, rng, _gain(p) / math.sqrt(i)),
        lambda i, o, p: _gain(p) ** 2 / i,
        note="the texts' 'Xavier' std 1/sqrt(n) (fan-in only; the same variance as LeCun)",
    ),
    Initializer(
        "glorot_normal",
        "Glorot normal",
        "W ~ N(0, gain² · 2 / (fan_in + fan_out))",
        lambda i, o, rng, p: _normal(i, o, rng, _glorot_std(i, o, p)),
        lambda i, o, p: _glorot_std(i, o, p) ** 2,
        note="torch.nn.init.xavier_normal_",
    ),
    Initializer(
        "glorot_uniform",
        "Glorot uniform",
        "W ~ U(±gain · sqrt(6 / (fan_in + fan_out)))",
        lambda i, o, rng, p: _uniform(i, o, rng, _glorot_limit(i, o, p)),
        lambda i, o, p: _glorot_limit(i, o, p) ** 2 / 3.0,
        note="torch.nn.init.xavier_uniform_",
    ),
    Initializer(
        "he_normal",
        "He",
        "W ~ N(0, gain² · 2 / fan)  (fan = fan_in or fan_out by mode)",
        lambda i, o, rng, p: _normal(i, o, rng, _he_std(i, o, p)),
        lambda i, o, p: _he_std(i, o, p) ** 2,
        params=(MODE, GAIN),
        note="torch.nn.init.kaiming_normal_ for ReLU; gain multiplies √2 (torch's gain replaces it), "
        "so torch's kaiming_normal_(nonlinearity='tanh') is gain = (5/3)/√2 here",
    ),
    Initializer(
        "he_uniform",
        "He uniform",
        "W ~ U(±gain · sqrt(6 / fan))  (fan = fan_in or fan_out by mode)",
        lambda i, o, rng, p: _uniform(i, o, rng, _he_limit(i, o, p)),
        lambda i, o, p: _he_limit(i, o, p) ** 2 / 3.0,
        params=(MODE, GAIN),
        note="torch.nn.init.kaiming_uniform_ for ReLU; gain multiplies √2 (torch's gain replaces it), "
        "so torch's kaiming_uniform_(nonlinearity='tanh') is gain = (5/3)/√2 here",
    ),
    Initializer(
        "lecun_normal",
        "LeCun normal",
        "W ~ N(0, gain² / fan_in) truncated at ±2 std (variance exactly gain² / fan_in)",
        _lecun_normal,
        lambda i, o, p: _gain(p) ** 2 / i,
        note="Keras' lecun_normal; pairs with SELU",
    ),
    Initializer(
        "orthogonal",
        "orthogonal",
        "W = gain · Q  (Q with orthonormal rows or columns, from the QR of a Gaussian matrix)",
        lambda i, o, rng, p: orthogonal(i, o, rng, _gain(p)),
        _orthogonal_variance,
        note="torch.nn.init.orthogonal_",
    ),
    Initializer(
        "truncated_normal",
        "truncated N(0, {std}²)",
        "W = gain · std · t,  t ~ N(0, 1) redrawn outside ±2  (variance 0.774 · (gain · std)²)",
        _truncated_normal,
        lambda i, o, p: (_gain(p) * float(p["std"])) ** 2 * TRUNCATED_VARIANCE,
        params=(STD, GAIN),
        note="cut at ±2 std, as TensorFlow's truncated_normal; torch.nn.init.trunc_normal_ cuts at an "
        "absolute ±2 (a = −2, b = 2) whatever the std",
    ),
    Initializer(
        "lsuv",
        "LSUV",
        "orthogonal, then W /= sqrt(Var(z)) layer by layer on the data until |Var(z) − 1| < 0.1 "
        "(at most 10 passes); then W *= gain",
        lambda i, o, rng, p: orthogonal(i, o, rng, 1.0),
        # After the data-dependent rescaling Var(z) = 1 over fan_in inputs; the per-entry variance
        # depends on the data, so this is the orthogonal starting point's.
        lambda i, o, p: 1.0 / max(i, o),
        data_dependent=True,
        note="layer-sequential unit variance (Mishkin & Matas 2016)",
    ),
]

INITIALIZERS: dict[str, Initializer] = {init.name: init for init in _INITIALIZER_LIST}

LSUV_TOLERANCE = 0.1
LSUV_MAX_PASSES = 10


@dataclass(frozen=True)
class BiasInit:
    name: str
    formula: str
    sample: Callable[[int, np.random.Generator, Params], NDArray[np.float32] | None]
    variance: Callable[[Params], float]
    params: tuple[ParamSpec, ...] = ()


BIAS_VALUE = ParamSpec("bias_value", 0.01, "every bias takes this value", low=-100.0, high=100.0)
BIAS_STD = ParamSpec("bias_std", 1.0, "standard deviation of the biases", low=0.0, high=100.0)

_BIAS_LIST = [
    BiasInit("none", "no bias term: z = a · W", lambda n, rng, p: None, lambda p: 0.0),
    BiasInit("zeros", "b = 0", lambda n, rng, p: np.zeros(n, dtype=np.float32), lambda p: 0.0),
    BiasInit(
        "constant",
        "b = bias_value",
        lambda n, rng, p: np.full(n, float(p["bias_value"]), dtype=np.float32),
        lambda p: 0.0,
        params=(BIAS_VALUE,),
    ),
    BiasInit(
        "normal",
        "b ~ N(0, bias_std²)",
        lambda n, rng, p: standard_normal(rng, n) * np.float32(p["bias_std"]),
        lambda p: float(p["bias_std"]) ** 2,
        params=(BIAS_STD,),
    ),
]

BIASES: dict[str, BiasInit] = {b.name: b for b in _BIAS_LIST}
