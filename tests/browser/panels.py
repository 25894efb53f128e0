"""The dashboard's phase diagrams and correlation map wait while off the screen (issue 14): a
test that reads them scrolls to them and waits until they show the address bar's link."""

from __future__ import annotations

from playwright.sync_api import Page

# Both panels show the link in the address bar, and the diagrams are not dimmed as stale.
CURRENT = """() => {
  const link = location.search.slice(1);
  const phase = document.getElementById('phase-section');
  const corr = document.getElementById('correlation-list');
  const section = document.getElementById('correlation-section');
  const fresh = phase.dataset.stale === undefined && section.dataset.stale === undefined
    && getComputedStyle(corr).opacity === '1';
  return fresh && corr.dataset.drawn === link
    && (phase.hidden || phase.dataset.drawn === link);
}"""


def show_panels(page: Page, selector: str = "#phase-section") -> None:
    """Scroll `selector` (a panel, or something in it) into view and wait until the diagrams and
    the correlation map show the current link."""
    page.locator(selector).first.scroll_into_view_if_needed()
    page.wait_for_function(CURRENT, timeout=30_000)


def panels_current(page: Page) -> bool:
    current: bool = page.evaluate(CURRENT)
    return current
