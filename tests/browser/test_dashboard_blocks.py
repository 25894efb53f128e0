"""Layer networks (norms, residual blocks) on the dashboard in a real browser: their presets'
rows labelled by layer type, and the run cards' architecture fields kept through an edit."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page

from app.presets import PRESETS
from tests.browser.conftest import Watch, open_page, wait_for_location

pytestmark = pytest.mark.browser
BLOCK_PRESETS = [n for n, p in PRESETS.items() if any(r.arch is not None for r in p.experiment.runs)]


def row_titles(page: Page) -> list[str]:
    titles: list[str] = page.evaluate(
        "() => { const l = document.getElementById('figure').layout;"
        " return Object.keys(l).filter(k => k.startsWith('yaxis'))"
        ".map(k => l[k].title?.text).filter(Boolean); }"
    )
    return titles


def test_there_are_layer_network_presets() -> None:
    assert set(BLOCK_PRESETS) >= {"bn-sigmoid", "residual-depth", "post-vs-pre-norm", "bn-deep-relu"}


@pytest.mark.parametrize("name", BLOCK_PRESETS)
def test_block_presets_label_each_row_by_its_layer_type(
    page: Page, live_server: str, watch: Watch, name: str
) -> None:
    query = PRESETS[name].query
    open_page(page, f"{live_server}/?{query}#view=grid&kind=post&log=0&layers=auto")
    answer = httpx.get(f"{live_server}/api/v1/simulate?{query}", timeout=60).json()
    titles = set(row_titles(page))
    # every title drawn is a row of the answer, named by its place and type ("L1 · BatchNorm")
    names = {
        row["name"]
        .replace("batch_norm", "BatchNorm")
        .replace("layer_norm", "LayerNorm")
        .replace("rms_norm", "RMSNorm")
        .replace("block ", "B")
        .replace("layer ", "L")
        for run in answer["runs"]
        for row in run["layers"]
        if "name" in row
    }
    plain = {f"layer {row['layer']}" for run in answer["runs"] for row in run["layers"] if "name" not in row}
    assert titles and titles <= names | plain, titles - names - plain
    assert any(("Norm" in t) or ("F(x)" in t) for t in titles)
    assert page.evaluate("location.search") == "?" + query


def test_editing_a_run_keeps_its_norm_and_block_fields(page: Page, live_server: str, watch: Watch) -> None:
    open_page(page, f"{live_server}/?run=relu,he_normal,block:residual,norm:layer,norm_at:post")
    card = page.locator("fieldset.run").first
    assert card.locator('[data-field="norm"]').input_value() == "layer"
    assert card.locator('[data-field="norm_at"]').input_value() == "post"
    card.locator('[data-field="gain"]').fill("1.5")
    card.locator('[data-field="gain"]').dispatch_event("change")
    wait_for_location(page, r"run=relu,he_normal,block:residual,norm:layer,norm_at:post,gain:1.5$")
    # a plain stack hides the residual fields and sends none of them
    card.locator('[data-field="block"]').select_option("plain")
    wait_for_location(page, r"\?run=relu,he_normal,norm:layer,gain:1.5$")
    assert card.locator('.field[data-name="branch"]').is_hidden()
    card.locator('[data-field="norm"]').select_option("none")
    wait_for_location(page, r"\?run=relu,he_normal,gain:1.5$")
    assert card.locator('.field[data-name="norm_at"]').is_hidden()
