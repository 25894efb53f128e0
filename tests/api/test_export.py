"""CSV and standalone-report downloads of a share query."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from app import report
from app.api.payload import CSV_COLUMNS

SHARE = "depth=2&bins=4&run=sigmoid,normal&run=relu,he_normal"
# The shape of a preset's structured claim (app/api/catalog.py's preset_dict(preset)["claim"]).
CLAIM = {
    "text": "a <q>quoted</q> claim",
    "source": "a text, ch. 1",
    "view": {"view": "grid", "kind": "grad"},
    "look_at": "the gradients of layer 1",
    "verdict": "holds in part",
    "reason": "one sentence of why.",
}


def test_export_csv_is_tidy_and_matches_the_json(client: TestClient) -> None:
    response = client.get(f"/api/v1/export/csv?{SHARE}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="initscope.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2 * 2 * 3 * 4  # runs x layers x kinds (z, activations, gradients) x bins
    assert {row["kind"] for row in rows} == {"pre", "post", "grad"}
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
    assert len(list(csv.DictReader(io.StringIO(response.text)))) == 200 * 3 * 30


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


def _embedded(html: str, element_id: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def test_export_report_embeds_the_phase_diagrams_the_api_serves(client: TestClient) -> None:
    """One diagram per activation, each the very body GET /api/v1/phase-diagram gives for the query
    the dashboard sends: sigmoid std 1 sits at sigma_w = 10, so its axis runs to 12."""
    html = client.get("/api/v1/export/report?preset=saito-compare&depth=2&bins=4").text
    phases = _embedded(html, "initscope-phase")
    assert [(p["activation"], p["marked"], p["unmarked"]) for p in phases] == [
        ("sigmoid", [0, 1], []),
        ("relu", [2], []),
    ]
    for p, query in zip(phases, ("sigma_w_max=12&sigma_b_max=1", "sigma_w_max=4&sigma_b_max=1"), strict=True):
        api = client.get(f"/api/v1/phase-diagram?activation={p['activation']}&{query}").json()
        assert p["diagram"] == api
    assert 'class="phase-title">sigmoid: runs 1 and 2</h3>' in html
    assert 'class="phase-title">relu: run 3</h3>' in html


def test_export_report_starts_a_bistable_diagram_at_the_runs_q1(client: TestClient) -> None:
    """GELU has points with two stable variances: like the dashboard, the diagram starts from the
    first GELU run's own q_1 (not run 1's), and says so."""
    runs = "run=tanh,xavier&run=gelu,normal,std:0.2&run=gelu,he_normal"
    document = client.get(f"/api/v1/simulate?depth=2&{runs}").json()
    html = client.get(f"/api/v1/export/report?depth=2&{runs}").text
    gelu = _embedded(html, "initscope-phase")[1]
    q1 = document["runs"][1]["layers"][0]["theory"]["q"]
    assert gelu["activation"] == "gelu" and gelu["bistable"] and gelu["start_run"] == 1
    api = client.get(f"/api/v1/phase-diagram?activation=gelu&sigma_w_max=4&sigma_b_max=1&q0={q1!r}").json()
    assert gelu["diagram"] == api
    assert "run 2's first layer" in html


def test_export_report_sections_follow_the_result(client: TestClient) -> None:
    with_grad = client.get(f"/api/v1/export/report?{SHARE}").text
    assert 'id="grid-grad"' in with_grad and "triangles for\n  gradients" in with_grad
    without = client.get(f"/api/v1/export/report?grad=0&{SHARE}").text
    assert 'id="grid-grad"' not in without and "triangles for" not in without
    no_theory = client.get(f"/api/v1/export/report?theory=0&{SHARE}").text
    assert _embedded(no_theory, "initscope-phase") == [] and 'id="phases"' not in no_theory
    assert 'id="preset"' not in with_grad and 'id="notes"' not in with_grad  # not a preset; theory holds
    # the title texts are the dashboard's, not the old "activations solid, z dotted"
    assert "activations solid" not in with_grad
    assert "Measured: markers, filled for activations, open for z" in with_grad


def test_export_report_shows_the_theory_notes_and_marks_no_such_run(client: TestClient) -> None:
    document = client.get("/api/v1/simulate?preset=dead-relu").json()
    html = client.get("/api/v1/export/report?preset=dead-relu").text
    notes = re.findall(r'<li data-run="(\d+)"><strong>Run \d+ \(([^)]*)\)</strong>: ([^<]*)\.</li>', html)
    assert notes == [
        (str(i + 1), run["label"], run["theory"]["note"]) for i, run in enumerate(document["runs"])
    ]
    assert all(run["theory"]["note"] for run in document["runs"])
    assert [(p["marked"], p["unmarked"]) for p in _embedded(html, "initscope-phase")] == [
        ([], [0]),
        ([], [1]),
    ]
    assert "No prediction for runs 1 and 2: see the theory notes." in html
    assert html.count("does not apply (see the note)") == 2


def test_export_report_shows_the_preset_and_its_claim(client: TestClient) -> None:
    preset = client.get("/api/v1/presets/saito-sigmoid-std1").json()
    html = client.get(f"/api/v1/export/report?{preset['share']}").text  # the link, not the name
    assert f'id="preset-title">Preset: {escape(preset["title"])}</h2>' in html
    claim = preset.get("claim")
    if claim is None:  # the catalog has no structured claim yet: the preset's own line instead
        assert escape(preset["shows"]) in html and 'id="claim"' not in html
    else:
        assert f'data-verdict="{escape(claim["verdict"])}"' in html
        assert escape(claim["text"]) in html and escape(claim["reason"]) in html


@pytest.mark.parametrize("claim", [None, "not an object", {}, CLAIM])
def test_report_render_takes_a_preset_with_or_without_a_claim(client: TestClient, claim: object) -> None:
    """The preset box works with the catalog's claim object, and without one (older catalogs)."""
    query = "depth=1&width=10&samples=10&bins=2&run=relu,he_normal"
    documents = [client.get(f"/api/v1/simulate?{grad}{query}").json() for grad in ("", "grad=0&")]
    preset = {"name": "p", "title": "A <b>title</b>", "shows": "what to see", "source": "a text"}
    with_grad, without_grad = (
        report.render(document, preset if claim is None else {**preset, "claim": claim})
        for document in documents
    )
    for html in (with_grad, without_grad):
        assert "Preset: A &lt;b&gt;title&lt;/b&gt;" in html
        if claim == CLAIM:
            assert 'data-verdict="holds in part"' in html and ">Holds in part</span>" in html
            assert "&lt;q&gt;quoted" in html and "what to see" not in html
        else:
            assert 'id="claim"' not in html and "what to see" in html
    if claim == CLAIM:  # the claim's view links to its section, when the report has it
        assert '<a href="#grid-grad">the gradients</a>' in with_grad
        assert '<a href="#grid-grad">' not in without_grad


def test_report_run_list_reads_as_words() -> None:
    assert [report.run_list(x) for x in ([0], [0, 1], [0, 2, 3])] == [
        "run 1",
        "runs 1 and 2",
        "runs 1, 3 and 4",
    ]


def test_export_csv_without_a_backward_pass_has_no_gradient_rows(client: TestClient) -> None:
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/v1/export/csv?grad=0&{SHARE}").text)))
    assert {row["kind"] for row in rows} == {"pre", "post"}
    assert len(rows) == 2 * 2 * 2 * 4
