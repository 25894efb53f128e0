"""The dashboard's drawing: thread CPU time of a redraw of saito-compare's figures in Chromium.

    python -m bench.draw_bench [--rounds 6] [--reacts 10]

Starts a server (as `initscope serve` does) and Debian's Chromium, opens the dashboard, asks the
API for two answers (run 1's std 0.5 and 0.6: a slider's two steps) and reacts each plot to them
in turn, reading the page's main-thread CPU time (Chrome's Performance metrics in thread ticks,
steadier than wall time on shared cores). Cases, measured in interleaved rounds:

- grid: the histogram grid (5 layers x 3 runs) as the dashboard draws it;
- grid with plotly's defaults (the baseline): the same figure with every axis checking its tick
  labels against the figure's edge and the config passed on every react, as before issue 14;
- signal: the signal chart, which a redraw no longer waits for when it is off the screen;
- one column: the grid's first column alone (its 5 subplots at the same places), what a redraw
  would cost if each run's column were a plot of its own and only the changed one were redrawn.

Issue 14's target is 100 ms from a control change to the redrawn figure, the request included.
"""

from __future__ import annotations

import argparse
import os
import statistics
from typing import Any

from playwright.sync_api import CDPSession, Page, sync_playwright

from app.presets import PRESETS
from tests.browser.conftest import CHROMIUM
from tests.live import serve

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# The figures of two answers, built by the page's own modules, and a div for one column.
PREPARE = """async (saito) => {
  const F = await import('/static/js/figures.js');
  const get = async (q) => (await fetch('/api/v1/simulate?' + q)).json();
  const answers = [await get(saito.replace('normal&', 'normal,std:0.5&')),
                   await get(saito.replace('normal&', 'normal,std:0.6&'))];
  const width = document.getElementById('figure').clientWidth;
  const sized = (m) => ({ data: m.data, layout: { ...m.layout, width } });
  const grid = answers.map((r) => sized(F.gridFigure(r, { kind: 'post', width })));
  // plotly's defaults: no axis skips the check of its tick labels against the figure's edge
  const defaults = grid.map((m) => {
    const layout = structuredClone(m.layout);
    for (const key of Object.keys(layout)) {
      if (/^[xy]axis\\d*$/.test(key)) delete layout[key].ticklabeloverflow;
    }
    return { data: m.data, layout };
  });
  const signal = answers.map((r) => sized(F.signalFigure(r, { width })));
  // column 0: subplots 1, 4, 7, ... with their annotations and the run's title
  const runs = answers[0].runs.length;
  const kOf = (ref) => Number((ref || '').match(/^[xy](\\d*)/)?.[1] || 1);
  const mine = (k) => (k - 1) % runs === 0;
  const column = grid.map((m) => {
    const layout = { ...m.layout, annotations: m.layout.annotations.filter((a) =>
      a.xref === 'paper' ? a.x * runs < 1 : mine(kOf(a.xref))) };
    const axes = Object.keys(layout).filter((key) => /^[xy]axis\\d*$/.test(key));
    for (const key of axes) if (!mine(Number(key.slice(5) || 1))) delete layout[key];
    return { data: m.data.filter((t) => mine(kOf(t.xaxis))), layout };
  });
  const host = Object.assign(document.createElement('div'), { id: 'bench-column' });
  document.getElementById('charts').append(host);
  window.benchFigures = { grid, defaults, signal, column };
}"""
CONFIG = (
    "{ responsive: true, displaylogo: false, showSendToCloud: false,"
    " modeBarButtonsToRemove: ['select2d', 'lasso2d'],"
    " toImageButtonOptions: { filename: 'initscope', scale: 2 } }"
)
# n reacts alternating the two answers; config on every react for the baseline only
REACT = f"""async ([name, id, n]) => {{
  const figures = window.benchFigures[name];
  for (let i = 0; i < n; i++) {{
    const {{ data, layout }} = structuredClone(figures[i % 2]);
    await window.Plotly.react(id, data, layout, name === 'defaults' ? {CONFIG} : undefined);
  }}
}}"""
CASES = {
    "grid": ("grid", "figure"),
    "grid with plotly's defaults (baseline)": ("defaults", "figure"),
    "signal chart": ("signal", "signal"),
    "one column of the grid": ("column", "bench-column"),
}


def cpu_ms(cdp: CDPSession) -> float:
    metrics: list[dict[str, Any]] = cdp.send("Performance.getMetrics")["metrics"]
    seconds = float(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))
    return 1000 * seconds


def measure(page: Page, cdp: CDPSession, name: str, div: str, reacts: int) -> float:
    start = cpu_ms(cdp)
    page.evaluate(REACT, [name, div, reacts])
    return (cpu_ms(cdp) - start) / reacts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--reacts", type=int, default=10, help="reacts per case and round")
    args = parser.parse_args()
    saito = PRESETS["saito-compare"].query
    with serve() as (url, _), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/?{saito}#view=grid&kind=post&log=0&layers=auto")
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        page.evaluate(PREPARE, saito)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
        for name, div in CASES.values():  # each plot drawn once before it is timed
            page.evaluate(REACT, [name, div, 2])
        times: dict[str, list[float]] = {case: [] for case in CASES}
        for _ in range(args.rounds):
            for case, (name, div) in CASES.items():
                times[case].append(measure(page, cdp, name, div, args.reacts))
        browser.close()
    median = {case: statistics.median(t) for case, t in times.items()}
    baseline = median["grid with plotly's defaults (baseline)"]
    print(f"saito-compare, main-thread CPU ms per react (median of {args.rounds} rounds of {args.reacts});")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for case, ms in median.items():
        print(f"  {case:40s} {ms:6.1f} ms   {ms / baseline:5.2f}x the baseline")
    critical_before = baseline + median["signal chart"]
    print(
        f"a commit's drawing before the grid is painted: {critical_before:.1f} ms before"
        " issue 14's drawing work"
        f" (grid with defaults + signal chart), {median['grid']:.1f} ms now (the grid;"
        f" the off-screen chart follows the paint): {median['grid'] / critical_before:.2f}x"
    )


if __name__ == "__main__":
    main()
