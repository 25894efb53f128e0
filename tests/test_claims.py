"""Every preset's claim: its verdict and every number its reason quotes, from the preset's own result."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import get_args

import pytest

from app.claims import VERDICTS, Kind, ViewName, agrees, mismatches, quoted_numbers
from app.claims.core import significant_digits
from app.engine.network.experiment import ExperimentResult, run_experiment
from app.presets import PRESETS


@cache
def _result(name: str) -> ExperimentResult:
    return run_experiment(PRESETS[name].experiment)


@pytest.mark.parametrize("name", PRESETS)
def test_claims_verdict_and_every_quoted_number_match_the_presets_own_result(name: str) -> None:
    assert mismatches(PRESETS[name].claim, _result(name)) == []


@pytest.mark.parametrize("name", PRESETS)
def test_claims_open_a_view_the_preset_can_show(name: str) -> None:
    preset = PRESETS[name]
    view = preset.claim.view
    assert view.view in get_args(ViewName) and view.kind in get_args(Kind)
    if view.kind == "grad":  # the gradients exist only when the link runs the backward pass
        assert preset.experiment.gradients
    if name.startswith("nielsen"):  # Nielsen's claims are about z
        assert view.kind == "pre"


@pytest.mark.parametrize("name", PRESETS)
def test_claims_read_as_plain_words(name: str) -> None:
    claim = PRESETS[name].claim
    assert claim.verdict in VERDICTS
    assert claim.text and claim.look_at and claim.reason
    # A source a student can look up, not the product's file ids ("From 002").
    assert not re.match(r"\s*(from\s+)?\d", claim.source, re.IGNORECASE)
    assert re.search(r"[A-Z][a-z]+", claim.source)
    assert "\n" not in claim.look_at + claim.reason
    assert claim.reason.endswith(".") and ". " not in claim.reason  # one sentence
    assert PRESETS[name].shows == claim.look_at and PRESETS[name].source == claim.source
    # rows by the names the grid gives them ("BatchNorm"), not the link's identifiers
    for identifier in _GRID_TYPE_NAMES:
        assert identifier not in claim.look_at + claim.reason, (identifier, _GRID_TYPE_NAMES[identifier])


def _grid_type_names() -> dict[str, str]:
    """The layer types the grid's row labels rename (static/js/layers.js), as {identifier: name}."""
    script = (Path(__file__).resolve().parents[1] / "static/js/layers.js").read_text()
    names = re.search(r"const TYPE_NAMES = \{(.*?)\};", script)
    assert names is not None
    return dict(re.findall(r"(\w+): \"([^\"]+)\"", names.group(1)))


_GRID_TYPE_NAMES = _grid_type_names()


def test_claims_say_where_the_texts_and_the_measurement_disagree() -> None:
    verdicts = {name: p.claim.verdict for name, p in PRESETS.items()}
    assert verdicts["saito-sigmoid-std001"] == "contradicted"  # "no vanishing gradient"
    assert verdicts["saito-sigmoid-std1"] == "holds in part"  # saturated, yet the gradient holds
    assert verdicts["saito-tanh-xavier"] == "holds in part"  # no bell in layer 1
    assert verdicts["saito-compare"] == "holds in part"  # Xavier sigmoid's breadth, vanishing gradient
    assert verdicts["exploding-relu"] == "contradicted"  # "not a problem" without sigmoid or tanh
    assert verdicts["saturated-tanh"] == "holds in part"  # on the flat parts, yet the gradient grows
    assert set(verdicts.values()) == set(VERDICTS)
    # norms and residual blocks: Post-LN's gradient is larger than Pre-LN's at the output, yet flat
    assert verdicts["post-vs-pre-norm"] == "holds in part"
    assert verdicts["bn-sigmoid"] == verdicts["residual-depth"] == verdicts["bn-deep-relu"] == "holds"


def test_claims_catch_a_number_or_verdict_that_drifts() -> None:
    claim = PRESETS["saito-sigmoid-std1"].claim
    result = _result("saito-sigmoid-std1")
    drifted = replace(claim, reason=claim.reason.replace("0.077", "0.078"))
    assert [m.split(", measured")[0] for m in mismatches(drifted, result)] == [
        "dL/dz std, layer 1: written 0.078"
    ]
    assert mismatches(replace(claim, verdict="holds"), result)[0].startswith("verdict: written 'holds'")
    fewer = replace(claim, reason=claim.reason.replace(" (58% to 72% of them saturated in every layer)", ""))
    assert mismatches(fewer, result)[0].startswith("the reason quotes")


@pytest.mark.parametrize(
    ("written", "digits"), [("0.10", 2), ("0.077", 2), ("9.9e-8", 2), ("352", 3), ("0", 1), ("1.0e-8", 2)]
)
def test_claims_significant_digits_are_as_written(written: str, digits: int) -> None:
    assert significant_digits(written) == digits


@pytest.mark.parametrize(
    ("written", "value", "agree"),
    [
        ("0.10", 0.101, True),
        ("0.10", 0.106, False),
        ("0.077", 0.07695, True),
        ("9.9e-8", 9.91e-8, True),
        ("9.9e-8", 1e-7, False),
        ("352", 352.3, True),
        ("350", 352.3, False),  # an integer is written to its last digit
        ("0", 0.0, True),
        ("0", 1e-30, False),  # a written 0 is exactly 0
        ("1", float("nan"), False),
    ],
)
def test_claims_agree_to_the_precision_written(written: str, value: float, agree: bool) -> None:
    assert agrees(written, value) is agree


def test_claims_quoted_numbers_skip_words_and_keep_order() -> None:
    reason = "dL/dz std is 9.9e-8 at layer 1 against 0.25 at layer 5, 58% of them; ±0.90."
    assert quoted_numbers(reason) == ["9.9e-8", "1", "0.25", "5", "58", "0.90"]


def test_claims_maxout_holds_in_part_for_its_pieces_not_its_units() -> None:
    """No maxout unit dies or saturates; what keeps the verdict from "holds" is the pieces that win on
    no sample (no gradient reaches them): in the std-1 column they grow with depth."""
    from app.claims.cs231n_maxout import _dead_pieces

    result = _result("maxout-relu-sigmoid")
    numbers = dict(PRESETS["maxout-relu-sigmoid"].claim.measure(result).numbers)
    assert numbers["maxout dead units, most in a layer"] == 0
    assert (
        numbers["maxout weights and biases, thousands"] == 2 * numbers["ReLU weights and biases, thousands"]
    )
    pieces = _dead_pieces(result, 2)
    assert pieces[0] == 0 and max(pieces) > 0 and pieces[-1] > pieces[0]
