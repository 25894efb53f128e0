"""The maxout presets on the pages: the dashboard opens maxout-relu-sigmoid as that preset (its
claim, its per-run axes), shows every column's statistics as the API has them, and keeps them
apart on a phone; /train trains maxout-lr and draws maxout's dead units at 0 beside ReLU's."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.presets import PRESETS
from app.train_presets import TRAIN_PRESETS
from tests.browser.conftest import FIGURE_TEXTS, Watch, open_page
from tests.browser.test_dashboard_classroom import OVERLAPS, TEXT_OVERLAPS

STATS = f"() => ({FIGURE_TEXTS})().filter((t) => t.startsWith('σ'))"


@pytest.mark.parametrize("width", [1440, 1024, 390])
def test_maxout_preset_on_the_dashboard(
    page: Page, live_server: str, watch: Watch, artifacts: Path, width: int
) -> None:
    preset = PRESETS["maxout-relu-sigmoid"]
    open_page(page, f"{live_server}/?preset={preset.name}", width)
    expect(page.locator("#claim")).to_contain_text("Holds in part")
    expect(page.locator("#claim")).to_contain_text("202 thousand weights and biases")
    assert page.locator("#preset").input_value() == preset.name  # recognized, per-run axes and all
    answer = httpx.get(f"{live_server}/api/v1/simulate?{preset.query}", timeout=60).json()
    shown = page.evaluate(STATS)
    # one line per subplot, row by row (layer 1's four columns first), as the API says
    layers = [run["layers"][j] for j in range(10) for run in answer["runs"]]
    assert len(shown) == len(layers)
    for text, layer in zip(shown, layers, strict=True):
        parts = text.replace("σ", "").split("dead")[0]
        if layer["post"]["saturated_fraction"] is None:
            assert "sat" not in text  # maxout and ReLU: unbounded, never saturated
        else:
            assert f"sat {round(100 * layer['post']['saturated_fraction'])}%" in text
        if layer["dead_units"]:
            assert f"dead {layer['dead_units']}" in text
        else:  # a narrow column's short line leaves out what is 0
            assert "dead" not in text or "dead 0" in text
        assert parts.strip()
    assert page.evaluate(TEXT_OVERLAPS, "#figure") == 0
    assert page.evaluate(OVERLAPS, "#figure") == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=artifacts / f"maxout-dashboard-{width}.png", full_page=True)


def test_maxout_training_preset_on_the_train_page(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    preset = TRAIN_PRESETS["maxout-lr"]
    open_page(page, f"{live_server}/train?{preset.query}", 1440)
    expect(page.locator("#claim")).to_contain_text("Holds in part")
    page.locator("#start").click()
    expect(page.locator("#progress-text")).to_have_text("step 500 of 500", timeout=120_000)
    expect(page.locator("#runs .status")).to_have_text(["done", "done"])
    page.wait_for_function("() => document.body.dataset.drawn >= 1 && document.body.dataset.running === '0'")
    dead = page.evaluate(
        "() => document.getElementById('dead').data.filter(t => t.y).map(t => [t.name, Math.max(...t.y)])"
    )
    names = [name for name, _ in dead]
    assert names == ["relu, He", "maxout, He"]
    relu, maxout = (most for _, most in dead)
    assert relu > 0.5 and maxout == 0
    page.screenshot(path=artifacts / "maxout-train.png", full_page=True)
