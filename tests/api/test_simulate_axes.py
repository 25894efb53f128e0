"""axes=run over the API: links, JSON bodies, the CSV and the report; shared stays the default."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from app import codec
from app.api.runner import compute
from app.main import create_app
from app.presets import PRESETS

VANISHING = "run=sigmoid,normal,std:0.01&run=relu,he_normal"
SMALL = "depth=3&width=20&samples=100"


def _grad(document: dict[str, Any], run: int, layer: int) -> dict[str, Any]:
    grad: dict[str, Any] = document["runs"][run]["layers"][layer]["grad"]
    return grad


def test_simulate_axes_run_over_get_and_post(client: TestClient) -> None:
    got = client.get(f"/api/v1/simulate?axes=run&{VANISHING}")
    assert got.status_code == 200
    body = got.json()
    assert body["share"] == f"axes=run&{VANISHING}"
    assert body["experiment"]["axes"] == "run"
    posted = client.post("/api/v1/simulate", json=body["experiment"])
    assert posted.content == got.content
    runs = [
        {"activation": "sigmoid", "init": "normal", "std": 0.01},
        {"activation": "relu", "init": "he_normal"},
    ]
    spelled = {"runs": runs, "axes": "run"}
    assert client.post("/api/v1/simulate", json=spelled).content == got.content


def test_simulate_axes_run_gradient_of_a_vanished_sigmoid_fills_its_bins(client: TestClient) -> None:
    """Sigmoid std 0.01's layer-1 dL/dz (~1e-7) is one bar at 0 on the range it shares with ReLU
    He's (~1), and fills the bins of its own range with axes=run; ReLU's is the same either way."""
    shared = client.get(f"/api/v1/simulate?{VANISHING}").json()
    per_run = client.get(f"/api/v1/simulate?axes=run&{VANISHING}").json()
    vanished, own = _grad(shared, 0, 0), _grad(per_run, 0, 0)
    assert 1e-8 < own["std"] < 1e-6 and own["std"] == vanished["std"]
    assert np.count_nonzero(vanished["counts"]) == 1
    assert np.count_nonzero(own["counts"]) >= 25
    assert (own["edges"][0], own["edges"][-1]) == (own["min"], own["max"])
    assert sum(own["counts"]) == own["count"] and own["below"] == own["above"] == 0
    assert _grad(per_run, 1, 0) == _grad(shared, 1, 0)  # the widest run's range is its own already


def test_simulate_axes_run_is_each_runs_own_z_range(client: TestClient) -> None:
    """saito-compare's z view: Xavier's z is narrow beside sigmoid std 1's; on its own axes every
    run's z histogram spans exactly its own values, and the activations keep range=0,1."""
    shared = client.get("/api/v1/simulate?preset=saito-compare").json()
    per_run = client.get("/api/v1/simulate?preset=saito-compare&axes=run").json()
    assert per_run["share"] == PRESETS["saito-compare"].query.replace("range=0,1&", "range=0,1&axes=run&")
    for before, after in zip(shared["runs"], per_run["runs"], strict=True):
        for old, new in zip(before["layers"], after["layers"], strict=True):
            pre = new["pre"]
            assert (pre["edges"][0], pre["edges"][-1]) == (pre["min"], pre["max"])
            assert (pre["min"], pre["max"], pre["std"]) == (
                old["pre"]["min"],
                old["pre"]["max"],
                old["pre"]["std"],
            )
            assert new["post"]["edges"] == old["post"]["edges"]  # the explicit range=0,1 still wins
            assert new["post"]["counts"] == old["post"]["counts"]
    xavier = per_run["runs"][1]["layers"][0]["pre"]["counts"]
    assert np.count_nonzero(shared["runs"][1]["layers"][0]["pre"]["counts"]) <= 5
    assert np.count_nonzero(xavier) >= 25


# presets that bin each run on its own ranges (maxout-relu-sigmoid) say axes=run in their link
SHARED_AXES_PRESETS = [name for name, preset in PRESETS.items() if "axes=" not in preset.query]


