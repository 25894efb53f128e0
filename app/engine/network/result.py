"""What an experiment gives: each run's rows of statistics, and the helpers that bin runs together.

Both the plain stacks' pass (experiment.py) and the layer networks' (block_experiment.py) build
these; the web layer serializes them (app/api/payload.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..measure.stats import Extent, TensorStats
from ..theory import RunTheory
from .config import ExperimentConfig, RunConfig


@dataclass(frozen=True)
class LayerResult:
    index: int  # 1-based, as the pages title them
    units: int
    activation: str
    pre: TensorStats  # z = a @ W + b (every maxout piece)
    post: TensorStats  # f(z)
    dead_units: int
    distinct_units: int | None  # None when the layer holds NaN or inf
    grad: TensorStats | None = None  # dL/dz, when the experiment runs the backward pass
    weight_grad: WeightGradient | None = None
    layer_type: str | None = None  # a layer network's row (blocks.py): dense, batch_norm, residual...
    name: str | None = None  # where that row sits: "block 3 · layer_norm (pre)"


@dataclass(frozen=True)
class WeightGradient:
    norm: float  # Frobenius norm of dL/dW
    std: float
    grad_data_ratio: float | None  # std(dL/dW) / std(W)


@dataclass(frozen=True)
class RunResult:
    config: RunConfig
    label: str
    layers: tuple[LayerResult, ...]
    theory: RunTheory | None  # the mean-field prediction for the same network, unless switched off


@dataclass(frozen=True)
class ExperimentResult:
    config: ExperimentConfig
    runs: tuple[RunResult, ...]


def union_of(extents: list[Extent]) -> tuple[float, float]:
    finite = [e for e in extents if e.finite]
    if not finite:
        return (0.0, 1.0)
    low = min(e.low for e in finite)
    high = max(e.high for e in finite)
    if low == high:  # every value equal (zero init): a range centred on it, wide enough to exist
        half = max(0.5, abs(low) * 1e-6)
        return (low - half, high + half)
    return (low, high)


T = TypeVar("T")
S = TypeVar("S")


def by_axes(
    config: ExperimentConfig, items: dict[int, T], summarize: Callable[[dict[int, T]], dict[int, S]]
) -> dict[int, S]:
    """`summarize` of the runs together (one range per layer), or of each run alone when the
    experiment asks for per-run axes: a run's histograms then are exactly those of that run alone."""
    if config.axes == "shared":
        return summarize(items)
    return {i: summarize({i: item})[i] for i, item in items.items()}
