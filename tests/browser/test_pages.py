"""The preset gallery and the API docs render in Chromium: no console error, nothing from outside."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from app.presets import PRESETS
from app.train_presets import TRAIN_PRESETS
from tests.browser.conftest import Watch

pytestmark = pytest.mark.browser


def test_pages_gallery_draws_every_preset(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    watch.expect_error("status of 503")  # a busy server's answer, which the gallery retries
    page.goto(live_server + "/presets")
    cards = page.locator("#experiment-gallery .preset-card")
    expect(cards).to_have_count(len(PRESETS))
    for i, preset in enumerate(PRESETS.values()):
        card = cards.nth(i)
        card.scroll_into_view_if_needed()
        # generous: an uncached preset takes seconds on a loaded machine, and a busy server's 503 is retried
        expect(card).to_have_attribute("data-drawn", "1", timeout=60_000)
        # the card states the claim, its verdict, and draws the values the claim is about
        expect(card.locator("q")).to_have_text(preset.claim.text)
        expect(card.locator(".verdict")).to_have_attribute("data-verdict", preset.claim.verdict)
        assert card.get_attribute("data-kind") == preset.claim.view.kind
        # no column title or note is cut off at the figure's edges
        clipped = card.locator(".mini").evaluate(
            """el => { const svg = el.querySelector('.main-svg').getBoundingClientRect();
              return [...el.querySelectorAll('.annotation-text')].map(t => t.getBoundingClientRect())
                .filter(b => b.top < svg.top - 1 || b.bottom > svg.bottom + 1
                          || b.left < svg.left - 1 || b.right > svg.right + 1).length; }"""
        )
        assert clipped == 0, preset.name
        # its first plot is the first run's first layer in those values, bin for bin: a layer
        # network's first activation row (or block sum), not a norm or the stem before it
        kind = preset.claim.view.kind
        runs = httpx.get(f"{live_server}/api/v1/simulate?{preset.query}").json()["runs"]
        residual = any(layer.get("layer_type") == "residual" for run in runs for layer in run["layers"])
        role = "residual" if residual else "activation"
        first = next(layer for layer in runs[0]["layers"] if layer.get("layer_type", "activation") == role)
        assert card.locator(".mini").evaluate("el => el.data[0].y") == first[kind]["counts"], preset.name
    page.screenshot(path=artifacts / "presets.png", full_page=True)


@pytest.mark.parametrize("width", [1440, 390])
def test_pages_gallery_lists_every_training_with_its_claim(
    page: Page, live_server: str, watch: Watch, width: int
) -> None:
    watch.expect_error("status of 503")  # the experiment cards above may be refused while the server is busy
    listed = httpx.get(f"{live_server}/api/v1/train/presets", timeout=5).json()
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(live_server + "/presets")
    cards = page.locator("#train-gallery .train-card")
    expect(cards).to_have_count(len(TRAIN_PRESETS))
    expect(page.locator("#train-gallery")).to_have_attribute("aria-busy", "false")
    for card, preset in zip(cards.all(), listed, strict=True):
        # what the card says is the API's claim, its verdict and its link to the training page
        claim = preset["claim"]
        assert card.get_attribute("data-name") == preset["name"]
        expect(card.locator("q")).to_have_text(claim["text"])
        expect(card.locator(".verdict")).to_have_attribute("data-verdict", claim["verdict"])
        expect(card.locator(".claim-verdict")).to_contain_text(claim["reason"])
        assert card.locator("h2 a").get_attribute("href") == f"/train?{preset['share']}"
        # nothing sticks out of its card (long titles and quotes wrap on a phone)
        overflow = card.evaluate(
            """el => { const box = el.getBoundingClientRect();
              return [...el.querySelectorAll('h2, p, q, code, a')].map(c => c.getBoundingClientRect())
                .filter(b => b.left < box.left - 1 || b.right > box.right + 1).length; }"""
        )
        assert overflow == 0, preset["name"]


def test_pages_gallery_lists_the_paths_presets_with_their_claim(
    page: Page, live_server: str, watch: Watch
) -> None:
    watch.expect_error("status of 503")  # the experiment cards above may be refused while the server is busy
    listed = httpx.get(f"{live_server}/api/v1/paths/presets", timeout=5).json()
    page.goto(live_server + "/presets")
    cards = page.locator("#paths-gallery .train-card")
    expect(cards).to_have_count(len(listed))
    for card, preset in zip(cards.all(), listed, strict=True):
        expect(card.locator(".claim-verdict")).to_contain_text(preset["claim"]["reason"])
        expect(card.locator(".verdict")).to_have_attribute("data-verdict", preset["claim"]["verdict"])
        assert card.locator("h2 a").get_attribute("href") == preset["page"]


def test_pages_docs_render_offline(page: Page, live_server: str, watch: Watch, artifacts: Path) -> None:
    page.goto(live_server + "/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/simulate").first).to_be_visible()
    page.screenshot(path=artifacts / "docs.png")


def test_pages_gallery_asks_again_when_the_server_is_busy(page: Page, live_server: str, watch: Watch) -> None:
    watch.expect_error("status of 503")
    refused: list[str] = []

    def busy_once(route: Route) -> None:
        if not refused:
            refused.append(route.request.url)
            route.fulfill(status=503, headers={"Retry-After": "1"}, json={"detail": "busy"})
        else:
            route.continue_()

    page.route("**/api/v1/simulate?*", busy_once)
    page.goto(live_server + "/presets")
    expect(page.locator(".preset-card").first).to_have_attribute("data-drawn", "1", timeout=60_000)
    assert len(refused) == 1
    share = unquote(refused[0].split("?", 1)[1])
    refused_card = page.locator(".preset-card").filter(
        has=page.locator(f'a[href="/api/v1/simulate?{share}"]')
    )
    expect(refused_card).to_have_attribute("data-drawn", "1", timeout=60_000)
