"""The diagnostics page in a real browser: the numbers and figures it shows are the API's, the
presets' claims, the form's options in the link, a bad c0 named, the dashboard's link to the page,
no CSP violation, and a phone's 390 px without overflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.diagnostics_presets import DIAGNOSTICS_PRESETS
from tests.browser.conftest import Watch, open_page, wait_for_location

pytestmark = pytest.mark.browser
SMALL = "bias=normal&bias_std=0.3&depth=4&width=60&samples=20&run=tanh,xavier,gain:2&run=relu,he_normal"
CSP_LISTENER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
"""


def api(live_server: str, query: str) -> dict[str, Any]:
    response = httpx.get(f"{live_server}/api/v1/diagnostics?{query}", timeout=120)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def fmt(page: Page, x: float | None) -> str:
    """The page's own number format (static/js/format.js)."""
    text: str = page.evaluate("async (x) => (await import('/static/js/format.js')).fmt(x)", x)
    return text


def drawn(page: Page, run: int) -> dict[str, Any]:
    """What run `run`'s two cards display: texts, table cells and the figures' data."""
    data: dict[str, Any] = page.evaluate(
        """(i) => {
          const corr = document.querySelector(`#correlation-runs .diag-run[data-run='${i}']`);
          const jac = document.querySelector(`#jacobian-runs .diag-run[data-run='${i}']`);
          const traces = corr.querySelector('.corr-plot').data;
          return {
            title: corr.querySelector('h3').textContent,
            fixed: corr.querySelector('.fixed-point').textContent,
            dots: traces.filter((t) => t.mode === 'markers').map((t) => t.y),
            lines: traces.filter((t) => t.mode === 'lines').map((t) => t.y),
            msq: jac ? jac.querySelector('.msq-plot').data.find((t) => t.name === 'measured').y : null,
            spectra: jac ? jac.querySelector('.spec-plot').data.map((t) => t.y) : null,
            rows: jac ? [...jac.querySelectorAll('tbody tr')].map((tr) =>
              Object.fromEntries([...tr.children].map((td) => [td.dataset.key, td.textContent]))) : null,
          };
        }""",
        run,
    )
    return data


