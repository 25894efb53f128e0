"""The dashboard's drawing: thread CPU time of a redraw of saito-compare's figures in Chromium.

    python -m bench.draw_bench [--rounds 6] [--reacts 10]

Starts a server (as `initscope serve` does) and Debian's Chromium, opens the dashboard, asks the
API for answers (run 1's std 0.5 and 0.6: a slider's two steps; and seeds 1 and 2: every run
changed) and redraws each case with them in turn, reading the page's main-thread CPU time
(Chrome's Performance metrics in thread ticks, steadier than wall time on shared cores). Cases,
measured in interleaved rounds:

- grid as one plot (the baseline): the histogram grid (5 layers x 3 runs) in one plotly plot, as
  the dashboard drew it before issue 14's columns; plotly redraws all of it for any change;
- columns, one run changed: the grid as one plot per run column laid on top of each other, as
  the dashboard draws it now: each column's figure compared (as JSON) with the one it shows, and
  only the changed column (run 1's) reacted;
- columns, every run changed: the same with the seed changed, so every column changes: the
  dashboard then draws the grid as one plot (three plots cost plotly's fixed cost three times);
- signal: the signal chart, which a redraw no longer waits for when it is off the screen.

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

# The figures of the answers, built by the page's own modules, and a div for each case: the
# columns' cases get one part per run, laid on top of each other as in the dashboard's #figure.
PREPARE = """async (saito) => {
  const F = await import('/static/js/figures.js');
  const G = await import('/static/js/grid-columns.js');
  const get = async (q) => (await fetch('/api/v1/simulate?' + q)).json();
  const std = [await get(saito.replace('normal&', 'normal,std:0.5&')),
               await get(saito.replace('normal&', 'normal,std:0.6&'))];
  const seed = [await get(saito + '&seed=1'), await get(saito + '&seed=2')];
  const width = document.getElementById('figure').clientWidth;
  const sized = (m) => ({ data: m.data, layout: { ...m.layout, width } });
  const grid = (answers) => answers.map((r) => sized(F.gridFigure(r, { kind: 'post', width })));
  const columns = (answers) => grid(answers).map((m) => G.gridColumns(m, answers[0].runs.length));
  const signal = std.map((r) => sized(F.signalFigure(r, { width })));
  for (const id of ['bench-grid', 'bench-one', 'bench-every']) {
    const host = Object.assign(document.createElement('div'), { id });
    host.style.position = 'relative';
    document.getElementById('charts').append(host);
  }
  window.benchFigures = { grid: grid(std), one: columns(std), every: columns(seed), signal };
  window.benchShown = {};
}"""
# n redraws alternating the two answers. A columns' case draws as the dashboard's drawMain: the
# parts whose figure (as JSON) changed are reacted, or the grid as one plot when all of them did.
REACT = """async ([name, id, n]) => {
  const G = await import('/static/js/grid-columns.js');
  const figures = window.benchFigures[name];
  const host = document.getElementById(id);
  for (let i = 0; i < n; i++) {
    const figure = structuredClone(figures[i % 2]);
    if (!Array.isArray(figure)) {
      await window.Plotly.react(id, figure.data, figure.layout);
      continue;
    }
    const shown = (window.benchShown[id] ??= { json: null, whole: false });
    const json = figure.map((part) => JSON.stringify(part));
    const plan = G.planParts(shown.json, shown.whole, json);
    const drawn = plan.whole ? [G.mergeColumns(figure)] : figure;
    while (host.children.length > drawn.length) {
      window.Plotly.purge(host.lastElementChild);
      host.lastElementChild.remove();
    }
    while (host.children.length < drawn.length) {
      const div = host.appendChild(document.createElement('div'));
      div.style.cssText = 'position: absolute; top: 0; left: 0; width: 100%';
      if (!plan.draw.includes(host.children.length - 1)) plan.draw.push(host.children.length - 1);
    }
    for (const c of plan.draw) await window.Plotly.react(host.children[c], drawn[c].data, drawn[c].layout);
    Object.assign(shown, { json, whole: plan.whole });
  }
}"""
CASES = {
    "grid as one plot (baseline)": ("grid", "bench-grid"),
    "columns, one run changed (the dashboard)": ("one", "bench-one"),
    "columns, every run changed": ("every", "bench-every"),
    "signal chart": ("signal", "signal"),
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
    baseline = median["grid as one plot (baseline)"]
    print(f"saito-compare, main-thread CPU ms per redraw (median of {args.rounds} rounds of {args.reacts});")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for case, ms in median.items():
        print(f"  {case:42s} {ms:6.1f} ms   {ms / baseline:5.2f}x the baseline")


if __name__ == "__main__":
    main()
