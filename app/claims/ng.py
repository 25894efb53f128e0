"""Claims of the course notes after Andrew Ng's (notes 000): symmetry, the constant 0.01, and
weights too large for it; tanh against sigmoid, and what a shallow and a deep network with 0.01 do
in training."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..engine.measure.stats import TensorStats
from ..engine.network.experiment import ExperimentResult, LayerResult
from ..engine.training.trainer import TrainResult
from .core import Claim, Measurement, TrainView, View, verdict_of
from .readings import (
    fold,
    grad_std,
    post_mean,
    post_std,
    saturated_percent,
    smoothed_final,
    steps_to,
    test_percent,
)

NG = "notes on Andrew Ng's deep learning course, on random initialization (notes 000)"
NG_ACTIVATIONS = "notes on Andrew Ng's deep learning course, on activation functions (notes 000)"
CHANCE = math.log(10)  # softmax cross-entropy of a network that has learned nothing about 10 digits
LEARNED = 50.0  # % of the test digits right: the network has learned (chance is 10%)
EXPLODED = 1e6  # the activations' std this many times larger at the last layer than at the first
VANISHED = 10.0  # a gradient this many times smaller at layer 1 than at the last layer has vanished


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
    units_layer=2,
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
    view=View("distribution", "post"),
    look_at="The deep run's bands narrowing layer after layer until the output is one value, beside the "
    "shallow run's two layers (whose units all differ: distinct in the grid's stats).",
    verdict="holds",
    reason="The 2-layer network's units all differ (100 of 100 distinct), while over 20 layers the signal "
    "fades away: the activations' std falls from 0.097 at layer 1 to 1.2e-19 at layer 19, and layer 20, "
    "the output, has 1 distinct unit of 100, every output 0.5.",
    measure=_small_init,
)


def _weight_std(result: ExperimentResult, index: int = 0) -> float:
    return float(result.runs[index].config.init_params()["std"])


def _exploding(result: ExperimentResult) -> Measurement:
    large, he = result.runs
    post, grad = post_std(large), grad_std(large)
    depth = len(post)
    explodes = post[-1] > EXPLODED * post[0] and grad[0] > EXPLODED * grad[-1]
    he_post, he_grad = post_std(he), grad_std(he)
    # The text: without sigmoid or tanh, large weights are no problem. Activations and gradients
    # a million times larger after the layers are its opposite.
    return Measurement(
        "contradicted" if explodes else "holds",
        (
            ("weight std", _weight_std(result)),
            ("layers", depth),
            ("factor per layer", float((post[-1] / post[0]) ** (1 / (depth - 1)))),
            ("activation std, layer 1", post[0]),
            ("first layer", 1),
            ("activation std, last layer", post[-1]),
            ("last layer", depth),
            ("dL/dz std, last layer", grad[-1]),
            ("last layer", depth),
            ("dL/dz std, layer 1", grad[0]),
            ("first layer", 1),
            ("He activation std, lowest layer", min(he_post)),
            ("He activation std, highest layer", max(he_post)),
            ("He dL/dz std, lowest layer", min(he_grad)),
            ("He dL/dz std, highest layer", max(he_grad)),
        ),
    )


EXPLODING = Claim(
    text="You may wonder where this constant comes from: why 0.01, and not 100 or 1000? [...] If W is very "
    "large, you are very likely to end up, even at the very start of training, with very large values. If "
    "there is no sigmoid or tanh activation anywhere in your network, this is not a problem. [The notes' "
    "example has one hidden layer; here the weights are randn without the 0.01, std 1, over 20 ReLU "
    "layers of 100, beside He's std sqrt(2/100) = 0.14.]",
    source=NG + ", taken to 20 layers",
    view=View("grid", "post"),
    look_at="The std 1 column's x axes, which grow layer after layer until He's whole histogram beside them "
    "is one bar at 0; the signal chart below draws both on a log scale, gradients included.",
    verdict="contradicted",
    reason="Without a single sigmoid or tanh, weights of std 1 are still a problem once the network is deep: "
    "each of the 20 ReLU layers multiplies the activations' std by 6.9 on average (5.8 at layer 1, 4.8e16 "
    "at layer 20) and the gradient grows alike going back (dL/dz std 0.64 at layer 20, 7.2e15 at layer 1), "
    "while He keeps the activations' std between 0.79 and 1.3 and the gradient's between 0.68 and 0.79.",
    measure=_exploding,
)


def _tanh_slope(layer: LayerResult) -> float:
    """The mean of tanh's slope over a layer's values, from its activations a = tanh(z): the slope is
    1 - a^2, whose mean is 1 - E[a^2] = 1 - (std^2 + mean^2)."""
    std, mean = layer.post.std, layer.post.mean
    if layer.activation != "tanh" or std is None or mean is None:
        raise ValueError("the slope is read off the activations of a tanh layer")
    return 1.0 - (std**2 + mean**2)


def _saturated(result: ExperimentResult) -> Measurement:
    run = result.runs[0]
    saturated, grad = saturated_percent(run), grad_std(run)
    slopes = [_tanh_slope(layer) for layer in run.layers]
    piles_up = min(saturated) > 50.0
    vanishes = fold(grad[0], grad[-1]) > VANISHED
    return Measurement(
        verdict_of(piles_up, vanishes),
        (
            ("bound", 1),
            ("saturated %, lowest layer", min(saturated)),
            ("saturated %, highest layer", max(saturated)),
            ("mean slope, lowest layer", min(slopes)),
            ("mean slope, highest layer", max(slopes)),
            ("dL/dz std, last layer", grad[-1]),
            ("last layer", len(grad)),
            ("dL/dz std, layer 1", grad[0]),
            ("first layer", 1),
            ("weight std", _weight_std(result)),
        ),
    )


SATURATED = Claim(
    text="We usually prefer to initialize [the weights] to very small random numbers, because if you use "
    "tanh or sigmoid activation functions [...] and the values swing too widely, you are very likely to "
    "end up on the flat parts of tanh or sigmoid, where the gradient is very small, which means gradient "
    "descent is very slow, and so learning is slow. [Here the weights are randn without the 0.01, std 1, "
    "over 5 tanh layers of 100.]",
    source=NG,
    view=View("grid", "post"),
    look_at="Each layer's activations piled up against -1 and +1 (sat in its stats); then, under Gradients, "
    "whether the gradient really shrinks from layer 5 back to layer 1.",
    verdict="holds in part",
    reason="The activations do end up on the flat parts at ±1 (85% to 86% of them saturated in every layer, "
    "tanh's slope averaging only 0.079 to 0.084), but the gradient does not shrink: dL/dz std grows from "
    "0.24 at layer 5 to 7.2 at layer 1, because weights of std 1 amplify the little that the steep middle "
    "lets through.",
    measure=_saturated,
)


def _small_init_training(results: Sequence[TrainResult]) -> Measurement:
    shallow, deep, xavier = results
    steps = shallow.config.iterations
    at_chance = abs(smoothed_final(deep) - CHANCE) < 0.01 * CHANCE
    return Measurement(
        verdict_of(test_percent(shallow) > LEARNED, at_chance, test_percent(xavier) > LEARNED),
        (
            ("shallow hidden layers", shallow.config.run.depth),
            ("shallow loss, last step", smoothed_final(shallow)),
            ("steps", steps),
            ("shallow test accuracy %", test_percent(shallow)),
            ("deep hidden layers", deep.config.run.depth),
            ("deep loss, last step", smoothed_final(deep)),
            ("deep test accuracy %", test_percent(deep)),
            ("Xavier hidden layers", xavier.config.run.depth),
            ("Xavier loss, last step", smoothed_final(xavier)),
            ("Xavier test accuracy %", test_percent(xavier)),
        ),
    )


SMALL_INIT_TRAINING = Claim(
    text=SMALL_INIT.text,
    source=NG + ", trained on the MNIST digits",
    view=TrainView("loss"),
    look_at="The loss of the 2-layer network falling while the 10-layer one with the same 0.01 stays flat at "
    "ln 10 = 2.30 (chance), and the 10 layers with Xavier's constant falling fastest.",
    verdict="holds",
    reason="Trained alike, the 2-layer network learns (loss 0.32 after 1000 steps, 88% of the test digits "
    "right) while the 10-layer one stays at chance (loss 2.30, 10%), and the same 10 layers with Xavier's "
    "constant reach 0.039 and 92%.",
    measure=_small_init_training,
)


def _tanh_mean(result: ExperimentResult) -> Measurement:
    sigmoid, tanh = result.runs
    s_mean, t_mean = post_mean(sigmoid), post_mean(tanh)
    near_half = all(abs(m - 0.5) < 0.05 for m in s_mean)
    near_zero = all(abs(m) < 0.05 for m in t_mean)
    return Measurement(
        verdict_of(near_half, near_zero),
        (
            ("sigmoid mean, lowest layer", min(s_mean)),
            ("sigmoid mean, highest layer", max(s_mean)),
            ("layers", len(s_mean)),
            ("tanh mean, lowest layer, below 0 by", -min(t_mean)),  # written with its minus sign
            ("tanh mean, highest layer", max(t_mean)),
        ),
    )


TANH_TEXT = (
    "tanh, the hyperbolic tangent, is an activation that is better than sigmoid almost everywhere. [...] "
    "Used in the hidden layers, tanh does better than sigmoid, because its values lie between -1 and +1 and "
    "their mean is closer to zero: using tanh instead of sigmoid centres the data, so that its mean is close "
    "to 0 rather than 0.5. This makes learning a little easier for the next layer."
)

TANH_MEAN = Claim(
    text=TANH_TEXT,
    source=NG_ACTIVATIONS,
    view=View("distribution", "post"),
    look_at="Each layer's median line and bands: the sigmoid's sit around 0.5, tanh's around 0.",
    verdict="holds",
    reason="With the same Xavier weights, the sigmoid's activations average between 0.495 and 0.517 in the 5 "
    "layers (every input the next layer gets is positive), tanh's between −0.0018 and 0.00082.",
    measure=_tanh_mean,
)


def _tanh_training(results: Sequence[TrainResult]) -> Measurement:
    sigmoid, tanh = results
    target = 1.0
    s_steps, t_steps = steps_to(sigmoid, target), steps_to(tanh, target)
    if t_steps is None:
        raise ValueError("tanh's loss never reached the target: the claim's numbers need another target")
    steps = tanh.config.iterations
    faster = s_steps is None or t_steps < s_steps
    lower = smoothed_final(tanh) < smoothed_final(sigmoid)
    return Measurement(
        verdict_of(faster, lower),
        (
            ("target loss", target),
            ("tanh steps to the target", t_steps),
            ("sigmoid steps to the target", s_steps if s_steps is not None else math.inf),
            ("steps", steps),
            ("tanh loss, last step", smoothed_final(tanh)),
            ("tanh test accuracy %", test_percent(tanh)),
            ("sigmoid loss, last step", smoothed_final(sigmoid)),
            ("sigmoid test accuracy %", test_percent(sigmoid)),
        ),
    )


TANH_TRAINING = Claim(
    text=TANH_TEXT,
    source=NG_ACTIVATIONS + ", trained on the MNIST digits",
    view=TrainView("loss"),
    look_at="The two bold (smoothed) loss curves: tanh's falls at once, the sigmoid's stays high for "
    "hundreds of steps.",
    verdict="holds",
    reason="On the same batches from the same Xavier start, tanh's loss falls to 1.0 in 67 steps and the "
    "sigmoid's in 767, and after 1000 steps tanh is at 0.11 (93% of the test digits right) against the "
    "sigmoid's 0.75 (82%); the experiment tanh-sigmoid-mean shows the centring the text credits for it.",
    measure=_tanh_training,
)


def _zero_init_training(results: Sequence[TrainResult]) -> Measurement:
    zeros, xavier = results
    # every capture, from step 0 to the last: the symmetry never breaks
    distinct = max(layer.distinct_units or 0 for c in zeros.captures for layer in c.layers)
    moved = zeros.records[-1].update_ratio[0] is not None  # the weights do change
    xavier_distinct = min(layer.distinct_units or 0 for layer in xavier.captures[-1].layers)
    units = zeros.config.run.widths[0]
    return Measurement(
        verdict_of(distinct == 1 and moved and test_percent(zeros) < LEARNED, xavier_distinct == units),
        (
            ("steps", zeros.config.iterations),
            ("zeros: distinct units, most in a layer at any capture", distinct),
            ("units", units),
            ("zeros test accuracy %", test_percent(zeros)),
            ("Xavier: distinct units, fewest in a layer at the end", xavier_distinct),
            ("Xavier test accuracy %", test_percent(xavier)),
        ),
    )


ZERO_INIT_TRAINING = Claim(
    text="If you initialize [the weights] to 0, all the hidden units are symmetric: no matter how long you "
    "run gradient descent, they keep computing the same function, which does not help at all.",
    source=NG + ", trained on the MNIST digits",
    view=TrainView("histograms"),
    look_at="Distinct units in the histograms at every capture step (1: every unit of the layer alike), and "
    "the accuracy: zero init stays at chance.",
    verdict="holds",
    reason="After 500 steps of gradient descent the zero-initialized network's layers still have 1 distinct "
    "unit (of 50) at every capture, and it gets 10% of the test digits right (chance), while Xavier's "
    "layers keep 50 distinct units and reach 66%.",
    measure=_zero_init_training,
)


CONFIDENT = 0.1  # an output within this of 0 or 1 has decided its class


def _confident_percent(stats: TensorStats) -> float:
    """% of a (0, 1) histogram's values within CONFIDENT of 0 or 1, from its bins (whose edges
    fall on 0.1 and 0.9 at the default 30 bins)."""
    counts = np.asarray(stats.counts, dtype=np.float64)
    centres = (np.asarray(stats.edges[:-1]) + np.asarray(stats.edges[1:])) / 2
    near = (centres < CONFIDENT) | (centres > 1 - CONFIDENT)
    return float(100 * counts[near].sum() / counts.sum())


def _binary(results: Sequence[TrainResult]) -> Measurement:
    (run,) = results
    outputs = [c.output for c in run.captures if c.output is not None]
    if len(outputs) != len(run.captures):
        raise ValueError("a binary classifier's captures hold its output unit")
    first, last = outputs[0].activation, outputs[-1].activation
    if first.min is None or first.max is None or last.min is None or last.max is None:
        raise ValueError("the output has no finite values")
    inside = all((o.activation.min or 0) > 0 and (o.activation.max or 1) < 1 for o in outputs)
    hidden = [layer.activation for layer in run.captures[-1].layers]
    low = min(h.min if h.min is not None else 0.0 for h in hidden)
    high = max(h.max if h.max is not None else 0.0 for h in hidden)
    return Measurement(
        verdict_of(inside and low < 0 < high, test_percent(run) > 90),
        (
            ("output, lowest at the start", first.min),
            ("output, highest at the start", first.max),
            ("steps", run.config.iterations),
            ("output, lowest at the end", last.min),
            ("output, highest at the end", last.max),
            ("the sigmoid's lower bound", 0),
            ("the sigmoid's upper bound", 1),
            ("tanh layers, lowest at the end, below 0 by", -low),  # written with its minus sign
            ("tanh layers, highest at the end", high),
            ("% of the probe's outputs near 0 or 1 at the end", _confident_percent(last)),
            ("near: within", CONFIDENT),
            ("the sigmoid's lower bound", 0),
            ("the sigmoid's upper bound", 1),
            ("test accuracy %", test_percent(run)),
        ),
    )


BINARY = Claim(
    text="There is one exception: in a binary classification problem the output layer should give 0 or 1, "
    "so you want its value between 0 and 1 rather than between -1 and +1, and you need the sigmoid "
    "activation. In that case you can use tanh in the hidden layers and sigmoid at the output.",
    source=NG_ACTIVATIONS + ", trained on two MNIST digits (4 against 9)",
    view=TrainView("histograms"),
    look_at="The histograms' last row, the output unit σ(s): one bell around 0.5 at step 0, then two piles "
    "against 0 and 1, never past them; the tanh layers above it span -1 to 1.",
    verdict="holds",
    reason="With binary cross-entropy on a sigmoid output, the output starts between 0.39 and 0.60 and after "
    "1000 steps spans 9.6e-7 to 0.9999991, always strictly inside (0, 1) while the tanh layers take both "
    "signs (−0.998 to 0.995), with 99.8% of the outputs within 0.1 of 0 or 1 and 96% of the test digits "
    "right.",
    measure=_binary,
)
