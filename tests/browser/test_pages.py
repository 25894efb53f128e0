"""The preset gallery and the API docs render in Chromium: no console error, nothing from outside."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.presets import PRESETS
from tests.browser.conftest import Watch

pytestmark = pytest.mark.browser


def test_pages_gallery_draws_every_preset(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    page.goto(live_server + "/presets")
    cards = page.locator(".preset-card")
    expect(cards).to_have_count(len(PRESETS))
    for i, preset in enumerate(PRESETS.values()):
        card = cards.nth(i)
        card.scroll_into_view_if_needed()
        expect(card).to_have_attribute("data-drawn", "1", timeout=15_000)
        # the card states the claim, its verdict, and draws the values the claim is about
        expect(card.locator("q")).to_have_text(preset.claim.text)
        expect(card.locator(".verdict")).to_have_attribute("data-verdict", preset.claim.verdict)
        assert card.get_attribute("data-kind") == preset.claim.view.kind
        # its first plot is the first run's layer 1 in those values, bin for bin
        kind = preset.claim.view.kind
        first = httpx.get(f"{live_server}/api/v1/simulate?{preset.query}").json()["runs"][0]["layers"][0][
            kind
        ]
        assert card.locator(".mini").evaluate("el => el.data[0].y") == first["counts"]
    page.screenshot(path=artifacts / "presets.png", full_page=True)


def test_pages_docs_render_offline(page: Page, live_server: str, watch: Watch, artifacts: Path) -> None:
    page.goto(live_server + "/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/simulate").first).to_be_visible()
    page.screenshot(path=artifacts / "docs.png")
