"""Browser tests: Playwright drives Debian's Chromium against a real uvicorn on loopback
(`live_server`, from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results"
# The dashboard figure's annotation texts in reading order: row by row (by their bottom edge: a
# statistics line of two lines sits on the same base as one of one), each left to right. The
# grid's run columns are plots of their own (dashboard.js), so the document holds them column by
# column.
FIGURE_TEXTS = """() => [...document.querySelectorAll('#figure .annotation-text')]
  .map((el) => [el.getBoundingClientRect(), el.textContent])
  .sort(([a], [b]) => (Math.abs(a.bottom - b.bottom) > 2 ? a.bottom - b.bottom : a.left - b.left))
  .map(([, text]) => text)"""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


class Watch:
    """Console errors, uncaught exceptions and requests that leave the server, seen by a page."""

    def __init__(self, page: Page, base: str) -> None:
        self.expected: list[str] = []
        self.errors: list[str] = []
        self.outside: list[str] = []
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on(
            "request",
            lambda req: (
                None if req.url.startswith((base, "blob:", "data:")) else self.outside.append(req.url)
            ),
        )

    def expect_error(self, text: str) -> None:
        """An error the test provokes on purpose (the browser logs every 4xx fetch)."""
        self.expected.append(text)

    def assert_clean(self) -> None:
        assert [e for e in self.errors if not any(x in e for x in self.expected)] == []
        assert self.outside == []


@pytest.fixture
def watch(page: Page, live_server: str) -> Iterator[Watch]:
    watcher = Watch(page, live_server)
    yield watcher
    watcher.assert_clean()


def open_page(page: Page, url: str, width: int = 1280) -> None:
    """Open a page `width` pixels wide and wait until it has drawn (it sets body[data-ready])."""
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)


def wait_for_location(page: Page, pattern: str) -> None:
    """Wait until the address bar matches: read location.href itself, since Playwright's page.url
    does not always follow history.replaceState."""
    page.wait_for_function("p => new RegExp(p).test(location.href)", arg=pattern, timeout=15_000)


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def assert_bars_show_bands(bars: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """Seed ensembles: each drawn bar (`y`, error bar `plus`/`minus`) is the API's mean count, its
    error bar reaching the lowest and highest draw's counts (`band`)."""
    assert len(bars) == len(expected)
    for drawn, t in zip(bars, expected, strict=True):
        assert drawn["y"] == t["counts"]
        highs, lows = t["band"]["high"]["counts"], t["band"]["low"]["counts"]
        assert all(close(y + p, h) for y, p, h in zip(drawn["y"], drawn["plus"], highs, strict=True))
        assert all(close(y - m, lo) for y, m, lo in zip(drawn["y"], drawn["minus"], lows, strict=True))
