"""The muP coordinate check (Yang and Hu 2021; microsoft/mup's coord_check): is a parametrization
width-stable?

For each width, an MLP (input -> `depth` hidden layers of that width -> read-out) is initialized
and trained a few steps on one fixed batch (MSE to fixed random targets); at initialization and
after each step, each layer's mean |activation| is recorded. Plotted against width on log-log axes,
flat lines mean the parametrization is width-stable.

Parametrizations, with width multiplier m = width / base width (the narrowest width):
- "sp", standard: every weight N(0, 1 / fan_in) (ReLU: 2 / fan_in), one learning rate for all.
- "mup", as the `mup` package defines it for Adam (MuReadout and MuAdam): the read-out's output is
  divided by m (its weights still N(0, 1 / fan_in)); matrix-like weights (hidden to hidden, both
  dimensions growing with width) take the learning rate / m; vector-like ones (the input layer,
  biases, the read-out, whose other dimension is fixed) the plain learning rate. For SGD (MuSGD)
  vector-like weights take the learning rate x m and square matrix-like ones the plain one.
Biases start at 0. Pure NumPy, float32 (float64 for the statistics).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from .. import blas
from ..layers.activations import ACTIVATIONS
from ..params import ConfigError

Array = NDArray[np.float32]
Parametrization = Literal["sp", "mup"]
Optimizer = Literal["adam", "sgd"]
PARAMETRIZATIONS: tuple[Parametrization, ...] = ("sp", "mup")
OPTIMIZERS: tuple[Optimizer, ...] = ("adam", "sgd")
COORD_STREAM = 5  # data and weights' random stream, beside the experiment's (0 to 4)
INPUT_DIM = 32
OUTPUTS = 10
BATCH = 64
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


@dataclass(frozen=True)
class CoordConfig:
    widths: tuple[int, ...] = (128, 256, 512, 1024, 2048)
    depth: int = 3  # hidden layers
    activation: str = "relu"
    optimizer: Optimizer = "adam"
    lr: float = 0.001  # Adam's usual default
    steps: int = 3
    seed: int = 0


@dataclass(frozen=True)
class CoordCurve:
    """One parametrization: mean |activation| [step][layer][width index]; layers are the hidden
    layers' activations, then the read-out's output."""

    parametrization: Parametrization
    values: tuple[tuple[tuple[float, ...], ...], ...]


@dataclass(frozen=True)
class CoordResult:
    config: CoordConfig
    layers: tuple[str, ...]  # "hidden 1", ..., "output"
    curves: tuple[CoordCurve, ...]


def coord_cost(config: CoordConfig) -> int:
    """Multiply-adds: per width, parametrization and step, a forward and a backward pass (3x the
    forward's products), plus the final forward pass."""
    total = 0
    for n in config.widths:
        forward = BATCH * (INPUT_DIM * n + (config.depth - 1) * n * n + n * OUTPUTS)
        total += len(PARAMETRIZATIONS) * (3 * config.steps + 1) * forward
    return total


def coord_memory(config: CoordConfig) -> int:
    """Bytes at once: the widest network's weights with Adam's two moments and the gradient."""
    n = max(config.widths)
    weights = INPUT_DIM * n + (config.depth - 1) * n * n + n * OUTPUTS
    return 4 * 4 * weights + 4 * 4 * BATCH * n * config.depth


def _network(config: CoordConfig, width: int, rng: np.random.Generator) -> list[tuple[Array, Array]]:
    dims = [INPUT_DIM] + [width] * config.depth + [OUTPUTS]
    gain = 2.0 if config.activation == "relu" else 1.0  # He for ReLU, LeCun otherwise
    layers = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(dims)):
        variance = (gain if i < len(dims) - 2 else 1.0) / fan_in
        w = rng.standard_normal((fan_in, fan_out), dtype=np.float32) * np.float32(math.sqrt(variance))
        layers.append((w, np.zeros(fan_out, dtype=np.float32)))
    return layers


