"""The dashboard's correlation map: the markers and lines drawn are the diagnostics API's numbers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Watch, open_page
from tests.browser.panels import show_panels

pytestmark = pytest.mark.browser
LINK = "depth=4&width=60&samples=200&bias=normal&bias_std=0.3&run=tanh,xavier,gain:1&run=tanh,xavier,gain:3"


def diagnostics(live_server: str, query: str) -> dict[str, Any]:
    response = httpx.get(f"{live_server}/api/v1/diagnostics?{query}", timeout=60)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def test_dashboard_draws_c_over_depth_as_the_api_measures_it(
    page: Page, live_server: str, watch: Watch
) -> None:
    answer = diagnostics(live_server, f"{LINK}&jacobian=0")
    open_page(page, f"{live_server}/?{LINK}")
    show_panels(page, "#correlation-section")  # off the screen it waits
    page.wait_for_selector(
        "#correlation-list[data-drawn] .diag-run .main-svg", state="attached", timeout=30_000
    )
    cards = page.locator("#correlation-list .diag-run")
    assert cards.count() == len(answer["runs"]) == 2
    for index, run in enumerate(answer["runs"]):
        card = cards.nth(index)
        assert card.locator("h3").inner_text().strip() == run["label"]
        fp = run["correlation"]["fixed_point"]
        assert f"χ₁ {fp['chi1']:.3g}" in card.locator(".fixed-point").inner_text()
        traces = card.locator(".corr-plot").evaluate(
            "(plot) => plot.data.map((t) => ({name: t.name, y: t.y}))"
        )
        for i, c0 in enumerate(run["correlation"]["c0"]):
            name = f"c0 {c0:g}"
            measured = next(t["y"] for t in traces if t["name"] == name)
            predicted = next(t["y"] for t in traces if t["name"] == f"{name} predicted")
            assert measured == [layer["measured"][i] for layer in run["correlation"]["layers"]]
            assert predicted == [layer["predicted"][i] for layer in run["correlation"]["layers"]]
    # the two runs sit on both sides of the critical line: ordered pairs go to 1, chaotic ones do not
    phases = [card.locator(".phase").inner_text() for card in (cards.nth(0), cards.nth(1))]
    assert phases[0].startswith("Ordered") and phases[1].startswith("Chaotic")
    assert "8 pairs each" in page.locator("#correlation-status").inner_text()


def test_a_refused_map_says_why(page: Page, live_server: str, watch: Watch) -> None:
    watch.expect_error("422")
    open_page(
        page, f"{live_server}/?depth=3&width=20&input_dim=1&run=relu,he_normal"
    )  # no pairs of one feature
    show_panels(page, "#correlation-section")
    page.wait_for_selector("#correlation-list[data-drawn]", state="attached", timeout=30_000)
    assert page.locator("#correlation-status").inner_text().startswith("No correlation map for this link:")
    assert page.locator("#correlation-list .diag-run").count() == 0
