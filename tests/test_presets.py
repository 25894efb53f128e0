"""Every preset is a canonical share link, and shows the claim its text makes (through the API)."""

from __future__ import annotations

from functools import cache
from itertools import pairwise
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app import codec
from app.engine.network.cost import Limits, check_limits
from app.presets import PRESETS


@cache
def _result(client: TestClient, name: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/simulate?{PRESETS[name].query}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _layers(client: TestClient, name: str, run: int = 0) -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = _result(client, name)["runs"][run]["layers"]
    return layers


@pytest.mark.parametrize("name", PRESETS)
def test_presets_are_canonical_and_within_default_limits(name: str) -> None:
    preset = PRESETS[name]
    assert codec.encode(preset.experiment) == preset.query
    check_limits(preset.experiment, Limits())
    assert preset.title and preset.claim.text and preset.shows and preset.source


def test_presets_saito_sigmoid_std1_saturates_every_layer(client: TestClient) -> None:
    for layer in _layers(client, "saito-sigmoid-std1"):
        assert layer["post"]["saturated_fraction"] > 0.5


def test_presets_saito_sigmoid_std001_piles_up_near_half(client: TestClient) -> None:
    for layer in _layers(client, "saito-sigmoid-std001"):
        post = layer["post"]
        assert abs(post["mean"] - 0.5) < 0.01 and post["std"] < 0.03
        assert post["percentiles"]["6.68"] > 0.45 and post["percentiles"]["93.32"] < 0.55


def test_presets_saito_sigmoid_xavier_spreads_without_saturating(client: TestClient) -> None:
    for layer in _layers(client, "saito-sigmoid-xavier"):
        assert layer["post"]["saturated_fraction"] < 0.01 and layer["post"]["std"] > 0.08


def test_presets_saito_tanh_xavier_is_a_symmetric_bell(client: TestClient) -> None:
    for layer in _layers(client, "saito-tanh-xavier"):
        post = layer["post"]
        assert abs(post["mean"]) < 0.05 and 0.2 < post["std"] < 0.7
        assert abs(post["percentiles"]["15.87"] + post["percentiles"]["84.13"]) < 0.05


def test_presets_saito_relu_shrinks_with_xavier_and_std001_but_not_he(client: TestClient) -> None:
    stds = {name: [layer["post"]["std"] for layer in _layers(client, name)] for name in
            ("saito-relu-std001", "saito-relu-xavier", "saito-relu-he")}  # fmt: skip
    assert stds["saito-relu-std001"][-1] < 1e-3 * stds["saito-relu-std001"][0]  # x0.07 per layer
    assert all(b < a for a, b in zip(stds["saito-relu-xavier"], stds["saito-relu-xavier"][1:], strict=False))
    assert stds["saito-relu-xavier"][-1] < 0.5 * stds["saito-relu-xavier"][0]
    assert max(stds["saito-relu-he"]) < 1.5 * min(stds["saito-relu-he"])


def test_presets_deep_relu_he_keeps_scale_over_50_layers_while_std001_collapses(client: TestClient) -> None:
    std001, xavier, he = (
        [layer["post"]["std"] for layer in _layers(client, "deep-relu-compare", run)] for run in range(3)
    )
    assert len(he) == 50
    assert he[0] / 2 < he[-1] < he[0] * 2
    phases = [run["phase"] for run in _result(client, "deep-relu-compare")["runs"]]
    assert phases == ["ordered", "ordered", "critical"]  # chi = sigma_w^2 / 2: 0.0026, 0.5, 1
    assert std001[-1] == 0.0 or std001[-1] < 1e-30 * std001[0]
    assert xavier[-1] < 1e-3 * xavier[0]


def test_presets_nielsen_z_variances_are_501_and_1_5(client: TestClient) -> None:
    large = _layers(client, "nielsen-large")[0]["pre"]["std"] ** 2
    scaled = _layers(client, "nielsen-scaled")[0]["pre"]
    assert large == pytest.approx(501, rel=0.05)
    assert scaled["std"] ** 2 == pytest.approx(1.5, rel=0.05)
    # N(0, 1.5): the 15.87th and 84.13th percentiles sit at -+sqrt(1.5), inside (-1.5, 1.5)
    assert scaled["percentiles"]["15.87"] == pytest.approx(-(1.5**0.5), abs=0.08)
    assert scaled["percentiles"]["84.13"] == pytest.approx(1.5**0.5, abs=0.08)
    assert _layers(client, "nielsen-large")[0]["theory"]["q"] == pytest.approx(501)
    assert scaled["std"] ** 2 == pytest.approx(_layers(client, "nielsen-scaled")[0]["theory"]["q"], rel=0.05)
    sat_large = _layers(client, "nielsen-large")[0]["post"]["saturated_fraction"]
    sat_scaled = _layers(client, "nielsen-scaled")[0]["post"]["saturated_fraction"]
    assert sat_large > 0.8 and sat_scaled < 0.05


def test_presets_nielsen_compare_puts_501_and_1_5_on_one_z_axis(client: TestClient) -> None:
    n1, n2 = (_layers(client, "nielsen-compare", run)[0]["pre"] for run in range(2))
    assert n1["edges"] == n2["edges"]  # one axis: the same bins for both columns
    assert n1["std"] ** 2 == pytest.approx(501, rel=0.05) and n2["std"] ** 2 == pytest.approx(1.5, rel=0.05)
    assert [_layers(client, "nielsen-compare", run)[0]["theory"]["q"] for run in range(2)] == pytest.approx(
        [501, 1.5]
    )
    # N2's z, within a few units of 0, fills a bin or two of the thirty N1's spreads over
    assert sum(1 for n in n1["counts"] if n > 0) == 30 and sum(1 for n in n2["counts"] if n > 0) <= 3


def test_presets_exploding_relu_grows_a_million_fold_while_he_keeps(client: TestClient) -> None:
    runs = _result(client, "exploding-relu")["runs"]
    large, he = (run["layers"] for run in runs)
    assert len(large) == 20
    post = [layer["post"]["std"] for layer in large]
    grad = [layer["grad"]["std"] for layer in large]
    assert all(b > 3 * a for a, b in pairwise(post))  # about 7x per layer (chi = 50)
    assert post[-1] > 1e15 and grad[0] > 1e15 * grad[-1]
    for kind in ("post", "grad"):
        stds = [layer[kind]["std"] for layer in he]
        assert max(stds) < 2 * min(stds)
    assert [run["phase"] for run in runs] == ["chaotic", "critical"]


def test_presets_saturated_tanh_piles_up_at_both_ends(client: TestClient) -> None:
    layers = _layers(client, "saturated-tanh")
    for layer in layers:
        post = layer["post"]
        assert post["saturated_fraction"] > 0.8
        # below the 30.85th percentile and above the 69.15th (62% of the values): within 0.001 of -1 or +1
        assert post["percentiles"]["30.85"] < -0.999 and post["percentiles"]["69.15"] > 0.999
    grad = [layer["grad"]["std"] for layer in layers]
    assert grad == sorted(grad, reverse=True)  # grows going back, from layer 5 to layer 1
    assert _result(client, "saturated-tanh")["runs"][0]["phase"] == "chaotic"


def test_presets_dead_relu_kills_relu_units_but_not_leaky_ones(client: TestClient) -> None:
    relu, leaky = (_layers(client, "dead-relu", run) for run in range(2))
    dead = [layer["dead_units"] for layer in relu]
    assert dead[0] == 0 and dead[-1] >= 50 and dead == sorted(dead)
    assert all(layer["dead_units"] == 0 for layer in leaky)


def test_presets_vanishing_gradient_in_deep_sigmoid_but_not_relu_he(client: TestClient) -> None:
    runs = _result(client, "vanishing-gradient")["runs"]
    sigmoid = [layer["grad"]["std"] for layer in runs[0]["layers"]]
    relu = [layer["grad"]["std"] for layer in runs[1]["layers"]]
    assert sigmoid[0] < 1e-8 * sigmoid[-1]
    assert max(relu) < 3 * min(relu)
    assert runs[0]["phase"] == "ordered" and runs[1]["phase"] == "critical"


def test_presets_ng_zero_init_has_one_distinct_unit_per_layer(client: TestClient) -> None:
    for run in range(2):
        assert {layer["distinct_units"] for layer in _layers(client, "ng-zero-init", run)} == {1}
    assert _layers(client, "ng-zero-init")[-1]["activation"] == "sigmoid"


def test_presets_ng_small_init_breaks_symmetry_and_fades_when_deep(client: TestClient) -> None:
    shallow, deep = _layers(client, "ng-small-init", 0), _layers(client, "ng-small-init", 1)
    assert all(layer["distinct_units"] == layer["units"] for layer in shallow)
    # tanh with std 0.01 multiplies the signal's std by about 0.1 per layer
    assert deep[-2]["post"]["std"] < 1e-10 * deep[0]["post"]["std"]


def test_presets_saito_compare_columns_tell_the_three_stories(client: TestClient) -> None:
    runs = _result(client, "saito-compare")["runs"]
    assert [run["label"] for run in runs] == ["sigmoid, N(0, 1)", "sigmoid, Xavier", "relu, He"]
    for j in range(5):
        std1, xavier, he = (run["layers"][j] for run in runs)
        assert std1["post"]["saturated_fraction"] > 0.5 > xavier["post"]["saturated_fraction"]
        assert he["post"]["edges"][0] == 0.0 and he["post"]["edges"][-1] == 1.0


def test_presets_maxout_has_no_dead_or_saturated_units_where_relu_dies_and_sigmoid_saturates(
    client: TestClient,
) -> None:
    """Through the API as the dashboard reads it: each layer's dead units and saturated share, and
    the gradient of every maxout unit through exactly one of its 2 pieces."""
    maxout_he, relu, maxout_std1, sigmoid = _result(client, "maxout-relu-sigmoid")["runs"]
    assert [r["config"]["activation"] for r in (maxout_he, relu, maxout_std1, sigmoid)] == [
        "maxout", "relu", "maxout", "sigmoid"
    ]  # fmt: skip
    assert maxout_he["config"]["pieces"] == maxout_std1["config"]["pieces"] == 2
    for run in (maxout_he, maxout_std1):
        for layer in run["layers"]:
            assert layer["dead_units"] == 0
            assert layer["post"]["saturated_fraction"] is None  # unbounded: nothing to saturate at
            assert layer["pre"]["count"] == 2 * layer["post"]["count"]  # z holds both pieces
            assert layer["grad"]["zero_fraction"] == 0.5  # the losing piece's dL/dz, and only it
    assert relu["layers"][-1]["dead_units"] == relu["layers"][-1]["units"]
    assert all(layer["post"]["saturated_fraction"] > 0.5 for layer in sigmoid["layers"])
    # the same He weights' scale beside each: layer 1's z spreads alike in both columns
    assert maxout_he["layers"][0]["pre"]["std"] == pytest.approx(relu["layers"][0]["pre"]["std"], rel=0.05)
