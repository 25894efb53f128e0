"""The standalone report, downloaded and opened from a file as its reader would: every section the
result calls for, numbers equal to the JSON inside it, laid out at the reader's width, offline."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.presets import PRESETS
from tests.browser.conftest import Watch, open_page

pytestmark = pytest.mark.browser

SAITO = "range=0,1&run=sigmoid,normal&run=sigmoid,xavier&run=relu,he_normal"  # preset saito-compare
DEAD_RELU = "bias=constant&bias_value=-0.5&depth=10&run=relu,he_normal&run=leaky_relu,he_normal"
WIDTHS = [1440, 390]


@pytest.fixture
def report(page: Page, live_server: str, tmp_path: Path) -> Iterator[Any]:
    """open(query, width): download the report of `query`, open the file `width` pixels wide and
    return the result JSON it carries. Afterwards: no console error, no request left the file."""
    watches: list[Watch] = []

    def open_report(query: str, width: int) -> dict[str, Any]:
        response = httpx.get(f"{live_server}/api/v1/export/report?{query}", timeout=60)
        assert response.status_code == 200
        path = tmp_path / "initscope-report.html"
        path.write_text(response.text, encoding="utf-8")
        watches.append(Watch(page, path.as_uri()))  # the file itself is the only address allowed
        open_page(page, path.as_uri(), width)
        return dict(page.evaluate("JSON.parse(document.getElementById('initscope-data').textContent)"))

    yield open_report
    for watch in watches:
        watch.assert_clean()


def plot(page: Page, element_id: str) -> dict[str, Any]:
    """The data and layout plotly drew in #element_id."""
    return dict(
        page.evaluate(
            "id => { const gd = document.getElementById(id);"
            " return { data: gd.data.map(t =>"
            " ({ mode: t.mode, name: t.name, x: t.x, y: t.y, text: t.text })),"
            " annotations: gd.layout.annotations.map(a => ({ text: a.text, xref: a.xref })),"
            " width: gd.layout.width } }",
            element_id,
        )
    )


def shown_matches(text: str, value: float | None) -> bool:
    """A number as figures.js prints it (3 significant digits; 2 in e-notation; "–" for none)
    equals `value` to the precision it shows."""
    if value is None:
        return text == "–"
    if value == 0:
        return float(text) == 0
    digits = 2 if "e" in text else 3
    return bool(abs(float(text) - value) <= 0.5 * 10 ** (math.floor(math.log10(abs(value))) - digits + 1))


def assert_fits(page: Page, width: int) -> None:
    """No plot, no plot's SVG and no page element reaches past the viewport's right edge."""
    boxes = page.evaluate(
        "() => [...document.querySelectorAll('.plot, .plot .main-svg, main > *, table, code')]"
        ".map(e => { const r = e.getBoundingClientRect();"
        " return [e.id || e.className.baseVal || e.tagName, r.left, r.right] })"
    )
    assert boxes and all(left >= 0 and right <= width + 0.5 for _, left, right in boxes), [
        b for b in boxes if b[1] < 0 or b[2] > width + 0.5
    ]
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", WIDTHS)
def test_report_draws_every_section_at_the_readers_width(
    page: Page, report: Any, live_server: str, width: int, artifacts: Path
) -> None:
    result = report(SAITO, width)
    assert result["share"] == SAITO
    for element_id in ("grid-post", "grid-pre", "grid-grad", "signal", "phase-0", "phase-1"):
        expect(page.locator(f"#{element_id} .main-svg").first).to_be_visible()
        assert plot(page, element_id)["width"] == page.locator(f"#{element_id}").evaluate(
            "e => e.clientWidth"
        )
    # one phase diagram per activation, every run marked on its own activation's diagram
    expect(page.locator(".phase-title")).to_have_text(["sigmoid: runs 1 and 2", "relu: run 3"])
    for element_id, runs in (("phase-0", [0, 1]), ("phase-1", [2])):
        markers = [t for t in plot(page, element_id)["data"] if t["mode"] == "markers+text"]
        assert [m["text"][0] for m in markers] == [str(i + 1) for i in runs]
        for m, i in zip(markers, runs, strict=True):
            theory = result["runs"][i]["theory"]
            assert m["x"][0] == pytest.approx(math.sqrt(theory["sigma_w2"][1]))
            assert m["y"][0] == pytest.approx(math.sqrt(theory["sigma_b2"]))
            assert m["x"][0] < page.evaluate(f"document.getElementById('{element_id}').layout.xaxis.range[1]")
    # the preset's claim and the verdict on it (or, before the catalog has claims, its line)
    preset = httpx.get(f"{live_server}/api/v1/presets/saito-compare").json()
    expect(page.locator("#preset-title")).to_have_text(f"Preset: {preset['title']}")
    if preset.get("claim"):
        claim = preset["claim"]
        expect(page.locator("#claim")).to_have_attribute("data-verdict", claim["verdict"])
        expect(page.locator("#verdict")).to_have_text(claim["verdict"].capitalize())
        expect(page.locator("#verdict-reason")).to_have_text(claim["reason"])
        expect(page.locator("#claim q")).to_have_text(claim["text"])
    else:
        expect(page.locator("#claim")).to_have_count(0)
        expect(page.locator("#preset")).to_contain_text(preset["shows"])
    expect(page.locator("#notes")).to_have_count(0)  # mean field holds for every run here
    expect(page.locator("#signal-title + .hint")).to_contain_text(
        "Measured: markers, filled for activations, open for z, triangles for gradients"
    )
    assert_fits(page, width)
    page.screenshot(path=artifacts / f"report-saito-compare-{width}px.png", full_page=True)


