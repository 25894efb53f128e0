"""The optimizers page in a real browser: the book's comparison, controls, share links, no errors."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.engine.paths.surfaces import SURFACES
from app.paths_codec import defaults_json
from tests.browser.conftest import Watch, open_page, wait_for_location

pytestmark = pytest.mark.browser
BOOK = "opt=sgd,lr:0.95&opt=momentum,lr:0.1&opt=adagrad,lr:1.5&opt=adam,lr:0.3"


def _defaults_share(name: str) -> str:
    share: str = defaults_json(SURFACES[name])["share"]
    return share


def path_traces(page: Page) -> list[dict[str, object]]:
    traces: list[dict[str, object]] = page.evaluate(
        "() => document.getElementById('paths').data"
        ".filter(t => t.mode === 'lines+markers').map(t => ({name: t.name, x: t.x, y: t.y}))"
    )
    return traces


def test_optimizers_page_renders_the_book_comparison(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    open_page(page, f"{live_server}/optimizers")
    traces = path_traces(page)
    assert [t["name"] for t in traces] == [
        "SGD (lr 0.95)",
        "Momentum (lr 0.1)",
        "AdaGrad (lr 1.5)",
        "Adam (lr 0.3)",
    ]
    assert all(len(t["x"]) == 31 for t in traces)  # type: ignore[arg-type]
    assert traces[0]["x"][0] == -7 and traces[0]["y"][0] == 2  # type: ignore[index]
    assert page.evaluate("location.search") == "?" + BOOK
    assert page.evaluate("document.getElementById('paths').data[0].type") == "contour"
    # Equal scales: one unit of x is as many pixels as one unit of y.
    ratio = page.evaluate(
        "() => { const l = document.getElementById('paths')._fullLayout;"
        " return (l.xaxis._length / (l.xaxis.range[1] - l.xaxis.range[0]))"
        " / (l.yaxis._length / (l.yaxis.range[1] - l.yaxis.range[0])); }"
    )
    assert ratio == pytest.approx(1, abs=0.02)
    assert page.locator(".opt-row").count() == 6  # the four ticked, Nesterov and RMSProp to add
    assert page.locator(".opt-row input[type=checkbox]:checked").count() == 4
    assert page.locator(".modebar-btn[data-title^='Share']").count() == 0
    page.screenshot(path=artifacts / "optimizers.png", full_page=True)


def test_optimizers_learning_rate_change_redraws_and_round_trips(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(page, f"{live_server}/optimizers?{BOOK}")
    before = path_traces(page)[0]
    lr = page.get_by_label("SGD learning rate")
    lr.fill("0.5")
    lr.dispatch_event("change")
    wait_for_location(page, r"opt=sgd,lr:0\.5&")
    page.wait_for_function("document.getElementById('paths').data.some(t => t.name === 'SGD (lr 0.5)')")
    after = path_traces(page)[0]
    assert after["y"][1] == pytest.approx(2 - 0.5 * 4)  # type: ignore[index]  # y - lr * 2y
    assert after["y"] != before["y"]
    # Tick RMSProp: a fifth path; the link lists it.
    page.locator(".opt-row[data-optimizer=rmsprop] input[type=checkbox]").check()
    wait_for_location(page, r"opt=rmsprop,lr:0\.1$")
    page.wait_for_function("document.getElementById('paths').data.length === 7")
    url = page.evaluate("location.href")
    # Reload: the link restores the same controls and paths.
    page.reload()
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    assert page.evaluate("location.href") == url
    assert page.get_by_label("SGD learning rate").input_value() == "0.5"
    assert page.locator(".opt-row input[type=checkbox]:checked").count() == 5
    assert len(path_traces(page)) == 5


def test_optimizers_surface_choice_opens_it_at_its_defaults(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(page, f"{live_server}/optimizers")
    page.locator("#surface").select_option("rosenbrock")
    wait_for_location(page, re.escape("?" + _defaults_share("rosenbrock")) + "$")
    page.wait_for_function("document.getElementById('caption').textContent.startsWith('Rosenbrock')")
    assert page.locator("#start-x").input_value() == "-1.2"
    assert page.locator("#start-y").input_value() == "1"
    assert page.locator("#steps").input_value() == "1000"
    traces = path_traces(page)
    assert [t["name"] for t in traces] == [
        "SGD (lr 0.0019)",
        "Momentum (lr 0.001)",
        "AdaGrad (lr 1)",
        "Adam (lr 0.1)",
    ]
    assert all(len(t["x"]) == 1001 for t in traces)  # type: ignore[arg-type]  # none diverged
    # the rows not drawn carry this surface's rates too, ready to tick
    assert page.get_by_label("Nesterov learning rate").input_value() == "0.0005"
    assert page.get_by_label("RMSProp learning rate").input_value() == "0.01"
    expect(page.locator("#defaults-text")).to_contain_text("SGD 0.0019, Momentum 0.001, Nesterov 0.0005")
    expect(page.locator("#defaults-link")).to_be_hidden()  # already at them
    steps = page.locator("#steps")
    steps.fill("50")
    steps.dispatch_event("change")
    wait_for_location(page, r"start=-1\.2,1&steps=50&")
    page.wait_for_function("document.getElementById('paths').data.at(-1).x.length === 51")


def test_optimizers_old_link_keeps_its_meaning_and_offers_the_defaults(
    page: Page, live_server: str, watch: Watch
) -> None:
    """A link without rates means the book's rates on any surface, as it always has."""
    open_page(page, f"{live_server}/optimizers?surface=rosenbrock")
    assert page.evaluate("location.search") == "?surface=rosenbrock&" + BOOK
    assert page.locator("#start-x").input_value() == "-1.5"
    names = [t["name"] for t in path_traces(page)]
    assert names[0] == "SGD (lr 0.95): diverged at step 2"  # said, not drawn off to infinity
    link = page.locator("#defaults-link")
    expect(link).to_be_visible()
    link.click()
    wait_for_location(page, re.escape("?" + _defaults_share("rosenbrock")) + "$")
    page.wait_for_function("document.getElementById('paths').data.at(-1).x.length === 1001")
    assert not any("diverged" in str(t["name"]) for t in path_traces(page))
    expect(link).to_be_hidden()


