"""Claims of the notes on Michael Nielsen's book (notes 003): the variance of z, worked by hand."""

from __future__ import annotations

from ..engine.experiment import ExperimentResult
from .core import Claim, Measurement, View, verdict_of
from .readings import fraction_within, pre_std, saturated_percent

NIELSEN = "Michael Nielsen, Neural Networks and Deep Learning, ch. 3 (notes 003)"
AGREES = 0.05  # the measured variance of z within 5% of the text's: 2000 units give about 3%


def _z(result: ExperimentResult) -> tuple[float, float, float, float]:
    """z's measured variance, the variance the text computes (the engine's mean-field q, the same
    sum), the fraction of z within (-1, 1), and the % of outputs saturated."""
    run = result.runs[0]
    if run.theory is None:
        raise ValueError("the Nielsen claims compare with the prediction: run them with theory on")
    variance = pre_std(run)[0] ** 2
    return variance, run.theory.layers[0].q, fraction_within(result, 1.0), saturated_percent(run)[0]


def _large(result: ExperimentResult) -> Measurement:
    variance, predicted, inside, saturated = _z(result)
    return Measurement(
        verdict_of(abs(variance / predicted - 1) < AGREES, inside < 0.2, saturated > 50),
        (
            ("variance of z", variance),
            ("the text's variance", predicted),
            ("% of z beyond (-1, 1)", 100 * (1 - inside)),
            ("bound", 1),
            ("% of the outputs saturated", saturated),
        ),
    )


LARGE = Claim(
    text="Suppose the network has 1000 inputs and the weights into the first hidden layer come from a "
    "standard Gaussian [...], and half of the input neurons are 1, the rest 0 [...]: "
    "σ² = D(z) = 500 × 1 + 1 = 501. [...] z has a very wide Gaussian distribution: a large share of z "
    "lies where |z| >> 1 [...]. The hidden neuron's output σ(z) is then close to 0 or 1, and the "
    "neuron saturates.",
    source=NIELSEN,
    view=View("grid", "pre"),
    look_at="How wide z is against the narrow range around 0 where the sigmoid is not flat, and the "
    "curve of N(0, 501) drawn over it.",
    verdict="holds",
    reason="z has variance 485 (the text computes 501), 96% of it lies beyond ±1, and 87% of the outputs "
    "are saturated.",
    measure=_large,
)


def _scaled(result: ExperimentResult) -> Measurement:
    variance, predicted, inside, saturated = _z(result)
    return Measurement(
        verdict_of(abs(variance / predicted - 1) < AGREES, inside > 0.5, saturated < 5),
        (
            ("variance of z", variance),
            ("the text's variance", predicted),
            ("% of z within (-1, 1)", 100 * inside),
            ("bound", 1),
            ("% of the outputs saturated", saturated),
        ),
    )


SCALED = Claim(
    text="Initialize the weights with random values from a Gaussian with μ = 0, σ = 1/sqrt(n_in) [...]: "
    "σ² = D(z) = 500 × 1/1000 + 1 = 1.5. [...] z has a very narrow Gaussian distribution [...]. Most "
    "of z lies between -1 and 1, which keeps the hidden neurons from saturating.",
    source=NIELSEN,
    view=View("grid", "pre"),
    look_at="z gathered around 0, where the sigmoid is steep, and the curve of N(0, 1.5) drawn over it.",
    verdict="holds",
    reason="z has variance 1.45 (the text computes 1.5), 59% of it lies within ±1, a majority if not a "
    "large one, and only 0.4% of the outputs are saturated.",
    measure=_scaled,
)