# A std of 100.33 and layers whose gradients reach 1e2: numbers with zeros to keep.
LINEAR = "depth=3&seed=1&run=linear,normal"


@pytest.mark.parametrize(("query", "width"), [(SAITO, 1440), (SAITO, 390), (LINEAR, 1440)])
def test_report_numbers_match_the_json(page: Page, report: Any, query: str, width: int) -> None:
    result = report(query, width)
    runs = result["runs"]
    for kind in ("post", "pre", "grad"):
        stats = {}
        for a in plot(page, f"grid-{kind}")["annotations"]:
            found = re.fullmatch(r"x(\d*) domain", a["xref"] or "")
            if found and a["text"].startswith("σ "):
                k = int(found.group(1) or 1) - 1
                stats[divmod(k, len(runs))] = a["text"]
        assert len(stats) == len(runs) * len(runs[0]["layers"])
        for (j, c), text in stats.items():
            layer = runs[c]["layers"][j]
            parts = dict(part.split(" ", 1) for part in text.split(" · "))
            assert shown_matches(parts["σ"], layer[kind]["std"]), (kind, j, c, text, layer[kind]["std"])
            if "mean" in parts:
                assert shown_matches(parts["mean"], layer[kind]["mean"]), (kind, j, c, text)
            if "dead" in parts:
                assert int(parts["dead"]) == layer["dead_units"]
            if kind == "post":
                assert ("dead" in parts) == (width > 1000)  # short statistics lines on a phone
    # the runs table's mean-field column
    cells = page.locator("#runs .mean-field").all_inner_texts()
    for cell, run in zip(cells, runs, strict=True):
        phase, chi = re.fullmatch(r"(\w+), χ = (\S+)", cell.strip()).groups()  # type: ignore[union-attr]
        assert phase == run["theory"]["phase"] and shown_matches(chi, run["theory"]["chi"])


@pytest.mark.parametrize("width", WIDTHS)
def test_report_shows_the_theory_notes_and_no_prediction_where_mean_field_fails(
    page: Page, report: Any, width: int, artifacts: Path
) -> None:
    result = report(DEAD_RELU, width)
    notes = [run["theory"]["note"] for run in result["runs"]]
    assert all(notes)
    items = page.locator("#notes li")
    expect(items).to_have_count(2)
    for i, (item, run) in enumerate(zip(items.all(), result["runs"], strict=True)):
        expect(item).to_have_text(f"Run {i + 1} ({run['label']}): {run['theory']['note']}.")
    # no N(0, q) curve in the z grid, no prediction lines on the signal chart, no phase markers
    assert [t for t in plot(page, "grid-pre")["data"] if t["mode"] == "lines"] == []
    assert all("theory" not in (t["name"] or "") for t in plot(page, "signal")["data"])
    # no run on a diagram, so no diagram drawn (as on the dashboard), only the notes saying why
    expect(page.locator(".phase-plot")).to_have_count(0)
    expect(page.locator(".unmarked")).to_have_text(
        [
            "Not marked: run 1, which mean field does not describe (see the theory notes).",
            "Not marked: run 2, which mean field does not describe (see the theory notes).",
        ]
    )
    expect(page.locator("#runs .mean-field")).to_have_text(["does not apply (see the note)"] * 2)
    expect(page.locator("#preset-title")).to_contain_text("Dead ReLUs")
    assert_fits(page, width)
    page.screenshot(path=artifacts / f"report-dead-relu-{width}px.png", full_page=True)


