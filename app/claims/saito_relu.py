"""Saito's activation histograms with ReLU (notes 002): E5 to E7, and the same taken to 50 layers."""

from __future__ import annotations

from itertools import pairwise

from ..engine.network.experiment import ExperimentResult
from .core import Claim, Measurement, View, verdict_of
from .readings import fold, grad_std, post_std
from .saito_sigmoid import SAITO

STEADY = 1.2  # largest over smallest std across the layers, for a scale "kept" by every layer


def _per_layer(stds: list[float]) -> float:
    """The factor the std is multiplied by per layer, on average from the first layer to the last."""
    return float((stds[-1] / stds[0]) ** (1 / (len(stds) - 1)))


def _e5(result: ExperimentResult) -> Measurement:
    run = result.runs[0]
    stds, grad = post_std(run), grad_std(run)
    # The text offers 0.01 as the usual choice; a signal 1000 times weaker after 5 layers is its opposite.
    collapses = stds[-1] < 1e-3 * stds[0]
    return Measurement(
        "contradicted" if collapses else "holds",
        (
            ("how many times smaller per layer", 1 / _per_layer(stds)),
            ("activation std, layer 1", stds[0]),
            ("first layer", 1),
            ("activation std, last layer", stds[-1]),
            ("last layer", len(stds)),
            ("first layer", 1),
            ("dL/dz std, layer 1", grad[0]),
        ),
    )


E5 = Claim(
    text="Next, the initial values of the weights: they are usually generated from a Gaussian "
    "distribution with a standard deviation of 0.01. [The notes show this run with ReLU only as a figure.]",
    source=SAITO,
    view=View("grid", "post"),
    look_at="How far each layer's activations have shrunk towards 0 compared with the layer before.",
    verdict="contradicted",
    reason="For ReLU this usual choice fails: the activations shrink 14 times per layer, from std 0.058 at "
    "layer 1 to 1.5e-6 at layer 5, and the gradient at layer 1 is only 1.8e-5, so these weights "
    "barely learn.",
    measure=_e5,
)


def _e6(result: ExperimentResult) -> Measurement:
    run = result.runs[0]
    stds, grad = post_std(run), grad_std(run)
    narrows = all(b < a for a, b in pairwise(stds)) and stds[-1] < 0.5 * stds[0]
    return Measurement(
        verdict_of(narrows),
        (
            ("activation std, layer 1", stds[0]),
            ("first layer", 1),
            ("activation std, last layer", stds[-1]),
            ("last layer", len(stds)),
            ("factor per layer", _per_layer(stds)),
            ("dL/dz std, layer 1", grad[0]),
            ("first layer", 1),
            ("dL/dz std, last layer", grad[-1]),
            ("last layer", len(grad)),
        ),
    )


E6 = Claim(
    text="But this method falls short when the activation function is ReLU: as the figure below shows, "
    "the bias [towards 0] grows gradually as the layers get deeper, because the Xavier initial value "
    "is derived on the premise that the activation function is linear; sigmoid and tanh are "
    "symmetric and can be treated as linear near the centre, but ReLU is different.",
    source=SAITO,
    view=View("grid", "post"),
    look_at="Each layer's activations crowding closer to 0 than the layer before.",
    verdict="holds",
    reason="The activations' std falls from 0.58 at layer 1 to 0.15 at layer 5, times 0.71 per layer, "
    "because ReLU zeroes half of the signal and Xavier does not make up for it; going back, the "
    "gradient shrinks alike (dL/dz std 0.18 at layer 1 against 0.73 at layer 5).",
    measure=_e6,
)


def _e7(result: ExperimentResult) -> Measurement:
    run = result.runs[0]
    stds, grad = post_std(run), grad_std(run)
    steady = max(stds) < STEADY * min(stds) and max(grad) < STEADY * min(grad)
    return Measurement(
        verdict_of(steady),
        (
            ("activation std, lowest layer", min(stds)),
            ("activation std, highest layer", max(stds)),
            ("dL/dz std, lowest layer", min(grad)),
            ("dL/dz std, highest layer", max(grad)),
        ),
    )


E7 = Claim(
    text="For ReLU there is a dedicated method, the He initial value: because ReLU is 0 over its "
    "negative range, it needs a coefficient of 2 to give the activations more breadth, that is, "
    "a standard deviation of sqrt(2/n).",
    source=SAITO,
    view=View("grid", "post"),
    look_at="The same breadth in every layer (many values lie above 1, beyond the book's range of 0 to 1).",
    verdict="holds",
    reason="The breadth is the same in every layer, activation std 0.79 to 0.82, and so is the gradient "
    "going back, dL/dz std 0.72 to 0.76.",
    measure=_e7,
)


def _deep(result: ExperimentResult) -> Measurement:
    std001, xavier, he = (post_std(run) for run in result.runs)
    keeps = he[0] / 2 < he[-1] < 2 * he[0]
    others_fade = fold(xavier[-1], xavier[0]) > 1e3 and fold(std001[-1], std001[0]) > 1e3
    last = result.runs[2].layers[-1]
    return Measurement(
        verdict_of(keeps, others_fade),
        (
            ("layers", len(he)),
            ("He activation std, layer 1", he[0]),
            ("first layer", 1),
            ("He activation std, last layer", he[-1]),
            ("last layer", len(he)),
            ("Xavier activation std, last layer", xavier[-1]),
            ("std 0.01", 0.01),
            ("std 0.01 activation std, last layer", std001[-1]),
            ("He dead units, last layer", last.dead_units),
            ("units", last.units),
            ("last layer", len(he)),
            ("samples", result.config.runs[2].samples),
        ),
    )


DEEP = Claim(
    text="[Xavier] falls short when the activation function is ReLU [...]. For ReLU there is a dedicated "
    "method, the He initial value: because ReLU is 0 over its negative range, it needs a coefficient "
    "of 2 to give the activations more breadth.",
    source=SAITO + ", taken to 50 layers of 512 units",
    view=View("grid", "post"),
    look_at="Whether each column's deepest layers are as broad as its first.",
    verdict="holds",
    reason="Over 50 layers He keeps the activations' breadth (std 0.83 at layer 1, 0.69 at layer 50) while "
    "Xavier's falls to 1.7e-8 and std 0.01's to 4.0e-41; yet even with He, 188 of the 512 units of "
    "layer 50 are zero on all 500 inputs.",
    measure=_deep,
)
