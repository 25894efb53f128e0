"""Seed ensembles: an experiment repeated over N weight draws, summarized as mean and band.

Member k of run i (k = 0 .. N - 1) is run i of the link placed at position k * R + i of one
experiment of N * R runs (R: the link's runs). A run's weights, and its random backward signal,
are drawn from its seed and its position, while its inputs come from its seed alone: so every
member sees the link's very inputs, member 0 is exactly the run the link shows without `seeds`,
and the other members are new weight draws. The members run as one experiment, and each layer's
histograms are binned so that a run's draws share one range and their counts average bin by bin:
with `axes="shared"` one range for every run and draw (the link's runs still compare), with
`axes="run"` one range per run of the link, over its N draws and apart from the other runs'
(result.py's by_axes reads the members' `link_runs`). Either way member 0's bins are its run's
draws' range, not its own alone: its counts are not the link's single answer's, its other values are.

Every statistic is reported as the mean over the draws and a band from the lowest to the highest
draw's value (min-max, not +-1 sd: with a handful of draws, the extremes are what was seen).
A statistic some draw has no value for (a tensor that overflowed everywhere) has no mean either.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
from numpy.typing import NDArray

from ..measure.stats import TensorStats
from ..params import ConfigError
from .config import ExperimentConfig
from .cost import BudgetError, Cost, Limits, check_limits
from .experiment import run_experiment
from .labels import run_labels
from .result import LayerResult, RunResult
from .rows import TableRow, experiment_rows

MAX_SEEDS = 16  # weight draws; the diagnostics' limit too
# The answer holds each histogram's mean and both band edges, and each statistic's three values
BAND_VALUES = 3
TENSOR_VALUES = ("count", "mean", "std", "min", "max", "zero_fraction", "saturated_fraction")
TENSOR_COUNTS = ("nan_count", "inf_count", "below", "above")


@dataclass(frozen=True)
class Spread:
    """One statistic over the draws: their mean, and the lowest and highest draw's value (None
    when some draw has none)."""

    mean: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class TensorSpread:
    edges: NDArray[np.float64]  # one set of bins for every draw
    counts: NDArray[np.float64]  # per bin, the mean count over the draws
    counts_low: NDArray[np.int64]  # per bin, the lowest draw's count
    counts_high: NDArray[np.int64]
    values: dict[str, Spread]  # TENSOR_VALUES and TENSOR_COUNTS
    percentiles: tuple[Spread, ...] | None  # at PERCENTILES, None when a draw has none


@dataclass(frozen=True)
class LayerSpread:
    first: LayerResult  # member 0's row: its index, units, activation, layer type and name
    pre: TensorSpread
    post: TensorSpread
    grad: TensorSpread | None
    values: dict[str, Spread]  # dead_units, dead_fraction, distinct_units
    weight_grad: dict[str, Spread] | None  # norm, std, grad_data_ratio


@dataclass(frozen=True)
class EnsembleRun:
    first: RunResult  # member 0, the link's own run: its label, config and theory
    layers: tuple[LayerSpread, ...]


@dataclass(frozen=True)
class EnsembleResult:
    config: ExperimentConfig  # the link's experiment (R runs)
    seeds: int
    runs: tuple[EnsembleRun, ...]
    rows: tuple[TableRow, ...] | None = None  # layer networks: the link's rows side by side (rows.py)


def check_seeds(seeds: object) -> int:
    """The number of draws, or ConfigError naming `seeds` and its limit."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise ConfigError("seeds", f"must be a whole number from 1 to {MAX_SEEDS}, got {seeds!r}")
    return seeds


@dataclass(frozen=True)
class Members(ExperimentConfig):
    """The members' experiment: `link_runs` is the link's R, so that per-run axes bin the draws of
    each of the link's runs together (result.py's by_axes)."""

    link_runs: int = 0


def members(config: ExperimentConfig, seeds: int) -> Members:
    """The experiment whose run k * R + i is member k of the link's run i."""
    runs = tuple(run for _ in range(seeds) for run in config.runs)
    given = {f.name: getattr(config, f.name) for f in fields(ExperimentConfig)}
    return Members(**{**given, "runs": runs}, link_runs=len(config.runs))


def check_ensemble_limits(config: ExperimentConfig, seeds: int, limits: Limits) -> Cost:
    """The link's own limits, then the ensemble's cost against the same budgets: `seeds` times
    the work and memory (the members run side by side), and BAND_VALUES times the answer.
    Raises ConfigError (a BudgetError naming `seeds` when only the draws take it over)."""
    check_seeds(seeds)
    single = check_limits(config, limits)
    if seeds == 1:
        return single
    cost = Cost(seeds * single.macs, seeds * single.memory_bytes, BAND_VALUES * single.response_values)
    for value, limit, name, what in (
        (cost.macs, limits.max_macs, "max_macs", "multiply-adds"),
        (cost.memory_bytes, limits.max_memory_bytes, "max_memory_bytes", "bytes of memory"),
        (cost.response_values, limits.max_response_values, "max_response_values", "numbers in the answer"),
    ):
        if value > limit:
            raise BudgetError(
                "seeds",
                f"{seeds} draws need {value:,} {what}, over the budget of {limit:,}; "
                "use fewer seeds, samples, layers, units or runs",
                name,
            )
    return cost


