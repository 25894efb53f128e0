"""The figures on the real dashboard say what the API measured: every number displayed equals the
API's value to the precision shown, values beyond a histogram's range are told, zeros on log axes
are drawn, the overlay's legend is on the page, and the phase diagram's colour key draws under the
pages' CSP (the `watch` fixture fails a test on any console error, a CSP refusal included)."""

from __future__ import annotations

import math
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from app.presets import PRESETS
from tests.browser.conftest import Watch, open_page
from tests.browser.panels import show_panels

pytestmark = pytest.mark.browser
NUMBER = re.compile(r"σ (-?\d+(?:\.\d+)?(?:e[+-]\d+)?)")


def api(live_server: str, query: str) -> dict[str, Any]:
    response = httpx.get(f"{live_server}/api/v1/simulate?{query}", timeout=60)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def agrees(shown: str, value: float) -> bool:
    """`shown` is `value` rounded to the digits it shows (half a unit of its last digit)."""
    mantissa, _, exponent = shown.partition("e")
    decimals = len(mantissa.partition(".")[2])
    unit = 10.0 ** (-decimals + (int(exponent) if exponent else 0))
    return abs(float(shown) - value) <= unit / 2 * (1 + 1e-9)


def texts(page: Page, selector: str) -> list[str]:
    found: list[str] = page.locator(selector).all_text_contents()
    return found


def test_agrees_reads_the_precision_shown() -> None:
    assert agrees("100", 100.33)
    assert not agrees("1", 100.33)  # the old fmt's "σ 1"
    assert agrees("3.97e-41", 3.9706672716685645e-41)
    assert agrees("0.822", 0.8218103066862701)
    assert not agrees("0.82", 0.8268)


def test_figures_stats_lines_equal_the_apis_stds(page: Page, live_server: str, watch: Watch) -> None:
    # the example: z of a linear network with N(0, 1) weights has std 100.33 at layer 2
    query = "depth=3&seed=1&run=linear,normal"
    result = api(live_server, query)
    open_page(page, f"{live_server}/?{query}#view=grid&kind=pre&log=0&layers=auto")
    shown = [m.group(1) for t in texts(page, "#figure .annotation-text") if (m := NUMBER.search(t))]
    stds = [layer["pre"]["std"] for layer in result["runs"][0]["layers"]]
    assert len(shown) == len(stds)
    assert all(agrees(s, v) for s, v in zip(shown, stds, strict=True)), (shown, stds)
    assert any(v > 100 for v in stds)  # the case the old fmt printed as "σ 1"


def test_figures_grid_and_overlay_say_how_many_values_lie_beyond_the_range(
    page: Page, live_server: str, watch: Watch
) -> None:
    query = PRESETS["saito-relu-he"].query  # range=0,1: a quarter of ReLU's values lie above 1
    result = api(live_server, query)
    above = [layer["post"]["above"] / layer["post"]["count"] for layer in result["runs"][0]["layers"]]
    assert all(0.1 < a < 0.5 for a in above)
    expected = [f"{100 * a:.0f}% > 1 ▸" for a in above]
    for view in ("grid", "overlay"):
        open_page(page, f"{live_server}/?{query}#view={view}&kind=post&log=0&layers=auto")
        notes = [t for t in texts(page, "#figure .annotation-text") if t.endswith("▸")]
        assert notes == expected, view


def test_figures_overlay_legend_is_drawn_on_the_page(page: Page, live_server: str, watch: Watch) -> None:
    open_page(
        page, f"{live_server}/?{PRESETS['saito-compare'].query}#view=overlay&kind=post&log=0&layers=auto"
    )
    svg = page.locator("#figure .main-svg").first.bounding_box()
    legend = page.locator("#figure .legend").bounding_box()
    assert svg is not None and legend is not None
    assert svg["y"] <= legend["y"] and legend["y"] + legend["height"] <= svg["y"] + svg["height"]
    assert svg["x"] <= legend["x"] and legend["x"] + legend["width"] <= svg["x"] + svg["width"]
    assert texts(page, "#figure .legend .legendtext") == ["sigmoid, N(0, 1)", "sigmoid, Xavier", "relu, He"]


