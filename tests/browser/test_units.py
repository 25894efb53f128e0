"""The units page in a real browser: the numbers it shows are the API's, zero init draws identical
units, std 0.01 a tiny spread; the layer selector, the way back to the dashboard, no CSP violation,
and a phone's 390 px without overflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.presets import PRESETS
from tests.browser.conftest import Watch, open_page, wait_for_location

pytestmark = pytest.mark.browser
ZERO = PRESETS["ng-zero-init"].query
E2 = PRESETS["saito-sigmoid-std001"].query  # run=sigmoid,normal,std:0.01

# Every CSP refusal, as the page sees it (the console shows them too; this names what was refused).
CSP_LISTENER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
"""


def api(live_server: str, query: str) -> dict[str, Any]:
    response = httpx.get(f"{live_server}/api/v1/units?{query}", timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def fmt(page: Page, x: float | None) -> str:
    """The page's own number format (static/js/format.js)."""
    text: str = page.evaluate("async (x) => (await import('/static/js/format.js')).fmt(x)", x)
    return text


def shown(page: Page, run: int) -> dict[str, Any]:
    """What run `run`'s card displays: its numbers as text, and the data of its two figures."""
    data: dict[str, Any] = page.evaluate(
        """(i) => {
          const card = document.querySelector(`.unit-run[data-run='${i}']`);
          const text = (sel) => card.querySelector(sel).textContent;
          const strip = card.querySelector('.unit-strip').data;
          const matrix = card.querySelector('.unit-matrix').data[0];
          return {
            title: text('h2'), between: text('.between'), within: text('.within'),
            spread: text('.unit-spread'), counts: text('.unit-counts'), reading: text('.unit-reading'),
            key: text('.unit-key'), mean: strip[2].y, lower: strip[0].y, upper: strip[1].y,
            x: matrix.x, y: matrix.y, color: matrix.marker.color, type: matrix.type,
          };
        }""",
        run,
    )
    return data


def rows_of(matrix: dict[str, Any]) -> dict[int, list[float]]:
    """The matrix as drawn: unit -> its values in sample order."""
    rows: dict[int, list[float]] = {}
    for x, y, c in sorted(
        zip(matrix["x"], matrix["y"], matrix["color"], strict=True), key=lambda t: (t[1], t[0])
    ):
        rows.setdefault(int(y), []).append(c)
        assert len(rows[int(y)]) == x
    return rows


def test_units_zero_init_draws_identical_units_with_the_apis_numbers(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    page.add_init_script(CSP_LISTENER)
    open_page(page, f"{live_server}/units?preset=ng-zero-init&layer=2", width=1440)
    assert page.evaluate("location.search") == f"?{ZERO}&layer=2"  # the server's canonical link
    body = api(live_server, f"{ZERO}&layer=2")
    assert page.locator("#layer").input_value() == "2"
    assert page.locator("#layer option").count() == body["depth"] == 5
    assert page.locator("#back").get_attribute("href") == f"/?{ZERO}"
    expect(page.locator("details.explain summary")).to_have_text("What am I looking at?")
    for i, run in enumerate(body["runs"]):
        p, drawn = run["profile"], shown(page, i)
        assert drawn["title"] == run["label"]
        assert (drawn["between"], drawn["within"]) == (fmt(page, p["between"]), fmt(page, p["within"]))
        assert (
            drawn["spread"]
            == f"Spread of unit means {drawn['between']} against spread within a unit {drawn['within']}."
        )
        assert drawn["between"] == "0"  # every unit has the same mean
        assert drawn["counts"].startswith("1 distinct unit of 100")
        assert drawn["reading"].startswith("All 100 units are identical")
        assert drawn["mean"] == p["mean"] and len(set(drawn["mean"])) == 1  # one flat line
        assert drawn["type"] == "scatter"
        rows = rows_of(drawn)
        assert list(rows.values()) == p["matrix"]["values"]  # the API's matrix, square by square
        assert all(row == rows[1] for row in rows.values())  # every unit's row is the same
    assert shown(page, 0)["key"] == "Colour:  every value is 0: one colour"
    assert shown(page, 1)["within"] == "0.996"  # constant weights: identical units that answer the input
    assert page.evaluate("window.__csp") == []
    page.screenshot(path=artifacts / "units-zero-init.png", full_page=True)


def test_units_small_weights_show_a_tiny_spread(page: Page, live_server: str, watch: Watch) -> None:
    page.add_init_script(CSP_LISTENER)
    open_page(page, f"{live_server}/units?{E2}&layer=4")
    (run,) = api(live_server, f"{E2}&layer=4")["runs"]
    drawn = shown(page, 0)
    # the claim in numbers: units differ by 0.013, a unit's output by 3.9e-7 across the inputs
    assert drawn["spread"] == "Spread of unit means 0.0132 against spread within a unit 3.85e-7."
    assert (drawn["between"], drawn["within"]) == (
        fmt(page, run["profile"]["between"]),
        fmt(page, run["profile"]["within"]),
    )
    assert drawn["reading"].startswith("The units differ, but each one barely answers its input")
    assert drawn["mean"] == run["profile"]["mean"] and len(set(drawn["mean"])) == 100
    rows = rows_of(drawn)
    assert max(max(r) - min(r) for r in rows.values()) < 1e-5  # each row nearly one colour
    assert max(r[0] for r in rows.values()) - min(r[0] for r in rows.values()) > 0.01  # rows differ
    assert page.evaluate("window.__csp") == []


def test_units_layer_selector_redraws_and_keeps_the_link(page: Page, live_server: str, watch: Watch) -> None:
    open_page(page, f"{live_server}/units?{ZERO}")
    assert page.locator("#layer").input_value() == "1"
    page.locator("#layer").select_option("5")
    wait_for_location(page, r"&layer=5$")
    page.wait_for_function("document.querySelector('.unit-run .unit-strip').data[2].y[0] === 0.5")
    # layer 5 is the sigmoid output: zero weights give sigmoid(0) = 0.5 for every unit and input
    expect(page.locator(".unit-run[data-run='0'] .unit-reading")).to_have_text(
        "All 100 units are identical: they compute one and the same function, and give the same value, "
        "0.5, for every input."
    )
    page.reload()
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    assert page.locator("#layer").input_value() == "5"


def test_units_page_without_a_link_opens_the_symmetry_preset(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(page, f"{live_server}/units")
    assert page.evaluate("location.search") == f"?{ZERO}&layer=1"
    assert page.locator("header.site nav a[href='/units']").count() == 1


def test_units_bad_layer_names_it(page: Page, live_server: str, watch: Watch) -> None:
    watch.expect_error("422")
    open_page(page, f"{live_server}/units?run=relu,he_normal&layer=9")
    expect(page.locator("#message")).to_contain_text("layer: must be between 1 and 5")


def test_units_phone_has_no_overflow(page: Page, live_server: str, watch: Watch, artifacts: Path) -> None:
    page.add_init_script(CSP_LISTENER)
    open_page(page, f"{live_server}/units?{ZERO}&layer=2", width=390)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    boxes = page.evaluate(
        "[...document.querySelectorAll('.unit-run, .unit-run .main-svg, .toolbar > *')]"
        ".map(e => { const r = e.getBoundingClientRect(); return [r.left, r.right]; })"
    )
    assert boxes and all(left >= 0 and right <= 390 for left, right in boxes)
    # the explanation is one tap away; the numbers come first
    assert page.evaluate("document.querySelector('details.explain').open") is False
    assert page.locator(".unit-run[data-run='0'] .unit-spread").bounding_box()["y"] < 900  # type: ignore[index]
    assert page.evaluate("window.__csp") == []
    page.screenshot(path=artifacts / "units-390.png", full_page=True)
