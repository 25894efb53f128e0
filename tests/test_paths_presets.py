"""Each paths preset's claim: its verdict and every number its reason quotes, from its own paths."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from app import paths_codec
from app.claims import VERDICTS, mismatches
from app.engine.paths.surfaces import unit_paths
from app.paths_presets import PATHS_PRESETS


@pytest.mark.parametrize("name", PATHS_PRESETS)
def test_paths_presets_claims_verdict_and_every_quoted_number_match_their_own_paths(name: str) -> None:
    preset = PATHS_PRESETS[name]
    assert mismatches(preset.claim, unit_paths(preset.config)) == []


@pytest.mark.parametrize("name", PATHS_PRESETS)
def test_paths_presets_read_as_plain_words_and_link_to_their_section(name: str) -> None:
    preset = PATHS_PRESETS[name]
    claim = preset.claim
    assert claim.verdict in VERDICTS and claim.text and claim.look_at
    assert re.search(r"[A-Z][a-z]+", claim.source) and "\n" not in claim.reason
    assert claim.reason.endswith(".") and ". " not in claim.reason  # one sentence
    assert paths_codec.encode_zigzag(preset.config) == preset.query  # canonical
    assert preset.page.startswith("/optimizers") and preset.page.endswith(f"#{claim.view.section}")


def test_paths_presets_zigzag_claim_catches_a_drifted_number() -> None:
    preset = PATHS_PRESETS["zigzag"]
    drifted = replace(preset.claim, reason=preset.claim.reason.replace("3.2 times", "2.2 times"))
    problems = mismatches(drifted, unit_paths(preset.config))
    assert [p.split(", measured")[0] for p in problems] == [
        "positive: path length over the straight line: written 2.2"
    ]
