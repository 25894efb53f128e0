"""The quantities claims read off an ExperimentResult, layer by layer, or off a training's runs.

Most come from the result's statistics. Two need the layers' values themselves, which the result
does not keep (it holds histograms): `unit_spread` and `fraction_within`. They rebuild the run's
layers from its config, exactly as run_experiment drew them (the same seed, stream and dtype),
so they describe the very network the result summarizes. The spread between and within units is
the engine's (app/engine/measure/unit_profile.py), the same numbers the /units page shows.
"""

from __future__ import annotations

import numpy as np

from ..engine.measure.stats import TensorStats
from ..engine.measure.unit_profile import UnitSpread
from ..engine.measure.unit_profile import unit_spread as spread_of
from ..engine.network.experiment import ExperimentResult, RunResult
from ..engine.network.forward import Layer, forward, input_samples
from ..engine.training.trainer import TrainResult


def _value(stats: TensorStats | None, what: str) -> float:
    if stats is None or stats.std is None:
        raise ValueError(f"the result has no {what}: run the preset with the backward pass")
    return stats.std


def post_std(run: RunResult) -> list[float]:
    """The std of each layer's activations f(z)."""
    return [_value(layer.post, "activations") for layer in run.layers]


def pre_std(run: RunResult) -> list[float]:
    """The std of each layer's pre-activations z."""
    return [_value(layer.pre, "pre-activations") for layer in run.layers]


def grad_std(run: RunResult) -> list[float]:
    """The std of each layer's gradient dL/dz, for the backward signal dL/da ~ N(0, 1) at the output."""
    return [_value(layer.grad, "gradient") for layer in run.layers]


def post_mean(run: RunResult) -> list[float]:
    return [layer.post.mean if layer.post.mean is not None else float("nan") for layer in run.layers]


def saturated_percent(run: RunResult) -> list[float]:
    """Per layer, the % of activations within SATURATION_MARGIN of a bounded activation's ends."""
    return [100.0 * (layer.post.saturated_fraction or 0.0) for layer in run.layers]


def peak_bin_centre(stats: TensorStats) -> float:
    """Where the histogram is highest: the centre of its fullest bin."""
    k = int(np.argmax(stats.counts))
    return float((stats.edges[k] + stats.edges[k + 1]) / 2)


def fold(first: float, last: float) -> float:
    """How many times smaller `first` is than `last` (a gradient from the output back to layer 1)."""
    return last / first if first else float("inf")


def _layers(result: ExperimentResult, run: int) -> list[Layer]:
    config = result.config.runs[run]
    return list(forward(config, input_samples(config), run))


def unit_spread(result: ExperimentResult, run: int = 0) -> list[UnitSpread]:
    """Per layer of the run, the spread of its activations between and within its units."""
    return [spread_of(layer.a) for layer in _layers(result, run)]


def fraction_within(result: ExperimentResult, bound: float, run: int = 0, layer: int = 0) -> float:
    """The fraction of a layer's pre-activations z with |z| < bound."""
    z = _layers(result, run)[layer].z
    return float(np.count_nonzero(np.abs(z) < bound) / z.size)


# Trainings: what the training claims read off each run's TrainResult (its loss curve and records).


def smoothed_final(result: TrainResult) -> float:
    """The loss's moving average at the last step (the bold line's end on the /train page)."""
    return float(result.smoothed_loss()[-1])


def steps_to(result: TrainResult, target: float) -> int | None:
    """The first step whose moving average of the batch loss is at most `target` (None: never)."""
    hit = np.flatnonzero(result.smoothed_loss() <= target)
    return int(hit[0]) if len(hit) else None


def test_percent(result: TrainResult) -> float:
    """The test set's accuracy after the last step, in %."""
    return 100.0 * result.records[-1].test_accuracy
