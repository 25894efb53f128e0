"""The optimizers page in a real browser: the book's comparison, controls, share links, no errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Watch, open_page, wait_for_location

pytestmark = pytest.mark.browser
BOOK = "opt=sgd,lr:0.95&opt=momentum,lr:0.1&opt=adagrad,lr:1.5&opt=adam,lr:0.3"


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


def test_optimizers_surface_and_start_controls(page: Page, live_server: str, watch: Watch) -> None:
    open_page(page, f"{live_server}/optimizers")
    page.locator("#surface").select_option("rosenbrock")
    wait_for_location(page, r"\?surface=rosenbrock&opt=")
    page.wait_for_function("document.getElementById('caption').textContent.startsWith('Rosenbrock')")
    assert page.locator("#start-x").input_value() == "-1.5"
    names = [t["name"] for t in path_traces(page)]
    assert names[0] == "SGD (lr 0.95): diverged at step 2"  # said, not drawn off to infinity
    steps = page.locator("#steps")
    steps.fill("50")
    steps.dispatch_event("change")
    wait_for_location(page, r"steps=50")
    page.wait_for_function("document.getElementById('paths').data.at(-1).x.length === 51")


def test_optimizers_bad_link_names_the_field(page: Page, live_server: str, watch: Watch) -> None:
    watch.expect_error("422")
    open_page(page, f"{live_server}/optimizers?steps=5000")
    expect(page.locator("#message")).to_contain_text("steps: must be between 1 and 1000")
