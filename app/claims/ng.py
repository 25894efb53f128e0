"""Claims of the course notes after Andrew Ng's (notes 000): symmetry, and the constant 0.01."""

from __future__ import annotations

from ..engine.experiment import ExperimentResult
from .core import Claim, Measurement, View, verdict_of
from .readings import post_mean, post_std

NG = "notes on Andrew Ng's deep learning course, on random initialization (notes 000)"


def _zero_init(result: ExperimentResult) -> Measurement:
    distinct = {layer.distinct_units for run in result.runs for layer in run.layers}
    units = result.runs[0].layers[0].units
    return Measurement(
        verdict_of(distinct == {1}),
        (("distinct units, every layer", max(d or 0 for d in distinct)), ("units", units)),
    )


ZERO_INIT = Claim(
    text="If you initialize [the weights] to 0, all the hidden units are symmetric: no matter how long "
    "you run gradient descent, they keep computing the same function, which does not help at all. "
    "[...] (Initializing the bias b to 0 is reasonable, but initializing the weights to 0 is a problem.)",
    source=NG,
    view=View("grid", "post"),
    look_at="The distinct units in each layer's stats: units that compute the same function count as one.",
    verdict="holds",
    reason="Every layer of both runs has 1 distinct unit out of 100: all its units compute the same "
    "function (this is at initialization; the training page's zero-init-symmetric preset follows "
    "the symmetry through gradient descent).",
    measure=_zero_init,
)


def _small_init(result: ExperimentResult) -> Measurement:
    shallow, deep = result.runs
    differ = all(layer.distinct_units == layer.units for layer in shallow.layers)
    stds = post_std(deep)
    hidden = len(stds) - 1  # the last layer is the sigmoid output
    output = deep.layers[-1]
    fades = stds[hidden - 1] < 1e-6 * stds[0] and output.distinct_units == 1
    return Measurement(
        verdict_of(differ, fades),
        (
            ("shallow layers", len(shallow.layers)),
            ("distinct units, shallow, fewest", min(layer.distinct_units or 0 for layer in shallow.layers)),
            ("units", shallow.layers[0].units),
            ("deep layers", len(stds)),
            ("activation std, layer 1", stds[0]),
            ("first layer", 1),
            ("activation std, last hidden layer", stds[hidden - 1]),
            ("last hidden layer", hidden),
            ("output layer", len(stds)),
            ("distinct outputs", output.distinct_units or 0),
            ("units", output.units),
            ("every output", post_mean(deep)[-1]),
        ),
    )


SMALL_INIT = Claim(
    text="Set W[1] to np.random.randn(2,2) [a 2×2 Gaussian], usually multiplied by a small number such "
    "as 0.01, so that the weights start as very small random numbers. [...] As long as the weights are "
    "random, different hidden units compute different things. [...] When you train a network with "
    "only one hidden layer (a relatively shallow network), 0.01 may well do. But when you train a very, "
    "very deep network, you may want to try a constant other than 0.01.",
    source=NG,
    view=View("grid", "post"),
    look_at="The shallow run's distinct units (all of them), and the deep run's activations shrinking "
    "layer after layer until the output is one value.",
    verdict="holds",
    reason="The 2-layer network's units all differ (100 of 100 distinct), while over 20 layers the signal "
    "fades away: the activations' std falls from 0.097 at layer 1 to 1.2e-19 at layer 19, and layer 20, "
    "the output, has 1 distinct unit of 100, every output 0.5.",
    measure=_small_init,
)
