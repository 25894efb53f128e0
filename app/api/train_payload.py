"""TrainResult -> the training API's JSON document (NaN and infinity become null)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..engine.labels import run_labels
from ..engine.optimizers import OPTIMIZERS
from ..engine.train_config import TrainConfig
from ..engine.training import TrainResult
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


def train_run_dict(result: TrainResult, label: str, max_points: int | None = None) -> dict[str, Any]:
    """`max_points` thins the per-step curves (every `loss_stride`-th step) for progress updates."""
    records = result.records
    config = result.config
    stride = 1 if max_points is None else max(1, math.ceil(len(result.loss) / max_points))
    return {
        "label": label,
        "config": {
            **config.run.as_dict(),
            "optimizer": config.optimizer,
            **dict(config.optimizer_params),
            "batch_size": config.batch_size,
            "iterations": config.iterations,
        },
        "status": result.status,
        "steps": result.steps,
        "loss_stride": stride,  # loss[i] is the loss at step i * loss_stride
        "loss": _curve(result.loss[::stride]),
        "loss_smoothed": _curve(result.smoothed_loss()[::stride]),
        "records": {
            "step": [r.step for r in records],
            "train_loss": [_finite(r.train_loss) for r in records],
            "train_accuracy": [_finite(r.train_accuracy) for r in records],
            "test_loss": [_finite(r.test_loss) for r in records],
            "test_accuracy": [_finite(r.test_accuracy) for r in records],
            "dead_fraction": [[_finite(x) for x in r.dead_fraction] for r in records],
            "update_ratio": [[_finite(x) for x in r.update_ratio] for r in records],
        },
        "captures": [
            {
                "step": capture.step,
                "layers": [
                    {
                        "layer": layer.index,
                        "units": layer.units,
                        "post": tensor_dict(layer.activation),
                        "grad": tensor_dict(layer.gradient),
                        "dead_units": layer.dead_units,
                        "distinct_units": layer.distinct_units,
                    }
                    for layer in capture.layers
                ],
            }
            for capture in result.captures
        ],
    }


def train_dict(
    results: Sequence[TrainResult], share: str, job_id: str, max_points: int | None = None
) -> dict[str, Any]:
    labels = train_labels([r.config for r in results])
    return {
        "share": share,
        "id": job_id,
        "iterations": results[0].config.iterations,
        "steps": max(r.steps for r in results),  # a run that diverged early stops counting
        "runs": [train_run_dict(r, label, max_points) for r, label in zip(results, labels, strict=True)],
    }
