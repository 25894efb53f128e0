"""Saito's trainings on MNIST (notes 002): the init comparison and the optimizer comparison."""

from __future__ import annotations

from collections.abc import Sequence

from ..engine.training.trainer import TrainResult
from .core import Claim, Measurement, TrainView, verdict_of
from .ng import CHANCE
from .readings import smoothed_final, steps_to, test_percent
from .saito_sigmoid import SAITO

TARGET = 0.5  # a loss the learning runs pass, to say which passes it first


def _at_chance(run: TrainResult) -> bool:
    return abs(smoothed_final(run) - CHANCE) < 0.01 * CHANCE


def _steps(run: TrainResult) -> int:
    """Steps to the target loss; a run that never gets there took more than all of them."""
    steps = steps_to(run, TARGET)
    return steps if steps is not None else run.config.iterations + 1


def _init(results: Sequence[TrainResult]) -> Measurement:
    std001, xavier, he = results
    he_fastest = _steps(he) < _steps(xavier) and smoothed_final(he) < smoothed_final(xavier)
    return Measurement(
        verdict_of(_at_chance(std001), he_fastest),
        (
            ("weight std", float(std001.config.run.init_params()["std"])),
            ("std 0.01 loss, last step", smoothed_final(std001)),
            ("steps", std001.config.iterations),
            ("std 0.01 test accuracy %", test_percent(std001)),
            ("Xavier loss, last step", smoothed_final(xavier)),
            ("Xavier test accuracy %", test_percent(xavier)),
            ("He loss, last step", smoothed_final(he)),
            ("He test accuracy %", test_percent(he)),
            ("target loss", TARGET),
            ("He steps to the target", _steps(he)),
            ("Xavier steps to the target", _steps(xavier)),
        ),
    )


INIT = Claim(
    text="With ReLU, use He's initial value [std sqrt(2/n)]. Below is the comparison of different weight "
    "initializations on the MNIST data set with ReLU activations. [The book's figure: with std 0.01 the "
    "network does not learn at all; He learns fastest, Xavier a little slower.]",
    source=SAITO + ", trained on the MNIST digits",
    view=TrainView("loss"),
    look_at="The three bold (smoothed) loss curves: std 0.01 flat at ln 10 = 2.30 (chance), He's below "
    "Xavier's from the start.",
    verdict="holds",
    reason="With std 0.01 the network never leaves chance (loss 2.30 after 2000 steps, 10% of the test "
    "digits right), while Xavier falls to 0.23 (90%) and He fastest, to 0.12 (92%), reaching loss 0.5 in "
    "372 steps against Xavier's 820.",
    measure=_init,
)


def _optimizers(results: Sequence[TrainResult]) -> Measurement:
    sgd, *others = results
    slowest = all(_steps(sgd) > _steps(o) and smoothed_final(sgd) > smoothed_final(o) for o in others)
    return Measurement(
        verdict_of(slowest),
        (
            ("target loss", TARGET),
            ("SGD steps to the target", _steps(sgd)),
            *((f"{o.config.optimizer} steps to the target", _steps(o)) for o in others),
            ("steps", sgd.config.iterations),
            ("SGD loss, last step", smoothed_final(sgd)),
            ("the others' loss, last step, highest", max(smoothed_final(o) for o in others)),
        ),
    )


OPTIMIZERS = Claim(
    text="The four algorithms [SGD, Momentum, AdaGrad and Adam] are compared below, all on the MNIST data "
    "set. [The book's figure: SGD learns slowest, the other three faster.]",
    source=SAITO + ", trained on the MNIST digits, each optimizer at the book's default rate",
    view=TrainView("loss"),
    look_at="The four bold (smoothed) loss curves: SGD's stays above the others from the first steps.",
    verdict="holds",
    reason="SGD's loss reaches 0.5 in 372 steps, Momentum's in 117, AdaGrad's in 69 and Adam's in 80, and "
    "after 2000 steps SGD is still at 0.12 while the other three have fitted the training digits (loss "
    "0.0013 or less).",
    measure=_optimizers,
)
