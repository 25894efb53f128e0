"""The phase diagrams and the correlation map wait while off the screen (issue 14): no request
and no drawing for them until scrolled to, dimmed as stale meanwhile, then drawn once with the
current link's numbers; a change made while they are off the screen is not lost."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.presets import PRESETS
from tests.browser.conftest import Watch, open_page, wait_for_location
from tests.browser.panels import panels_current, show_panels

pytestmark = pytest.mark.browser
SAITO = PRESETS["saito-compare"].query
PANEL_APIS = ("phase-diagram", "diagnostics")


# Counts each plot's drawings (plotly's afterplot event) in its data-draws.
COUNT_DRAWS = """() => {
  for (const plot of document.querySelectorAll('.phase-plot, .corr-plot')) {
    plot.on('plotly_afterplot', () => (plot.dataset.draws = String(Number(plot.dataset.draws ?? 0) + 1)));
  }
}"""


def panel_requests(page: Page) -> list[str]:
    requests: list[str] = []
    page.on(
        "request",
        lambda r: (
            requests.append(r.url)
            if "/api/v1/phase-diagram" in r.url or "/api/v1/diagnostics" in r.url
            else None
        ),
    )
    return requests


def markers(page: Page) -> dict[str, list[float]]:
    """Each run's marker on the diagrams, by its number: [sigma_w, sigma_b]."""
    drawn: dict[str, list[float]] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.phase-plot')].flatMap(p => p.data
            .filter(t => t.mode === 'markers+text').map(t => [t.text[0], [t.x[0], t.y[0]]])))"""
    )
    return drawn


def api_markers(live_server: str, link: str) -> dict[str, list[float]]:
    runs = httpx.get(f"{live_server}/api/v1/simulate?{link}", timeout=60).json()["runs"]
    return {
        str(i + 1): [math.sqrt(r["theory"]["sigma_w2"][1]), math.sqrt(r["theory"]["sigma_b2"])]
        for i, r in enumerate(runs)
    }


def same_markers(drawn: dict[str, list[float]], expected: dict[str, list[float]]) -> None:
    assert sorted(drawn) == sorted(expected)  # every run on a diagram
    for run, point in expected.items():
        assert drawn[run] == pytest.approx(point, rel=1e-12), run


def press_and_commit(page: Page) -> str:
    """An arrow key on run 1's std slider: a committed change; the new link."""
    before = page.evaluate("location.search")
    slider = page.locator("fieldset.run").first.locator('input.slider[data-slider="std"]')
    slider.focus()
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("b => location.search !== b", arg=before)
    page.wait_for_function("() => document.body.dataset.busy === undefined")
    link: str = page.evaluate("location.search.slice(1)")
    return link


def test_dashboard_phase_diagrams_wait_off_the_screen_and_draw_once_scrolled_to(
    page: Page, live_server: str, watch: Watch
) -> None:
    requests = panel_requests(page)
    open_page(page, f"{live_server}/?{SAITO}")
    page.wait_for_timeout(500)  # past the diagrams' pause: they would be drawing now
    assert requests == []  # below the fold: nothing asked for them
    expect(page.locator("#phase-section")).to_have_attribute("data-stale", "1")  # dimmed, not current
    expect(page.locator("#correlation-section")).to_have_attribute("data-stale", "1")
    expect(page.locator("#correlation-list")).to_have_css("opacity", "0.45")
    expect(page.locator(".phase-plot")).to_have_count(0)
    # a commit while they are off the screen: still nothing for them
    link = press_and_commit(page)
    page.wait_for_timeout(500)
    assert requests == []
    assert not panels_current(page)
    # scrolled to: drawn once, with the current link's numbers
    show_panels(page)
    same_markers(markers(page), api_markers(live_server, link))
    # one map, of the link shown (the commit's), none of the link it replaced
    assert [u for u in requests if "/diagnostics" in u] == [
        f"{live_server}/api/v1/diagnostics?{link}&jacobian=0"
    ]
    drawn = len(requests)
    # scrolled away, a change waits again; back, its diagrams follow (the request is not lost)
    page.evaluate("window.scrollTo(0, 0)")
    link = press_and_commit(page)
    page.wait_for_timeout(500)
    assert len(requests) == drawn
    expect(page.locator("#phase-section")).to_have_attribute("data-stale", "1")
    show_panels(page)
    same_markers(markers(page), api_markers(live_server, link))


def test_dashboard_phase_diagrams_on_the_screen_follow_every_commit(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    open_page(page, f"{live_server}/?{SAITO}")
    show_panels(page)
    for width in (1440, 1024, 390):
        page.set_viewport_size({"width": width, "height": 1100})
        show_panels(page)
        page.wait_for_timeout(300)  # plotly's resize follows the window's
        page.locator("#phase-section").screenshot(path=str(artifacts / f"phase-after-scroll-{width}.png"))
        for plot in page.locator(".phase-plot").all():
            box = plot.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1
    # a tall window keeps them on the screen with the slider: each commit redraws what changed
    page.set_viewport_size({"width": 1280, "height": 2600})
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(500)  # plotly's resize to the window's width: not counted
    page.evaluate(COUNT_DRAWS)
    for _ in range(2):
        link = press_and_commit(page)
        wait_for_location(page, "std:")
        show_panels(page)
        same_markers(markers(page), api_markers(live_server, link))
    # run 1 (sigmoid) moved: its diagram and its map were drawn again; relu's diagram was not
    draws = "s => [...document.querySelectorAll(s)].map(p => p.dataset.draws)"
    assert page.evaluate(draws, ".phase-plot") == ["2", None]  # sigmoid's, relu's
    assert page.evaluate(draws, ".corr-plot") == ["2", None, None]  # runs 2 and 3: the same maps
