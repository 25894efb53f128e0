"""Seed ensembles on the real dashboard: the bands drawn are the API's, the select asks for them."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import (
    FIGURE_TEXTS,
    Watch,
    assert_bars_show_bands,
    close,
    open_page,
    wait_for_location,
)

pytestmark = pytest.mark.browser
LINK = "depth=3&width=40&samples=300&run=relu,he_normal&run=tanh,xavier"
BAND = re.compile(r"σ (\S+) \((\S+)–(\S+)\)")


def api(live_server: str, query: str) -> dict[str, Any]:
    response = httpx.get(f"{live_server}/api/v1/simulate?{query}", timeout=60)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def test_dashboard_draws_the_apis_bands(page: Page, live_server: str, watch: Watch) -> None:
    result = api(live_server, f"{LINK}&seeds=4")
    open_page(page, f"{live_server}/?{LINK}&seeds=4#view=grid&kind=post&log=0&layers=auto")
    assert page.locator("#seeds").input_value() == "4"
    assert "mean of 4 weight draws" in page.locator("#figure-caption").inner_text()
    # the downloads hold the ensemble shown (its means and bands); /units one draw's units
    share = result["share"]
    assert page.locator("#download-csv").get_attribute("href") == f"/api/v1/export/csv?{share}"
    assert page.locator("#download-report").get_attribute("href") == f"/api/v1/export/report?{share}"
    assert "seeds=" not in (page.locator("#units-link").get_attribute("href") or "seeds=")
    # the grid: one bar trace per run and layer, its error bars the draws' lowest and highest counts
    bars = page.evaluate(
        "() => document.getElementById('figure').data.filter((t) => t.type === 'bar')"
        ".map((t) => ({y: t.y, plus: t.error_y.array, minus: t.error_y.arrayminus}))"
    )
    expected = [
        layer["post"]
        for layer_j in zip(*(r["layers"] for r in result["runs"]), strict=True)
        for layer in layer_j
    ]
    assert len(bars) == len(expected) == 6
    assert_bars_show_bands(bars, expected)
    # the statistics lines print the mean std and the draws' range, as the API's numbers
    lines = [m.groups() for t in page.evaluate(FIGURE_TEXTS) if (m := BAND.search(t))]
    assert len(lines) == 6
    for (mean, low, high), t in zip(lines, expected, strict=True):
        for shown, value in (
            (mean, t["std"]),
            (low, t["band"]["low"]["std"]),
            (high, t["band"]["high"]["std"]),
        ):
            assert abs(float(shown) - value) <= 0.006 * abs(value), (shown, value)
    # the signal chart: each measured activation std with the draws' band
    signal = page.evaluate(
        "() => document.getElementById('signal').data.filter((t) => t.name.endsWith(': activation'))"
        ".map((t) => ({y: t.y, plus: t.error_y.array, minus: t.error_y.arrayminus}))"
    )
    for drawn, run in zip(signal, result["runs"], strict=True):
        for y, p, m, layer in zip(drawn["y"], drawn["plus"], drawn["minus"], run["layers"], strict=True):
            assert close(y, layer["post"]["std"])
            assert close(y + p, layer["post"]["band"]["high"]["std"])
            assert close(y - m, layer["post"]["band"]["low"]["std"])


def test_choosing_weight_draws_asks_for_an_ensemble(page: Page, live_server: str, watch: Watch) -> None:
    open_page(page, f"{live_server}/?{LINK}")
    assert page.locator("#seeds").input_value() == "1"
    assert page.evaluate("() => document.getElementById('figure').data.every((t) => !t.error_y)")
    page.select_option("#seeds", "8")
    wait_for_location(page, r"[?&]seeds=8(&|#|$)")
    page.wait_for_selector("#figure-caption:has-text('mean of 8 weight draws')")
    result = api(live_server, f"{LINK}&seeds=8")
    first = page.evaluate("() => document.getElementById('figure').data.find((t) => t.type === 'bar').y")
    assert first == result["runs"][0]["layers"][0]["post"]["counts"]
    page.select_option("#seeds", "1")
    wait_for_location(page, r"\?depth=3&width=40&samples=300&run=relu,he_normal&run=tanh,xavier(#|$)")
    page.wait_for_selector("#figure-caption:not(:has-text('weight draws'))")


def test_an_ensemble_takes_per_run_axes(page: Page, live_server: str, watch: Watch) -> None:
    """With per-run axes each run's draws share their own range: the grid draws the API's bins."""
    open_page(page, f"{live_server}/?{LINK}&seeds=3#view=grid&kind=post&log=0&layers=auto")
    assert page.locator("#per-run-axes").is_enabled()
    page.locator("#per-run-axes").check()
    wait_for_location(page, r"[?&]axes=run(&|#|$)")
    page.wait_for_selector("#figure-caption:has-text('mean of 3 weight draws')")
    result = api(live_server, f"axes=run&{LINK}&seeds=3")
    assert result["experiment"]["axes"] == "run" and result["ensemble"]["seeds"] == 3
    bars = page.evaluate(
        "() => document.getElementById('figure').data.filter((t) => t.type === 'bar').map((t) => t.y)"
    )
    rows = zip(*(run["layers"] for run in result["runs"]), strict=True)
    expected = [layer["post"]["counts"] for row in rows for layer in row]
    assert bars == expected
