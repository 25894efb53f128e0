"""seeds=N on /api/v1/simulate: the ensemble's document, its link, and its refusals."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app import codec
from app.engine.network.cost import Limits, check_limits
from app.engine.network.ensemble import MAX_SEEDS

LINK = "depth=3&width=20&samples=100&run=relu,he_normal&run=tanh,xavier"


def _numbers(mean: dict[str, Any], band: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if mean[key] is None:
            assert band["low"][key] is None and band["high"][key] is None
        else:
            assert band["low"][key] <= mean[key] * (1 + 1e-12) + 1e-300
            assert mean[key] <= band["high"][key] * (1 + 1e-12) + 1e-300


def test_no_seeds_and_one_seed_answer_the_same_bytes(client: TestClient) -> None:
    plain = client.get(f"/api/v1/simulate?{LINK}")
    one = client.get(f"/api/v1/simulate?{LINK}&seeds=1")
    assert plain.status_code == one.status_code == 200
    assert plain.content == one.content
    assert "ensemble" not in plain.json() and "band" not in plain.text


def test_an_ensemble_reports_mean_and_band_and_links_to_itself(client: TestClient) -> None:
    got = client.get(f"/api/v1/simulate?{LINK}&seeds=4")
    assert got.status_code == 200
    body = got.json()
    assert body["share"] == f"{LINK}&seeds=4"
    assert body["experiment"]["seeds"] == 4
    assert body["ensemble"]["seeds"] == 4 and body["ensemble"]["band"] == "min-max"
    assert body["ensemble"]["inputs"] == "fixed"
    # the link and the POST body it gives answer the same bytes
    assert client.get(f"/api/v1/simulate?{body['share']}").content == got.content
    assert client.post("/api/v1/simulate", json=body["experiment"]).content == got.content
    single = client.get(f"/api/v1/simulate?{LINK}").json()
    for run, alone in zip(body["runs"], single["runs"], strict=True):
        assert run["label"] == alone["label"] and run["theory"] == alone["theory"]
        for layer, row in zip(run["layers"], alone["layers"], strict=True):
            for kind in ("pre", "post", "grad"):
                t = layer[kind]
                low, high = t["band"]["low"]["counts"], t["band"]["high"]["counts"]
                assert len(t["counts"]) == len(low) == len(high) == len(t["edges"]) - 1
                assert all(a <= m <= b for a, m, b in zip(low, t["counts"], high, strict=True))
                _numbers(t, t["band"], ("mean", "std", "min", "max", "zero_fraction"))
                # member 0 is the link's own draw: inside the band
                assert t["band"]["low"]["std"] <= row[kind]["std"] <= t["band"]["high"]["std"]
            _numbers(layer, layer["band"], ("dead_units", "dead_fraction"))
    relu_last = body["runs"][0]["layers"][-1]["post"]["band"]
    assert relu_last["low"]["std"] < relu_last["high"]["std"]  # the draws differ


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (f"{LINK}&seeds=0", "from 1 to 16"),
        (f"{LINK}&seeds={MAX_SEEDS + 1}", "from 1 to 16"),
        (f"{LINK}&seeds=two", "got 'two'"),
        (f"{LINK}&seeds=99999999999999999999", "from 1 to 16"),
        (f"{LINK}&seeds=2&seeds=3", "given twice"),
    ],
)
def test_bad_seeds_are_a_422_naming_the_field(client: TestClient, query: str, message: str) -> None:
    got = client.get(f"/api/v1/simulate?{query}")
    assert got.status_code == 422
    detail = got.json()["detail"][0]
    assert detail["loc"] == ["query", "seeds"]
    assert message in detail["msg"]


def test_an_ensemble_takes_per_run_axes(client: TestClient) -> None:
    """axes=run: each run's draws share a range of their own (tests/engine/network/test_ensemble.py);
    the link keeps both settings, and each run's bins reach its lowest and highest draw's z."""
    got = client.get(f"/api/v1/simulate?{LINK}&axes=run&seeds=3")
    assert got.status_code == 200
    body = got.json()
    assert "axes=run" in body["share"] and body["share"].endswith("&seeds=3")
    assert body["experiment"]["axes"] == "run"
    assert client.get(f"/api/v1/simulate?{body['share']}").content == got.content
    for run in body["runs"]:
        for layer in run["layers"]:
            z = layer["pre"]
            assert z["edges"][0] == z["band"]["low"]["min"] and z["edges"][-1] == z["band"]["high"]["max"]
    ranges = [run["layers"][-1]["pre"]["edges"][-1] for run in body["runs"]]
    assert ranges[0] != ranges[1]  # each run its own


def test_draws_over_the_budget_are_refused_before_work(client: TestClient) -> None:
    # one draw of this link is within the server's 20 G multiply-adds; sixteen are not
    link = "depth=5&width=1000&samples=2000&grad=0&run=relu,he_normal"
    single = check_limits(codec.to_experiment(codec.decode(link)), Limits())  # one draw: within
    assert single.macs * 16 > Limits().max_macs
    assert client.get(f"/api/v1/simulate?{link}&seeds=16").status_code == 422
    detail = client.get(f"/api/v1/simulate?{link}&seeds=16").json()["detail"][0]
    assert detail["loc"] == ["query", "seeds"] and detail["limit"] == "max_macs"


def test_post_seeds_out_of_range_is_a_422(client: TestClient) -> None:
    got = client.post(
        "/api/v1/simulate", json={"runs": [{"activation": "relu", "init": "he_normal"}], "seeds": 17}
    )
    assert got.status_code == 422
    assert got.json()["detail"][0]["loc"] == ["body", "seeds"]
