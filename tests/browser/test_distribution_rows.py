"""The distribution view of layer networks in a real browser, against the API's JSON: each run's
percentile bands stand at its rows of the answer's table (a plain stack's layer k above a BatchNorm
network's layer-k activation, not above its k-th row), the axis ticks name the layers at their
activation rows, and nothing overlaps at 1440, 1024 and 390 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from app.presets import PRESETS
from tests.browser.conftest import Watch, open_page

pytestmark = pytest.mark.browser
WIDTHS = [1440, 1024, 390]

# Each subplot's median trace (x, y, hover names) and its x axis (ticks, range) as drawn.
DRAWN = """() => { const f = document.getElementById('figure');
  const medians = f.data.filter(t => t.name === 'median');
  return medians.map(t => { const k = t.xaxis.slice(1); const a = f.layout['xaxis' + (k === '1' ? '' : k)];
    return { x: t.x, y: t.y, text: t.text, tickvals: a.tickvals, ticktext: a.ticktext, range: a.range,
             title: a.title.text, px: f._fullLayout['xaxis' + (k === '1' ? '' : k)]._length,
             lows: f.data.filter(b => b.xaxis === t.xaxis && b.fill === 'tonexty').map(b => b.y) };
  }); }"""
# Drawn tick labels and annotations (run titles, the bands' legend) overlapping on the screen.
OVERLAPS = """() => {
  const boxes = (sel) => [...document.querySelectorAll(`#figure ${sel}`)]
    .map((el) => el.getBoundingClientRect()).filter((b) => b.width > 0 && b.height > 0);
  const ticks = boxes('.xaxislayer-above text');
  const titles = boxes('text[class^="x"][class$="title"]'); // the x axes' titles
  const texts = boxes('.annotation-text');
  const hit = (a, b) =>
    a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const pairs = (xs, ys) => xs.flatMap((a, i) => ys.filter((b, j) => (xs !== ys || j > i) && hit(a, b)));
  const all = [...ticks, ...titles, ...texts];
  const frame = document.querySelector('#figure .main-svg').getBoundingClientRect();
  const outside = all.filter((b) => b.left < frame.left - 1 || b.right > frame.right + 1).length;
  return [titles.length, pairs(all, all).length + outside];
}"""


def _answer(base: str, query: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/api/v1/simulate?{query}", timeout=120)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _layer_of(layer: dict[str, Any], j: int) -> str | None:
    """The layer number of an activation row, read from the API's names; None for a norm row."""
    if "name" not in layer:
        return str(j + 1)
    where, _, _ = layer["name"].partition(" · ")
    return where.split(" ")[1] if layer["layer_type"] == "activation" else None


@pytest.mark.parametrize(("name", "kind"), [("bn-sigmoid", "post"), ("bn-deep-relu", "grad")])
def test_distribution_rows_stand_at_the_tables_rows_and_show_the_apis_percentiles(
    page: Page, live_server: str, watch: Watch, artifacts: Path, name: str, kind: str
) -> None:
    query = PRESETS[name].query
    result = _answer(live_server, query)
    runs, table = result["runs"], result["rows"]
    for width in WIDTHS:
        open_page(page, f"{live_server}/?{query}#view=distribution&kind={kind}&log=0&layers=auto", width)
        drawn: list[dict[str, Any]] = page.evaluate(DRAWN)
        assert len(drawn) == len(runs)
        at: dict[str, set[float]] = {}  # each layer's number -> where its activation stands
        for c, (run, shown) in enumerate(zip(runs, drawn, strict=True)):
            # each layer's activation row (not the norm rows), at its row of the answer's table,
            # with the API's median
            acts = [
                (j, n) for j, n in ((j, _layer_of(layer, j)) for j, layer in enumerate(run["layers"])) if n
            ]
            percentiles = [run["layers"][j][kind]["percentiles"] for j, _ in acts]
            assert shown["y"] == [p["50"] for p in percentiles]
            assert shown["lows"] == [[p[low] for p in percentiles] for low in ("0", "6.68", "15.87", "30.85")]
            where = {row["cells"][c]: i + 1 for i, row in enumerate(table) if row["cells"][c] is not None}
            assert shown["x"] == [where[j] for j, _ in acts]
            # the long title where a column has room for it
            assert shown["title"] == ("layer (its activation)" if shown["px"] >= 199 else "layer")
            for (_, n), x in zip(acts, shown["x"], strict=True):
                at.setdefault(n, set()).add(x)
        # the pairing: layer k's activation stands at one x in every run (the table's), which
        # the ticks name by number; every column spans the same rows
        assert len(at) == (5 if name == "bn-sigmoid" else 50)
        assert all(len(xs) == 1 for xs in at.values()), at
        ticks = dict(zip(drawn[0]["ticktext"], drawn[0]["tickvals"], strict=True))
        assert ticks and all({ticks[n]} == at[n] for n in ticks)
        last = max(x for xs in at.values() for x in xs)
        assert all(shown["range"] == [0.5, last + 0.5] for shown in drawn)
        titles, clashes = page.evaluate(OVERLAPS)
        assert titles == len(runs) and clashes == 0, width
        page.screenshot(path=artifacts / f"distribution-rows-{name}-{width}.png", full_page=True)
