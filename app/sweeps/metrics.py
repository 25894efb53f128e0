"""A point's summary metrics, computed where the point runs from the engine's own result.

A sweep ships these numbers back, not histograms: a few per run, and a few per layer. Every
value is a finite float or None (JSON has no infinity; None also where a metric does not apply,
like gradients of a link with grad=0, or saturation of an unbounded activation).

The gradient metrics compare the measurement with the mean-field theory on the same footing:
the backward pass starts from a standard-normal dL/dz at the output (the engine's default
signal), and the theory predicts the std of dL/dz at every layer for that signal. The growth of
Var(dL/dz) per layer going back, measured and predicted, is the empirical and predicted chi; the
theory's chi at its fixed point q* (chi_star) is the one whose 1 is the order-to-chaos line.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .engine import ExperimentResult, RunResult

Number = float | None
MetricValue = Number | list[Number]


@dataclass(frozen=True)
class Metric:
    name: str
    doc: str
    per_layer: bool = False

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "per_layer": self.per_layer, "doc": self.doc}


_SCALARS = {
    "act_std_first": "std of the activations f(z) at layer 1",
    "act_std_last": "std of the activations f(z) at the last layer",
    "std_ratio": "act_std_last / act_std_first: below 1 the signal shrinks through depth, above 1 it grows",
    "grad_std_first": "std of dL/dz at layer 1, for a standard-normal dL/dz at the output (null with grad=0)",
    "grad_std_last": "std of dL/dz at the last layer",
    "grad_growth": "grad_std_first / grad_std_last: how much the gradient grows from the output back to "
    "layer 1 (below 1 it vanishes, above 1 it explodes)",
    "chi_measured": "measured growth of Var(dL/dz) per layer going back: grad_growth^(2 / (depth - 1)), "
    "the empirical chi (null for one layer)",
    "log10_chi_measured": "log10 of chi_measured: 0 on the critical line, below it ordered, above chaotic",
    "chi_predicted": "the same growth per layer from the mean-field theory's predicted std of dL/dz at "
    "layer 1 and the last (null with theory=0)",
    "chi_star": "the mean-field chi_1 = sigma_w^2 E[f'(z)^2] at the fixed point q*: ordered below 1, "
    "chaotic above; chi_star = 1 is the critical line",
    "log10_chi_star": "log10 of chi_star",
    "saturated_fraction": "mean over layers of the fraction of activations within 3% of the output range "
    "from a bound of a bounded activation (null for unbounded ones)",
    "dead_fraction": "mean over layers of the fraction of units that output 0 for every sample",
}
_PER_LAYER = {
    "act_std": "std of the activations, per layer",
    "grad_std": "std of dL/dz, per layer",
    "chi_layers": "measured growth of Var(dL/dz) from layer l+1 back to layer l (depth - 1 values)",
    "chi_layers_predicted": "the theory's predicted growth from layer l+1 back to layer l",
}
METRICS: tuple[Metric, ...] = (
    *(Metric(name, doc) for name, doc in _SCALARS.items()),
    *(Metric(name, doc, per_layer=True) for name, doc in _PER_LAYER.items()),
)
METRIC_NAMES = tuple(m.name for m in METRICS)
SCALAR_METRICS = tuple(m.name for m in METRICS if not m.per_layer)


def _finite(x: float | None) -> Number:
    return float(x) if x is not None and math.isfinite(x) else None


def _ratio(a: Number, b: Number) -> Number:
    if a is None or b is None or b == 0:
        return None
    return _finite(a / b)  # a float quotient overflows to inf: None


def _per_layer_growth(stds: Sequence[Number]) -> list[Number]:
    """(std[l] / std[l+1])**2 for l = 0 .. depth-2."""
    out: list[Number] = []
    for a, b in itertools.pairwise(stds):
        r = _ratio(a, b)
        out.append(None if r is None else _power(r, 2.0))
    return out


def _power(x: float, p: float) -> Number:
    try:
        return _finite(x**p)
    except OverflowError:
        return None


def _log10(x: Number) -> Number:
    return None if x is None or x <= 0 else _finite(math.log10(x))


def _mean(values: Sequence[Number]) -> Number:
    present = [v for v in values if v is not None]
    return _finite(math.fsum(present) / len(present)) if present else None


def run_metrics(run: RunResult) -> dict[str, MetricValue]:
    """The metrics of one run of an experiment's result."""
    layers = run.layers
    depth = len(layers)
    act = [_finite(layer.post.std) for layer in layers]
    grad = [None if layer.grad is None else _finite(layer.grad.std) for layer in layers]
    growth = _ratio(grad[0], grad[-1])
    chi_measured = None if growth is None or depth < 2 else _power(growth, 2.0 / (depth - 1))
    theory = run.theory
    predicted_scale = [] if theory is None else [_finite(t.gradient_scale) for t in theory.layers]
    predicted_growth = _ratio(predicted_scale[0], predicted_scale[-1]) if predicted_scale else None
    chi_predicted = (
        None if predicted_growth is None or depth < 2 else _power(predicted_growth, 2.0 / (depth - 1))
    )
    chi_star = None if theory is None else _finite(theory.chi_star)
    metrics: dict[str, MetricValue] = {
        "act_std_first": act[0],
        "act_std_last": act[-1],
        "std_ratio": _ratio(act[-1], act[0]),
        "grad_std_first": grad[0],
        "grad_std_last": grad[-1],
        "grad_growth": growth,
        "chi_measured": chi_measured,
        "log10_chi_measured": _log10(chi_measured),
        "chi_predicted": chi_predicted,
        "chi_star": chi_star,
        "log10_chi_star": _log10(chi_star),
        "saturated_fraction": _mean([layer.post.saturated_fraction for layer in layers]),
        "dead_fraction": _mean([layer.dead_units / layer.units for layer in layers]),
        "act_std": act,
        "grad_std": grad,
        "chi_layers": _per_layer_growth(grad) if any(g is not None for g in grad) else [],
        "chi_layers_predicted": _per_layer_growth(predicted_scale) if predicted_scale else [],
    }
    assert tuple(metrics) == METRIC_NAMES
    return metrics


def experiment_metrics(result: ExperimentResult) -> list[dict[str, MetricValue]]:
    """The metrics of every run of an experiment, in the link's run order."""
    return [run_metrics(run) for run in result.runs]
