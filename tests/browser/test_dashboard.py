"""The dashboard in a real browser: presets, share links, controls, views, exports, bad links."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from app.presets import PRESETS
from tests.browser.conftest import Watch, open_page, wait_for_location
from tests.browser.panels import show_panels

pytestmark = pytest.mark.browser
MAX_ROWS = 10  # the grid shows at most this many layers at once


def grid_traces(page: Page, bars_only: bool = False) -> list[dict[str, float]]:
    """Per trace of the main figure (bars only: its histograms): number of bins and total count."""
    traces: list[dict[str, float]] = page.evaluate(
        "only => document.getElementById('figure').data.filter(t => !only || t.type === 'bar')"
        ".map(t => ({bins: t.y.length, total: t.y.reduce((a, b) => a + (b || 0), 0)}))",
        bars_only,
    )
    return traces


def shown_layers(page: Page) -> list[int]:
    """The layers the grid shows, from its row titles ("layer 3")."""
    titles: list[str] = page.evaluate(
        "() => { const l = document.getElementById('figure').layout;"
        " return Object.keys(l).filter(k => k.startsWith('yaxis'))"
        ".map(k => l[k].title?.text).filter(Boolean); }"
    )
    return sorted(int(t.split()[1]) for t in titles)


# Layer networks' presets (norms, residual blocks) have rows by layer type: test_dashboard_blocks.py
@pytest.mark.parametrize(
    "name", [n for n, p in PRESETS.items() if all(r.arch is None for r in p.experiment.runs)]
)
def test_dashboard_every_preset_renders_its_subplots(
    page: Page, live_server: str, watch: Watch, name: str
) -> None:
    preset = PRESETS[name]
    # the grid of activations (a preset alone opens in its claim's view: test_dashboard_state.py)
    open_page(page, f"{live_server}/?{preset.query}#view=grid&kind=post&log=0&layers=auto")
    runs = preset.experiment.runs
    depth = max(run.depth for run in runs)
    shown = shown_layers(page)
    assert (
        shown == list(range(1, depth + 1))
        if depth <= MAX_ROWS
        else (len(shown) <= MAX_ROWS and shown[-1] == depth)
    )
    traces = grid_traces(page, bars_only=True)
    assert len(traces) == sum(1 for run in runs for layer in shown if layer <= run.depth)
    assert all(t["bins"] == 30 and t["total"] > 0 for t in traces)
    # measured markers for activations and z (and gradients) per run, and the predicted lines
    # where the mean field's assumptions hold (no note)
    notes = [
        run["theory"]["note"]
        for run in httpx.get(f"{live_server}/api/v1/simulate?{preset.query}").json()["runs"]
    ]
    series = 3 if preset.experiment.gradients else 2
    expected = sum(series * (1 if note else 2) for note in notes)
    assert page.evaluate("document.getElementById('signal').data.length") == expected
    assert page.locator(".modebar-btn[data-title^='Share']").count() == 0  # nothing leaves the machine
    assert page.locator("#preset").input_value() == name
    assert page.evaluate("location.search") == "?" + preset.query


def test_dashboard_control_change_updates_url_and_survives_reload(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(page, f"{live_server}/?{PRESETS['saito-compare'].query}")
    depth = page.locator('#shared [data-field="depth"]')
    depth.fill("3")
    depth.dispatch_event("change")
    wait_for_location(page, r"depth=3")
    page.wait_for_function("() => document.getElementById('figure').data.length === 9")
    assert page.locator("#preset").input_value() == ""  # no longer the preset
    before = grid_traces(page)
    render_ms = page.evaluate("Number(document.body.dataset.renderMs)")
    print(f"control change to plot drawn: {render_ms} ms")
    url = page.evaluate("location.href")
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert page.evaluate("location.href") == url
    assert page.locator('#shared [data-field="depth"]').input_value() == "3"
    assert grid_traces(page) == before


def test_dashboard_run_editing_adds_duplicates_and_removes(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(page, f"{live_server}/?run=relu,he_normal")
    page.locator("#add-run").click()
    wait_for_location(page, r"run=relu,he_normal&run=relu,he_normal")
    card = page.locator("fieldset.run").nth(1)
    card.locator('[data-field="init"]').select_option("normal")
    # as a visitor does: the answer to the init fills std's default (1) before std is typed (typed
    # into while that answer came, the field read "10.01")
    wait_for_location(page, r"run=relu,he_normal&run=relu,normal$")
    card.locator('[data-field="std"]').fill("0.01")
    card.locator('[data-field="std"]').dispatch_event("change")
    wait_for_location(page, r"run=relu,normal,std:0.01")
    card.get_by_role("button", name="Duplicate").click()
    wait_for_location(page, r"(run=relu,normal,std:0.01.*){2}")
    page.locator("fieldset.run").first.get_by_role("button", name="Remove").click()
    wait_for_location(page, r"\?run=relu,normal,std:0.01&run=relu,normal,std:0.01$")
    expect(page.locator("fieldset.run")).to_have_count(2)


def test_dashboard_hand_edited_link_depth_8_shows_8_rows(page: Page, live_server: str, watch: Watch) -> None:
    open_page(page, f"{live_server}/?depth=8&run=tanh,xavier&run=relu,he_normal")
    assert len(grid_traces(page)) == 16
    assert page.locator('#shared [data-field="depth"]').input_value() == "8"
    assert page.locator('[data-field="activation"]').nth(1).input_value() == "relu"


def test_dashboard_deep_network_shows_a_window_of_layers(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    open_page(page, f"{live_server}/?{PRESETS['deep-relu-compare'].query}")
    assert len(grid_traces(page)) == 3 * MAX_ROWS
    expect(page.locator("#figure-caption")).to_contain_text("10 of 50 layers")
    page.screenshot(path=artifacts / "dashboard-deep.png", full_page=True)
    page.locator("#layers").select_option("from-41")
    wait_for_location(page, r"layers=from-41")
    titles = page.evaluate("document.getElementById('figure').layout.yaxis.title.text")
    assert titles == "layer 41"


def test_dashboard_views_render_and_live_in_the_hash(page: Page, live_server: str, watch: Watch) -> None:
    open_page(page, f"{live_server}/?{PRESETS['saito-compare'].query}")
    for view in ("overlay", "ridgeline", "grid"):
        page.locator(f'input[name="view"][value="{view}"]').check()
        wait_for_location(page, f"view={view}")
        assert page.evaluate("document.getElementById('figure').data.length") > 0
    page.locator('input[name="kind"][value="pre"]').check()
    page.locator("#log-y").check()
    wait_for_location(page, r"kind=pre.*log=1")
    assert page.evaluate("document.getElementById('figure').layout.yaxis.type") == "log"
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator('input[name="kind"][value="pre"]').is_checked()
    # z of sigmoid with std 1 spreads to about +-30: the x axis is not the activation's [0, 1]
    assert page.evaluate("document.getElementById('figure').layout.xaxis.range[1]") > 10
    # every z histogram carries the predicted density N(0, q) of the mean-field theory
    curves = page.evaluate("document.getElementById('figure').data.filter(t => t.type === 'scatter').length")
    assert curves == 15


def test_dashboard_bad_link_shows_a_message(page: Page, live_server: str, watch: Watch) -> None:
    watch.expect_error("status of 422")
    open_page(page, f"{live_server}/?depth=abc&run=relu,xavier")
    message = page.locator("#message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("depth")
    open_page(page, f"{live_server}/?run=relu,normal,std:-1&run=relu,he_normal")
    expect(message).to_contain_text("must be between")


PAYLOADS = [
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=1</script>",
    '"><svg onload=window.__pwned=1>',
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_dashboard_script_payloads_run_nothing(page: Page, live_server: str, payload: str) -> None:
    escaped = quote(payload.replace("%", "%25").replace(",", "%2C").replace(":", "%3A"), safe="")
    for query in (
        f"run=relu,he_normal,label:{escaped}",  # a valid label, drawn as text
        f"run={quote(payload, safe='')},xavier",  # an invalid activation, echoed in the message
        f"depth={quote(payload, safe='')}&run=relu,xavier",
    ):
        open_page(page, f"{live_server}/?{query}")
        assert page.evaluate("window.__pwned") is None
        assert page.locator("img[src='x'], #figure script, #message *").count() == 0


def test_dashboard_exports(page: Page, live_server: str, watch: Watch) -> None:
    share = PRESETS["saito-compare"].query
    open_page(page, f"{live_server}/?{share}")
    assert page.locator("#download-csv").get_attribute("href") == f"/api/v1/export/csv?{share}"
    assert page.locator("#download-report").get_attribute("href") == f"/api/v1/export/report?{share}"
    with page.expect_download() as download:
        page.locator("#download-json").click()
    assert download.value.suggested_filename == "initscope.json"
    assert '"share"' in Path(download.value.path()).read_text()


def test_dashboard_screenshots_and_small_screens(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    open_page(page, f"{live_server}/?{PRESETS['saito-compare'].query}")
    page.screenshot(path=artifacts / "dashboard-saito-compare.png", full_page=True)
    unlabeled = page.evaluate(
        "[...document.querySelectorAll('.panel input, .panel select, .toolbar input, .toolbar select')]"
        ".filter(el => el.labels.length === 0 && !el.getAttribute('aria-label')).length"
    )
    assert unlabeled == 0
    page.set_viewport_size({"width": 390, "height": 844})
    # a condition, not a fixed wait: the relayout takes longer on a loaded machine
    page.wait_for_function("() => document.documentElement.scrollWidth <= 390", timeout=15_000)
    page.screenshot(path=artifacts / "dashboard-390px.png", full_page=True)


def test_dashboard_is_served_with_a_strict_csp(page: Page, live_server: str) -> None:
    response = page.goto(f"{live_server}/")
    assert response is not None
    assert response.headers["content-security-policy"].startswith("default-src 'self'")


def phase_block(page: Page, activation: str) -> Locator:
    return page.locator(f'.phase-block[data-activation="{activation}"]')


def test_dashboard_phase_diagram_per_activation_and_clicks_move_only_the_chosen_run(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(page, f"{live_server}/?bias=normal&bias_std=0.3&run=tanh,xavier&run=relu,he_normal")
    show_panels(page)  # off the screen they wait
    # one diagram per activation, each marking its own runs: no run is left off
    expect(page.locator(".phase-block")).to_have_count(2)
    expect(phase_block(page, "tanh").locator(".phase-title")).to_have_text("tanh: run 1")
    expect(phase_block(page, "relu").locator(".phase-title")).to_have_text("relu: run 2")
    for activation, run in (("tanh", "1"), ("relu", "2")):
        markers = page.evaluate(
            'a => document.querySelector(`.phase-block[data-activation="${a}"] .phase-plot`).data'
            ".filter(t => t.mode === 'markers+text').map(t => t.text[0])",
            activation,
        )
        assert markers == [run]
    plot = phase_block(page, "tanh").locator(".phase-plot")
    plot.scroll_into_view_if_needed()
    box = plot.locator(".nsewdrag").first.bounding_box()
    assert box is not None
    axis = page.evaluate("() => document.querySelector('.phase-block .phase-plot').layout.xaxis.range")
    x = box["x"] + box["width"] * (1.4 - axis[0]) / (axis[1] - axis[0])
    page.mouse.click(x, box["y"] + box["height"] * 0.5)
    wait_for_location(page, r"run=tanh,normal,std:0\.1[34]")
    # the other run keeps its weights and its biases
    search = page.evaluate("location.search")
    assert "run=relu,he_normal" in search
    other = httpx.get(f"{live_server}/api/v1/simulate{search}").json()["runs"][1]["config"]
    assert (other["bias"], other["bias_std"]) == ("normal", 0.3)


def test_dashboard_phase_diagram_bistable_points_start_at_the_runs_q1(
    page: Page, live_server: str, watch: Watch
) -> None:
    # GELU at sigma_w 1.48, sigma_b 0.2: from q = 1 the map settles (ordered); from this run's
    # q1 = 2.23 it explodes (chaotic), as its own theory says. The diagram must say the same there.
    open_page(page, f"{live_server}/?bias=normal&bias_std=0.2&run=gelu,normal,std:0.148")
    show_panels(page)
    block = phase_block(page, "gelu")
    expect(block.locator(".phase-start")).to_be_visible()
    expect(block.locator(".phase-start")).to_contain_text("two stable fixed points")
    expect(block.locator(".phase-start")).to_contain_text("q₁ = 2.23")
    at_run = page.evaluate(
        """() => {
          const plot = document.querySelector('.phase-block[data-activation="gelu"] .phase-plot');
          const diagram = plot.data[0];
          const outline = plot.data.find(t => t.name === 'two stable variances');
          const near = (xs, v) => xs.reduce((b, x, i) => Math.abs(x - v) < Math.abs(xs[b] - v) ? i : b, 0);
          const col = near(diagram.x, 1.48), row = near(diagram.y, 0.2);
          return {logChi: diagram.z[row][col], bistable: outline.z[row][col]};
        }"""
    )
    assert at_run["bistable"] == 1
    assert at_run["logChi"] > 0
    page.goto(f"{live_server}/?bias=normal&bias_std=0.2&run=tanh,xavier")
    show_panels(page)
    expect(phase_block(page, "tanh").locator(".phase-start")).to_be_hidden()
    expect(page.locator(".phase-block")).to_have_count(1)


def test_dashboard_backward_pass_shows_gradient_histograms(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(page, f"{live_server}/?depth=4&grad=0&run=sigmoid,xavier&run=relu,he_normal")
    gradient_view = page.locator('input[name="kind"][value="grad"]')
    assert gradient_view.is_disabled()
    page.locator("#gradients").check()  # on by default: the link loses its grad=0
    page.wait_for_function("() => !location.href.includes('grad=0')")
    page.wait_for_function("() => !document.querySelector('input[name=kind][value=grad]').disabled")
    gradient_view.check()
    wait_for_location(page, r"kind=grad")
    assert len(grid_traces(page)) == 8
    # measured gradient std (markers) and its prediction (line) join the signal chart
    names = page.evaluate("document.getElementById('signal').data.map(t => t.name)")
    assert "sigmoid, Xavier: gradient" in names


def test_dashboard_exploding_network_draws_under_the_csp(page: Page, live_server: str, watch: Watch) -> None:
    # values past 1e15 made plotly write axis exponents with inline-styled <sup>, which the CSP
    # refused (a console error); exponentformat "e" keeps every tick plain text
    open_page(page, f"{live_server}/?depth=20&run=relu,normal,std:1")
    assert len(grid_traces(page)) > 0
    for kind in ("pre", "grad"):
        page.locator(f'input[name="kind"][value="{kind}"]').check()
        wait_for_location(page, f"kind={kind}")
        page.wait_for_function("() => document.body.dataset.ready === '1'")
