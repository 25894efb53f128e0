"""The pages render in Chromium with no console error and no request leaving 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def _watch(page: Page, base: str) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: None if req.url.startswith(base) else outside.append(req.url))
    return errors, outside


def test_pages_index_lists_presets(page: Page, live_server: str, artifacts: Path) -> None:
    errors, outside = _watch(page, live_server)
    page.goto(live_server + "/")
    expect(page.locator("table.presets tbody tr")).to_have_count(13)
    page.screenshot(path=artifacts / "index.png", full_page=True)
    assert errors == [] and outside == []


def test_pages_docs_render_offline_and_try_the_api(page: Page, live_server: str, artifacts: Path) -> None:
    errors, outside = _watch(page, live_server)
    page.goto(live_server + "/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/simulate").first).to_be_visible()
    page.screenshot(path=artifacts / "docs.png")
    assert errors == [] and outside == []