def _lr_scales(config: CoordConfig, parametrization: Parametrization, m: float) -> list[tuple[float, float]]:
    """(weight, bias) learning-rate multipliers per layer: input, hidden..., read-out."""
    n_layers = config.depth + 1
    if parametrization == "sp":
        return [(1.0, 1.0)] * n_layers
    if config.optimizer == "adam":
        return [(1.0, 1.0)] + [(1.0 / m, 1.0)] * (config.depth - 1) + [(1.0, 1.0)]
    return [(m, m)] + [(1.0, m)] * (config.depth - 1) + [(m, m)]


Cache = list[tuple[Array, Array]]


def forward(net: list[tuple[Array, Array]], x: Array, name: str, readout: float) -> tuple[Array, Cache]:
    """The output (the read-out's times `readout`) and each layer's (input, z)."""
    activation = ACTIVATIONS[name]
    params = {s.name: s.default for s in activation.params}
    a, cache = x, []
    out = x
    for i, (w, b) in enumerate(net):
        z = a @ w + b
        cache.append((a, z))
        if i == len(net) - 1:
            out = z * np.float32(readout)
        else:
            a = activation.f(z, params).astype(z.dtype, copy=False)
    return out, cache


def backward(
    net: list[tuple[Array, Array]], cache: Cache, out: Array, y: Array, name: str, readout: float
) -> list[tuple[Array, Array]]:
    """Gradients (dW, db) per layer of the mean over the batch of |out - y|^2 / 2."""
    activation = ACTIVATIONS[name]
    params = {s.name: s.default for s in activation.params}
    delta = (out - y) / np.float32(out.shape[0]) * np.float32(readout)
    grads = []
    for i in range(len(net) - 1, -1, -1):
        a_in, z = cache[i]
        if i < len(net) - 1:
            delta = delta * activation.df(z, params).astype(z.dtype, copy=False)
        grads.append((a_in.T @ delta, delta.sum(axis=0)))
        delta = delta @ net[i][0].T
    grads.reverse()
    return grads


def _run(config: CoordConfig, width: int, parametrization: Parametrization) -> list[list[float]]:
    """Mean |activation| per step (0 = initialization) and layer, for one width."""
    m = width / min(config.widths)
    readout = 1.0 / m if parametrization == "mup" else 1.0
    # The same data for every width and parametrization; weights drawn per width.
    data = np.random.default_rng([config.seed, COORD_STREAM])
    x = data.standard_normal((BATCH, INPUT_DIM), dtype=np.float32)
    y = data.standard_normal((BATCH, OUTPUTS), dtype=np.float32)
    net = _network(config, width, np.random.default_rng([config.seed, COORD_STREAM, width]))
    scales = _lr_scales(config, parametrization, m)
    records: list[list[float]] = []
    with np.errstate(over="ignore", invalid="ignore"):  # SP with a large step overflows: a result
        return _train(config, net, x, y, scales, readout, records)


def _train(
    config: CoordConfig,
    net: list[tuple[Array, Array]],
    x: Array,
    y: Array,
    scales: list[tuple[float, float]],
    readout: float,
    records: list[list[float]],
) -> list[list[float]]:
    moments = [[np.zeros_like(p) for p in layer for _ in (0, 1)] for layer in net]
    activation = ACTIVATIONS[config.activation]
    params = {s.name: s.default for s in activation.params}
    for step in range(config.steps + 1):
        out, cache = forward(net, x, config.activation, readout)
        hidden = [float(np.abs(activation.f(z, params)).mean(dtype=np.float64)) for _, z in cache[:-1]]
        records.append([*hidden, float(np.abs(out).mean(dtype=np.float64))])
        if step == config.steps:
            break
        grads = backward(net, cache, out, y, config.activation, readout)
        t = step + 1
        for i, ((w, b), (gw, gb)) in enumerate(zip(net, grads, strict=True)):
            for k, (p, g) in enumerate(((w, gw), (b, gb))):
                lr = np.float32(config.lr * scales[i][k])
                if config.optimizer == "sgd":
                    p -= lr * g
                    continue
                mom, var = moments[i][2 * k], moments[i][2 * k + 1]
                mom *= np.float32(BETA1)
                mom += np.float32(1 - BETA1) * g
                var *= np.float32(BETA2)
                var += np.float32(1 - BETA2) * g * g
                step_size = lr * np.float32(math.sqrt(1 - BETA2**t) / (1 - BETA1**t))
                p -= step_size * mom / (np.sqrt(var) + np.float32(EPS))
    return records


