"""The standalone report's diagnostics section, opened from a file: its figures draw the numbers
GET /api/v1/diagnostics gives for the same link, and it fits a phone's width."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.test_report import assert_fits, report  # noqa: F401 (report is a fixture)

pytestmark = pytest.mark.browser
LINK = "depth=4&width=40&samples=100&bias=normal&bias_std=0.3&run=tanh,xavier,gain:1&run=tanh,xavier,gain:3"


@pytest.mark.parametrize("width", [1440, 390])
def test_report_draws_the_diagnostics_apis_numbers(
    page: Page,
    report: Any,  # noqa: F811 (the fixture imported above)
    live_server: str,
    width: int,
) -> None:
    report(LINK, width)
    page.wait_for_selector("#diagnostics[data-drawn]", state="attached", timeout=30_000)
    served = httpx.get(f"{live_server}/api/v1/diagnostics?{LINK}", timeout=60).json()
    for i, run in enumerate(served["runs"]):
        traces = page.evaluate(
            "i => document.getElementById(`diag-corr-${i}`).data.map((t) => ({name: t.name, y: t.y}))", i
        )
        layers = run["correlation"]["layers"]
        for k, c0 in enumerate(run["correlation"]["c0"]):
            measured = next(t["y"] for t in traces if t["name"] == f"c0 {c0:g}")
            assert measured == [layer["measured"][k] for layer in layers]
        msq = page.evaluate("i => document.getElementById(`diag-msq-${i}`).data.map((t) => t.y)", i)
        assert [layer["mean_sq"] for layer in run["jacobian"]["layers"]] in msq
        phase = page.locator(f'#diagnostics .diag-run[data-run="{i}"] .diag-phase').inner_text()
        assert phase.startswith("Ordered" if run["correlation"]["fixed_point"]["chi1"] < 1 else "Chaotic")
    assert_fits(page, width)
