"""The sweep page in a real browser: it streams a sweep and draws the API's numbers cell by cell with
the theory's chi = 1 line, hover names a cell's link and value, a click opens that link on the
dashboard, cancel stops a sweep, a bad link is named; no CSP violation, and a phone's 390 px. A
training sweep offers the training metrics and opens its cells on /train."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Watch, open_page, wait_for_location

pytestmark = pytest.mark.browser
SWEEP = (
    "bias=normal&depth=10&width=40&samples=200&run=tanh,xavier&axis.gain=0.5:2:lin:6&axis.bias_std=0,0.5,1"
)
SLOW = "depth=30&width=200&samples=1000&run=tanh,xavier&axis.gain=0.8:2:lin:60"


def api(live_server: str, sweep: str) -> dict[str, Any]:
    response = httpx.post(f"{live_server}/api/v1/sweep", json={"sweep": sweep}, timeout=120)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_page_draws_the_apis_numbers_and_opens_a_cell(page: Page, live_server: str, watch: Watch) -> None:
    open_page(page, f"{live_server}/sweep?{SWEEP}")
    expect(page.locator("#progress")).to_contain_text("18 of 18 points")
    wait_for_location(page, r"/sweep\?bias=normal&depth=10")
    document = api(live_server, SWEEP)
    metric = page.input_value("#metric")
    assert metric == "log10_chi_measured"
    cells = page.evaluate(
        "() => { const t = document.getElementById('sweep-plot').data[0];"
        " return t.customdata.map((c, k) => [c[0], t.marker.color[k]]); }"
    )
    expected = {p["link"]: p["runs"][0][metric] for p in document["points"]}
    assert dict(cells) == expected
    names = page.evaluate("() => document.getElementById('sweep-plot').data.map((t) => t.name)")
    assert "theory: chi = 1" in names  # tanh with gain 0.5 to 2 crosses the critical line

    # hover a cell: its link and value below the figure; a click opens it on the dashboard
    box = page.locator("#sweep-plot .nsewdrag").bounding_box()
    assert box is not None
    corner = (box["x"] + 4, box["y"] + box["height"] - 4)  # in the first cell: gain 0.5, bias_std 0
    page.mouse.move(*corner)
    first = document["points"][0]
    expect(page.locator("#point-link")).to_contain_text(first["link"])
    assert page.get_attribute("#point-link", "href") == f"/?{first['link']}"
    with page.expect_popup() as popup:
        page.mouse.click(*corner)
    opened = popup.value
    opened.wait_for_load_state()
    assert opened.url == f"{live_server}/?{first['link']}"
    opened.close()

    # another metric redraws from the same points
    page.select_option("#metric", "std_ratio")
    colors = page.evaluate("() => document.getElementById('sweep-plot').data[0].marker.color")
    assert sorted(colors) == sorted(p["runs"][0]["std_ratio"] for p in document["points"])
    # the exports are the API's
    href = page.get_attribute("#export-csv", "href")
    assert href is not None and href.startswith("/api/v1/sweep/export.csv?bias=normal")


TRAIN = (
    "of=train&data=synthetic&samples=200&width=16-16&iterations=30&record_every=10&run=relu,normal"
    "&axis.lr=0.01,0.1,1&axis.init=normal,he_normal"
)


def test_a_training_sweep_shows_training_metrics_and_opens_cells_on_train(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(page, f"{live_server}/sweep?{TRAIN}")
    expect(page.locator("#progress")).to_contain_text("6 of 6 points")
    wait_for_location(page, r"/sweep\?of=train&")
    document = api(live_server, TRAIN)
    assert document["kind"] == "train"
    options = page.eval_on_selector_all("#metric option", "(os) => os.map((o) => o.value)")
    assert options == [m["name"] for m in document["metrics"] if not m["per_layer"]]
    assert "test_accuracy" in options and "chi_measured" not in options
    page.select_option("#metric", "test_accuracy")
    cells = page.evaluate(
        "() => { const t = document.getElementById('sweep-plot').data[0];"
        " return t.customdata.map((c, k) => [c[0], t.marker.color[k]]); }"
    )
    assert dict(cells) == {p["link"]: p["runs"][0]["test_accuracy"] for p in document["points"]}
    assert page.locator("#critical").is_hidden()  # no theory's line over a training sweep
    box = page.locator("#sweep-plot .nsewdrag").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 4, box["y"] + box["height"] - 4)  # lr 0.01, init normal
    first = document["points"][0]
    expect(page.locator("#point-link")).to_contain_text(first["link"])
    assert page.get_attribute("#point-link", "href") == f"/train?{first['link']}"


def test_cancel_stops_a_running_sweep(page: Page, live_server: str, watch: Watch) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server}/sweep?{SLOW}")
    expect(page.locator("#cancel")).to_be_enabled(timeout=30_000)
    expect(page.locator("#progress")).to_contain_text("of 60 points", timeout=60_000)
    page.click("#cancel")
    expect(page.locator("#progress")).to_contain_text("cancelled", timeout=30_000)
    done = int(page.inner_text("#progress").split(" of ")[0])
    assert done < 60
    expect(page.locator("#run-sweep")).to_be_enabled()


def test_a_bad_sweep_link_is_named(page: Page, live_server: str, watch: Watch) -> None:
    watch.expect_error("422")
    watch.expect_error("EventSource")
    open_page(page, f"{live_server}/sweep?run=tanh,xavier&axis.gain=1:2:lin:1")
    expect(page.locator("#message")).to_contain_text("axis.gain: a range's point count must be 2 to 1000")


def test_a_phone_sees_the_whole_page(page: Page, live_server: str, watch: Watch) -> None:
    open_page(page, f"{live_server}/sweep?{SWEEP}", width=390)
    expect(page.locator("#progress")).to_contain_text("18 of 18 points")
    overflow = page.evaluate("() => document.scrollingElement.scrollWidth")
    assert overflow <= 390
    plot = page.locator("#sweep-plot .main-svg").first.bounding_box()
    assert plot is not None and plot["x"] + plot["width"] <= 390
