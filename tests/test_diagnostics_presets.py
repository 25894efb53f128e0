"""Every diagnostics preset: a canonical query, and a claim whose verdict and every quoted number
match the preset's own result (as tests/test_claims.py does for the experiment presets)."""

from __future__ import annotations

import re
from functools import cache

import pytest

from app import codec
from app.claims import VERDICTS, mismatches
from app.claims.diagnostics import DiagnosticsView
from app.diagnostics_codec import options_query
from app.diagnostics_presets import DIAGNOSTICS_PRESETS
from app.engine.network.diagnostics import DiagnosticsResult, run_diagnostics


@cache
def _result(name: str) -> DiagnosticsResult:
    preset = DIAGNOSTICS_PRESETS[name]
    return run_diagnostics(preset.experiment, preset.options)


@pytest.mark.parametrize("name", DIAGNOSTICS_PRESETS)
def test_diagnostics_presets_claims_verdict_and_every_quoted_number_match(name: str) -> None:
    assert mismatches(DIAGNOSTICS_PRESETS[name].claim, _result(name)) == []


@pytest.mark.parametrize("name", DIAGNOSTICS_PRESETS)
def test_diagnostics_presets_queries_are_canonical(name: str) -> None:
    preset = DIAGNOSTICS_PRESETS[name]
    extra = options_query(preset.options)
    share = codec.encode(preset.experiment)
    assert preset.query == (f"{share}&{extra}" if extra else share)


@pytest.mark.parametrize("name", DIAGNOSTICS_PRESETS)
def test_diagnostics_presets_claims_read_as_plain_words(name: str) -> None:
    claim = DIAGNOSTICS_PRESETS[name].claim
    assert claim.verdict in VERDICTS and claim.text and claim.look_at
    assert isinstance(claim.view, DiagnosticsView) and claim.view.section in ("correlation", "jacobian")
    assert re.search(r"[A-Z][a-z]+", claim.source)
    assert claim.reason.endswith(".") and ". " not in claim.reason
    if claim.view.section == "jacobian":
        assert DIAGNOSTICS_PRESETS[name].options.jacobian > 0


def test_diagnostics_presets_ordered_and_chaotic_differ() -> None:
    """The Poole preset's panels: the ordered network's pairs end near 1, the chaotic ones' near c* < 1."""
    ordered, _, chaotic = _result("poole-tanh-correlation").runs
    assert min(v for v in ordered.correlation[-1].measured if v is not None) > 0.9
    assert max(v for v in chaotic.correlation[-1].measured if v is not None) < 0.1
