"""static/css/plotly-global.css holds exactly the global rules plotly.js would inject inline."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from app.vendor import asset_path

pytestmark = pytest.mark.browser
CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "plotly-global.css"


def test_plotly_css_matches_the_rules_plotly_injects(page: Page) -> None:
    page.set_content("<html><head></head><body><div id='g'></div></body></html>")  # no CSP here
    page.add_script_tag(path=str(asset_path("plotly.min.js")))
    page.evaluate("Plotly.newPlot('g', [{y: [1, 2]}])")
    injected = page.evaluate(
        "[...document.getElementById('plotly.js-style-global').sheet.cssRules].map(r => r.cssText).sort()"
    )
    page.add_style_tag(content=CSS.read_text())
    ours = page.evaluate("[...[...document.styleSheets].at(-1).cssRules].map(r => r.cssText).sort()")
    assert ours == injected, "plotly.js changed its global styles: regenerate static/css/plotly-global.css"
    # The map styles the pages stop with a placeholder id are still injected under that id.
    ids = page.evaluate("[...document.querySelectorAll('style')].map(s => s.id)")
    placeholder = Path(__file__).resolve().parents[2] / "templates" / "plotly_head.html"
    assert any(i in placeholder.read_text() for i in ids if i != "plotly.js-style-global")
