"""A point's metrics: the engine's own numbers (the API's answer for the same link says the same),
and the physics they summarize (measured chi on the theory's side of the critical line)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import orjson
import pytest

from app import codec, train_codec
from app.api.payload import result_dict
from app.api.train_payload import train_dict
from app.engine.network.experiment import run_experiment
from app.engine.training.trainer import train_runs
from app.sweeps.metrics import (
    METRIC_NAMES,
    METRICS,
    document_training_metrics,
    experiment_metrics,
    training_metrics,
)
from app.sweeps.point import compute_point


def _answer(link: str) -> dict[str, Any]:
    return result_dict(run_experiment(codec.to_experiment(codec.decode(link))))


def _mean(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return math.fsum(present) / len(present) if present else None


@pytest.mark.parametrize(
    "link",
    [
        "depth=12&width=60&samples=300&run=tanh,xavier,gain:1.5&bias=normal&bias_std=0.3",
        "depth=8&width=50&samples=200&run=sigmoid,normal&run=relu,he_normal",
    ],
)
def test_metrics_are_the_answers_numbers(link: str) -> None:
    document = _answer(link)
    metrics = compute_point(link)
    assert len(metrics) == len(document["runs"])
    for run, got in zip(document["runs"], metrics, strict=True):
        layers = run["layers"]
        act = [layer["post"]["std"] for layer in layers]
        grad = [layer["grad"]["std"] for layer in layers]
        scales = [layer["theory"]["gradient_scale"] for layer in layers]
        depth = len(layers)
        assert got["act_std"] == act
        assert got["grad_std"] == grad
        assert got["act_std_first"] == act[0] and got["act_std_last"] == act[-1]
        assert got["std_ratio"] == act[-1] / act[0]
        assert got["grad_growth"] == grad[0] / grad[-1]
        assert got["chi_measured"] == (grad[0] / grad[-1]) ** (2 / (depth - 1))
        assert got["chi_predicted"] == (scales[0] / scales[-1]) ** (2 / (depth - 1))
        assert got["chi_star"] == run["chi"]
        assert got["log10_chi_star"] == math.log10(run["chi"])
        assert got["dead_fraction"] == _mean([layer["dead_fraction"] for layer in layers])
        assert got["saturated_fraction"] == _mean([layer["post"]["saturated_fraction"] for layer in layers])
        assert got["chi_layers"] == [(a / b) ** 2 for a, b in itertools.pairwise(grad)]
        predicted_layers = got["chi_layers_predicted"]
        assert isinstance(predicted_layers, list) and len(predicted_layers) == depth - 1
        assert tuple(got) == METRIC_NAMES


@pytest.mark.parametrize(("gain", "phase"), [(0.6, "ordered"), (2.5, "chaotic")])
def test_measured_chi_is_on_the_theorys_side_of_the_critical_line(gain: float, phase: str) -> None:
    (metrics,) = compute_point(f"depth=30&samples=500&run=tanh,xavier,gain:{gain}&bias=normal&bias_std=0.1")
    measured, star = metrics["log10_chi_measured"], metrics["log10_chi_star"]
    assert isinstance(measured, float) and isinstance(star, float)
    assert (measured < 0) == (star < 0) == (phase == "ordered")
    # and the growth per layer the theory predicts for this network is what was measured, within 10%
    predicted = metrics["chi_predicted"]
    assert isinstance(predicted, float)
    assert metrics["chi_measured"] == pytest.approx(predicted, rel=0.1)


def test_bounded_and_relu_networks_report_saturation_and_dead_units() -> None:
    sigmoid, relu = compute_point("depth=5&samples=300&run=sigmoid,normal&run=relu,normal,std:0.01")
    assert isinstance(sigmoid["saturated_fraction"], float) and sigmoid["saturated_fraction"] > 0.5
    assert relu["saturated_fraction"] is None  # unbounded: no saturation to speak of
    assert sigmoid["dead_fraction"] == 0.0


def test_without_the_backward_pass_or_theory_those_metrics_are_null() -> None:
    (no_grad,) = compute_point("depth=4&samples=100&grad=0&theory=0&run=tanh,xavier")
    for name in ("grad_std_first", "grad_growth", "chi_measured", "chi_predicted", "chi_star"):
        assert no_grad[name] is None
    assert no_grad["chi_layers"] == [] and no_grad["chi_layers_predicted"] == []
    (one_layer,) = compute_point("depth=1&samples=100&run=tanh,xavier")
    assert one_layer["chi_measured"] is None and one_layer["grad_growth"] == 1.0


def test_vanished_signals_give_null_ratios_not_errors() -> None:
    (m,) = compute_point("depth=40&samples=100&run=relu,normal,std:0.001")
    last = m["act_std_last"]
    assert isinstance(last, float) and last < 1e-30
    for value in m.values():
        if isinstance(value, float):
            assert math.isfinite(value)


def test_every_metric_is_documented() -> None:
    assert len({m.name for m in METRICS}) == len(METRICS)
    assert all(len(m.doc) > 10 for m in METRICS)
    result = run_experiment(codec.to_experiment(codec.decode("depth=3&samples=50&run=relu,he_normal")))
    assert tuple(experiment_metrics(result)[0]) == METRIC_NAMES


@pytest.mark.parametrize(
    "link",
    [
        "data=synthetic&samples=100&width=8&iterations=60&record_every=20&run=relu,he_normal",
        # two runs on MNIST, the first of which overflows at once (diverged: final metrics null)
        "batch=20&iterations=30&record_every=7&run=relu,normal,std:1&run=relu,he_normal",
        "depth=3&batch=50&iterations=30&record_every=10&run=tanh,xavier&loss=bce&digits=4-9",
    ],
)
def test_a_trainings_metrics_read_from_its_train_document_are_the_trainers(link: str) -> None:
    training = train_codec.decode(link)
    share = train_codec.encode(training)
    results = train_runs(list(training.runs))
    document = orjson.loads(orjson.dumps(train_dict(results, share, "id")))  # as /train sends it
    assert document_training_metrics(document) == training_metrics(results)
    assert any(r.status == "diverged" for r in results) == ("std:1&" in link)
