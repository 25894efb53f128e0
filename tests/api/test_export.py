"""CSV and standalone-report downloads of a share query."""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import quote

from fastapi.testclient import TestClient

from app.api.payload import CSV_COLUMNS

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


def test_export_csv_vanished_gradient_answers(client: TestClient) -> None:
    response = client.get("/api/v1/export/csv?run=tanh,xavier,gain:0.01&depth=200")
    assert response.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(response.text)))) == 200 * 2 * 30


def test_export_csv_takes_a_preset(client: TestClient) -> None:
    response = client.get("/api/v1/export/csv?preset=saito-compare&depth=2&bins=4")
    assert response.status_code == 200
    runs = "run=sigmoid,normal&run=sigmoid,xavier&run=relu,he_normal"
    expected = client.get(f"/api/v1/export/csv?depth=2&bins=4&range=0,1&{runs}")
    assert response.text == expected.text
    report = client.get("/api/v1/export/report?preset=nope")
    assert report.status_code == 422 and report.json()["detail"][0]["loc"] == ["query", "preset"]


# A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return) as a formula.
FORMULAS = ["=1+2", "+1+2", "-1+2", "@SUM(A1:A2)", '=HYPERLINK("http://x.invalid","y")', "-0.5"]


def test_export_csv_neutralizes_formula_labels(client: TestClient) -> None:
    """Run labels come from the link (label:...), so they are the user's text: each cell that a
    spreadsheet would run as a formula gets a single quote in front, inside its quotes (OWASP)."""
    runs = "&".join(f"run=tanh,xavier,label:{quote(_escape(label), safe='')}" for label in FORMULAS)
    response = client.get(f"/api/v1/export/csv?depth=1&width=10&samples=10&bins=2&{runs}")
    assert response.status_code == 200
    document = client.get(f"/api/v1/simulate?depth=1&width=10&samples=10&bins=2&{runs}").json()
    assert document["runs"][0]["label"] == FORMULAS[0]  # the JSON keeps the label as given
    lines = response.text.splitlines()
    rows = list(csv.reader(lines))
    assert rows[0] == list(CSV_COLUMNS)
    assert {row[1] for row in rows[1:]} == {"'" + label for label in FORMULAS}
    for label in FORMULAS:
        assert '"' + "'" + label.replace('"', '""') + '"' in response.text  # in quotes, as text
    text_columns = [CSV_COLUMNS.index(name) for name in ("label", "activation", "kind")]
    for line, row in zip(lines[1:], rows[1:], strict=True):
        assert all(row[i][:1] not in ("=", "+", "-", "@", "\t", "\r") for i in text_columns)
        # numbers stay numbers, unquoted: tanh's z runs below 0, so left edges like -0.5 stay -0.5
        numbers = [row[i] for i, name in enumerate(CSV_COLUMNS) if i not in text_columns]
        assert all(float(n) == float(n) for n in numbers)
        assert line.endswith(",".join(numbers[-3:]))
    assert any(row[CSV_COLUMNS.index("left")].startswith("-") for row in rows[1:])


def _escape(label: str) -> str:
    return label.replace("%", "%25").replace(",", "%2C").replace(":", "%3A")
