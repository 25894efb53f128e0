"""Each training preset shows what its text says, measured on the preset's own output: its claim's
verdict and every number its reason quotes come from its own training (as tests/test_claims.py
does for the experiment presets)."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from typing import get_args

import numpy as np
import pytest

from app import train_codec
from app.claims import VERDICTS, TrainChart, mismatches
from app.engine.network.cost import Limits
from app.engine.training.config import train_cost
from app.engine.training.trainer import TrainResult, train_runs
from app.train_presets import TRAIN_PRESETS


@cache
def _trained(name: str) -> tuple[TrainResult, ...]:
    return tuple(train_runs(list(TRAIN_PRESETS[name].training.runs)))


def _train(name: str, **changes: object) -> list[TrainResult]:
    runs = TRAIN_PRESETS[name].training.runs
    return train_runs([replace(run, **changes) for run in runs])  # type: ignore[arg-type]


def _final_loss(result: TrainResult) -> float:
    return float(np.mean(result.loss[-100:]))


@pytest.mark.parametrize("name", TRAIN_PRESETS)
def test_train_presets_claims_verdict_and_every_quoted_number_match_their_own_training(name: str) -> None:
    assert mismatches(TRAIN_PRESETS[name].claim, _trained(name)) == []


@pytest.mark.parametrize("name", TRAIN_PRESETS)
def test_train_presets_claims_read_as_plain_words(name: str) -> None:
    preset = TRAIN_PRESETS[name]
    claim = preset.claim
    assert claim.verdict in VERDICTS and claim.view.chart in get_args(TrainChart)
    assert claim.text and claim.look_at and claim.reason
    assert not re.match(r"\s*(from\s+)?\d", claim.source, re.IGNORECASE)
    assert "\n" not in claim.look_at + claim.reason
    assert claim.reason.endswith(".") and ". " not in claim.reason  # one sentence
    assert preset.shows == claim.look_at and preset.source == claim.source


@pytest.mark.parametrize("name", TRAIN_PRESETS)
def test_train_presets_fit_the_default_training_budget(name: str) -> None:
    runs = TRAIN_PRESETS[name].training.runs
    assert sum(train_cost(run).macs for run in runs) <= Limits().max_train_macs


def test_train_presets_claims_catch_a_number_or_verdict_that_drifts() -> None:
    claim = TRAIN_PRESETS["relu-speed"].claim
    results = _trained("relu-speed")
    drifted = replace(claim, reason=claim.reason.replace("198 steps", "190 steps"))
    assert [m.split(", measured")[0] for m in mismatches(drifted, results)] == [
        "ReLU steps to the target: written 190"
    ]
    assert mismatches(replace(claim, verdict="holds"), results)[0].startswith("verdict: written 'holds'")


def test_train_presets_book_init_comparison_as_the_book_says() -> None:
    std001, xavier, he = _trained("mnist-init")  # the full 2000 iterations, as the book
    assert _final_loss(std001) > 2.2  # ln 10 = 2.30: it has not learned
    assert _final_loss(he) < _final_loss(xavier) < 0.5 * _final_loss(std001)
    assert he.records[-1].test_accuracy > 0.85 and std001.records[-1].test_accuracy < 0.2


def test_train_presets_optimizers_sgd_is_slowest() -> None:
    sgd, momentum, adagrad, adam = _train("mnist-optimizers", iterations=300)
    for faster in (momentum, adagrad, adam):
        assert _final_loss(faster) < _final_loss(sgd)


def test_train_presets_large_learning_rate_kills_relus() -> None:
    gentle, harsh = _trained("dead-relu-lr")
    assert max(harsh.records[-1].dead_fraction) > 0.5  # most units of a layer dead ...
    assert max(gentle.records[-1].dead_fraction) < 0.2  # ... where the gentle rate keeps them
    assert min(r.step for r in harsh.records if max(r.dead_fraction) > 0.5) <= 50  # early, for good


def test_train_presets_zero_init_stays_symmetric() -> None:
    zeros, xavier = _trained("zero-init-symmetric")
    assert zeros.status == "done" and zeros.records[-1].update_ratio[0] is not None  # weights move ...
    for capture in zeros.captures:
        assert all(layer.distinct_units == 1 for layer in capture.layers)  # ... every unit alike
    assert all(layer.distinct_units == 50 for layer in xavier.captures[-1].layers)
    assert zeros.records[-1].test_accuracy < 0.2 < 0.5 < xavier.records[-1].test_accuracy


def test_train_presets_links_decode() -> None:
    for preset in TRAIN_PRESETS.values():
        assert train_codec.decode(preset.query) == preset.training
        assert train_codec.encode(preset.training) == preset.query  # canonical: same link, same bytes


def test_train_presets_maxout_lives_at_the_rate_that_kills_relus() -> None:
    relu, maxout = _trained("maxout-lr")
    assert dict(relu.config.optimizer_params) == dict(maxout.config.optimizer_params)  # same rate, same Adam
    assert maxout.config.run.activation_params()["pieces"] == 2
    assert relu.status == maxout.status == "done"
    assert min(max(r.dead_fraction) for r in relu.records[1:]) > 0.5  # killed from the first record on
    assert all(d == 0.0 for r in maxout.records for d in r.dead_fraction)
    assert maxout.records[-1].test_accuracy > relu.records[-1].test_accuracy
