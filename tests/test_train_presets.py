"""Each training preset shows what its text says, measured on the preset's own output."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from app import train_codec
from app.engine.training import TrainResult, train_runs
from app.train_presets import TRAIN_PRESETS


def _train(name: str, **changes: object) -> list[TrainResult]:
    runs = TRAIN_PRESETS[name].training.runs
    return train_runs([replace(run, **changes) for run in runs])  # type: ignore[arg-type]


def _final_loss(result: TrainResult) -> float:
    return float(np.mean(result.loss[-100:]))


def test_train_presets_book_init_comparison_as_the_book_says() -> None:
    std001, xavier, he = _train("mnist-init")  # the full 2000 iterations, as the book
    assert _final_loss(std001) > 2.2  # ln 10 = 2.30: it has not learned
    assert _final_loss(he) < _final_loss(xavier) < 0.5 * _final_loss(std001)
    assert he.records[-1].test_accuracy > 0.85 and std001.records[-1].test_accuracy < 0.2


def test_train_presets_optimizers_sgd_is_slowest() -> None:
    sgd, momentum, adagrad, adam = _train("mnist-optimizers", iterations=300)
    for faster in (momentum, adagrad, adam):
        assert _final_loss(faster) < _final_loss(sgd)


def test_train_presets_large_learning_rate_kills_relus() -> None:
    gentle, harsh = _train("dead-relu-lr")
    assert max(harsh.records[-1].dead_fraction) > 0.5  # most units of a layer dead ...
    assert max(gentle.records[-1].dead_fraction) < 0.2  # ... where the gentle rate keeps them
    assert min(r.step for r in harsh.records if max(r.dead_fraction) > 0.5) <= 50  # early, for good


def test_train_presets_zero_init_stays_symmetric() -> None:
    zeros, xavier = _train("zero-init-symmetric")
    assert zeros.status == "done" and zeros.records[-1].update_ratio[0] is not None  # weights move ...
    for capture in zeros.captures:
        assert all(layer.distinct_units == 1 for layer in capture.layers)  # ... every unit alike
    assert all(layer.distinct_units == 50 for layer in xavier.captures[-1].layers)
    assert zeros.records[-1].test_accuracy < 0.2 < 0.5 < xavier.records[-1].test_accuracy


def test_train_presets_links_decode() -> None:
    for preset in TRAIN_PRESETS.values():
        assert train_codec.decode(preset.query) == preset.training