def test_figures_signal_draws_zero_gradients_at_the_floor(page: Page, live_server: str, watch: Watch) -> None:
    # dead-relu: the ReLU run's gradient is exactly 0 in every layer
    open_page(page, f"{live_server}/?{PRESETS['dead-relu'].query}")
    drawn = page.evaluate(
        """() => {
          const el = document.getElementById('signal');
          const grad = el.data.find(t => t.name === 'relu, He: gradient');
          const range = el._fullLayout.yaxis.range;
          return { y: grad.y, symbol: grad.marker.symbol, text: grad.text, range };
        }"""
    )
    assert set(drawn["symbol"]) == {"triangle-down-open"}
    assert all("σ = 0 (drawn at the axis floor" in t for t in drawn["text"])
    low, high = drawn["range"]
    assert all(low <= math.log10(y) <= high for y in drawn["y"])  # inside the plot, not cut off
    assert page.locator("#signal .scatterlayer .point").count() > 0


def test_figures_every_grid_row_is_labelled_for_runs_of_different_depths(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(page, f"{live_server}/?{PRESETS['ng-small-init'].query}#view=grid&kind=post&log=0&layers=auto")
    rows = page.evaluate(
        """() => {
          const l = document.getElementById('figure').layout;
          return Object.keys(l).filter(k => k.startsWith('yaxis') && l[k].title?.text)
            .map(k => ({ title: l[k].title.text, visible: l[k].visible !== false }));
        }"""
    )
    assert rows and all(r["visible"] for r in rows)
    titles = texts(page, "#figure .infolayer [class^='g-y'][class$='title']")  # .g-ytitle, .g-y2title...
    shown = [t for t in titles if t]
    assert shown == [r["title"] for r in rows]
    assert len(set(shown)) == len(shown)  # each row once
    assert {"layer 2", "layer 20"} <= set(shown)  # both runs' last layers


def test_figures_ridgeline_labels_each_ridge_with_the_apis_std(
    page: Page, live_server: str, watch: Watch
) -> None:
    query = "depth=12&width=200&samples=200&grad=0&run=relu,normal,std:0.01&run=relu,he_normal"
    result = api(live_server, query)
    open_page(page, f"{live_server}/?{query}#view=ridgeline&kind=post&log=0&layers=auto")
    shown = [m.group(1) for t in texts(page, "#figure .annotation-text") if (m := NUMBER.search(t))]
    stds = [layer["post"]["std"] for run in result["runs"] for layer in run["layers"]]
    assert len(shown) == len(stds) == 24
    assert all(agrees(s, v) for s, v in zip(shown, stds, strict=True)), (shown, stds)
    assert float(shown[11]) < 1e-10 < 0.1 < float(shown[23])  # collapsed vs He at the last layer


def test_figures_phase_diagram_reaches_every_run_and_keys_chi_under_the_csp(
    page: Page, live_server: str, watch: Watch
) -> None:
    # sigmoid with std 1 sits at sigma_w = 10; the colour key must draw without a CSP refusal
    open_page(page, f"{live_server}/?{PRESETS['saito-sigmoid-std1'].query}")
    show_panels(page)  # off the screen they wait
    plot = page.locator(".phase-plot, #phase").first
    plot.scroll_into_view_if_needed()
    drawn = plot.evaluate(
        """el => ({
          range: el._fullLayout.xaxis.range,
          marker: el.data.find(t => t.mode === 'markers+text').x[0],
          shapes: el.querySelectorAll('.shapelayer path').length,
          legend: [...el.querySelectorAll('.legendtext')].map(t => t.textContent),
        })"""
    )
    assert drawn["marker"] == pytest.approx(10)
    assert drawn["range"][0] <= drawn["marker"] <= drawn["range"][1]
    assert drawn["shapes"] == 16
    keys = list(plot.locator(".annotation-text").all_text_contents())
    assert [k for k in keys if k[0].isdigit()] == ["0.01", "0.1", "1", "10", "100"]
    assert "critical: χ = 1" in drawn["legend"]  # drawn: this diagram reaches sigma_w 12