GAP_BOXES = """() => {
  const box = (e) => {
    const r = e.getBoundingClientRect();
    return {l: r.left, t: r.top, r: r.right, b: r.bottom};
  };
  const g = document.getElementById("gaps");
  return {title: box(g.querySelector(".ytitle")), ticks: [...g.querySelectorAll(".ytick text")].map(box)};
}"""


def _intersect(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["l"] < b["r"] and b["l"] < a["r"] and a["t"] < b["b"] and b["t"] < a["b"]


@pytest.mark.parametrize("width", [1440, 1024, 390])
def test_optimizers_gap_chart_title_is_clear_of_its_ticks(
    page: Page, live_server: str, watch: Watch, width: int
) -> None:
    """Every surface at its defaults, and Beale at the book's rates (labels up to 1e+30)."""
    for query in [*(_defaults_share(name) for name in SURFACES), "surface=beale"]:
        open_page(page, f"{live_server}/optimizers?{query}", width=width)
        boxes = page.evaluate(GAP_BOXES)
        assert len(boxes["ticks"]) >= 3, query
        title = boxes["title"]
        for tick in boxes["ticks"]:
            assert not _intersect(title, tick), (query, title, tick)
            assert title["r"] <= tick["l"] - 2, (query, title, tick)  # beside them, with room


PHONE = """() => {
  const box = (e) => {
    const r = e.getBoundingClientRect();
    return {l: r.left, t: r.top, r: r.right, b: r.bottom};
  };
  const p = document.getElementById("paths");
  const L = p._fullLayout;
  const html = [...document.querySelectorAll("body *")]
    .filter((e) => !e.closest("svg") || e.tagName === "svg");  // what is inside an svg is clipped by it
  const inRange = (v, r) => v >= Math.min(...r) && v <= Math.max(...r);
  return {
    scrollWidth: document.scrollingElement.scrollWidth,
    wide: html.filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5)
      .map((e) => e.tagName + "#" + e.id),
    area: box(p.querySelector(".nsewdrag")),
    legend: box(p.querySelector(".legend")),
    scale: (L.xaxis._length / (L.xaxis.range[1] - L.xaxis.range[0]))
      / (L.yaxis._length / (L.yaxis.range[1] - L.yaxis.range[0])),
    outside: p.data.filter((t) => t.mode === "lines+markers")
      .map((t) => t.x.filter((x, i) => !inRange(x, L.xaxis.range) || !inRange(t.y[i], L.yaxis.range)).length)
      .reduce((a, b) => a + b, 0),
  };
}"""


@pytest.mark.parametrize("name", list(SURFACES))
def test_optimizers_path_plot_is_usable_on_a_phone(
    page: Page, live_server: str, watch: Watch, artifacts: Path, name: str
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/optimizers?{_defaults_share(name)}")
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    m = page.evaluate(PHONE)
    assert m["scrollWidth"] <= 390 and m["wide"] == []  # nothing wider than the screen
    area, legend = m["area"], m["legend"]
    assert area["l"] >= 0 and area["r"] <= 390  # the plot within the screen's width
    assert area["r"] - area["l"] >= 0.75 * 390  # and using it
    assert area["b"] <= 844  # on the first screen: the controls come after it
    assert area["b"] - area["t"] >= 0.6 * (area["r"] - area["l"])  # an aspect that shows the paths
    assert m["scale"] == pytest.approx(1, abs=0.02)  # equal scales still
    assert not _intersect(legend, area)  # the legend never covers the plot
    assert m["outside"] == 0  # every point of every path in view
    page.screenshot(path=artifacts / f"optimizers-390-{name}.png", full_page=True)


def test_optimizers_bad_link_names_the_field(page: Page, live_server: str, watch: Watch) -> None:
    watch.expect_error("422")
    open_page(page, f"{live_server}/optimizers?steps=5000")
    expect(page.locator("#message")).to_contain_text("steps: must be between 1 and 1000")


def test_optimizers_path_plot_redraws_when_the_window_is_resized(
    page: Page, live_server: str, watch: Watch
) -> None:
    """Its height follows its width (equal scales): a phone turned or a window widened redraws it."""
    open_page(page, f"{live_server}/optimizers", width=390)
    assert page.evaluate("document.getElementById('paths')._fullLayout.xaxis.range[0]") > -10  # zoomed
    expect(page.locator("#caption")).to_contain_text("zoomed to the paths")
    page.set_viewport_size({"width": 1024, "height": 900})
    page.wait_for_function("() => document.getElementById('paths')._fullLayout.xaxis.range[0] === -10")
    expect(page.locator("#caption")).not_to_contain_text("zoomed")
    ratio = page.evaluate(
        "() => { const l = document.getElementById('paths')._fullLayout;"
        " return (l.xaxis._length / (l.xaxis.range[1] - l.xaxis.range[0]))"
        " / (l.yaxis._length / (l.yaxis.range[1] - l.yaxis.range[0])); }"
    )
    assert ratio == pytest.approx(1, abs=0.02)


@pytest.mark.parametrize("width", [1440, 390])
def test_optimizers_zigzag_shows_the_apis_paths_claim_and_numbers(
    page: Page, live_server: str, watch: Watch, artifacts: Path, width: int
) -> None:
    doc = httpx.get(f"{live_server}/api/v1/unit-paths", timeout=10).json()
    [preset] = httpx.get(f"{live_server}/api/v1/paths/presets", timeout=10).json()
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server}{preset['page']}")
    expect(page.locator("#zigzag")).to_have_attribute("data-drawn", "1", timeout=20_000)
    claim = page.locator("#zigzag-claim")
    expect(claim.locator(".verdict")).to_have_attribute("data-verdict", preset["claim"]["verdict"])
    expect(claim.locator(".claim-verdict")).to_contain_text(preset["claim"]["reason"])
    steps = doc["config"]["steps"]
    rows = page.locator("#zigzag-numbers tbody tr")
    expect(rows).to_have_count(2)
    for row, path in zip(rows.all(), doc["paths"], strict=True):
        cells = row.locator("td").all_inner_texts()
        assert cells[1] == f"{100 * path['same_sign']:.0f}% of {steps}"
        assert cells[2].startswith(f"{path['detour']:.2f}×")
        assert cells[3] == f"step {path['arrived']}"
    # every step drawn with its sign pattern, as many of each as the API's path has
    drawn = page.locator("#zigzag-plot").evaluate(
        "el => Object.fromEntries(el.data.filter(t => t.mode === 'markers' && t.customdata)"
        ".map(t => [t.name, t.customdata.length]))"
    )
    centred = doc["paths"][1]
    assert drawn["all-positive inputs: one up, one down"] == 0
    assert (
        drawn["all-positive inputs: both up (+, +)"] + drawn["all-positive inputs: both down (−, −)"] == steps
    )
    shared = round(centred["same_sign"] * steps)
    assert (
        drawn["zero-centred inputs: both up (+, +)"] + drawn["zero-centred inputs: both down (−, −)"]
        == shared
    )
    assert drawn["zero-centred inputs: one up, one down"] == steps - shared
    # nothing of the section runs past the screen's edge
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    box = page.locator("#zigzag-plot .main-svg").first.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    page.locator("#zigzag").screenshot(path=artifacts / f"optimizers-zigzag-{width}.png")