def test_report_draws_theory_where_it_holds_and_no_gradients_without_a_backward_pass(
    page: Page, report: Any
) -> None:
    report("grad=0&depth=3&run=tanh,xavier", 1440)
    expect(page.locator("#grid-grad")).to_have_count(0)
    expect(page.locator("#preset, #notes")).to_have_count(0)  # not a preset's link; theory holds
    assert len([t for t in plot(page, "grid-pre")["data"] if t["mode"] == "lines"]) == 3  # N(0, q) per layer
    assert any("theory" in (t["name"] or "") for t in plot(page, "signal")["data"])
    expect(page.locator(".phase-title")).to_have_text(["tanh: run 1"])


def test_report_redraws_at_a_new_width(page: Page, report: Any) -> None:
    report(SAITO, 1440)
    assert plot(page, "grid-post")["width"] > 1000
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function("() => document.getElementById('grid-post').layout.width < 390", timeout=15_000)
    assert_fits(page, 390)
    post = plot(page, "grid-post")["annotations"]
    assert not any("dead" in (a["text"] or "") for a in post)  # the short statistics lines


def test_report_says_which_layers_a_deep_grid_shows(page: Page, report: Any) -> None:
    report("depth=30&width=20&samples=50&run=tanh,xavier", 1440)
    shown = [1, *range(3, 30, 2), 30]  # every 2nd layer and the last: 16 of 30
    expect(page.locator(".layers-shown")).to_have_text(
        ["16 of 30 layers shown (1, 3, 5, …, 30); the signal chart has every layer."] * 3
    )
    for kind in ("post", "pre", "grad"):
        titles = page.evaluate(
            "id => Object.entries(document.getElementById(id).layout)"
            ".filter(([k, v]) => k.startsWith('yaxis') && v.title?.text).map(([k, v]) => v.title.text)",
            f"grid-{kind}",
        )
        assert sorted(titles, key=lambda t: int(t.split()[1])) == [f"layer {j}" for j in shown]
    assert len(plot(page, "signal")["data"][0]["x"]) == 30


def test_report_of_a_layer_network_shows_its_block_outputs(page: Page, report: Any) -> None:
    """A layer network's rows are the runs' rows side by side (post- and pre-norm blocks pair
    their norms as rows of their own), and a deep residual stack's grid shows its blocks'
    x + s F(x) rows, as the dashboard does, to the last block; the caption counts rows. The
    report picked every k-th of the longest run's layer count instead: rows 1-50 of the 62."""
    result = report(PRESETS["post-vs-pre-norm"].query, 1440)
    bars = page.evaluate(
        "id => document.getElementById(id).data.filter(t => t.type === 'bar').map(t => t.y)", "grid-post"
    )
    drawn = [[v or 0 for v in bar] for bar in bars]  # a log axis draws a zero count as a gap
    for run in result["runs"]:
        sums = [layer for layer in run["layers"] if layer.get("name", "").endswith("x + s F(x)")]
        assert len(sums) == 12 and all(layer["post"]["counts"] in drawn for layer in sums), run["label"]
    longest = max(len(run["layers"]) for run in result["runs"])
    caption = page.locator(".layers-shown").first.text_content() or ""
    match = re.match(r"12 of (\d+) rows shown", caption)
    assert match and int(match[1]) > longest, caption


def test_report_prints_at_a_page_width(page: Page, report: Any) -> None:
    """Printed, every figure is redrawn to fit a portrait A4 or Letter page, and back after."""
    report(SAITO, 1440)
    widths = "() => [...document.querySelectorAll('.plot')].map(e => e.layout.width)"
    on_screen = page.evaluate(widths)
    page.evaluate("dispatchEvent(new Event('beforeprint'))")
    assert set(page.evaluate(widths)) == {680}
    page.evaluate("dispatchEvent(new Event('afterprint'))")
    assert page.evaluate(widths) == on_screen
