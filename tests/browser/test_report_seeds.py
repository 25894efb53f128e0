"""The standalone report of a seed ensemble (seeds=N), opened from its file: the bands it draws and
the numbers it prints are the API's ensemble answer for the same link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Watch, assert_bars_show_bands, close, open_page
from tests.browser.test_report import assert_fits, plot, shown_matches

pytestmark = pytest.mark.browser

LINK = "depth=3&width=40&samples=300&run=relu,he_normal&run=tanh,xavier"
SEEDS = 4
BAND = re.compile(r"σ (\S+) \((\S+)–(\S+)\)")


@pytest.fixture
def opened(page: Page, live_server: str, tmp_path: Path) -> Iterator[Any]:
    """open(query, width): the report of `query` opened from its file `width` pixels wide, and the
    API's answer to the same query, fetched on its own. Afterwards: no console error, no request."""
    watches: list[Watch] = []

    def open_report(query: str, width: int) -> dict[str, Any]:
        response = httpx.get(f"{live_server}/api/v1/export/report?{query}", timeout=120)
        assert response.status_code == 200
        path = tmp_path / "initscope-report.html"
        path.write_text(response.text, encoding="utf-8")
        watches.append(Watch(page, path.as_uri()))
        open_page(page, path.as_uri(), width)
        api = httpx.get(f"{live_server}/api/v1/simulate?{query}", timeout=120)
        api.raise_for_status()
        result: dict[str, Any] = api.json()
        return result

    yield open_report
    for watch in watches:
        watch.assert_clean()


def error_bars(page: Page, element_id: str, which: str) -> list[dict[str, Any]]:
    return list(
        page.evaluate(
            "([id, which]) => document.getElementById(id).data.filter((t) => which === 'bar' ?"
            " t.type === 'bar' : (t.name || '').endsWith(which))"
            ".map((t) => ({y: t.y, plus: t.error_y?.array, minus: t.error_y?.arrayminus}))",
            [element_id, which],
        )
    )


@pytest.mark.parametrize("width", [1440, 1024, 390])
def test_report_draws_the_ensembles_bands_as_the_api_gives_them(
    page: Page, opened: Any, width: int, artifacts: Path
) -> None:
    result = opened(f"{LINK}&seeds={SEEDS}", width)
    runs = result["runs"]
    expect(page.locator("#ensemble-caption")).to_have_text(
        f"mean of {SEEDS} weight draws (the link's inputs); bars and brackets: lowest to highest draw"
    )
    for kind in ("post", "pre", "grad"):
        # every bar is the mean count, its error bar reaching the lowest and highest draw's count
        expected = [
            layers[c][kind] for layers in zip(*(r["layers"] for r in runs), strict=True) for c in range(2)
        ]
        bars = error_bars(page, f"grid-{kind}", "bar")
        assert len(bars) == len(expected) == 6
        assert_bars_show_bands(bars, expected)
        assert any(p > 0 for drawn in bars for p in drawn["plus"])  # the draws differ
        # the statistics lines: the mean std, and (wide enough for them) the draws' range
        texts = [
            a["text"] for a in plot(page, f"grid-{kind}")["annotations"] if (a["text"] or "").startswith("σ ")
        ]
        assert len(texts) == 6
        for text, t in zip(texts, expected, strict=True):
            found = BAND.match(text)
            if width < 600:  # a phone's short line: the mean only
                assert found is None
                assert shown_matches(text.split(" · ")[0].removeprefix("σ "), t["std"]), (text, t["std"])
                continue
            assert found is not None, text
            mean, low, high = found.groups()
            assert shown_matches(mean, t["std"]), (text, t["std"])
            assert shown_matches(low, t["band"]["low"]["std"]) and shown_matches(
                high, t["band"]["high"]["std"]
            )
    # the signal chart: each measured activation std with its band
    signal = error_bars(page, "signal", ": activation")
    assert len(signal) == 2
    for drawn, run in zip(signal, runs, strict=True):
        for y, p, m, layer in zip(drawn["y"], drawn["plus"], drawn["minus"], run["layers"], strict=True):
            assert close(y, layer["post"]["std"])
            assert close(y + p, layer["post"]["band"]["high"]["std"])
            assert close(y - m, layer["post"]["band"]["low"]["std"])
    assert_fits(page, width)
    page.screenshot(path=artifacts / f"report-seeds-{width}px.png", full_page=True)


def test_report_of_one_draw_draws_no_bands(page: Page, opened: Any) -> None:
    result = opened(LINK, 1440)
    assert "ensemble" not in result
    expect(page.locator("#ensemble")).to_have_count(0)
    assert all(drawn["plus"] is None for drawn in error_bars(page, "grid-post", "bar"))


def test_report_of_an_ensemble_with_per_run_axes(page: Page, opened: Any) -> None:
    """axes=run: each run's bars on its own draws' range, as the API bins them."""
    result = opened(f"axes=run&{LINK}&seeds={SEEDS}", 1440)
    bars = error_bars(page, "grid-pre", "bar")
    expected = [
        layers[c]["pre"]
        for layers in zip(*(r["layers"] for r in result["runs"]), strict=True)
        for c in range(2)
    ]
    assert [d["y"] for d in bars] == [t["counts"] for t in expected]
    x = page.evaluate(
        "() => document.getElementById('grid-pre').data.filter((t) => t.type === 'bar').map((t) => t.x)"
    )
    for centers, t in zip(x, expected, strict=True):
        edges = t["edges"]
        assert all(close(c, (a + b) / 2) for c, a, b in zip(centers, edges, edges[1:], strict=False))
