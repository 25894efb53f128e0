"""The dashboard in a classroom: it explains its marks, presents on a projector, and puts the
figure first on a phone."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import FloatRect, Page, expect

from app.presets import PRESETS
from tests.browser.conftest import Watch, open_page, wait_for_location

pytestmark = pytest.mark.browser
VIEW = "view=grid&kind=post&log=0&layers=auto"


def figure_box(page: Page) -> FloatRect:
    box = page.locator("#figure .main-svg").first.bounding_box()
    assert box is not None
    return box


@pytest.mark.parametrize("size", [(1024, 768), (1280, 720)])
def test_dashboard_presentation_fits_every_row_in_large_type(
    page: Page, live_server: str, watch: Watch, size: tuple[int, int]
) -> None:
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{live_server}/?{PRESETS['saito-compare'].query}#{VIEW}&present=1")
    page.wait_for_selector("body[data-ready='1']")
    for hidden in (".panel", ".toolbar", "header.site"):
        expect(page.locator(hidden)).to_be_hidden()
    box = figure_box(page)
    assert box["y"] >= 0 and box["y"] + box["height"] <= height  # all 5 rows on the screen
    assert box["width"] <= width
    sizes = page.evaluate(
        "() => document.getElementById('figure').layout.annotations"
        ".filter(a => a.text.startsWith('σ')).map(a => a.font.size)"
    )
    assert len(sizes) == 15 and min(sizes) >= 15  # statistics read from the back of a room


def test_dashboard_presentation_arrow_keys_step_through_the_chosen_order(
    page: Page, live_server: str, watch: Watch
) -> None:
    order = "saito-sigmoid-std001,dead-relu"
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{live_server}/?{PRESETS['saito-sigmoid-std001'].query}#{VIEW}&present=1&order={order}")
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#present-title")).to_have_text(PRESETS["saito-sigmoid-std001"].title)
    page.keyboard.press("ArrowRight")
    wait_for_location(page, r"bias_value=-0\.5")  # dead-relu
    expect(page.locator("#present-title")).to_have_text(PRESETS["dead-relu"].title)
    assert "present=1" in page.evaluate("location.hash")
    assert f"order={order.replace(',', '%2C')}" in page.evaluate("location.hash")
    page.keyboard.press("ArrowRight")  # wraps around to the first
    expect(page.locator("#present-title")).to_have_text(PRESETS["saito-sigmoid-std001"].title)
    page.keyboard.press("Escape")
    expect(page.locator(".toolbar")).to_be_visible()
    assert "present" not in page.evaluate("location.hash")


def test_dashboard_redraws_the_figure_when_the_window_is_resized(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(page, f"{live_server}/?{PRESETS['saito-compare'].query}#{VIEW}", width=1440)
    wide = figure_box(page)["width"]
    page.set_viewport_size({"width": 1024, "height": 900})
    page.wait_for_function(
        "w => document.querySelector('#figure .main-svg').getBoundingClientRect().width < w - 100", arg=wide
    )


def test_dashboard_explains_its_marks_in_place(page: Page, live_server: str, watch: Watch) -> None:
    open_page(page, f"{live_server}/?{PRESETS['dead-relu'].query}#{VIEW}")
    hover = page.evaluate(
        "() => document.getElementById('figure').layout.annotations"
        ".find(a => a.text.includes('dead')).hovertext"
    )
    for term in ("σ: the standard deviation", "dead: units whose output is 0 for every sample"):
        assert term in hover
    page.locator("details.explain summary").first.click()
    expect(page.locator("#explain-view")).to_contain_text("One column per run, one row per layer")
    page.locator('input[name="kind"][value="grad"]').check()
    wait_for_location(page, "kind=grad")
    expect(page.locator("#explain-view")).to_contain_text("dL/da ~ N(0, 1)")
    expect(page.locator("#explain-view")).to_contain_text("Vanishing looks like")
    expect(page.locator("#explain-signal")).to_contain_text("log scale")
    expect(page.locator("#explain-phase")).to_contain_text("χ")


def test_dashboard_on_a_phone_shows_the_figure_before_the_folded_settings(
    page: Page, live_server: str, watch: Watch
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/?{PRESETS['dead-relu'].query}#{VIEW}")
    page.wait_for_selector("body[data-ready='1']")
    figure = figure_box(page)
    panel = page.locator(".panel").bounding_box()
    assert panel is not None and figure["y"] + figure["height"] <= panel["y"]
    assert page.evaluate("[...document.querySelectorAll('.panel details.section')].every(d => !d.open)")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # the short statistics line keeps the dead units, which are this preset's point
    lines = page.evaluate(
        "() => document.getElementById('figure').layout.annotations"
        ".map(a => a.text).filter(t => t.startsWith('σ'))"
    )
    assert any("dead 100" in line for line in lines)


def test_dashboard_distribution_view_draws_the_apis_percentiles_for_every_layer(
    page: Page, live_server: str, watch: Watch
) -> None:
    share = PRESETS["deep-relu-compare"].query
    open_page(page, f"{live_server}/?{share}#view=distribution&kind=post&log=0&layers=auto")
    expect(page.locator('input[name="view"][value="distribution"]')).to_be_checked()
    expect(page.locator("#log-y")).to_be_disabled()
    expect(page.locator("#layers-field")).to_be_hidden()
    medians = page.evaluate(
        "() => document.getElementById('figure').data.filter(t => t.name === 'median').map(t => t.y)"
    )
    result = httpx.get(f"{live_server}/api/v1/simulate?{share}").json()
    assert medians == [
        [layer["post"]["percentiles"]["50"] for layer in run["layers"]] for run in result["runs"]
    ]
    assert len(medians[0]) == 50  # every layer, not a window of 10


OVERLAPS = """(root) => {
  const boxes = (sel) => [...document.querySelectorAll(`${root} ${sel}`)]
    .map((el) => el.getBoundingClientRect()).filter((b) => b.width > 0 && b.height > 0);
  const ticks = boxes('.xaxislayer-above text'); // every subplot's x tick labels
  const texts = boxes('.annotation-text');
  const hit = (a, b) =>
    a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  return ticks.flatMap((t) => texts.filter((a) => hit(t, a)).map((a) => [t.x, t.y, a.x, a.y])).length;
}"""


@pytest.mark.parametrize("name", ["exploding-relu", "ng-small-init", "saito-compare", "dead-relu"])
def test_dashboard_on_a_phone_no_tick_label_covers_a_statistics_line(
    page: Page, live_server: str, watch: Watch, name: str
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/?{PRESETS[name].query}#{VIEW}")
    page.wait_for_selector("body[data-ready='1']")
    assert page.evaluate(OVERLAPS, "#figure") == 0


TEXT_OVERLAPS = """(root) => {
  const boxes = [...document.querySelectorAll(`${root} .annotation-text`)]
    .map((el) => el.getBoundingClientRect()).filter((b) => b.width > 0 && b.height > 0);
  const hit = (a, b) =>
    a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  return boxes.flatMap((a, i) => boxes.slice(i + 1).filter((b) => hit(a, b))).length;
}"""


def test_dashboard_presenting_on_a_phone_keeps_statistics_lines_apart(
    page: Page, live_server: str, watch: Watch
) -> None:
    """Large type is for a room; on a phone it made the statistics lines run into each other and
    the tick labels, so presentation there keeps the phone's type."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/?{PRESETS['saito-compare'].query}#{VIEW}&present=1")
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("body")).to_have_class(re.compile("presenting"))
    assert page.evaluate(TEXT_OVERLAPS, "#figure") == 0
    assert page.evaluate(OVERLAPS, "#figure") == 0


@pytest.mark.parametrize(("width", "present"), [(390, "0"), (390, "1"), (1024, "1"), (1440, "1")])
def test_dashboard_statistics_lines_clear_each_other_and_the_tick_labels(
    page: Page, live_server: str, watch: Watch, width: int, present: str
) -> None:
    """Biases make relu's layer 5 say dead and distinct units: on a phone its line is broken into
    lines that fit the column (it ran into sigmoid's), and presenting's large type keeps the rows
    apart (its statistics lines met the tick labels above)."""
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(
        f"{live_server}/?bias=normal&bias_std=0.3&{PRESETS['saito-compare'].query}#{VIEW}&present={present}"
    )
    page.wait_for_selector("body[data-ready='1']")
    assert "distinct 98" in page.evaluate(
        "document.getElementById('figure').layout.annotations.map(a => a.text).join()"
    )
    assert page.evaluate(TEXT_OVERLAPS, "#figure") == 0
    assert page.evaluate(OVERLAPS, "#figure") == 0
