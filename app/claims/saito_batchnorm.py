"""Saito's Batch Normalization comparison on MNIST (ch. 6.3.2), one weight scale per training.

The book trains 5 ReLU layers of 100 with SGD (learning rate 0.01, batches of 100) from weights of
16 standard deviations, 1 down to 1e-4, with and without BatchNorm. Each preset here is one of those
scales as a training link, the two networks on the same batches; the whole grid is a sweep.
BatchNorm trains on each batch's statistics; the test accuracy is that of the running averages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..engine.training.trainer import TrainResult
from .core import Claim, Measurement, TrainClaim, TrainView, verdict_of
from .ng import CHANCE
from .readings import smoothed_final, test_percent

SAITO_BN = "Koki Saito, Deep Learning from Scratch, ch. 6.3.2, trained on the MNIST digits"
TEXT = (
    "In almost all cases, learning progresses faster with Batch Norm. [...] Without Batch Norm, "
    "learning does not progress at all unless the initial values are good ones. Batch Norm makes the "
    "network depend less on its initial values."
)
LEARNS = 20.0  # test accuracy points BatchNorm gains over the network without it


def _stalled(run: TrainResult) -> bool:
    """At chance at the end (loss ln 10), or overflowed on the way."""
    return run.status == "diverged" or abs(smoothed_final(run) - CHANCE) < 0.01 * CHANCE


def _final_percent(run: TrainResult) -> float:
    percent = test_percent(run)
    return percent if math.isfinite(percent) else 0.0


def _compare(results: Sequence[TrainResult]) -> Measurement:
    normed, plain = results
    gain = _final_percent(normed) - _final_percent(plain)
    return Measurement(
        verdict_of(gain > LEARNS, _stalled(plain)),
        (
            ("weight std", float(plain.config.run.init_params()["std"])),
            ("steps", plain.config.iterations),
            ("with BN: test accuracy %", _final_percent(normed)),
            ("without BN: test accuracy %", _final_percent(plain)),
        ),
    )


def claim(reason: str) -> TrainClaim:
    return Claim(
        text=TEXT,
        source=SAITO_BN,
        view=TrainView("accuracy"),
        look_at="The test accuracy of the two networks, with BatchNorm before each ReLU and without, from "
        "the same weights and batches.",
        verdict="holds",
        reason=reason,
        measure=_compare,
    )


STD_001 = claim(
    "From weights of std 0.01, after 400 steps the network with BatchNorm gets 94% of the test digits "
    "right while the one without stays at chance, 10%."
)
STD_1 = claim(
    "From weights of std 1, after 400 steps the network with BatchNorm gets 38% of the test digits right "
    "while the one without overflows and learns nothing, 10%."
)
