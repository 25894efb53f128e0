"""What a claim is, and how its reason is held to the numbers it quotes.

A claim's verdict and reason are written down as data (the pages show them without running
anything), and its `measure` derives the same verdict from the preset's own result, together with
every number the reason quotes, in the order it quotes them. `mismatches` compares the two, so a
test fails the day an engine change moves a number past the precision written.

A claim is generic in what its preset produces: an experiment's ExperimentResult (the dashboard),
a training's list of TrainResult, one per run (the /train page), or a paths comparison (the
/optimizers page). Its `view` says which page and which part of it shows the claim.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from ..engine.network.experiment import ExperimentResult
from ..engine.training.trainer import TrainResult

Verdict = Literal["holds", "holds in part", "contradicted"]
"""holds: the measurement shows what the text says. holds in part: it shows some of it (what the
text's figure looks like, say) but not the rest, or shows it for other reasons than the text
gives. contradicted: it shows the opposite of what the text concludes, even where the text's
description of its figure is right."""
VERDICTS: tuple[Verdict, ...] = ("holds", "holds in part", "contradicted")

ViewName = Literal["grid", "overlay", "ridgeline", "distribution"]
Kind = Literal["post", "pre", "grad"]  # activations f(z), pre-activations z, gradients dL/dz


@dataclass(frozen=True)
class View:
    """The dashboard's view state that shows the claim: its `view=`, `kind=` and `layers=` hash
    keys (`layers`: the rows of the Layers menu, e.g. "rows-dense projection" for each residual
    block's projection row; "auto" the figure's own choice)."""

    view: ViewName = "grid"
    kind: Kind = "post"
    layers: str = "auto"


TrainChart = Literal["loss", "accuracy", "dead", "update", "histograms"]


@dataclass(frozen=True)
class TrainView:
    """The /train page's chart that shows a training claim."""

    chart: TrainChart = "loss"


@dataclass(frozen=True)
class PathsView:
    """The /optimizers page's section that shows a paths claim (its element id)."""

    section: str


AnyView = View | TrainView | PathsView
R = TypeVar("R")  # what the preset produces, which the claim's measure reads
V = TypeVar("V", bound=AnyView)  # the page that shows it


@dataclass(frozen=True)
class Measurement:
    verdict: Verdict
    # Every number the reason quotes, named, in the order the reason writes them (a layer's
    # position included: "layer 7" is a measurement when it says where something happens).
    numbers: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Claim(Generic[R, V]):
    text: str  # what the text says, translated into English; [...] marks a cut, [brackets] context
    source: str  # the text, in plain words
    view: V
    look_at: str  # one line: what to look for in that view
    verdict: Verdict
    reason: str  # one sentence a student understands, quoting the measured numbers
    measure: Callable[[R], Measurement]
    units_layer: int | None = None  # a layer whose units, one by one (/units), show the claim


ExperimentClaim = Claim[ExperimentResult, View]  # an experiment preset's, on the dashboard
TrainClaim = Claim[Sequence[TrainResult], TrainView]  # a training preset's, on /train

# A number as a reason writes it: 0.077, 9.9e-8, 352, 58 (of "58%"). Not part of a word (dL/dz).
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:e-?\d+)?(?!\w)")


def quoted_numbers(reason: str) -> list[str]:
    return _NUMBER.findall(reason)


def significant_digits(written: str) -> int:
    """How many digits a number is written to: 0.10 has 2, 9.9e-8 2, 352 3, 0 1."""
    mantissa = written.split("e")[0].replace(".", "").lstrip("0")
    return max(len(mantissa), 1)


def agrees(written: str, value: float) -> bool:
    """Whether `value` rounds to `written` at the precision written (0 means exactly 0)."""
    if not math.isfinite(value):
        return False
    digits = significant_digits(written)
    return float(f"{value:.{digits - 1}e}") == float(written)


def mismatches(claim: Claim[R, V], result: R) -> list[str]:
    """What in the claim the result does not bear out: its verdict, or a number of its reason."""
    measured = claim.measure(result)
    problems = []
    if measured.verdict != claim.verdict:
        problems.append(f"verdict: written {claim.verdict!r}, measured {measured.verdict!r}")
    written = quoted_numbers(claim.reason)
    if len(written) != len(measured.numbers):
        names = ", ".join(name for name, _ in measured.numbers)
        problems.append(f"the reason quotes {written}, the measure gives {len(measured.numbers)}: {names}")
        return problems
    for text, (name, value) in zip(written, measured.numbers, strict=True):
        if not agrees(text, value):
            problems.append(f"{name}: written {text}, measured {value:.6g}")
    return problems


def verdict_of(*parts: bool) -> Verdict:
    """A claim of several parts, each borne out or not, none of them shown to be the opposite."""
    if all(parts):
        return "holds"
    return "holds in part" if any(parts) else "contradicted"
