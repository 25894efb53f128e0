"""One layer seen unit by unit: what each unit outputs across the input samples.

A layer's histogram pools every unit and every sample, so it cannot tell units that compute the
same function (zero or constant weights: symmetric units) from units that differ, nor units that
answer their input from units that sit at a constant value. A unit profile keeps them apart: per
unit, its mean and std across the samples; the spread of those means between units against the
spread within a unit; and a small units x samples matrix of the values themselves.

The layer is rebuilt exactly as run_experiment draws it (the same seed, stream and dtype), so the
profile describes the very network the experiment's histograms summarize.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from .. import blas
from ..network.config import ExperimentConfig, RunConfig
from ..network.forward import forward, input_samples
from ..network.labels import run_labels
from ..params import ConfigError
from .stats import Array, scan
from .units import unit_counts

MATRIX_UNITS = 64  # rows of the units x samples matrix: the layer's first units
MATRIX_SAMPLES = 64  # its columns: the first input samples


@dataclass(frozen=True)
class UnitSpread:
    """How a layer's activations spread: between its units, and within one unit across the inputs.

    A histogram of a layer pools both. When `within` is tiny against `between`, the breadth the
    histogram shows is units sitting at different constant values, each barely answering its input;
    when `between` is 0, every unit has the same mean (symmetric units have `between` exactly 0).
    """

    between: float  # std over the units of each unit's mean activation
    within: float  # mean over the units of each unit's std across the samples


@dataclass(frozen=True)
class UnitProfile:
    """One hidden layer of one run, unit by unit. Arrays are read-only."""

    layer: int  # 1-based
    activation: str
    units: int
    samples: int
    mean: NDArray[np.float64]  # (units,): each unit's mean activation across the samples
    std: NDArray[np.float64]  # (units,): each unit's std across the samples
    spread: UnitSpread
    dead_units: int  # zero for every sample
    distinct_units: int | None  # different functions among the units (1: all identical); None with NaN/inf
    # (min(units, MATRIX_UNITS), min(samples, MATRIX_SAMPLES)): values[u, s] is unit u's activation
    # for sample s, the layer's first units and first samples, in the network's dtype
    values: Array


@dataclass(frozen=True)
class RunUnits:
    label: str
    depth: int
    profile: UnitProfile | None  # None when the run has fewer layers than the one asked for


@dataclass(frozen=True)
class UnitsResult:
    config: ExperimentConfig
    layer: int  # 1-based
    runs: tuple[RunUnits, ...]


A = TypeVar("A", bound=NDArray[np.generic])


def _frozen(x: A) -> A:
    x.flags.writeable = False
    return x


def _moments(a: Array) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each unit's mean and std across the samples (a: samples x units), in float64: float32 sums
    of 1000 values near 0.5 lose the 1e-8 variations of a unit that barely answers its input.
    Overflow and NaN give inf and NaN, reported as such."""
    with np.errstate(over="ignore", invalid="ignore"):
        a64 = a.astype(np.float64)
        return a64.mean(axis=0), a64.std(axis=0)


def _spread(mean: NDArray[np.float64], std: NDArray[np.float64]) -> UnitSpread:
    with np.errstate(over="ignore", invalid="ignore"):
        # Equal means spread by exactly 0: np.std of n equal values can be an ulp off (their mean
        # is a rounded sum), and symmetric units must read as what they are.
        between = 0.0 if mean.size and mean.min() == mean.max() else float(mean.std())
        return UnitSpread(between, float(std.mean()))


def unit_spread(a: Array) -> UnitSpread:
    """The spread of a layer's activations a (samples x units) between and within its units."""
    return _spread(*_moments(a))


def profile_of(a: Array, layer: int, activation: str) -> UnitProfile:
    """The profile of a layer's activations a (samples x units); `layer` is 1-based."""
    mean, std = _moments(a)
    dead, distinct = unit_counts(a, scan(a))
    values = np.ascontiguousarray(a[:MATRIX_SAMPLES, :MATRIX_UNITS].T)
    return UnitProfile(
        layer=layer,
        activation=activation,
        units=int(a.shape[1]),
        samples=int(a.shape[0]),
        mean=_frozen(mean),
        std=_frozen(std),
        spread=_spread(mean, std),
        dead_units=dead,
        distinct_units=distinct,
        values=_frozen(values),
    )


def run_profile(
    run: RunConfig, position: int, layer: int, dtype: type[np.floating] = np.float32
) -> UnitProfile:
    """Layer `layer` (1-based) of the run at `position` in its experiment (its weights' stream):
    the layers below it are computed and dropped, the ones above are never drawn."""
    if not 1 <= layer <= run.depth:
        raise ConfigError("layer", f"must be between 1 and {run.depth}, got {layer}")
    for hidden in forward(run, input_samples(run, dtype), position, dtype, recycle=True):
        if hidden.index == layer - 1:
            return profile_of(hidden.a, layer, hidden.activation)
    raise AssertionError("forward yields every layer")  # pragma: no cover


def check_layer(config: ExperimentConfig, layer: int) -> None:
    """Raise ConfigError naming `layer` unless it is a layer of the experiment (1 to its depth)."""
    depth = max(run.depth for run in config.runs)
    if not 1 <= layer <= depth:
        raise ConfigError("layer", f"must be between 1 and {depth}, the experiment's depth; got {layer}")


def experiment_units(config: ExperimentConfig, layer: int) -> UnitsResult:
    """Layer `layer` (1-based) of every run of the experiment, unit by unit; a run with fewer
    layers has no profile."""
    check_layer(config, layer)
    blas.single_thread()  # the same bits on every machine, as run_experiment
    labels = run_labels(config.runs)
    return UnitsResult(
        config=config,
        layer=layer,
        runs=tuple(
            RunUnits(labels[i], run.depth, run_profile(run, i, layer) if layer <= run.depth else None)
            for i, run in enumerate(config.runs)
        ),
    )
