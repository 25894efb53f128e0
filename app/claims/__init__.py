"""The teaching texts' claims, each beside what the product measures about it.

One claim per preset (app/presets.py, app/train_presets.py and the paths presets give each preset
its own): the text's words in English with their source, the view that shows what the claim is
about, what to look for there, and the product's verdict with a one-sentence reason. The verdict
and the reason's numbers are written down as data; each claim's `measure` derives them again from
the preset's own result (an experiment's, a training's or a paths comparison's), and
tests/test_claims.py asserts the two agree, so a caption cannot drift from the numbers.

One module per text: ng (000), cs231n (001), saito_sigmoid and saito_relu (002), nielsen (003).
"""

from .core import (
    VERDICTS,
    AnyView,
    Claim,
    ExperimentClaim,
    Kind,
    Measurement,
    PathsView,
    TrainChart,
    TrainClaim,
    TrainView,
    Verdict,
    View,
    ViewName,
    agrees,
    mismatches,
    quoted_numbers,
)

__all__ = [
    "VERDICTS",
    "AnyView",
    "Claim",
    "ExperimentClaim",
    "Kind",
    "Measurement",
    "PathsView",
    "TrainChart",
    "TrainClaim",
    "TrainView",
    "Verdict",
    "View",
    "ViewName",
    "agrees",
    "mismatches",
    "quoted_numbers",
]
