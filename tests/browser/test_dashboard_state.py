"""The dashboard's controls and messages say what is drawn: the view, a request under way, a
refused request, theory that does not apply, and each preset's claim with its verdict."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from app.presets import PRESETS
from tests.browser.conftest import Watch, open_page, wait_for_location

pytestmark = pytest.mark.browser


def drawn_totals(page: Page) -> list[int]:
    """The total count of every histogram trace of the main figure."""
    totals: list[int] = page.evaluate(
        "() => document.getElementById('figure').data.filter(t => t.type === 'bar')"
        ".map(t => t.y.reduce((a, b) => a + (b || 0), 0))"
    )
    return totals


def test_dashboard_gradient_view_without_a_backward_pass_shows_activations_and_says_so(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(page, f"{live_server}/?depth=3&grad=0&run=relu,he_normal#view=grid&kind=grad&log=0&layers=auto")
    gradients = page.locator('input[name="kind"][value="grad"]')
    expect(gradients).not_to_be_checked()
    expect(gradients).to_be_disabled()
    expect(page.locator('input[name="kind"][value="post"]')).to_be_checked()
    result = httpx.get(f"{live_server}/api/v1/simulate?depth=3&grad=0&run=relu,he_normal").json()
    assert drawn_totals(page) == [sum(layer["post"]["counts"]) for layer in result["runs"][0]["layers"]]


def test_dashboard_marks_the_figure_stale_while_a_request_runs(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(page, f"{live_server}/?depth=3&run=relu,he_normal")
    held: list[Route] = []
    page.route("**/api/v1/simulate", lambda route: held.append(route))  # POSTs wait until released
    depth = page.locator('#shared [data-field="depth"]')
    depth.fill("4")
    depth.dispatch_event("change")
    page.wait_for_function("() => document.body.dataset.busy === '1'")
    expect(page.locator("#status")).to_have_text("Updating…")
    # dimmed after a short delay (a fast answer does not flicker)
    page.wait_for_function("() => Number(getComputedStyle(document.getElementById('figure')).opacity) < 0.6")
    assert len(drawn_totals(page)) == 3  # still the previous experiment, marked stale
    assert held
    held[0].continue_()
    wait_for_location(page, r"depth=4")
    page.wait_for_function("() => document.body.dataset.busy === undefined")
    expect(page.locator("#status")).to_contain_text("Updated in")
    page.wait_for_function("() => getComputedStyle(document.getElementById('figure')).opacity === '1'")


def test_dashboard_refused_request_keeps_the_previous_experiment_and_says_so(
    page: Page, live_server: str, watch: Watch
) -> None:
    watch.expect_error("status of 422")
    open_page(page, f"{live_server}/?depth=3&run=relu,he_normal")
    before = drawn_totals(page)
    depth = page.locator('#shared [data-field="depth"]')
    depth.fill("100000")
    depth.dispatch_event("change")
    message = page.locator("#message")
    expect(message).to_contain_text("depth")
    expect(message).to_contain_text("The figures still show the previous experiment")
    expect(depth).to_have_value("3")  # the controls are back to what is drawn
    assert page.evaluate("location.search") == "?depth=3&run=relu,he_normal"
    assert drawn_totals(page) == before
    expect(page.locator("#status")).to_have_text("")


def test_dashboard_refused_link_shows_the_rest_of_it_and_says_what_it_left_out(
    page: Page, live_server: str, watch: Watch
) -> None:
    # a link refused on first load has no previous experiment to fall back to: the page shows
    # the link without what was refused, so that the controls are there to fix it
    watch.expect_error("status of 422")
    open_page(page, f"{live_server}/?depth=100000&width=20&run=relu,he_normal&run=tanh,bogus")
    message = page.locator("#message")
    expect(message).to_contain_text("depth: must be between 1 and 10000")
    expect(message).to_contain_text("unknown init 'bogus'")
    expect(message).to_contain_text("show the link without depth=100000 and run=tanh,bogus")
    rest = httpx.get(f"{live_server}/api/v1/simulate?width=20&run=relu,he_normal").json()
    assert page.evaluate("location.search") == f"?{rest['share']}"
    assert drawn_totals(page) == [sum(layer["post"]["counts"]) for layer in rest["runs"][0]["layers"]]
    catalog = httpx.get(f"{live_server}/api/v1/catalog").json()
    default_depth = next(f["default"] for f in catalog["fields"] if f["name"] == "depth")
    expect(page.locator('#shared [data-field="depth"]')).to_have_value(str(default_depth))
    expect(page.locator('#shared [data-field="width"]')).to_have_value("20")
    expect(page.locator("#runs > fieldset.run")).to_have_count(1)

    # its only run refused: the default experiment, said so
    open_page(page, f"{live_server}/?run=relu,bogus")
    expect(message).to_contain_text("unknown init 'bogus'")
    expect(message).to_contain_text("show the default experiment instead")
    expect(message).not_to_contain_text("at least one run")
    assert page.evaluate("location.search") == f"?{PRESETS['saito-compare'].query}"
    expect(page.locator("#runs > fieldset.run")).to_have_count(3)


def test_dashboard_says_where_the_theory_does_not_apply(page: Page, live_server: str, watch: Watch) -> None:
    open_page(page, f"{live_server}/?{PRESETS['dead-relu'].query}#view=grid&kind=pre&log=0&layers=auto")
    notes = page.locator("#notes li")
    expect(notes).to_have_count(2)
    expect(notes.first).to_contain_text("no theory curve")
    expect(notes.first).to_contain_text("zero-mean biases")
    curves = page.evaluate("document.getElementById('figure').data.filter(t => t.type === 'scatter').length")
    assert curves == 0
    open_page(page, f"{live_server}/?{PRESETS['saito-compare'].query}#view=grid&kind=pre&log=0&layers=auto")
    expect(page.locator("#notes")).to_be_hidden()


@pytest.mark.parametrize("name", PRESETS)
def test_dashboard_shows_each_presets_claim_and_opens_its_view(
    page: Page, live_server: str, watch: Watch, name: str
) -> None:
    preset = next(p for p in httpx.get(f"{live_server}/api/v1/presets").json() if p["name"] == name)
    claim = preset["claim"]
    open_page(page, f"{live_server}/?{preset['share']}")
    box = page.locator("#claim")
    expect(box).to_be_visible()
    expect(box.locator("q")).to_have_text(claim["text"])
    expect(box).to_contain_text(claim["source"])
    expect(box).to_contain_text(claim["reason"])
    expect(box.locator(".verdict")).to_have_attribute("data-verdict", claim["verdict"])
    units = page.locator("#claim a[href^='/units?']")
    expect(units).to_have_count(1 if claim["units_layer"] else 0)
    if claim["units_layer"]:
        assert units.get_attribute("href") == f"/units?{preset['share']}&layer={claim['units_layer']}"
    view = claim["view"]
    expect(page.locator(f'input[name="view"][value="{view["view"]}"]')).to_be_checked()
    expect(page.locator(f'input[name="kind"][value="{view["kind"]}"]')).to_be_checked()
    layers = page.evaluate("new URLSearchParams(location.hash.slice(1)).get('layers')")
    assert layers == view.get("layers", "auto")
    if "layers" in view:  # a claim about one kind of rows opens them in the Layers menu
        expect(page.locator("#layers")).to_have_value(view["layers"])
    # a custom experiment has no claim
    seed = page.locator('#shared [data-field="seed"]')
    seed.fill("12345")
    seed.dispatch_event("change")
    wait_for_location(page, r"seed=12345")
    expect(box).to_be_hidden()


def test_dashboard_per_run_axes_draw_the_servers_per_run_bins(
    page: Page, live_server: str, watch: Watch
) -> None:
    query = "depth=2&run=sigmoid,normal,std:0.01&run=relu,he_normal"
    open_page(page, f"{live_server}/?{query}#view=grid&kind=grad&log=0&layers=auto")
    toggle = page.locator("#per-run-axes")
    expect(toggle).not_to_be_checked()
    toggle.check()
    wait_for_location(page, r"axes=run")
    result = httpx.get(f"{live_server}/api/v1/simulate?axes=run&{query}").json()
    drawn = page.evaluate(
        "() => document.getElementById('figure').data.filter(t => t.type === 'bar').map(t => t.y)"
    )
    # rows are layers, columns runs: the vanished sigmoid gradient fills its own bins
    expected = [result["runs"][c]["layers"][j]["grad"]["counts"] for j in range(2) for c in range(2)]
    assert drawn == expected
    assert sum(1 for n in expected[0] if n > 0) > 10
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#per-run-axes")).to_be_checked()
    page.locator("#per-run-axes").uncheck()
    page.wait_for_function("() => !location.search.includes('axes=run')")


def test_dashboard_ridgeline_common_scale_lives_in_the_hash(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(
        page,
        f"{live_server}/?{PRESETS['deep-relu-compare'].query}#view=ridgeline&kind=post&log=0&layers=auto",
    )
    toggle = page.locator("#common-scale")
    expect(toggle).to_be_visible()
    expect(page.locator("#layers-field")).to_be_hidden()

    def heights() -> list[float]:
        """How high each ridge of the He column rises above its base (1.6 = its own full height)."""
        spans: list[float] = page.evaluate(
            "() => document.getElementById('figure').data.filter(t => t.xaxis === 'x3')"
            ".map(t => Math.max(...t.y) - Math.min(...t.y))"
        )
        return spans

    assert min(heights()) > 1.59  # each ridge fills its own height
    toggle.check()
    wait_for_location(page, r"scale=common")
    page.wait_for_function(
        "() => document.getElementById('figure').layout.annotations.some(a => a.text.includes('one scale'))"
    )
    # against the collapsed run's 256,000 values in one bin, He's ridges are low
    assert max(heights()) < 1.0
    page.locator('input[name="view"][value="grid"]').check()
    expect(toggle).to_be_hidden()