def test_diagnostics_page_shows_the_apis_numbers(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    page.add_init_script(CSP_LISTENER)
    open_page(page, f"{live_server}/diagnostics?{SMALL}&c0=0.2,0.8&pairs=4", width=1440)
    query = f"{SMALL}&c0=0.2,0.8&pairs=4"
    assert page.evaluate("location.search") == f"?{query}"
    body = api(live_server, query)
    assert page.locator("#c0").input_value() == "0.2,0.8"
    assert page.locator("#pairs").input_value() == "4"
    assert page.locator("#jacobian-at").input_value() == "2"
    assert page.locator("#back").get_attribute("href") == f"/?{SMALL}"
    for i, run in enumerate(body["runs"]):
        shown = drawn(page, i)
        assert shown["title"] == run["label"]
        fp = run["correlation"]["fixed_point"]
        if fp["q_star"] is None:  # ReLU He with a bias: q grows by sigma_b^2 a layer, without end
            assert shown["fixed"].startswith("no fixed point") and i == 1
        else:
            assert shown["fixed"] == (
                f"q* {fmt(page, fp['q_star'])} · χ₁ {fmt(page, fp['chi1'])} · c* {fmt(page, fp['c_star'])} · "
                f"ξq {fmt(page, fp['xi_q'])} · ξc {fmt(page, fp['xi_c'])}"
            )
        layers = run["correlation"]["layers"]
        assert shown["dots"] == [[layer["measured"][k] for layer in layers] for k in range(2)]
        assert shown["lines"] == [[layer["predicted"][k] for layer in layers] for k in range(2)]
        jac = run["jacobian"]["layers"]
        assert shown["msq"] == [layer["mean_sq"] for layer in jac]
        spectra = [layer for layer in jac if layer["spectrum"] is not None]
        assert shown["spectra"] == [
            [c / s["spectrum"]["count"] for c in s["spectrum"]["counts"]] for s in spectra
        ]
        assert shown["rows"] == [
            {
                "layer": str(layer["layer"]),
                "mean_sq": fmt(page, layer["mean_sq"]),
                "predicted": fmt(page, layer["predicted_mean_sq"]),
                "var_sq": fmt(page, layer["spectrum"]["var_sq"]),
                "min": fmt(page, layer["spectrum"]["min"]),
                "max": fmt(page, layer["spectrum"]["max"]),
                "spread": fmt(page, layer["spectrum"]["spread"]),
                "zeros": f"{layer['spectrum']['zeros']} of {layer['spectrum']['count']}",
            }
            for layer in spectra
        ]
    expect(page.locator("#correlation-runs .diag-run[data-run='0'] .phase")).to_contain_text("Chaotic")
    expect(page.locator("#jacobian-method")).to_have_text(
        "Exact SVD of J (all 100 input directions), at 2 sample inputs."
    )
    assert page.locator("#claim").is_hidden()  # no preset: no claim
    assert page.evaluate("window.__csp") == []
    page.screenshot(path=artifacts / "diagnostics-small.png", full_page=True)


def test_diagnostics_form_puts_the_options_in_the_link(page: Page, live_server: str, watch: Watch) -> None:
    open_page(page, f"{live_server}/diagnostics?{SMALL}")
    page.locator("#c0").fill("0.3, 0.95")
    page.locator("#jacobian-at").fill("0")
    page.get_by_role("button", name="Apply").click()
    wait_for_location(page, r"c0=0\.3,0\.95&jacobian=0$")
    page.wait_for_selector("#jacobian-runs:empty", state="attached")
    expect(page.locator("#jacobian-method")).to_have_text("No Jacobian asked for (Jacobian at 0 inputs).")
    assert len(drawn(page, 0)["dots"]) == 2


def test_diagnostics_preset_shows_its_claim(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    preset = DIAGNOSTICS_PRESETS["pennington-tanh-isometry"]
    open_page(page, f"{live_server}/diagnostics?{preset.query}", width=1024)
    assert page.locator("#preset").input_value() == preset.name
    claim = page.locator("#claim")
    expect(claim).to_be_visible()
    expect(claim).to_contain_text(preset.claim.reason)
    assert claim.get_attribute("data-verdict") == "holds"
    rows = drawn(page, 0)["rows"]
    assert rows[-1]["layer"] == "64" and rows[-1]["max"] == "1.99"  # the orthogonal run stays near 1
    page.screenshot(path=artifacts / "diagnostics-pennington.png", full_page=True)


def test_diagnostics_bad_c0_is_named(page: Page, live_server: str, watch: Watch) -> None:
    watch.expect_error("422")
    open_page(page, f"{live_server}/diagnostics?{SMALL}&c0=1.5")
    expect(page.locator("#message")).to_contain_text("c0: each correlation must be a number from -1 to 1")


def test_diagnostics_linked_from_the_dashboard(page: Page, live_server: str, watch: Watch) -> None:
    open_page(page, f"{live_server}/?{SMALL}")
    link = page.locator("#diagnostics-link")
    expect(link).to_have_attribute("href", f"/diagnostics?{SMALL}")
    link.click()
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    wait_for_location(page, r"/diagnostics\?")
    assert page.locator("#correlation-runs .diag-run").count() == 2


def test_diagnostics_phone_has_no_overflow(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    page.add_init_script(CSP_LISTENER)
    open_page(page, f"{live_server}/diagnostics?{SMALL}", width=390)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("details.explain").get_attribute("open") is None  # folded on a phone
    assert page.evaluate("window.__csp") == []
    page.screenshot(path=artifacts / "diagnostics-390.png", full_page=True)


def test_diagnostics_seeds_draw_the_apis_bands(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    query = f"{SMALL}&c0=0.5&pairs=2&seeds=3"
    open_page(page, f"{live_server}/diagnostics?{query}", width=1024)
    assert page.locator("#seeds").input_value() == "3"
    body = api(live_server, query)
    for i, run in enumerate(body["runs"]):
        bands: dict[str, Any] = page.evaluate(
            """(i) => {
              const card = (id) => document.querySelector(`#${id} .diag-run[data-run='${i}']`);
              const edges = (plot) =>
                card(plot[0]).querySelector(plot[1]).data.filter((t) => t.hoverinfo === 'skip');
              return {
                corr: edges(['correlation-runs', '.corr-plot']).map((t) => t.y),
                msq: edges(['jacobian-runs', '.msq-plot']).map((t) => t.y),
                fill: edges(['correlation-runs', '.corr-plot'])[1].fill,
              };
            }""",
            i,
        )
        layers = run["correlation"]["layers"]
        assert bands["corr"] == [[la["low"][0] for la in layers], [la["high"][0] for la in layers]]
        jac = run["jacobian"]["layers"]
        assert bands["msq"] == [[la["low"] for la in jac], [la["high"] for la in jac]]
        assert bands["fill"] == "tonexty"
    page.screenshot(path=artifacts / "diagnostics-seeds.png", full_page=True)


def test_diagnostics_width_scaling_draws_the_apis_check(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    open_page(page, f"{live_server}/diagnostics?{SMALL}&jacobian=0", width=1440)
    page.get_by_role("button", name="Run the check").click()
    page.wait_for_selector("body[data-coord-ready='1']", timeout=120_000)
    response = httpx.get(f"{live_server}/api/v1/coord-check?activation=relu&optimizer=adam", timeout=120)
    check = response.json()
    traces = page.evaluate(
        "() => document.querySelector('#coord-plot').data.map((t) => ({x: t.x, y: t.y, name: t.name}))"
    )
    expected = [
        {"x": check["widths"], "y": curve["values"][s][layer], "name": name}
        for curve in check["curves"]
        for s in range(len(check["steps"]))
        for layer, name in enumerate(check["layers"])
    ]
    assert traces == expected
    summary = page.locator("#coord-summary").text_content() or ""
    assert summary.startswith("standard (SP): hidden layers") and "μP: hidden layers" in summary
    page.locator("#width-scaling").screenshot(path=artifacts / "diagnostics-width-scaling.png")


def test_diagnostics_refused_first_link_keeps_its_fields_and_names_the_refused_one(
    page: Page, live_server: str, watch: Watch
) -> None:
    watch.expect_error("422")
    open_page(page, f"{live_server}/diagnostics?{SMALL}&pairs=999&c0=0.2,0.7")
    assert "pairs" in page.locator("#message").inner_text()
    # the link's own values, readable and fixable, and the catalog's default where it gives none
    assert page.locator("#pairs").input_value() == "999"
    assert page.locator("#c0").input_value() == "0.2,0.7"
    defaults = {
        k["name"]: k["default"]
        for k in httpx.get(f"{live_server}/api/v1/catalog").json()["diagnostics"]["keys"]
    }
    assert page.locator("#jacobian-at").input_value() == str(defaults["jacobian"])
    assert page.locator("#seeds").input_value() == str(defaults["seeds"])
    assert page.locator("#pairs").get_attribute("aria-invalid") == "true"
    assert page.locator("#c0").get_attribute("aria-invalid") is None
    # fixing the marked field shows the diagnostics of exactly those values
    page.fill("#pairs", "4")
    page.click("#diag-form button[type=submit]")
    page.wait_for_selector("#correlation-runs .diag-run", timeout=60_000)  # the answer, then its link
    wait_for_location(page, r"pairs=4")
    assert page.locator("#pairs").get_attribute("aria-invalid") is None
    assert api(live_server, f"{SMALL}&pairs=4&c0=0.2,0.7")["options"]["c0"] == [0.2, 0.7]


def test_diagnostics_refused_submit_restores_the_last_valid_fields(
    page: Page, live_server: str, watch: Watch
) -> None:
    watch.expect_error("422")
    open_page(page, f"{live_server}/diagnostics?{SMALL}&pairs=4")
    shown = api(live_server, f"{SMALL}&pairs=4")
    page.fill("#c0", "0.5,2")  # a text field the browser sends as typed; the server refuses 2
    page.click("#diag-form button[type=submit]")
    page.wait_for_selector("#message:has-text('c0')")
    assert "fields are back to them" in page.locator("#message").inner_text()
    assert page.locator("#c0").input_value() == ",".join(f"{c:g}" for c in shown["options"]["c0"])
    assert page.locator("#pairs").input_value() == "4"
    assert page.locator("#seeds").input_value() == str(shown["options"].get("seeds") or 1)
    assert page.locator("#c0").get_attribute("aria-invalid") == "true"
    wait_for_location(page, r"pairs=4$")
