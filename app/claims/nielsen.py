"""Claims of the notes on Michael Nielsen's book (notes 003): the variance of z, worked by hand."""

from __future__ import annotations

from ..engine.network.experiment import ExperimentResult
from .core import Claim, Measurement, View, verdict_of
from .readings import fraction_within, pre_std, saturated_percent

NIELSEN = "Michael Nielsen, Neural Networks and Deep Learning, ch. 3 (notes 003)"
AGREES = 0.05  # the measured variance of z within 5% of the text's: 2000 units give about 3%


def _z(result: ExperimentResult, index: int = 0) -> tuple[float, float, float, float]:
    """A run's z: its measured variance, the variance the text computes (the engine's mean-field q,
    the same sum), the fraction of z within (-1, 1), and the % of outputs saturated."""
    run = result.runs[index]
    if run.theory is None:
        raise ValueError("the Nielsen claims compare with the prediction: run them with theory on")
    variance = pre_std(run)[0] ** 2
    inside = fraction_within(result, 1.0, run=index)
    return variance, run.theory.layers[0].q, inside, saturated_percent(run)[0]


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
    look_at="How wide z is (read its x axis) against ±1, the narrow range around 0 where the sigmoid is "
    "not flat, and the prediction N(0, 501) drawn over it.",
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


def _compare(result: ExperimentResult) -> Measurement:
    wide, narrow = _z(result, 0), _z(result, 1)
    agree = all(abs(variance / predicted - 1) < AGREES for variance, predicted, _, _ in (wide, narrow))
    # one z axis for both (the layer's bins are shared): how many of them Xavier's z fills
    shared = result.runs[0].layers[0].pre
    filled = sum(1 for count in result.runs[1].layers[0].pre.counts if count > 0)
    return Measurement(
        verdict_of(agree, wide[2] < 0.2 and wide[3] > 50, narrow[2] > 0.5 and narrow[3] < 5),
        (
            ("N(0, 1) weights: variance of z", wide[0]),
            ("N(0, 1) weights: the text's variance", wide[1]),
            ("Xavier: variance of z", narrow[0]),
            ("Xavier: the text's variance", narrow[1]),
            ("how many times smaller Xavier's variance is", wide[0] / narrow[0]),
            ("bins Xavier's z falls in", filled),
            ("bins", len(shared.counts)),
            ("N(0, 1) weights: % of the outputs saturated", wide[3]),
            ("Xavier: % of the outputs saturated", narrow[3]),
        ),
    )


COMPARE = Claim(
    text="Suppose the network has 1000 inputs [...] and half of the input neurons are 1, the rest 0 [...]. "
    "With weights and bias from a standard Gaussian, σ² = D(z) = 500 × 1 + 1 = 501 [...]: z has a very "
    "wide Gaussian distribution. [...] With weights from a Gaussian with μ = 0, σ = 1/sqrt(n_in) [Xavier's], "
    "σ² = D(z) = 500 × 1/1000 + 1 = 1.5 [...]: z has a very narrow Gaussian distribution.",
    source=NIELSEN,
    view=View("grid", "pre"),
    look_at="The two columns share one z axis: the standard Gaussian's z spread wide under the curve of "
    "N(0, 501), Xavier's squeezed into the bars around 0 under N(0, 1.5) (the stats line gives σ, the square "
    "root of the variance).",
    verdict="holds",
    reason="On one z axis, standard Gaussian weights give z a variance of 485 (the text computes 501) and "
    "Xavier's 1.48 (the text 1.5), 328 times smaller, so all of Xavier's z falls in 2 of the 30 bins that "
    "the other spreads over, and 87% of the outputs saturate against 0.5%.",
    measure=_compare,
)
