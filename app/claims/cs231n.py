"""Claims of the notes on activation functions after Stanford's CS231n (notes 001), measured in
experiments, in trainings and on the optimizers page."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..engine.network.experiment import ExperimentResult
from ..engine.paths.surfaces import ZIGZAG_NEAR, ZIGZAG_TARGET, UnitPath
from ..engine.training.trainer import TrainResult
from .core import Claim, Measurement, PathsView, TrainView, View, verdict_of
from .readings import fold, grad_std, saturated_percent, smoothed_final, steps_to

CS231N = "notes on Stanford's CS231n course, on activation functions (notes 001)"


def _dead_relu(result: ExperimentResult) -> Measurement:
    relu, leaky = result.runs
    dead = [layer.dead_units for layer in relu.layers]
    units = relu.layers[0].units
    all_dead_from = next(j + 1 for j, d in enumerate(dead) if d == units) if units in dead else 0
    relu_grad, leaky_grad = grad_std(relu), grad_std(leaky)
    relu_dies = all_dead_from > 0 and max(relu_grad) == 0.0
    leaky_lives = all(layer.dead_units == 0 for layer in leaky.layers)
    return Measurement(
        verdict_of(relu_dies, leaky_lives),
        (
            ("ReLU dead units, layer 5", dead[4]),
            ("units", units),
            ("layer", 5),
            ("units", units),
            ("the first layer where every unit is dead", all_dead_from),
            ("ReLU dL/dz std, largest", max(relu_grad)),
            ("layers", len(dead)),
            ("leaky ReLU dead units, most", max(layer.dead_units for layer in leaky.layers)),
            ("first layer", 1),
            ("leaky ReLU dL/dz std, layer 1", leaky_grad[0]),
        ),
    )


DEAD_RELU = Claim(
    text="A dead ReLU is one that no input ever opens (it always sits on the left, where the gradient is "
    "0), so its weights are never updated. [...] Two causes are likely to make too many ReLUs die. The "
    "first is a wrong weight initialization. [...] Leaky ReLU changes the function a little, which "
    "gives the left part a gradient too, so naturally no dead ReLUs arise.",
    source=CS231N,
    view=View("grid", "post"),
    look_at="In the ReLU column, the share of each layer stuck at exactly 0 growing until whole layers "
    "are dead (the dead units in each layer's stats); in the leaky ReLU column, none.",
    verdict="holds",
    reason="ReLU units die layer by layer (20 of 100 dead at layer 5, all 100 from layer 7 on) and then no "
    "gradient reaches any layer (dL/dz std 0 in all 10), while leaky ReLU has 0 dead units, though its "
    "gradient at layer 1 is only 1.0e-8.",
    measure=_dead_relu,
)


def _vanishing(result: ExperimentResult) -> Measurement:
    sigmoid, relu = result.runs
    s_grad, r_grad = grad_std(sigmoid), grad_std(relu)
    saturated = max(saturated_percent(sigmoid))
    vanishes = fold(s_grad[0], s_grad[-1]) > 1e6 and max(r_grad) < 1.5 * min(r_grad)
    # The text blames the flat ends. With 1% of the activations there, they cannot be the cause.
    in_the_flat_ends = saturated > 1.0
    return Measurement(
        verdict_of(vanishes, in_the_flat_ends),
        (
            ("sigmoid dL/dz std, layer 1", s_grad[0]),
            ("first layer", 1),
            ("sigmoid dL/dz std, last layer", s_grad[-1]),
            ("last layer", len(s_grad)),
            ("ReLU He dL/dz std, lowest layer", min(r_grad)),
            ("ReLU He dL/dz std, highest layer", max(r_grad)),
            ("sigmoid activations saturated %, most in a layer", saturated),
        ),
    )


VANISHING_GRADIENT = Claim(
    text="[The sigmoid's] drawbacks are fatal. First, at its far left and far right the curve is almost "
    "flat, which means the derivative there tends to 0 [...], so the weights are not updated at all.",
    source=CS231N,
    view=View("distribution", "grad"),
    look_at="The sigmoid column's gradient bands from layer 20 back to layer 1, against ReLU with He beside "
    "it; then, in the activations, how few of the sigmoid's values sit in its flat ends.",
    verdict="holds in part",
    reason="The sigmoid network's gradient does vanish (dL/dz std 2.4e-13 at layer 1 against 0.24 at layer "
    "20, while ReLU with He keeps 0.68 to 0.79), but not in the flat ends the text blames: at most "
    "0.06% of its activations sit there, and it vanishes because even at its steepest a sigmoid passes "
    "on only a quarter of the gradient.",
    measure=_vanishing,
)


SEVERAL = 2.0  # "several times faster": at least twice


def _relu_speed(results: Sequence[TrainResult]) -> Measurement:
    relu, _, sigmoid = results
    target = 0.5
    steps = relu.config.iterations
    r, t, s = (steps_to(run, target) for run in results)
    if r is None:
        raise ValueError("ReLU's loss never reached the target: the claim's numbers need another target")
    # A run that never reaches the target took more than all the steps: its factor is a lower bound.
    over_tanh = (t if t is not None else steps) / r
    over_sigmoid = (s if s is not None else steps) / r
    return Measurement(
        verdict_of(over_tanh >= SEVERAL, over_sigmoid >= SEVERAL),
        (
            ("target loss", target),
            ("ReLU steps to the target", r),
            ("tanh steps to the target", t if t is not None else math.inf),
            ("ReLU's speed over tanh's", over_tanh),
            ("steps", steps),
            ("sigmoid loss, last step", smoothed_final(sigmoid)),
            ("ReLU's speed over sigmoid's, at least", over_sigmoid),
        ),
    )


RELU_SPEED = Claim(
    text="[ReLU's] form is very simple to compute, and in experiments it also fits very fast: it is claimed "
    "to be 6 times faster than sigmoid/tanh.",
    source=CS231N + ", trained on the MNIST digits",
    view=TrainView("loss"),
    look_at="When each bold (smoothed) loss curve first drops below 0.5: ReLU's, tanh's and the sigmoid's, "
    "all from the same Xavier start on the same batches.",
    verdict="holds in part",
    reason="ReLU's loss reaches 0.5 in 198 steps, but tanh's in 152 (ReLU 0.77 times as fast), and the "
    "sigmoid's never does in 1000 steps (still 2.30 at the end), so here ReLU is more than 5 times as fast "
    "as sigmoid and slower than tanh.",
    measure=_relu_speed,
)


KILLED = 0.5  # most of a layer's units dead


def _dead_relu_lr(results: Sequence[TrainResult]) -> Measurement:
    gentle, harsh = results
    dead = [max(r.dead_fraction) for r in harsh.records]
    first = next((k for k, d in enumerate(dead) if d > KILLED), None)
    gentle_most = max(max(r.dead_fraction) for r in gentle.records)
    for_good = first is not None and min(dead[first:]) > KILLED  # never back below half
    return Measurement(
        verdict_of(for_good, gentle_most < 0.2),
        (
            ("large rate", dict(harsh.config.optimizer_params)["lr"]),
            ("dead % of a layer, most, at the first record over half", 100 * dead[first or 0]),
            ("the first record over half", harsh.records[first].step if first is not None else math.inf),
            ("dead % of a layer, most, at the last step", 100 * dead[-1]),
            ("steps", harsh.config.iterations),
            ("small rate", dict(gentle.config.optimizer_params)["lr"]),
            ("dead % of a layer, most ever, small rate", 100 * gentle_most),
        ),
    )


DEAD_RELU_LR = Claim(
    text="Two causes are likely to make too many ReLUs die. [...] The second is too large a learning rate. "
    "[...] Once an update is too large, [...] all the weights w_i become too small, perhaps all below 0, "
    "and with positive inputs [the unit] stays [at 0] for good.",
    source=CS231N + ", trained on the MNIST digits",
    view=TrainView("dead"),
    look_at="The dead-unit curves of each layer: at lr 0.1 they jump within the first steps and stay up.",
    verdict="holds",
    reason="At Adam's lr 0.1, 89% of a layer's units are dead by step 10, never fewer than half after it and "
    "99% at step 500, while at lr 0.001 no layer ever has more than 17% dead.",
    measure=_dead_relu_lr,
)


def _zigzag(paths: Sequence[UnitPath]) -> Measurement:
    positive, centred = paths
    staircase = positive.same_sign == 1.0 and positive.detour > 2 * centred.detour
    free = centred.same_sign < 0.75  # centred steps may go down-right: about half do
    w0, w1 = ZIGZAG_TARGET
    return Measurement(
        verdict_of(staircase, free),
        (
            ("positive: % of steps whose two components share a sign", 100 * positive.same_sign),
            ("steps", len(positive.w) - 1),
            ("target w0", w0),
            ("target w1, below 0 by", -w1),  # written with its minus sign
            ("positive: path length over the straight line", positive.detour),
            ("centred: % of steps whose two components share a sign", 100 * centred.same_sign),
            ("centred: path length over the straight line", centred.detour),
            ("near: within", ZIGZAG_NEAR),
            ("positive: steps to arrive", positive.arrived if positive.arrived is not None else math.inf),
            ("centred: steps to arrive", centred.arrived if centred.arrived is not None else math.inf),
        ),
    )


ZIGZAG = Claim(
    text="Suppose x_i > 0 (if the previous layer's activation is sigmoid, this layer's inputs are surely "
    "positive) [...]: the direction in which every w_i changes is the same. If the ideal weights need "
    "some w_i to fall and others to rise [...] we can only make them all larger, then all smaller, so "
    "the weights' update path is the red staircase and cannot go down like the blue straight line. [...] "
    "Take a two-dimensional example, f(w0 x0 + w1 x1 + b): we want w0 to grow a little and w1 to shrink "
    "a little.",
    source=CS231N + ", one sigmoid unit's two weights trained a sample at a time",
    view=PathsView("zigzag"),
    look_at="The two paths from (0, 0) to the star: on positive inputs every step goes up-right or "
    "down-left (its two components share a sign), a staircase; centred, steps go down-right too.",
    verdict="holds",
    reason="On all-positive inputs 100% of the 300 steps move both weights the same way, so the path to "
    "(2, −2) is a staircase 3.2 times as long as the straight line, while on the same inputs centred "
    "50% do and the path is 1.25 times the line, though both come within 0.5 of the target in about as "
    "many steps (134 and 136).",
    measure=_zigzag,
)
