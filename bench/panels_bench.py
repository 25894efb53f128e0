"""The dashboard after a committed control change: main-thread time spent while the phase
diagrams and the correlation map are off the screen (they wait) or on it (they follow), against
a revision's dashboard in the same run.

    python -m bench.panels_bench [--against REV] [--rounds 2] [--commits 6]

Starts a server (as `initscope serve` does) and Debian's Chromium, and opens saito-compare with a
seed of its own (uncached) in a 1280 px window 900 px tall (the panels below the fold) or 2600 px
tall (on the screen: a tall window, a projector). Each case: `commits` arrow-key presses on run
1's std slider, each followed by a second of rest, reading the main thread's busy time in that
second (Chrome's TaskDuration); then `commits` pairs of presses, the second 200 ms after the
first's figure (while the panels, if drawn, are drawing), timing the second press to its figure
(the page's own record). The baseline is REV's dashboard.js, phase-panel.js and
correlation-panel.js (served in place of today's; the rest is today's), in interleaved rounds.
Wall times on shared cores: compare the ratios of one run, not figures across runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from typing import Any

from playwright.sync_api import Page, Route, sync_playwright

from app.presets import PRESETS
from tests.browser.conftest import CHROMIUM
from tests.live import serve

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
FILES = ("dashboard.js", "phase-panel.js", "correlation-panel.js")
SLIDER = 'fieldset.run >> nth=0 >> input.slider[data-slider="std"]'


def task_ms(cdp: Any) -> float:
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return 1000 * float(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))


def replaced(body: str) -> Any:
    """A route handler answering with `body` (one parameter: Playwright passes the request to a second)."""

    def fulfill(route: Route) -> None:
        route.fulfill(body=body, content_type="text/javascript")

    return fulfill


def serve_old(page: Page, old: dict[str, str]) -> None:
    for name, body in old.items():
        page.route(f"**/static/js/{name}*", replaced(body))


def run_case(page: Page, url: str, height: int, commits: int) -> tuple[list[float], list[int]]:
    """Main-thread busy ms in the second after each commit; ms to the figure of each second press."""
    page.set_viewport_size({"width": 1280, "height": height})
    page.goto(f"{url}/?{PRESETS['saito-compare'].query}#view=grid&kind=post&log=0&layers=auto")
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    seed = page.locator('#shared [data-field="seed"]')
    seed.fill(str(1_000_000 + time.time_ns() % 1_000_000_000))
    seed.dispatch_event("change")
    page.wait_for_function("() => location.search.includes('seed=')")
    page.wait_for_timeout(1500)  # at rest: the panels (if on the screen) drawn
    page.locator(SLIDER).focus()
    return commit_timings(page, commits)


def commit_timings(page: Page, commits: int) -> tuple[list[float], list[int]]:
    """With a slider focused: the main thread's busy ms in the second after each of `commits`
    arrow-key commits, then, `commits` times, the ms to the figure of a second press made 200 ms
    after the first's figure (the page's own record). The browser test prints the same."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    busy: list[float] = []
    for _ in range(commits):
        before = task_ms(cdp)
        page.keyboard.press("ArrowLeft")
        page.wait_for_timeout(1000)
        busy.append(task_ms(cdp) - before)
    second: list[int] = []
    for _ in range(commits):
        n = page.evaluate("window.initscopeTimings.length")
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("n => window.initscopeTimings.length > n", arg=n)
        page.wait_for_timeout(200)
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("n => window.initscopeTimings.length > n + 1", arg=n)
        second.append(page.evaluate("window.initscopeTimings.at(-1).total"))
        page.wait_for_function("() => document.body.dataset.busy === undefined")
        page.wait_for_timeout(1000)
    cdp.detach()
    return busy, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", default="5360031", help="the revision whose panels are the baseline")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--commits", type=int, default=6)
    args = parser.parse_args()
    show = ["git", "show"]
    old = {
        f: subprocess.run(
            [*show, f"{args.against}:static/js/{f}"], capture_output=True, text=True, check=True
        ).stdout
        for f in FILES
    }
    busy: dict[tuple[str, int], list[float]] = {}
    second: dict[tuple[str, int], list[int]] = {}
    with serve() as (url, _), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for r in range(args.rounds):
            for height in (900, 2600):
                variants = ("baseline", "today") if r % 2 == 0 else ("today", "baseline")
                for variant in variants:
                    page = browser.new_page()
                    if variant == "baseline":
                        serve_old(page, old)
                    b, s = run_case(page, url, height, args.commits)
                    page.close()
                    busy.setdefault((variant, height), []).extend(b)
                    second.setdefault((variant, height), []).extend(s)
        browser.close()
    n = args.rounds * args.commits
    print(f"saito-compare after an arrow key's commit, p50 of {n}; baseline: panels of {args.against}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for height in (900, 2600):
        where = "below the fold" if height == 900 else "on the screen"
        for what, table in (
            ("main thread busy in the next second", busy),
            ("a second press 200 ms after, to its figure", second),
        ):
            base, today = (statistics.median(table[(v, height)]) for v in ("baseline", "today"))
            print(
                f"  {height} px (panels {where}), {what:44s} {base:6.0f} -> {today:6.0f} ms"
                f"   {today / base:5.2f}x the baseline"
            )


if __name__ == "__main__":
    main()
