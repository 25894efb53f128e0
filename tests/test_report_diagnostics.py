"""The report's diagnostics section: the /api/v1/diagnostics numbers of the same link, within the
report's own budget (the Jacobian left out first, then the whole section, with a sentence why)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from app import codec, report
from app.engine.network.diagnostics import DEFAULT_JACOBIAN, diagnostics_cost, make_options

SMALL = "depth=3&width=30&samples=100&bias=normal&bias_std=0.3&run=tanh,xavier&run=relu,he_normal"
# its map fits the report's budget, its Jacobian (50 layers of 512 at 2 inputs) does not
DEEP = "depth=50&width=512&samples=100&grad=0&run=relu,he_normal"


def _document(client: TestClient, query: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/simulate?{query}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _embedded(html: str) -> dict[str, Any]:
    import orjson

    found = re.search(
        r'<script type="application/json" id="initscope-diagnostics">(.*?)</script>', html, re.S
    )
    assert found, "no diagnostics data in the report"
    data: dict[str, Any] = orjson.loads(found.group(1).replace("\\u003c", "<"))
    return data


def test_the_report_embeds_the_diagnostics_endpoints_answer(client: TestClient) -> None:
    html = report.render(_document(client, SMALL))
    embedded = _embedded(html)
    served = client.get(f"/api/v1/diagnostics?{SMALL}").json()
    assert embedded == served
    assert html.index('id="diagnostics"') < html.index("</main>")
    assert html.count("</main>") == 1 and html.count("</body>") == 1
    # the table prints each run's fixed point as the report prints numbers
    for run in served["runs"]:
        fp = run["correlation"]["fixed_point"]
        assert f'<td data-label="χ₁">{report._num(fp["chi1"])}</td>' in html
        assert run["label"] in html


def test_without_diagnostics_the_page_is_as_it_was(client: TestClient) -> None:
    document = _document(client, SMALL)
    plain = report.render(document, diagnostics=False)
    assert 'id="diagnostics"' not in plain and "initscope-diagnostics" not in plain
    assert report.render(document).startswith(plain.split("</main>")[0])


def test_a_jacobian_over_the_budget_is_left_out_and_said(client: TestClient) -> None:
    config = codec.to_experiment(codec.decode(DEEP))
    assert (
        diagnostics_cost(config, make_options(jacobian=DEFAULT_JACOBIAN)).macs
        > report.REPORT_DIAGNOSTICS_MACS
    )
    assert diagnostics_cost(config, make_options(jacobian=0)).macs <= report.REPORT_DIAGNOSTICS_MACS
    html = report.render(_document(client, DEEP))
    embedded = _embedded(html)
    assert embedded["options"]["jacobian"] == 0
    assert embedded == client.get(f"/api/v1/diagnostics?{DEEP}&jacobian=0").json()
    assert "over the report's budget" in html


@pytest.mark.parametrize(
    ("query", "says", "elsewhere"),
    [
        ("depth=3&width=20&input_dim=1&run=relu,he_normal", "runs[0].input_dim: must be at least 2", False),
        (
            "depth=150&width=1024&samples=100&grad=0&run=relu,he_normal",
            "more than the report's 1,000,000,000",
            True,
        ),
    ],
)
def test_no_diagnostics_section_says_why(client: TestClient, query: str, says: str, elsewhere: bool) -> None:
    html = report.render(_document(client, query))
    assert "initscope-diagnostics" not in html
    assert escape(says) in html  # as the page prints it
    # over the report's budget only: the page that can measure them is named
    assert (f"/diagnostics?{escape(query)}" in html) == elsewhere


def test_an_ensembles_report_measures_the_same_draws(client: TestClient) -> None:
    embedded = _embedded(report.render(_document(client, f"{SMALL}&seeds=3")))
    assert embedded["options"]["seeds"] == 3
    assert embedded == client.get(f"/api/v1/diagnostics?{SMALL}&seeds=3").json()