def _spreads(columns: Sequence[Sequence[float | int | None]]) -> list[Spread]:
    """Each column's values over the draws as a Spread: their mean, lowest and highest (all None
    when some draw has none). The means are one NumPy call for every column (a call per value
    cost more than the rest of an ensemble's aggregation); each row's mean is its pairwise sum
    along the row, bit for bit np.mean of that row alone (tests/engine/network/test_ensemble.py)."""
    # (`None in column` rules None out of the floats; mypy cannot see it)
    numbers = [None if None in column else [float(v) for v in column] for column in columns]  # type: ignore[arg-type]
    given = [n for n in numbers if n is not None]
    with np.errstate(over="ignore"):  # a sum past float64's range: no mean (below), not a warning
        means = iter(np.array(given, dtype=np.float64).mean(axis=1).tolist() if given else ())
    out = []
    for n in numbers:
        if n is None:
            out.append(Spread(None, None, None))
            continue
        mean = next(means)
        # JSON has no infinity: a mean past float64's range (draws near its top) is no value
        out.append(Spread(mean if math.isfinite(mean) else None, min(n), max(n)))
    return out


VALUE_NAMES = (*TENSOR_VALUES, *TENSOR_COUNTS)


def _tensor(stats: Sequence[TensorStats]) -> TensorSpread:
    edges = stats[0].edges
    if any(not np.array_equal(s.edges, edges) for s in stats[1:]):
        # A run's draws share each layer's range (by_axes), and a rescaled gradient's edges are
        # scaled back exactly; never seen (tests: vanishing, exploding, zero and LSUV networks).
        # Should it happen, a 422 that says so, not a mean of counts over different bins.
        raise ConfigError(
            "seeds", "the draws' histograms of a layer came out on different bins; ask without seeds"
        )
    counts = np.stack([s.counts for s in stats])
    columns: list[Sequence[float | int | None]] = [[getattr(s, name) for s in stats] for name in VALUE_NAMES]
    with_percentiles = all(s.percentiles is not None for s in stats)
    if with_percentiles:
        columns.extend(zip(*(s.percentiles for s in stats if s.percentiles is not None), strict=True))
    spreads = _spreads(columns)
    return TensorSpread(
        edges=edges,
        counts=counts.mean(axis=0, dtype=np.float64),
        counts_low=counts.min(axis=0),
        counts_high=counts.max(axis=0),
        values=dict(zip(VALUE_NAMES, spreads, strict=False)),
        percentiles=tuple(spreads[len(VALUE_NAMES) :]) if with_percentiles else None,
    )


LAYER_VALUES = ("dead_units", "dead_fraction", "distinct_units")
WEIGHT_GRAD_VALUES = ("norm", "std", "grad_data_ratio")


def _layer(rows: Sequence[LayerResult]) -> LayerSpread:
    grads = [r.grad for r in rows if r.grad is not None]
    weight_grads = [r.weight_grad for r in rows if r.weight_grad is not None]
    columns: list[Sequence[float | int | None]] = [
        [r.dead_units for r in rows],
        [r.dead_units / r.units for r in rows],
        [r.distinct_units for r in rows],
    ]
    with_weight_grad = len(weight_grads) == len(rows)
    if with_weight_grad:
        columns.extend([getattr(w, name) for w in weight_grads] for name in WEIGHT_GRAD_VALUES)
    spreads = _spreads(columns)
    return LayerSpread(
        first=rows[0],
        pre=_tensor([r.pre for r in rows]),
        post=_tensor([r.post for r in rows]),
        grad=_tensor(grads) if len(grads) == len(rows) else None,
        values=dict(zip(LAYER_VALUES, spreads, strict=False)),
        weight_grad=dict(zip(WEIGHT_GRAD_VALUES, spreads[len(LAYER_VALUES) :], strict=True))
        if with_weight_grad
        else None,
    )


def run_ensemble(
    config: ExperimentConfig, seeds: int, dtype: type[np.floating] = np.float32
) -> EnsembleResult:
    """The link's experiment over `seeds` weight draws (see the module's docstring)."""
    check_seeds(seeds)
    result = run_experiment(members(config, seeds), dtype)
    count = len(config.runs)
    labels = run_labels(config.runs)
    runs = []
    for i in range(count):
        drawn = [result.runs[k * count + i] for k in range(seeds)]
        first = replace(drawn[0], label=labels[i])
        layers = tuple(_layer([d.layers[j] for d in drawn]) for j in range(len(first.layers)))
        runs.append(EnsembleRun(first, layers))
    # the members' experiment pairs N x R runs' rows; the answer shows the link's R runs
    rows = experiment_rows(config) if result.rows is not None else None
    return EnsembleResult(config, seeds, tuple(runs), rows)
