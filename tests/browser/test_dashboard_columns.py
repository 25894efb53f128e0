"""The grid as one plot per run column (issue 14's drawing): a change of one run redraws that run's
column only, a change of every run draws the grid as one plot, the columns laid on top of each
other show the very pixels of the grid as one plot, and the pointer and the modebar reach every
column (hover, zoom mode, the image download of the whole grid)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.presets import PRESETS
from tests.browser.conftest import Watch, open_page, wait_for_location

pytestmark = pytest.mark.browser
SAITO = PRESETS["saito-compare"].query
GRID = "#view=grid&kind=post&log=0&layers=auto"

# Counts each part's drawings (plotly_afterplot) from now on, by its place in #figure.
COUNT_DRAWS = """() => {
  window.partDraws = [];
  [...document.querySelectorAll('#figure > .figure-part')].forEach((part, i) => {
    window.partDraws[i] = 0;
    part.on('plotly_afterplot', () => (window.partDraws[i] += 1));
  });
}"""
BARS = "() => document.getElementById('figure').data.filter(t => t.type === 'bar').map(t => t.y)"


def parts(page: Page) -> int:
    n: int = page.locator("#figure > .figure-part").count()
    return n


def step_std(page: Page, key: str = "ArrowLeft") -> None:
    """One arrow key on run 1's std slider, and wait for its link."""
    page.evaluate(
        "document.querySelectorAll('.panel details.section').forEach(d => (d.open = true))"
    )  # a phone's
    slider = page.locator("fieldset.run").nth(0).locator('input.slider[data-slider="std"]')
    slider.focus()
    before = page.evaluate("location.search")
    page.keyboard.press(key)
    page.wait_for_function("s => location.search !== s", arg=before)
    page.wait_for_function("() => document.body.dataset.busy === undefined")


def api_counts(page: Page, live_server: str) -> list[list[int]]:
    """The API's counts for the address bar's link, in the grid's order (row by row)."""
    answer = page.request.get(
        f"{live_server}/api/v1/simulate?{page.evaluate('location.search.slice(1)')}"
    ).json()
    return [run["layers"][j]["post"]["counts"] for j in range(5) for run in answer["runs"]]


def split(page: Page) -> None:
    """Wait for the grid's columns: a grid drawn as one plot is split once the page is idle."""
    page.wait_for_function("() => document.querySelectorAll('#figure > .figure-part').length === 3")


def test_dashboard_columns_one_run_changed_redraws_its_column_only(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(page, f"{live_server}/?{SAITO}{GRID}")
    assert page.evaluate("window.initscopeTimings.at(-1).drew") == "one plot"  # every column new
    split(page)  # the page idle: a plot per column, ready for a change of one run
    assert page.evaluate(BARS) == api_counts(page, live_server)
    page.evaluate(COUNT_DRAWS)
    step_std(page)
    # run 1's column was drawn again; runs 2 and 3 (unchanged, range 0..1) were not
    assert page.evaluate("window.initscopeTimings.at(-1).drew") == "columns 0"
    assert page.evaluate("window.partDraws") == [1, 0, 0]
    assert parts(page) == 3
    assert page.evaluate(BARS) == api_counts(page, live_server)
    # a change of every run (the seed): one plot, then its columns again, showing the API's numbers
    seed = page.locator('#shared [data-field="seed"]')
    seed.fill("7")
    seed.dispatch_event("change")
    wait_for_location(page, r"seed=7")
    page.wait_for_function("() => document.body.dataset.busy === undefined")
    assert page.evaluate("window.initscopeTimings.at(-1).drew") == "one plot"
    split(page)
    assert page.evaluate(BARS) == api_counts(page, live_server)


@pytest.mark.parametrize("width", [1440, 1024, 390])
def test_dashboard_columns_show_the_pixels_of_the_grid_as_one_plot(
    page: Page, live_server: str, watch: Watch, artifacts: Path, width: int
) -> None:
    open_page(page, f"{live_server}/?{SAITO}{GRID}", width)
    step_std(page)
    split(page)
    # the grid as one plot, from the columns as drawn, beside them
    page.evaluate(
        """async () => {
          const figure = document.getElementById('figure');
          const one = Object.assign(document.createElement('div'), { id: 'one-plot', className: 'plot' });
          figure.after(one);
          const { data, layout } = structuredClone({ data: figure.data, layout: figure.layout });
          await window.Plotly.newPlot(one, data, layout, { displayModeBar: false });
        }"""
    )
    page.mouse.move(0, 0)  # no hover, no modebar
    columns = page.locator("#figure").screenshot(path=artifacts / f"dashboard-columns-{width}px.png")
    one = page.locator("#one-plot").screenshot()
    assert columns == one


def png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])  # the IHDR chunk
    return width, height


def test_dashboard_columns_take_the_pointer_and_the_modebar_serves_them_all(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(page, f"{live_server}/?{SAITO}{GRID}", 1440)
    split(page)
    # hover on a bar of the last column (relu's layer 1): its own hover label, under two plots
    bar = page.locator("#figure > .figure-part").nth(2).locator(".barlayer .point path").nth(10)
    box = bar.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 2)
    expect(page.locator("#figure > .figure-part").nth(2).locator(".hoverlayer .hovertext")).to_contain_text(
        "relu, He"
    )
    # the modebar shows over any column; pan mode chosen there holds for every column
    pan = page.locator("#figure .modebar-btn[data-val='pan']")
    expect(pan).to_have_count(1)  # one modebar for the figure
    pan.click()
    modes = "() => [...document.querySelectorAll('#figure > .figure-part')].map(p => p._fullLayout.dragmode)"
    page.wait_for_function(f"() => ({modes})().every(m => m === 'pan')")
    # and stays chosen when the figure is drawn again (the mode changed every column's figure: one
    # plot, split again when idle)
    step_std(page)
    split(page)
    assert page.evaluate(modes) == ["pan", "pan", "pan"]
    # the image button downloads the whole grid (every column), at twice the figure's size
    page.locator("#figure").hover()
    with page.expect_download() as download:
        page.locator("#figure .modebar-btn[data-title='Download plot as a png']").click()
    assert download.value.suggested_filename == "initscope.png"
    path = Path(download.value.path())
    layout = page.evaluate(
        "(() => { const l = document.getElementById('figure').layout; return [l.width, l.height]; })()"
    )
    assert png_size(path) == (2 * layout[0], 2 * layout[1])
    # every run's bars are in it, each in its colour (plot-base.js's COLORS)
    colours = page.evaluate(
        """async (bytes) => {
          const image = await createImageBitmap(new Blob([new Uint8Array(bytes)], { type: 'image/png' }));
          const canvas = new OffscreenCanvas(image.width, image.height);
          const context = canvas.getContext('2d');
          context.drawImage(image, 0, 0);
          const { data } = context.getImageData(0, 0, image.width, image.height);
          const hex = (i) => '#' + [0, 1, 2].map((k) => data[i + k].toString(16).padStart(2, '0')).join('');
          const seen = {};
          for (let i = 0; i < data.length; i += 4) seen[hex(i)] = (seen[hex(i)] ?? 0) + 1;
          return ['#2456a6', '#d1495b', '#2e933c'].map((c) => seen[c] ?? 0);
        }""",
        list(path.read_bytes()),
    )
    assert all(n > 10_000 for n in colours), colours
