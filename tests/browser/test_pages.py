"""The preset gallery and the API docs render in Chromium: no console error, nothing from outside."""

from __future__ import annotations

from pathlib import Path

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
    for i in range(len(PRESETS)):
        cards.nth(i).scroll_into_view_if_needed()
        expect(cards.nth(i)).to_have_attribute("data-drawn", "1", timeout=15_000)
    page.screenshot(path=artifacts / "presets.png", full_page=True)


def test_pages_docs_render_offline(page: Page, live_server: str, watch: Watch, artifacts: Path) -> None:
    page.goto(live_server + "/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/simulate").first).to_be_visible()
    page.screenshot(path=artifacts / "docs.png")
