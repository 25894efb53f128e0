"""CSV and standalone-report downloads of a share query."""

from __future__ import annotations

import csv
import io
import json
import re

from fastapi.testclient import TestClient

SHARE = "depth=2&bins=4&run=sigmoid,normal&run=relu,he_normal"


def test_export_csv_is_tidy_and_matches_the_json(client: TestClient) -> None:
    response = client.get(f"/api/v1/export/csv?{SHARE}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="initscope.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2 * 2 * 2 * 4  # runs x layers x kinds x bins
    document = client.get(f"/api/v1/simulate?{SHARE}").json()
    for row in rows:
        tensor = document["runs"][int(row["run"]) - 1]["layers"][int(row["layer"]) - 1][row["kind"]]
        b = int(row["bin"]) - 1
        assert int(row["count"]) == tensor["counts"][b]
        assert float(row["left"]) == tensor["edges"][b] and float(row["right"]) == tensor["edges"][b + 1]


def test_export_report_is_self_contained_and_escapes_labels(client: TestClient) -> None:
    payload = "%3Cscript%3Ealert(1)%3C%252Fscript%3E"  # </script> inside a run label
    response = client.get(f"/api/v1/export/report?{SHARE},label:{payload}")
    assert response.status_code == 200
    assert 'filename="initscope-report.html"' in response.headers["content-disposition"]
    html = response.text
    assert "<script>alert(1)" not in html  # escaped in the table and in the data
    assert "src=" not in re.sub(r"<img[^>]*>", "", html.split("<script>", 1)[0])  # nothing to fetch
    data = re.search(r'<script type="application/json" id="initscope-data">(.*?)</script>', html, re.S)
    assert data is not None
    assert json.loads(data.group(1))["runs"][1]["label"] == "<script>alert(1)</script>"
    assert "Plotly" in html and "gridFigure" in html


def test_export_bad_query_is_a_clear_422(client: TestClient) -> None:
    for kind in ("csv", "report"):
        response = client.get(f"/api/v1/export/{kind}?run=relu,nope")
        assert response.status_code == 422
        assert "init" in response.json()["detail"][0]["msg"]
