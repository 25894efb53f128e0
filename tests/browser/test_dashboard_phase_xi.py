"""The dashboard's phase diagram coloured by xi_c: the control switches the colouring, the plot
draws the API's own grid (color=xi_c), the key and caption say what the colour is, the critical
line stays, and switching back draws chi as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Watch, open_page
from tests.browser.panels import show_panels

pytestmark = pytest.mark.browser
LINK = "depth=8&bias=normal&bias_std=0.3&run=tanh,xavier&run=tanh,xavier,gain:3"


def _drawn(page: Page) -> dict[str, Any]:
    drawn: dict[str, Any] = page.locator(".phase-plot").first.evaluate(
        """el => ({
          z: el.data[0].z,
          color: el.dataset.color,
          names: el.data.map(t => t.name),
          shapes: el.querySelectorAll('.shapelayer path').length,
          keys: [...el.querySelectorAll('.annotation-text')].map(t => t.textContent),
        })"""
    )
    return drawn


def _choose(page: Page, color: str, requests: list[str]) -> dict[str, Any]:
    """Pick a colouring; the drawn figure and the answer to the request it made."""
    requests.clear()
    page.locator(".phase-color select").select_option(color)
    page.wait_for_selector(f'.phase-plot[data-color="{color}"]', timeout=30_000)
    return _drawn(page)


def test_dashboard_phase_xi_c_draws_the_apis_grid_and_says_what_it_is(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/v1/phase-diagram" in r.url else None)
    open_page(page, f"{live_server}/?{LINK}", width=1440)
    show_panels(page)  # off the screen they wait
    page.wait_for_selector('.phase-plot[data-color="chi"]', timeout=30_000)
    expect(page.locator(".phase-caption")).to_be_hidden()
    expect(page.locator("#phase-chi-note")).to_be_visible()

    drawn = _choose(page, "xi_c", requests)
    [url] = [u for u in requests if "color=xi_c" in u]
    answer = httpx.get(url, timeout=60).json()
    assert drawn["z"] == answer["log10_xi_c"]  # every cell, nulls included
    assert any(v is not None and v > 1.5 for row in drawn["z"] for v in row)  # > 30 layers near the line
    assert "critical: χ = 1" in drawn["names"]
    assert drawn["shapes"] == 16  # the key's bands drew under the CSP
    assert [k for k in drawn["keys"] if k[0].isdigit()] == ["0.1", "1", "10", "100", "1000"]
    assert "ξc" in drawn["keys"] and "layers · longest at χ = 1" in drawn["keys"]
    caption = page.locator(".phase-caption")
    expect(caption).to_be_visible()
    expect(caption).to_contain_text("longest next to the critical line")
    expect(page.locator("#phase-chi-note")).to_be_hidden()

    page.locator("#phase-section").scroll_into_view_if_needed()
    for width in (1440, 1024, 390):
        page.set_viewport_size({"width": width, "height": 1100})
        page.wait_for_timeout(300)  # plotly's resize follows the window's
        page.locator("#phase-section").screenshot(path=str(artifacts / f"phase-xi-c-{width}.png"))
        box = page.locator(".phase-plot").first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1

    page.set_viewport_size({"width": 1440, "height": 900})
    back = _choose(page, "chi", requests)
    chi_url = (
        next(u for u in requests if "phase-diagram" in u) if requests else url.replace("&color=xi_c", "")
    )
    assert "color=" not in chi_url
    assert back["z"] == httpx.get(chi_url, timeout=60).json()["log10_chi"]
    assert "χ" in back["keys"] and "ξc" not in back["keys"]
    expect(page.locator(".phase-caption")).to_be_hidden()


def test_dashboard_phase_colour_is_kept_in_the_link(page: Page, live_server: str, watch: Watch) -> None:
    """The colouring is part of the view in the hash: a shared link opens coloured as it was sent,
    and choosing chi again leaves the hash as it was before the key existed."""
    open_page(page, f"{live_server}/?{LINK}#view=grid&kind=post&log=0&layers=auto&phase=xi_c", width=1440)
    show_panels(page)
    page.wait_for_selector('.phase-plot[data-color="xi_c"]', timeout=30_000)
    assert page.locator(".phase-color select").input_value() == "xi_c"
    _choose(page, "chi", [])
    assert "phase=" not in page.evaluate("() => location.hash")
    _choose(page, "xi_c", [])
    assert "phase=xi_c" in page.evaluate("() => location.hash")
