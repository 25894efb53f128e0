"""Rows of layer networks side by side in a real browser, checked against the API's JSON: the
dashboard's grid pairs each run's comparable layers (a plain stack's layer k beside a BatchNorm
network's layer k activation, the norm rows on rows of their own that say what the other runs
lack), the ridgeline's titles and σ labels do not run into each other on a phone, and /train's
"one layer over training" titles each run's column in place when the runs' rows differ."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.presets import PRESETS
from app.train_presets import TRAIN_PRESETS
from tests.browser.conftest import Watch, open_page

pytestmark = pytest.mark.browser
LAYER_PRESETS = ["bn-sigmoid", "residual-depth", "post-vs-pre-norm", "bn-deep-relu"]
WIDTHS = [1440, 1024, 390]
PLACE = re.compile(r"^(?:layer|block) (\d+)$")
NORMS = {"batch_norm", "layer_norm", "rms_norm"}

# The figure's cells: for each bar trace its subplot number and its bar heights.
CELLS = """sel => document.querySelector(sel).data.filter(t => t.type === 'bar')
  .map(t => ({ k: Number(t.xaxis.slice(1) || 1), counts: t.y }))"""
# The grid's row titles, one per cell (null where a cell has none).
TITLES = """() => { const l = document.getElementById('figure').layout;
  return Object.keys(l).filter(k => k.startsWith('yaxis')).map(k => l[k].title?.text ?? null); }"""
# Every annotation's text and its box on the screen.
BOXES = """sel => [...document.querySelectorAll(sel + ' .annotation')].map(a => {
  const r = a.getBoundingClientRect();
  return { text: a.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom };
})"""


def keys(run: dict[str, Any]) -> list[tuple[str, str]]:
    """Each row's place and role, read from the API's names (an implementation of its own, not the
    page's): a plain row is its layer's activation; a norm row is before or after its layer's."""
    out: list[tuple[str, str]] = []
    active: set[str] = set()
    for j, row in enumerate(run["layers"]):
        if "name" not in row:
            out.append((str(j + 1), "act"))
            continue
        where, _, what = row["name"].partition(" · ")
        m = PLACE.match(where)
        place = m.group(1) if m else where
        kind = row["layer_type"]
        if kind == "activation":
            active.add(place)
            n = what.rsplit(" ", 1)[-1]
            out.append((place, "act" if not n.isdigit() or n == "1" else f"act {n}"))
        elif kind in NORMS:
            at = what[what.index("(") :] if "(" in what else ("after" if place in active else "before")
            out.append((place, f"norm {at}"))
        else:
            out.append((place, kind))
    return out


def answer(base: str, path: str) -> dict[str, Any]:
    response = httpx.get(f"{base}{path}", timeout=120)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def assert_rows_pair(cells: list[dict[str, Any]], runs: list[dict[str, Any]], kind: str) -> set[int]:
    """Every drawn cell is a layer of its column's run (its bars are that layer's counts), and the
    cells of one row are layers of one place and role; returns the rows drawn."""
    n = len(runs)
    found: dict[int, list[set[tuple[str, str]]]] = {}
    for cell in cells:
        row, col = divmod(cell["k"] - 1, n)
        run = runs[col]
        heights = [v or 0 for v in cell["counts"]]  # a log axis draws a zero count as a gap
        candidates = {
            key
            for key, layer in zip(keys(run), run["layers"], strict=True)
            if layer[kind]["counts"] == heights
        }
        assert candidates, f"row {row + 1}, run {col + 1}: bars of no layer of the answer"
        found.setdefault(row, []).append(candidates)
    for row, sets in found.items():
        assert set.intersection(*sets), f"row {row + 1} pairs layers of different places: {sets}"
    return set(found)


@pytest.mark.parametrize("name", LAYER_PRESETS)
def test_grid_rows_pair_each_runs_comparable_layers(
    page: Page, live_server: str, watch: Watch, artifacts: Path, name: str
) -> None:
    query = PRESETS[name].query
    result = answer(live_server, f"/api/v1/simulate?{query}")
    runs = result["runs"]
    kind = "grad" if runs[0]["layers"][0].get("grad") else "post"
    for width in WIDTHS:
        open_page(page, f"{live_server}/?{query}#view=grid&kind={kind}&log=0&layers=auto", width)
        cells: list[dict[str, Any]] = page.evaluate(CELLS, "#figure")
        rows = assert_rows_pair(cells, runs, kind)
        assert len(rows) >= 5
        # A row one run lacks while it goes on below: its empty cell says what it lacks
        notes = [b["text"] for b in page.evaluate(BOXES, "#figure") if b["text"].startswith("no ")]
        assert all(re.fullmatch(r"no (BatchNorm|LayerNorm \((pre|post)\)) ?in this run", t) for t in notes)
        if name in ("bn-sigmoid", "bn-deep-relu"):  # every layer shown with its BatchNorm row
            assert len(notes) == 5 and all(t.startswith("no BatchNorm") for t in notes)
        if name in ("residual-depth", "post-vs-pre-norm"):  # by default the blocks' sums, in every run
            titles = [t for t in page.evaluate(TITLES) if t]
            assert titles and all(t.endswith("x + s F(x)") for t in titles) and not notes, titles
        page.screenshot(path=artifacts / f"layer-rows-{name}-{width}.png", full_page=True)


def test_post_vs_pre_norm_every_row_says_which_norm_a_run_lacks(
    page: Page, live_server: str, watch: Watch
) -> None:
    query = PRESETS["post-vs-pre-norm"].query
    runs = answer(live_server, f"/api/v1/simulate?{query}")["runs"]
    open_page(page, f"{live_server}/?{query}#view=grid&kind=grad&log=0&layers=every")
    assert_rows_pair(page.evaluate(CELLS, "#figure"), runs, "grad")
    notes = {b["text"] for b in page.evaluate(BOXES, "#figure") if b["text"].startswith("no ")}
    assert notes <= {"no LayerNorm (pre) in this run", "no LayerNorm (post) in this run"} and notes
    # the menu offers each block's projection, the rows the claim reads
    page.locator("#layers").select_option(label="projection rows")
    page.wait_for_function("() => location.hash.includes('layers=rows-dense')")
    cells = page.evaluate(CELLS, "#figure")
    assert len(cells) == 24  # 12 blocks x 2 runs
    assert_rows_pair(cells, runs, "grad")


def test_bn_sigmoid_puts_the_plain_layer_2_beside_the_batchnorm_layer_2_sigmoid(
    page: Page, live_server: str, watch: Watch
) -> None:
    query = PRESETS["bn-sigmoid"].query
    plain, normed = answer(live_server, f"/api/v1/simulate?{query}")["runs"]
    open_page(page, f"{live_server}/?{query}#view=grid&kind=post&log=0&layers=auto")
    cells = {c["k"]: c["counts"] for c in page.evaluate(CELLS, "#figure")}
    sigmoid_2 = next(i for i, r in enumerate(normed["layers"]) if r["name"] == "layer 2 · sigmoid")
    row = next(
        k
        for k, counts in cells.items()
        if k % 2 == 0 and counts == normed["layers"][sigmoid_2]["post"]["counts"]
    )
    assert cells[row - 1] == plain["layers"][1]["post"]["counts"]  # the plain run's layer 2, same row
    titles = page.evaluate(TITLES)
    assert titles[:4] == [None, "L1 · BatchNorm", "L1 · sigmoid", None]
    # 5 layers, 10 rows: the caption counts rows, not "10 layers"
    expect(page.locator("#figure-caption")).to_have_text("2 runs × 10 rows")


def test_plain_presets_keep_their_rows(page: Page, live_server: str, watch: Watch) -> None:
    query = PRESETS["saito-compare"].query
    runs = answer(live_server, f"/api/v1/simulate?{query}")["runs"]
    open_page(page, f"{live_server}/?{query}#view=grid&kind=post&log=0&layers=auto")
    cells: list[dict[str, Any]] = page.evaluate(CELLS, "#figure")
    for cell in cells:
        row, col = divmod(cell["k"] - 1, len(runs))
        assert cell["counts"] == runs[col]["layers"][row]["post"]["counts"]
    titles = [t for t in page.evaluate(TITLES) if t]
    assert titles == [f"layer {j}" for j in range(1, 6)]
    expect(page.locator("#figure-caption")).to_have_text(f"{len(runs)} runs × 5 layers")
    assert not [b for b in page.evaluate(BOXES, "#figure") if b["text"].startswith("no ")]


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_residual_depth_ridgeline_titles_and_labels_do_not_overlap(
    page: Page, live_server: str, watch: Watch, artifacts: Path, width: int
) -> None:
    query = PRESETS["residual-depth"].query
    runs = answer(live_server, f"/api/v1/simulate?{query}")["runs"]
    open_page(page, f"{live_server}/?{query}#view=ridgeline&kind=post&log=0&layers=auto", width)
    boxes = page.evaluate(BOXES, "#figure")
    titles = [b for b in boxes if b["text"].startswith("tanh")]
    corner = [b for b in boxes if b["text"].startswith("each ridge")]
    assert len(titles) == 3 and len(corner) == 1
    tops = titles + corner
    for i, a in enumerate(tops):
        for b in tops[i + 1 :]:
            assert not overlaps(a, b), (a, b)
    # the σ labels are the API's, of each block's x + s F(x) row, and none covers another
    sigmas = [b for b in boxes if b["text"].startswith("σ")]
    assert len(sigmas) == 150  # 50 sums in each of 3 runs
    for run, column in zip(runs, (sigmas[i : i + 50] for i in range(0, 150, 50)), strict=True):
        sums = [layer["post"]["std"] for layer in run["layers"] if layer.get("layer_type") == "residual"]
        shown = [float(b["text"][2:]) for b in column]
        assert all(abs(s - v) <= 0.006 * abs(v) for s, v in zip(shown, sums, strict=True)), (shown, sums)
        for a, b in itertools.pairwise(column):
            assert not overlaps(a, b), (a, b)
    page.screenshot(path=artifacts / f"layer-rows-residual-depth-ridgeline-{width}.png", full_page=True)


def train(page: Page, base: str, query: str, width: int) -> None:
    open_page(page, f"{base}/train?{query}", width)
    if page.locator("#charts").is_hidden():
        page.locator("#start").click()
    expect(page.locator("#runs .status")).to_have_text(["done", "done"], timeout=120_000)
    page.wait_for_function("() => document.body.dataset.drawn >= 1 && document.body.dataset.running === '0'")


def test_train_one_layer_over_training_of_a_batchnorm_run_beside_a_plain_one(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    query = TRAIN_PRESETS["mnist-batchnorm-std001"].query
    result = answer(live_server, f"/api/v1/train?{query}")
    normed, plain = result["runs"]
    for width in WIDTHS:
        train(page, live_server, query, width)
        select = page.locator("#ridge-layer")
        texts = select.locator("option").all_text_contents()
        assert texts[:2] == ["layer 5 · relu", "layer 5 · BatchNorm"]  # the last row first
        assert len(texts) == len(normed["captures"][-1]["layers"])
        # the histograms pair the plain layer k with the BN run's layer k ReLU
        captured = [{"layers": run["captures"][-1]["layers"]} for run in result["runs"]]
        assert_rows_pair(page.evaluate(CELLS, "#histograms"), captured, "post")
        for value, lacks in (("9", False), ("8", True)):  # layer 5 · relu, layer 5 · BatchNorm
            select.select_option(value)
            page.wait_for_function(
                "n => document.getElementById('ridgeline').data.length === n",
                arg=len(result["runs"][0]["captures"]) * (1 if lacks else 2),
            )
            boxes = page.evaluate(BOXES, "#ridgeline")
            titles = [b for b in boxes if b["text"].startswith("relu")]
            assert len(titles) == 2 and not overlaps(*titles), titles
            assert titles[0]["right"] < titles[1]["left"]  # each over its own column, in run order
            notes = [b for b in boxes if b["text"].startswith("no ")]
            assert [n["text"] for n in notes] == (["no BatchNormin this run"] if lacks else [])
            if lacks:  # under the plain run's title
                assert titles[1]["left"] < (notes[0]["left"] + notes[0]["right"]) / 2 < titles[1]["right"]
            ridges = page.evaluate("() => document.getElementById('ridgeline').data.map(t => t.text)")
            assert all(
                ("layer 5 · batch_norm" if lacks else "layer 5") in t.replace("BatchNorm", "batch_norm")
                for t in ridges
            ), ridges
        page.screenshot(path=artifacts / f"layer-rows-train-{width}.png", full_page=True)
    assert plain["status"] == "done"
