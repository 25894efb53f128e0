"""A point's summary metrics, computed where the point runs from the engine's own result.

A sweep ships these numbers back, not histograms: a few per run, and a few per layer. Every
value is a finite float or None (JSON has no infinity; None also where a metric does not apply,
like gradients of a link with grad=0, or saturation of an unbounded activation).

The gradient metrics compare the measurement with the mean-field theory on the same footing:
the backward pass starts from a standard-normal dL/dz at the output (the engine's default
signal), and the theory predicts the std of dL/dz at every layer for that signal. The growth of
Var(dL/dz) per layer going back, measured and predicted, is the empirical and predicted chi; the
theory's chi at its fixed point q* (chi_star) is the one whose 1 is the order-to-chaos line.

A training's point reports TRAIN_METRICS instead, from the trainer's records (probe and test set
after the last step, and the probe's loss at 0, 25, 50 and 75% of the iterations).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .engine import ExperimentResult, RunResult, TrainResult

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


# ---- trainings ------------------------------------------------------------------------------------

# A training's records (app/engine/training/records.py) are taken on fixed samples: the probe (the
# first `probe` training samples) and the test set, every `record_every` steps and at the last.
LOSS_FRACTIONS = (0.25, 0.5, 0.75)
_TRAIN_SCALARS = {
    "steps": "optimizer steps done (the link's iterations unless the run diverged)",
    "diverged": "1 when the run's loss overflowed before its last step (a too-large learning rate), "
    "else 0; its final metrics are then null",
    "final_loss": "cross-entropy on the probe (the first `probe` training samples) after the last step",
    "train_accuracy": "accuracy on the probe after the last step",
    "test_loss": "cross-entropy on the test set after the last step",
    "test_accuracy": "accuracy on the test set after the last step",
    "loss_start": "cross-entropy on the probe at initialization (step 0)",
    "loss_25": "cross-entropy on the probe at the last record at or before 25% of the iterations "
    "(records come every record_every steps)",
    "loss_50": "the same at 50% of the iterations",
    "loss_75": "the same at 75% of the iterations",
    "dead_fraction": "mean over hidden layers of the fraction of units that output 0 for every probe "
    "sample, after the last step",
    "dead_fraction_start": "the same at initialization",
}
_TRAIN_PER_LAYER = {
    "dead_layers": "fraction of dead units per hidden layer after the last step",
}
TRAIN_METRICS: tuple[Metric, ...] = (
    *(Metric(name, doc) for name, doc in _TRAIN_SCALARS.items()),
    *(Metric(name, doc, per_layer=True) for name, doc in _TRAIN_PER_LAYER.items()),
)
TRAIN_METRIC_NAMES = tuple(m.name for m in TRAIN_METRICS)


def metrics_for(kind: str) -> tuple[Metric, ...]:
    """The metrics a point of a sweep of this kind ("experiment" or "train") reports."""
    return TRAIN_METRICS if kind == "train" else METRICS


class RecordLike(Protocol):
    """What the training metrics read of a record: the trainer's Record, or one read back from a
    /train document (the same numbers: JSON carries a float64 exactly, a non-finite one as null)."""

    @property
    def step(self) -> int: ...
    @property
    def train_loss(self) -> float | None: ...
    @property
    def train_accuracy(self) -> float | None: ...
    @property
    def test_loss(self) -> float | None: ...
    @property
    def test_accuracy(self) -> float | None: ...
    @property
    def dead_fraction(self) -> Sequence[float | None]: ...


def training_run_metrics(result: TrainResult) -> dict[str, MetricValue]:
    """The metrics of one run of a training, from the trainer's own result."""
    return _run_metrics(result.records, result.status, result.steps, result.config.iterations)


def _run_metrics(
    records: Sequence[RecordLike], status: str, steps: int, iterations: int
) -> dict[str, MetricValue]:
    first = records[0]
    end = records[-1] if status == "done" and records[-1].step == steps else None

    def loss_at(fraction: float) -> Number:
        step = iterations * fraction
        before = [r for r in records if r.step <= step]
        reached = before and steps >= step  # a diverged run never got there
        return _finite(before[-1].train_loss) if reached else None

    metrics: dict[str, MetricValue] = {
        "steps": float(steps),
        "diverged": 1.0 if status == "diverged" else 0.0,
        "final_loss": None if end is None else _finite(end.train_loss),
        "train_accuracy": None if end is None else _finite(end.train_accuracy),
        "test_loss": None if end is None else _finite(end.test_loss),
        "test_accuracy": None if end is None else _finite(end.test_accuracy),
        "loss_start": _finite(first.train_loss),
        "loss_25": loss_at(LOSS_FRACTIONS[0]),
        "loss_50": loss_at(LOSS_FRACTIONS[1]),
        "loss_75": loss_at(LOSS_FRACTIONS[2]),
        "dead_fraction": None if end is None else _mean([_finite(d) for d in end.dead_fraction]),
        "dead_fraction_start": _mean([_finite(d) for d in first.dead_fraction]),
        "dead_layers": [] if end is None else [_finite(d) for d in end.dead_fraction],
    }
    assert tuple(metrics) == TRAIN_METRIC_NAMES
    return metrics


def training_metrics(results: Sequence[TrainResult]) -> list[dict[str, MetricValue]]:
    """The metrics of every run of a training, in the link's run order."""
    return [training_run_metrics(result) for result in results]


@dataclass(frozen=True)
class _DocumentRecord:
    step: int
    train_loss: float | None
    train_accuracy: float | None
    test_loss: float | None
    test_accuracy: float | None
    dead_fraction: Sequence[float | None]


def document_training_metrics(document: Mapping[str, Any]) -> list[dict[str, MetricValue]]:
    """The metrics of every run of a finished training, from its /train document (the whole
    result, as /api/v1/train answers it): the same values training_metrics gives of the trainer's
    result, for a sweep's point whose training another server ran."""
    out = []
    for run in document["runs"]:
        columns = run["records"]
        records = [
            _DocumentRecord(int(step), loss, accuracy, test_loss, test_accuracy, tuple(dead))
            for step, loss, accuracy, test_loss, test_accuracy, dead in zip(
                columns["step"],
                columns["train_loss"],
                columns["train_accuracy"],
                columns["test_loss"],
                columns["test_accuracy"],
                columns["dead_fraction"],
                strict=True,
            )
        ]
        out.append(_run_metrics(records, run["status"], int(run["steps"]), int(run["config"]["iterations"])))
    return out