def coord_check(config: CoordConfig) -> CoordResult:
    blas.single_thread()  # the same bits on every machine
    curves = []
    for parametrization in PARAMETRIZATIONS:
        per_width = [_run(config, n, parametrization) for n in config.widths]
        values = tuple(
            tuple(
                tuple(per_width[w][s][layer] for w in range(len(config.widths)))
                for layer in range(config.depth + 1)
            )
            for s in range(config.steps + 1)
        )
        curves.append(CoordCurve(parametrization, values))
    names = (*tuple(f"hidden {i + 1}" for i in range(config.depth)), "output")
    return CoordResult(config, names, tuple(curves))


def width_ratio(curve: CoordCurve, step: int, layer: int) -> float:
    """Mean |activation| at the widest width over that at the narrowest (1: width-stable)."""
    row = curve.values[step][layer]
    return row[-1] / row[0] if row[0] else math.inf


MAX_WIDTHS = 8
MAX_COORD_DEPTH = 8
MAX_STEPS = 5


def make_coord_config(
    widths: object = None,
    depth: object = None,
    activation: object = None,
    optimizer: object = None,
    lr: object = None,
    steps: object = None,
    seed: object = None,
    max_width: int = 4096,
) -> CoordConfig:
    """A validated configuration; errors name the field and its limits."""
    base = CoordConfig()
    ws = base.widths if widths is None else widths
    if not isinstance(ws, tuple | list) or not 2 <= len(ws) <= MAX_WIDTHS:
        raise ConfigError("widths", f"must be a list of 2 to {MAX_WIDTHS} widths")
    for w in ws:
        if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= max_width:
            raise ConfigError("widths", f"each width must be a whole number from 1 to {max_width}, got {w!r}")
    if list(ws) != sorted(set(ws)):
        raise ConfigError("widths", "must be increasing, without repeats")
    name = base.activation if activation is None else activation
    elementwise = [n for n, a in ACTIVATIONS.items() if not any(p.name == "pieces" for p in a.params)]
    if name not in elementwise:
        raise ConfigError("activation", f"must be one of {', '.join(elementwise)}")
    opt = base.optimizer if optimizer is None else optimizer
    if opt not in OPTIMIZERS:
        raise ConfigError("optimizer", f"must be one of {', '.join(OPTIMIZERS)}")
    rate = base.lr if lr is None else lr
    if (
        isinstance(rate, bool)
        or not isinstance(rate, int | float)
        or not 0 < rate <= 1
        or not math.isfinite(rate)
    ):
        raise ConfigError("lr", f"must be a number above 0 and at most 1, got {rate!r}")

    def count(field: str, value: object, default: int, low: int, high: int) -> int:
        v = default if value is None else value
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise ConfigError(field, f"must be a whole number from {low} to {high}, got {v!r}")
        return v

    return CoordConfig(
        widths=tuple(int(w) for w in ws),
        depth=count("depth", depth, base.depth, 2, MAX_COORD_DEPTH),
        activation=str(name),
        optimizer=opt,
        lr=float(rate),
        steps=count("steps", steps, base.steps, 1, MAX_STEPS),
        seed=count("seed", seed, base.seed, 0, 2**32 - 1),
    )
