"""TrainResult -> the training API's JSON document (NaN and infinity become null)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..engine.network.labels import run_labels
from ..engine.optimizers import OPTIMIZERS
from ..engine.training.config import TrainConfig
from ..engine.training.records import Capture, LayerCapture, Record
from ..engine.training.trainer import TrainResult
from .payload import tensor_dict


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _curve(values: NDArray[np.float64]) -> list[float | None]:
    return [_finite(float(v)) for v in values]


def train_labels(configs: Sequence[TrainConfig]) -> list[str]:
    """The network's label, plus the optimizer and its rate where the runs differ in them."""
    labels = run_labels([c.run for c in configs])
    optimizers = {c.optimizer for c in configs}
    rates = {dict(c.optimizer_params).get("lr") for c in configs}
    out = []
    for label, c in zip(labels, configs, strict=True):
        parts = [label]
        if len(optimizers) > 1:
            parts.append(OPTIMIZERS[c.optimizer].label)
        if len(rates) > 1:
            parts.append(f"lr {dict(c.optimizer_params)['lr']:g}")
        out.append(", ".join(parts))
    return out


PROGRESS_POINTS = 1000  # progress thins each loss curve to about this many points
# loss_smoothed: an exponential moving average with this beta (bias-corrected), whose weights
# sum to about 1 - 1/e over the last 1 / (1 - beta) steps; the documents say which
SMOOTHING_BETA = 0.98


@dataclass
class Sent:
    """How much of one run the progress increments have carried so far."""

    loss: int = 0  # thinned loss points
    records: int = 0
    captures: int = 0


def _head(result: TrainResult, label: str) -> dict[str, Any]:
    config = result.config
    return {
        "label": label,
        "config": {
            **config.run.as_dict(),
            "optimizer": config.optimizer,
            **dict(config.optimizer_params),
            "batch_size": config.batch_size,
            "iterations": config.iterations,
            # only a bce training says its loss: the documents of every other stay byte for byte
            **({"loss": config.loss, "digits": config.digits} if config.loss == "bce" else {}),
        },
        "status": result.status,
        "steps": result.steps,
    }


def _records(records: Sequence[Record]) -> dict[str, list[Any]]:
    return {
        "step": [r.step for r in records],
        "train_loss": [_finite(r.train_loss) for r in records],
        "train_accuracy": [_finite(r.train_accuracy) for r in records],
        "test_loss": [_finite(r.test_loss) for r in records],
        "test_accuracy": [_finite(r.test_accuracy) for r in records],
        "dead_fraction": [[_finite(x) for x in r.dead_fraction] for r in records],
        "update_ratio": [[_finite(x) for x in r.update_ratio] for r in records],
    }


def _layer(layer: LayerCapture) -> dict[str, Any]:
    where = {} if layer.layer_type is None else {"layer_type": layer.layer_type, "name": layer.name}
    return {
        "layer": layer.index,
        **where,
        "units": layer.units,
        "post": tensor_dict(layer.activation),
        "grad": tensor_dict(layer.gradient),
        "dead_units": layer.dead_units,
        "distinct_units": layer.distinct_units,
    }


def _captures(captures: Sequence[Capture]) -> list[dict[str, Any]]:
    # A bce network's output unit comes last, marked `output` (σ(s) and dL/ds); softmax trainings
    # have none, and their documents are what they always were.
    return [
        {
            "step": capture.step,
            "layers": [_layer(layer) for layer in capture.layers]
            + ([] if capture.output is None else [{**_layer(capture.output), "output": True}]),
        }
        for capture in captures
    ]


def _run(result: TrainResult, label: str, stride: int, sent: Sent) -> dict[str, Any]:
    """Run `result` from where `sent` says, its loss curves every `stride`-th step."""
    first = sent.loss * stride
    return {
        **_head(result, label),
        "loss_stride": stride,  # loss[i] is the loss at step i * loss_stride
        "loss": _curve(result.loss[first::stride]),
        "loss_smoothed": _curve(result.smoothed_loss(SMOOTHING_BETA)[first::stride]),
        "records": _records(result.records[sent.records :]),
        "captures": _captures(result.captures[sent.captures :]),
    }


def train_dict(results: Sequence[TrainResult], share: str, job_id: str) -> dict[str, Any]:
    """The whole result: every step's loss."""
    labels = train_labels([r.config for r in results])
    return {
        "share": share,
        "id": job_id,
        "iterations": results[0].config.iterations,
        "steps": max(r.steps for r in results),  # a run that diverged early stops counting
        "smoothing_beta": SMOOTHING_BETA,
        "runs": [_run(r, label, 1, Sent()) for r, label in zip(results, labels, strict=True)],
    }


def train_increment(
    results: Sequence[TrainResult], share: str, job_id: str, sent: Sequence[Sent]
) -> dict[str, Any]:
    """What is new since the increments counted in `sent` (which it advances): the loss curves
    thinned to PROGRESS_POINTS (a stride fixed by the iterations), the new records and captures.
    Appending every increment's arrays to the first's gives the progress so far."""
    labels = train_labels([r.config for r in results])
    iterations = results[0].config.iterations
    stride = max(1, math.ceil(iterations / PROGRESS_POINTS))
    runs = []
    for result, label, had in zip(results, labels, sent, strict=True):
        runs.append(_run(result, label, stride, had))
        had.loss = len(range(0, len(result.loss), stride))
        had.records = len(result.records)
        had.captures = len(result.captures)
    return {
        "share": share,
        "id": job_id,
        "iterations": iterations,
        "steps": max(r.steps for r in results),
        "smoothing_beta": SMOOTHING_BETA,
        "increment": True,
        "runs": runs,
    }