@pytest.mark.parametrize("name", SHARED_AXES_PRESETS)
def test_simulate_axes_shared_is_every_presets_link_byte_for_byte(client: TestClient, name: str) -> None:
    """Shared is the default and is written nowhere: a preset's link with axes=shared spelled out
    is the same experiment, the same share and the same bytes."""
    share = PRESETS[name].query
    plain = client.get(f"/api/v1/simulate?{share}")
    spelled = client.get(f"/api/v1/simulate?{share}&axes=shared")
    assert plain.status_code == spelled.status_code == 200
    assert spelled.content == plain.content
    assert plain.json()["share"] == share and "axes" not in plain.json()["experiment"]


@pytest.mark.parametrize(
    ("query", "body"),
    [
        (f"axes=bogus&{VANISHING}", {"axes": "bogus"}),
        (f"axes=&{VANISHING}", {"axes": ""}),
        (f"axes=Run&{VANISHING}", {"axes": "Run"}),
    ],
)
def test_simulate_bad_axes_is_422_naming_it(client: TestClient, query: str, body: dict[str, Any]) -> None:
    runs = [{"activation": "relu", "init": "he_normal"}]
    got = client.get(f"/api/v1/simulate?{query}")
    posted = client.post("/api/v1/simulate", json={**body, "runs": runs})
    assert got.status_code == posted.status_code == 422
    by_link, by_body = got.json()["detail"][0], posted.json()["detail"][0]
    assert by_link["loc"] == ["query", "axes"] and by_body["loc"] == ["body", "axes"]
    assert by_link["msg"] == by_body["msg"] == "axes: must be one of shared, run"
    assert client.get(f"/api/v1/export/csv?{query}").status_code == 422


def test_simulate_axes_in_the_openapi_body() -> None:
    schema = create_app().openapi()["components"]["schemas"]["ExperimentSpec"]["properties"]["axes"]
    assert schema["anyOf"][0]["enum"] == ["shared", "run"]


def test_simulate_axes_not_text_in_a_body_is_422(client: TestClient) -> None:
    runs = [{"activation": "relu", "init": "xavier"}]
    assert client.post("/api/v1/simulate", json={"axes": "run", "runs": runs}).status_code == 200
    response = client.post("/api/v1/simulate", json={"axes": 1, "runs": runs})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "axes"]


def test_simulate_axes_run_csv_and_report(client: TestClient) -> None:
    """The CSV's bins are the API's, each run on its own range; the report carries them too."""
    query = f"{SMALL}&axes=run&{VANISHING}"
    document = client.get(f"/api/v1/simulate?{query}").json()
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/v1/export/csv?{query}").text)))
    assert len(rows) == 2 * 3 * 3 * 30  # runs x layers x kinds x bins
    for row in rows:
        tensor = document["runs"][int(row["run"]) - 1]["layers"][int(row["layer"]) - 1][row["kind"]]
        b = int(row["bin"]) - 1
        assert (float(row["left"]), float(row["right"])) == (tensor["edges"][b], tensor["edges"][b + 1])
        assert int(row["count"]) == tensor["counts"][b]
    firsts = {
        (r["run"], r["layer"]): float(r["left"]) for r in rows if r["kind"] == "pre" and r["bin"] == "1"
    }
    assert firsts[("1", "1")] != firsts[("2", "1")]  # each run's own range
    report = client.get(f"/api/v1/export/report?{query}")
    assert report.status_code == 200
    assert '"axes":"run"' in report.text and f'"share":"{document["share"]}"' in report.text


def test_simulate_axes_run_is_deterministic() -> None:
    """The same link gives the same bytes: computed twice here, and by a server of its own."""
    config = codec.to_experiment(codec.decode(f"{SMALL}&axes=run&{VANISHING}"))
    first, second = compute(config), compute(config)
    assert first.json == second.json and first.gzip == second.gzip
    with TestClient(create_app()) as fresh:
        served = fresh.get(f"/api/v1/simulate?{SMALL}&axes=run&{VANISHING}")
        assert served.headers["x-cache"] == "miss" and served.content == first.json
    assert orjson.loads(first.json)["share"] == f"{SMALL}&axes=run&{VANISHING}"
