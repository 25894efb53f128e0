"""What an experiment gives: each run's rows of statistics, and the helpers that bin runs together.

Both the plain stacks' pass (experiment.py) and the layer networks' (block_experiment.py) build
these; the web layer serializes them (app/api/payload.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np

from ..measure.stats import Array, Extent, Parts, TensorStats, scan, summarize
from ..theory import RunTheory
from .backward import scale_back
from .config import ExperimentConfig, RunConfig

if TYPE_CHECKING:  # rows.py imports the network builders, which import this module's helpers
    from .rows import TableRow


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
    rows: tuple[TableRow, ...] | None = None  # layer networks' rows side by side (rows.py)


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
    experiment asks for per-run axes: a run's histograms then are exactly those of that run alone.

    A seed ensemble's experiment (ensemble.py's Members) says `link_runs`, R: its run k * R + i is
    draw k of the link's run i, and per-run axes then bin each link run's draws together, on one
    range of their own (so their counts average bin by bin), apart from the other runs'."""
    if config.axes == "shared":
        return summarize(items)
    period = getattr(config, "link_runs", 0) or len(config.runs)  # a plain experiment: runs alone
    groups: dict[int, dict[int, T]] = {}
    for i, item in items.items():
        groups.setdefault(i % period, {})[i] = item
    done: dict[int, S] = {}
    for group in groups.values():
        done.update(summarize(group))
    return {i: done[i] for i in items}


class ScaledGradient(Protocol):
    """A gradient kept as delta / 2**exponent (backward.py's LayerGradient, a layer network's row)."""

    @property
    def delta(self) -> Array: ...

    @property
    def exponent(self) -> int: ...


def scaled_stats(stats: TensorStats, exponent: int) -> TensorStats:
    """Statistics of x from those of x / 2**exponent (counts are the same)."""

    def up(v: float | None) -> float | None:
        return None if v is None else scale_back(v, exponent)

    return replace(
        stats,
        edges=np.ldexp(stats.edges, exponent),
        mean=up(stats.mean),
        std=up(stats.std),
        min=up(stats.min),
        max=up(stats.max),
        percentiles=None
        if stats.percentiles is None
        else tuple(scale_back(p, exponent) for p in stats.percentiles),
    )


def true_extent(extent: Extent, exponent: int) -> Extent | None:
    """The extent of x from that of x / 2**exponent, or None when float64 cannot hold x's
    extremes exactly (they underflow into subnormals or to 0, or overflow)."""
    if not extent.finite:
        return extent
    low, high = scale_back(extent.low, exponent), scale_back(extent.high, exponent)
    exact = all(
        math.isfinite(true) and scale_back(true, -exponent) == scaled
        for true, scaled in ((low, extent.low), (high, extent.high))
    )
    return replace(extent, low=low, high=high) if exact else None


def true_values(g: ScaledGradient) -> Array:
    """dL/dz at its true scale in float64: what underflows is 0, what overflows inf."""
    with np.errstate(under="ignore", over="ignore"):
        return np.ldexp(g.delta.astype(np.float64), g.exponent)


def gradient_stats(
    config: ExperimentConfig,
    grads: Mapping[int, ScaledGradient],
    extents: Mapping[int, Extent] | None = None,
    parts: Mapping[int, Parts] | None = None,
) -> dict[int, TensorStats]:
    """Layer j's dL/dz of the runs in `grads`, binned on one range shared by them.

    Each run's dL/dz is kept as delta / 2**exponent, so it is binned in those units on the shared
    range scaled alike, and its statistics scaled back. A gradient that vanished below float64's
    smallest subnormals (or grew past its largest value) cannot be scaled back exactly, and the
    shared range may not exist in the units of a run ~1e300 times smaller than another: such a
    run is summarized at its true scale in float64, where the values that underflow are 0.
    `extents`: scan(g.delta) of the runs, when the caller already has them; `parts`: each run's
    stats.Parts of its delta, for a run summarized again on a moved range.
    """
    return {i: plan() for i, plan in gradient_plans(config, grads, extents, parts).items()}


def gradient_plans(
    config: ExperimentConfig,
    grads: Mapping[int, ScaledGradient],
    extents: Mapping[int, Extent] | None = None,
    parts: Mapping[int, Parts] | None = None,
) -> dict[int, Callable[[], TensorStats]]:
    """gradient_stats, as each run's summary to make on the shared range: one function of its own
    arrays each, so the runs can be summarized in separate threads."""
    extents = {i: scan(g.delta) for i, g in grads.items()} if extents is None else extents
    true = {i: true_extent(e, grads[i].exponent) for i, e in extents.items()}
    values = {i: true_values(grads[i]) for i, t in true.items() if t is None}
    exact = [t for t in true.values() if t is not None]
    low, high = union_of(exact + [scan(v) for v in values.values()])
    out: dict[int, Callable[[], TensorStats]] = {}
    for i, g in grads.items():
        bins = config.runs[i].bins
        shown = (scale_back(low, -g.exponent), scale_back(high, -g.exponent))
        if i in values or not (math.isfinite(shown[0]) and math.isfinite(shown[1])):
            out[i] = partial(_true_scale_stats, values.get(i), g, (low, high), bins)
        else:
            known = None if parts is None else parts.get(i)
            out[i] = partial(_scaled_summary, g, extents[i], shown, bins, known)
    return out


def _true_scale_stats(
    values: Array | None, g: ScaledGradient, shared: tuple[float, float], bins: int
) -> TensorStats:
    x = true_values(g) if values is None else values
    return summarize(x, scan(x), shared, bins)


def _scaled_summary(
    g: ScaledGradient, extent: Extent, shown: tuple[float, float], bins: int, parts: Parts | None
) -> TensorStats:
    return scaled_stats(summarize(g.delta, extent, shown, bins, parts=parts), g.exponent)
