"""What a training run records besides its loss: accuracy, dead units and update sizes at intervals,
and per-layer histograms at chosen steps ("captures").

Everything here is measured on fixed samples (the probe: the first training samples, balanced by
digit, and the test set), never on the step's batch, so that curves are smooth, comparable from
step to step and identical across runs that share the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..measure.stats import Extent, TensorStats, scan, summarize
from ..measure.units import dead_units, unit_counts
from .binary_mlp import BinaryMLP
from .mlp import MLP, Array, Pass


@dataclass(frozen=True)
class Record:
    """The network after `step` updates. Losses and accuracies are NaN once it has overflowed."""

    step: int
    train_loss: float  # mean cross-entropy on the probe (fixed training samples)
    train_accuracy: float  # on the probe
    test_loss: float
    test_accuracy: float
    dead_fraction: tuple[float, ...]  # per hidden layer: units that are 0 for every probe sample
    # Per weight matrix (hidden layers, then the read-out): log10(std(ΔW) / std(W)) of the update
    # that led to this step, ΔW the parameter's actual change (so adaptive optimizers are measured
    # by what they do, not by lr * grad). None where either std is 0 or not finite; () at step 0.
    update_ratio: tuple[float | None, ...]


@dataclass(frozen=True)
class LayerCapture:
    index: int  # 1-based hidden layer
    units: int
    activation: TensorStats  # f(z) on the probe
    gradient: TensorStats  # per-sample dL/dz on the probe (each sample's own loss)
    dead_units: int
    distinct_units: int | None  # 1 while a symmetric (zero or constant) initialization lasts
    layer_type: str | None = None  # a layer network's row (block_mlp.py): batch_norm, residual...
    name: str | None = None  # where that row sits: "layer 2 · batch_norm"


@dataclass(frozen=True)
class Capture:
    step: int
    layers: tuple[LayerCapture, ...]
    # A bce network's output unit: σ(s) in (0, 1) and dL/ds, indexed after the hidden layers. None
    # for softmax read-outs, whose logits are no activation the texts draw.
    output: LayerCapture | None = None


def weight_snapshot(model: MLP) -> list[Array]:
    return [model.params[name].copy() for name in model.weight_names()]


def update_ratios(model: MLP, before: list[Array]) -> tuple[float | None, ...]:
    out: list[float | None] = []
    with np.errstate(over="ignore", invalid="ignore"):
        for name, old in zip(model.weight_names(), before, strict=True):
            change = float(np.subtract(model.params[name], old).std(dtype=np.float64))
            scale = float(old.std(dtype=np.float64))
            ok = change > 0 and scale > 0 and math.isfinite(change) and math.isfinite(scale)
            out.append(math.log10(change / scale) if ok else None)
    return tuple(out)


def _range(extent: Extent) -> tuple[float, float]:
    if extent.finite == 0:
        return (0.0, 1.0)
    if extent.low == extent.high:  # one value everywhere (zero init): a range centred on it
        half = max(0.5, abs(extent.low) * 1e-6)
        return (extent.low - half, extent.high + half)
    return (extent.low, extent.high)


def capture_layers(model: MLP, probe: Pass, bins: int) -> tuple[LayerCapture, ...]:
    """Histograms of every hidden layer's activation and gradient, from a pass whose backward has
    run (probe.dz filled)."""
    layers = []
    n = len(probe.a[0]) if probe.a else 1
    for j, layer in enumerate(model.hidden):
        a = probe.a[j]
        extent = scan(a)
        low, high = layer.activation.bounds(layer.params)
        bounded = low is not None and high is not None
        shown = (float(low or 0.0), float(high or 0.0)) if bounded else _range(extent)
        activation = summarize(a, extent, shown, bins, (low, high))
        with np.errstate(over="ignore"):
            grad = probe.dz[j] * probe.dz[j].dtype.type(n)  # dL/dz of the mean loss, times n
        grad_extent = scan(grad)
        gradient = summarize(grad, grad_extent, _range(grad_extent), bins)
        dead, distinct = unit_counts(a, extent)
        # a layer network's rows say what layer they are (getattr: MLP's hidden layers do not)
        kind, name = getattr(layer, "layer_type", None), getattr(layer, "name", None)
        layers.append(LayerCapture(j + 1, layer.units, activation, gradient, dead, distinct, kind, name))
    return tuple(layers)


def capture_output(model: MLP, probe: Pass, bins: int, index: int) -> LayerCapture | None:
    """The histogram of a bce network's output unit σ(s) on (0, 1), and of dL/ds, from a pass whose
    backward has run; None for a softmax read-out."""
    if not isinstance(model, BinaryMLP):
        return None
    out = model.output(probe)
    extent = scan(out)
    activation = summarize(out, extent, (0.0, 1.0), bins, (0.0, 1.0))
    n = len(out)
    with np.errstate(over="ignore"):
        grad = probe.dz[-1] * probe.dz[-1].dtype.type(n)  # dL/ds of each sample's own loss
    grad_extent = scan(grad)
    gradient = summarize(grad, grad_extent, _range(grad_extent), bins)
    dead, distinct = unit_counts(out, extent)
    return LayerCapture(index, 1, activation, gradient, dead, distinct)


def dead_fractions(probe: Pass) -> tuple[float, ...]:
    return tuple(dead_units(a) / a.shape[1] for a in probe.a)


def smooth(values: NDArray[np.floating], beta: float = 0.98) -> NDArray[np.float64]:
    """Exponential moving average with Adam's bias correction (no pull towards 0 at the start):
    s_t = beta s_(t-1) + (1 - beta) x_t, shown as s_t / (1 - beta^t)."""
    out = np.empty(len(values), dtype=np.float64)
    s = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for t, x in enumerate(values.tolist(), start=1):
            s = beta * s + (1.0 - beta) * x
            out[t - 1] = s / (1.0 - beta**t)
    return out
