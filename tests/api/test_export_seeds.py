"""CSV and report downloads of a seed ensemble (seeds=N): the ensemble /api/v1/simulate answers,
with each bin's band; without seeds the files are what they always were."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.payload import CSV_COLUMNS, ENSEMBLE_CSV_COLUMNS, to_csv

LINK = "depth=2&width=20&samples=100&bins=5&run=relu,he_normal&run=tanh,xavier"
# sha256 of the CSV of these links as downloaded before the downloads took seeds
PINNED = {
    "depth=2&bins=4&run=sigmoid,normal&run=relu,he_normal": (
        "60231cf39ef11c0953ee5f4e9dfd93cfb0b28b6f06c11448ce949e13f3bfcd1d"
    ),
    "depth=3&width=20&samples=100&axes=run&run=relu,he_normal&run=tanh,xavier": (
        "8e560f4eef0bd815ba5bbcc1fce4d17dcb1e127a62f087f1e33254268ac81ffa"
    ),
}


@pytest.mark.parametrize(("link", "digest"), PINNED.items())
def test_csv_without_seeds_keeps_its_bytes(client: TestClient, link: str, digest: str) -> None:
    plain = client.get(f"/api/v1/export/csv?{link}")
    assert plain.status_code == 200
    assert hashlib.sha256(plain.content).hexdigest() == digest
    assert client.get(f"/api/v1/export/csv?{link}&seeds=1").content == plain.content
    assert plain.text == to_csv(client.get(f"/api/v1/simulate?{link}").json())


@pytest.mark.parametrize("axes", ["", "&axes=run"])
def test_ensemble_csv_holds_each_bins_mean_and_band_of_the_json(client: TestClient, axes: str) -> None:
    response = client.get(f"/api/v1/export/csv?{LINK}{axes}&seeds=3")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert next(csv.reader(lines[:1])) == list(ENSEMBLE_CSV_COLUMNS)
    assert ENSEMBLE_CSV_COLUMNS[: len(CSV_COLUMNS)] == CSV_COLUMNS  # today's columns, then the band's
    rows = list(csv.DictReader(lines))
    assert len(rows) == 2 * 2 * 3 * 5  # runs x layers x kinds x bins
    document = client.get(f"/api/v1/simulate?{LINK}{axes}&seeds=3").json()
    assert document["ensemble"]["seeds"] == 3
    means = []
    for row in rows:
        run = document["runs"][int(row["run"]) - 1]
        layer = run["layers"][int(row["layer"]) - 1]
        tensor = layer[row["kind"]]
        b = int(row["bin"]) - 1
        assert row["label"] == run["label"] and int(row["units"]) == layer["units"]
        assert float(row["left"]) == tensor["edges"][b] and float(row["right"]) == tensor["edges"][b + 1]
        assert float(row["count"]) == tensor["counts"][b]  # the mean, exactly as the JSON's
        assert int(row["count_low"]) == tensor["band"]["low"]["counts"][b]
        assert int(row["count_high"]) == tensor["band"]["high"]["counts"][b]
        assert int(row["count_low"]) <= float(row["count"]) <= int(row["count_high"])
        means.append(float(row["count"]))
    assert any(m != int(m) for m in means)  # the draws differ: some means are not whole counts


def test_ensemble_csv_of_one_tensor_adds_up_to_its_count(client: TestClient) -> None:
    """Every draw's values are in the bins (no explicit range): a tensor's mean counts add up to
    samples x units, as each draw's do."""
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/v1/export/csv?{LINK}&seeds=4").text)))
    totals: dict[tuple[str, str, str], float] = {}
    for row in rows:
        key = (row["run"], row["layer"], row["kind"])
        totals[key] = totals.get(key, 0.0) + float(row["count"])
    assert len(totals) == 2 * 2 * 3
    assert all(total == pytest.approx(100 * 20, rel=1e-12) for total in totals.values())


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (f"{LINK}&seeds=0", "from 1 to 16"),
        (f"{LINK}&seeds=17", "from 1 to 16"),
        (f"{LINK}&seeds=2&seeds=3", "given twice"),
        ("depth=5&width=1000&samples=2000&grad=0&run=relu,he_normal&seeds=16", "multiply-adds"),
    ],
)
@pytest.mark.parametrize("kind", ["csv", "report"])
def test_export_bad_seeds_are_a_422_naming_them(
    client: TestClient, kind: str, query: str, message: str
) -> None:
    got = client.get(f"/api/v1/export/{kind}?{query}")
    assert got.status_code == 422
    detail = got.json()["detail"][0]
    assert detail["loc"] == ["query", "seeds"] and message in detail["msg"]


def _embedded(html: str) -> Any:
    found = re.search(r'<script type="application/json" id="initscope-data">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def test_ensemble_report_carries_the_ensembles_answer(client: TestClient) -> None:
    html = client.get(f"/api/v1/export/report?{LINK}&seeds=3").text
    assert _embedded(html) == client.get(f"/api/v1/simulate?{LINK}&seeds=3").json()
    assert 'id="ensemble"' in html and "3 weight draws" in html
    single = client.get(f"/api/v1/export/report?{LINK}").text
    assert _embedded(single) == client.get(f"/api/v1/simulate?{LINK}").json()
    assert 'id="ensemble"' not in single


def test_export_documents_seeds(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for kind in ("csv", "report"):
        names = [p["name"] for p in paths[f"/api/v1/export/{kind}"]["get"]["parameters"]]
        assert "seeds" in names
