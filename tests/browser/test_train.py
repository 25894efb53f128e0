"""The training page in a real browser: a short training streams in, Cancel stops a long one."""

from __future__ import annotations

import csv
import itertools
import json
import re
import secrets
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.settings import load_settings
from tests.browser.conftest import Watch, open_page

pytestmark = pytest.mark.browser
SHORT = (
    "data=mnist&width=100-100&iterations=200&record_every=10&captures=0-100-200"
    "&run=relu,normal,std:0.01&run=relu,he_normal"
)
# Seconds of training in few, small progress events. (A tiny network over 20,000 steps is over in
# about 4 s, before a click lands on a busy machine, and streams 190 MB: every progress event
# carries the whole loss curve so far.)
LONG = "data=mnist&width=300-300&iterations=3000&record_every=100&run=relu,he_normal"

# Every value the progress bar takes (a MutationObserver's old values, then the current one).
RECORD_PROGRESS = """() => {
  const bar = document.getElementById('progress');
  const seen = [];
  new MutationObserver((records) => {
    for (const r of records) seen.push(Number(r.oldValue));
  }).observe(bar, { attributes: true, attributeFilter: ['value'], attributeOldValue: true });
  window.progressSeen = () => [...seen, Number(bar.value)];
}"""


def first_progress_steps(url: str) -> int:
    """The steps of a stream's first progress event (then the stream is closed, which stops it)."""
    with httpx.stream("GET", url, timeout=30) as response:
        assert response.status_code == 200
        event = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "progress":
                steps: int = json.loads(line.split(":", 1)[1])["steps"]
                return steps
    raise AssertionError("no progress event")


def fresh(link: str) -> str:
    """`link` with a batch seed of its own: a training the session's server has not cached (a
    cached one answers at once, without progress), however often the test repeats."""
    return f"{link}&batch_seed={secrets.randbelow(2**31)}"


def histograms(page: Page) -> list[list[float]]:
    bars: list[list[float]] = page.evaluate(
        "() => document.getElementById('histograms').data.filter(t => t.type === 'bar').map(t => t.x)"
    )
    return bars


def test_train_streams_progress_and_draws(
    page: Page, live_server: str, watch: Watch, artifacts: Path
) -> None:
    open_page(page, f"{live_server}/train?{fresh(SHORT)}")  # not cached: it streams progress
    expect(page.locator("#progress-text")).to_have_text("not started")
    assert page.locator("#charts").is_hidden()  # nothing to draw before Start
    page.evaluate(RECORD_PROGRESS)
    page.locator("#start").click()
    expect(page.locator("#progress-text")).to_have_text("step 200 of 200", timeout=60_000)
    expect(page.locator("#runs .status")).to_have_text(["done", "done"])
    seen: list[float] = page.evaluate("() => window.progressSeen()")
    assert seen[-1] == 200
    assert any(0 < v < 200 for v in seen), seen  # the bar moved before the end
    assert seen == sorted(seen)
    # The address bar holds the server's canonical link (defaults left out).
    href = page.evaluate("() => location.href")
    assert "run=relu,normal,std:0.01&run=relu,he_normal" in href and "iterations=200" in href
    assert page.locator("#query").input_value() == href.split("?", 1)[1]
    page.wait_for_function("() => document.getElementById('loss').data?.length >= 4")
    curves = page.evaluate(
        "() => document.getElementById('loss').data.filter(t => t.legendgroup !== 'key')"
        ".map(t => t.y.filter(v => v !== null).length)"
    )
    assert len(curves) == 4 and all(n >= 100 for n in curves)  # raw and smoothed, per run
    accuracy = page.evaluate(
        "() => document.getElementById('accuracy').data"
        ".filter(t => t.legendgroup !== 'key').map(t => t.x.length)"
    )
    assert accuracy == [21, 21, 21, 21]  # records at 0, 10, ..., 200
    # The slider follows the last capture; moving it redraws the histograms of step 0.
    expect(page.locator("#capture-label")).to_have_text("200")
    before = histograms(page)
    assert len(before) == 4  # 2 layers x 2 runs
    page.locator("#capture-step").press("Home")
    expect(page.locator("#capture-label")).to_have_text("0")
    page.wait_for_function(
        "b => JSON.stringify(document.getElementById('histograms').data"
        ".filter(t => t.type === 'bar').map(t => t.x)) !== b",
        arg=json.dumps(before),
    )
    assert histograms(page) != before
    page.locator("input[name=kind][value=grad]").check()
    # Gradients: dL/dz takes both signs, where ReLU's activations are never negative.
    page.wait_for_function(
        "() => document.getElementById('histograms').data.some(t => t.type === 'bar' && t.x.some(v => v < 0))"
    )
    ridge = page.evaluate("() => document.getElementById('ridgeline').data.length")
    assert ridge == 6  # 3 captures x 2 runs
    page.locator("input[name=kind][value=post]").check()
    page.evaluate("() => window.scrollTo(0, 0)")  # the settings panel is sticky
    page.screenshot(path=artifacts / "train.png", full_page=True)
    # A phone: one column; the finished training comes from the server's cache at once.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    page.locator("#start").click()
    expect(page.locator("#progress-text")).to_have_text("step 200 of 200")
    page.wait_for_function("() => document.body.dataset.drawn >= 1 && document.body.dataset.running === '0'")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.screenshot(path=artifacts / "train-mobile.png", full_page=True)


def test_train_cancel_stops_the_training(page: Page, live_server: str, watch: Watch, artifacts: Path) -> None:
    open_page(page, f"{live_server}/train?{LONG}")
    page.locator("#start").click()
    page.wait_for_function("() => document.getElementById('progress').value > 0", timeout=30_000)
    page.locator("#cancel").click()
    expect(page.locator("#runs .status")).to_have_text([re.compile(r"^cancelled at step \d+$")])
    expect(page.locator("#progress-text")).to_contain_text("cancelled at step")
    expect(page.locator("#message")).to_contain_text("Cancelled at step")
    expect(page.locator("#start")).to_be_enabled()
    expect(page.locator("#cancel")).to_be_disabled()
    steps = page.evaluate("() => document.getElementById('progress').value")
    assert 0 < steps < 3000
    assert page.locator("#downloads").is_hidden()  # a cancelled training is not kept: nothing to download
    assert httpx.get(f"{live_server}/healthz", timeout=5).status_code == 200
    # The job stopped: the same link starts a new training from step 0, not the old one's progress.
    assert first_progress_steps(f"{live_server}/api/v1/train/stream?{LONG}") == 100
    page.screenshot(path=artifacts / "train-cancelled.png", full_page=True)


def test_train_bad_link_says_why(page: Page, live_server: str, watch: Watch) -> None:
    watch.expect_error("422")
    open_page(page, f"{live_server}/train?iterations=0&run=relu,he_normal")
    page.locator("#start").click()
    expect(page.locator("#message")).to_contain_text("iterations: must be between 1 and")
    assert page.locator("#charts").is_hidden()
    expect(page.locator("#progress-text")).to_have_text("not started")


def test_train_full_server_says_when_to_retry(page: Page, live_server: str, watch: Watch) -> None:
    watch.expect_error("503")
    open_page(page, f"{live_server}/train?{SHORT}&batch_seed=1")
    with ExitStack() as streams:
        for seed in range(2, 2 + load_settings().max_jobs):  # as many as the server runs at once
            url = f"{live_server}/api/v1/train/stream?{LONG}&batch_seed={seed}"
            response = streams.enter_context(httpx.stream("GET", url, timeout=30))
            assert response.status_code == 200
        page.locator("#start").click()
        expect(page.locator("#message")).to_contain_text("the server is busy: try again in 5 s")
    assert page.locator("#charts").is_hidden()
    expect(page.locator("#start")).to_be_enabled()


def test_train_presets_and_fields_edit_the_link(page: Page, live_server: str, watch: Watch) -> None:
    presets = httpx.get(f"{live_server}/api/v1/train/presets", timeout=5).json()
    open_page(page, f"{live_server}/train")
    # No link: the first preset, not started.
    assert page.evaluate("() => location.search") == "?" + presets[0]["share"]
    expect(page.locator("#preset")).to_have_value(presets[0]["name"])
    page.locator("#preset").select_option(presets[-1]["name"])
    expect(page.locator("#query")).to_have_value(presets[-1]["share"])
    expect(page.locator("#preset-info")).to_contain_text(presets[-1]["source"])
    page.locator("#iterations").fill("300")
    page.locator("#iterations").dispatch_event("change")
    page.locator("#opt").select_option("adam")
    query = page.locator("#query").input_value()
    assert "iterations=300" in query and "opt=adam" in query
    assert query.endswith(presets[-1]["share"].split("&run=", 1)[1])  # the runs are left alone
    expect(page.locator("#preset")).to_have_value("")  # no longer the preset


def train_to_the_end(page: Page) -> None:
    page.locator("#start").click()
    page.wait_for_function(
        "() => document.body.dataset.running === '0' && document.body.dataset.drawn >= 1", timeout=90_000
    )
    expect(page.locator("#progress-text")).to_have_text(re.compile(r"^step (\d+) of \1$"))


CHARTS = ("loss", "accuracy", "dead", "ratio")
KEYS = {  # the grey entries of each chart's legend: what a line style means
    "loss": ["each batch's loss", "moving average (~50 steps)"],
    "accuracy": ["test set", "training samples"],
    "dead": [],
    "ratio": ["−3: the rule of thumb"],
}
# A chart's legend as drawn: each entry's text, line colour and box; the legend's, the plotting
# area's (plotly's drag layer covers it) and the figure's boxes.
LEGEND = """id => {
  const root = document.getElementById(id);
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, left: r.left, right: r.right };
  };
  return {
    entries: [...root.querySelectorAll('.legend .traces')].map((el) => ({
      text: el.querySelector('.legendtext').textContent,
      color: getComputedStyle(el.querySelector('.legendlines path, .legendpoints path')).stroke,
      box: box(el),
    })),
    legend: box(root.querySelector('.legend')),
    area: box(root.querySelector('.nsewdrag')),
    figure: box(root),
  };
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_train_charts_have_legends_naming_each_run_in_its_colour(
    page: Page, live_server: str, watch: Watch, width: int
) -> None:
    open_page(page, f"{live_server}/train?{SHORT}", width=width)
    train_to_the_end(page)
    runs = page.evaluate(
        "() => [...document.querySelectorAll('#runs .run')].map(li => [li.querySelector('.name').textContent,"
        " getComputedStyle(li.querySelector('.swatch')).backgroundColor])"
    )
    assert [name for name, _ in runs] == ["relu, N(0, 0.01²)", "relu, He"]
    for chart in CHARTS:
        seen = page.evaluate(LEGEND, chart)
        entries = seen["entries"]
        # every run once, in the colour the runs list (and its lines) have; then the key
        assert [(e["text"], e["color"]) for e in entries[: len(runs)]] == [tuple(run) for run in runs], chart
        assert [e["text"] for e in entries[len(runs) :]] == KEYS[chart], chart
        # the legend is above the plotting area, whole and inside the figure (on a phone too),
        # and the figure grows by its rows: the plotting area keeps its height
        assert seen["legend"]["bottom"] <= seen["area"]["top"] + 1, chart
        area = seen["area"]["bottom"] - seen["area"]["top"]
        assert area >= (245 if chart in ("loss", "accuracy") else 205), (chart, area)
        left, right = seen["figure"]["left"], seen["figure"]["right"]
        assert all(left <= e["box"]["left"] and e["box"]["right"] <= right for e in entries), chart


def test_train_fields_show_the_apis_defaults(page: Page, live_server: str, watch: Watch) -> None:
    fields = {f["name"]: f for f in httpx.get(f"{live_server}/api/v1/train/fields", timeout=5).json()}
    open_page(page, f"{live_server}/train?width=100-100&run=relu,he_normal")
    # blank fields: the link trains with the defaults, shown in grey
    for key in ("iterations", "batch", "lr"):
        expect(page.locator(f"#{key}")).to_have_value("")
    shown = {key: page.locator(f"#{key}").get_attribute("placeholder") for key in ("iterations", "batch")}
    shown["lr"] = page.locator("#lr").get_attribute("placeholder")
    assert shown == {key: str(fields[key]["default"]) for key in shown}
    assert shown == {"iterations": "2000", "batch": "128", "lr": "0.01"}
    expect(page.locator("#opt")).to_have_value("")
    expect(page.locator("#opt option:checked")).to_have_text("SGD (default)")
    options = page.locator("#opt option").evaluate_all("os => os.map(o => [o.value, o.textContent])")
    assert options[1:] == [[name, fields["opt"]["labels"][name]] for name in fields["opt"]["choices"]]
    assert page.locator("#iterations").get_attribute("max") == str(fields["iterations"]["max"])
    # the learning rate's default is the chosen optimizer's
    page.locator("#opt").select_option("adam")
    expect(page.locator("#lr")).to_have_attribute("placeholder", str(fields["lr"]["defaults"]["adam"]))
    assert "opt=adam" in page.locator("#query").input_value()
    # a link's own value fills its field
    open_page(page, f"{live_server}/train?iterations=300&lr=0.1&run=relu,he_normal")
    expect(page.locator("#iterations")).to_have_value("300")
    expect(page.locator("#lr")).to_have_value("0.1")


def test_train_finished_downloads_as_json_and_csv(
    page: Page, live_server: str, watch: Watch, tmp_path: Path
) -> None:
    open_page(page, f"{live_server}/train?{SHORT}")
    assert page.locator("#downloads").is_hidden()  # nothing finished yet
    train_to_the_end(page)
    expect(page.locator("#downloads")).to_be_visible()
    share = page.locator("#query").input_value()
    done = httpx.get(f"{live_server}/api/v1/train?{share}", timeout=30)
    assert done.headers["x-cache"] == "hit"
    files = {}
    for button, name in (
        ("#download-json", "initscope-training.json"),
        ("#download-csv", "initscope-training.csv"),
        ("#download-histograms", "initscope-training-histograms.csv"),
    ):
        with page.expect_download() as download:
            page.locator(button).click()
        assert download.value.suggested_filename == name
        download.value.save_as(tmp_path / name)
        files[name] = (tmp_path / name).read_text()
    assert json.loads(files["initscope-training.json"]) == done.json()  # the API's document
    steps = list(csv.DictReader(files["initscope-training.csv"].splitlines()))
    assert len(steps) == 2 * 201  # two runs, steps 0 to 200
    assert float(steps[-1]["test_accuracy"]) == done.json()["runs"][1]["records"]["test_accuracy"][-1]
    histograms = list(csv.DictReader(files["initscope-training-histograms.csv"].splitlines()))
    assert {(row["step"], row["kind"]) for row in histograms} == {
        (step, kind) for step in ("0", "100", "200") for kind in ("post", "grad")
    }
    # a new training hides them until it has finished
    page.locator("#start").click()
    page.wait_for_function("() => document.body.dataset.running === '0'")
    expect(page.locator("#downloads")).to_be_visible()


# Seconds of training in many progress events (the server sends one at most every 0.2 s).
# Long enough to draw progress more than once on a fast machine (600 steps trained in 1.2 s on one
# and were drawn only at the end, the first draw's rest included: 1800 take ~3.6 s there).
PACED = "data=mnist&width=100-100&iterations=1800&record_every=20&run=relu,normal,std:0.01&run=relu,he_normal"
RECORD_DRAWS = """() => {
  window.draws = {};
  const react = window.Plotly.react;
  window.Plotly.react = function (id, ...rest) {
    (window.draws[id] ??= []).push(performance.now());
    return react.call(this, id, ...rest);
  };
}"""


def test_train_progress_redraws_at_most_every_quarter_second(
    page: Page, live_server: str, watch: Watch
) -> None:
    open_page(page, f"{live_server}/train?{fresh(PACED)}")
    page.evaluate(RECORD_DRAWS)
    train_to_the_end(page)
    draws: dict[str, list[float]] = page.evaluate("() => window.draws")
    loss = draws["loss"]
    # it drew while it trained (how often depends on how fast this machine trains and draws)
    assert len(loss) >= 2, draws
    # Progress waits 250 ms after the last draw began (the end's result is drawn at once).
    gaps = [b - a for a, b in itertools.pairwise(loss)][:-1]
    assert all(gap >= 240 for gap in gaps), gaps
    # The histograms change only when a capture comes (steps 0, n/4, n/2, n): not at every event.
    assert len(draws["histograms"]) <= 4 + 1 < len(loss) or len(loss) <= 5, draws


def test_train_preset_shows_its_claim_whose_numbers_are_the_trainings(
    page: Page, live_server: str, watch: Watch
) -> None:
    presets = {p["name"]: p for p in httpx.get(f"{live_server}/api/v1/train/presets", timeout=5).json()}
    preset = presets["relu-speed"]
    open_page(page, f"{live_server}/train?{preset['share']}")
    box = page.locator("#claim")
    expect(box).to_be_visible()
    expect(box.locator("q")).to_have_text(preset["claim"]["text"])
    expect(box.locator(".verdict")).to_have_attribute("data-verdict", preset["claim"]["verdict"])
    expect(box.locator(".claim-verdict")).to_contain_text(preset["claim"]["reason"])
    train_to_the_end(page)
    # What the page shows after training is what the API's training of the same link measured,
    # and the claim's numbers are read off that training: the steps each run takes to loss 0.5.
    result = httpx.get(f"{live_server}/api/v1/train?{preset['share']}", timeout=120).json()
    reached = []
    for run in result["runs"]:
        assert run["loss_stride"] == 1  # one point a step, so the first step below 0.5 is exact
        reached.append(next((i for i, v in enumerate(run["loss_smoothed"]) if v <= 0.5), None))
        accuracy = f"test accuracy {100 * run['records']['test_accuracy'][-1]:.1f}%"
        expect(page.locator("#runs")).to_contain_text(accuracy)
    relu, tanh, sigmoid = reached
    assert relu is not None and tanh is not None and sigmoid is None
    shown = box.locator(".claim-verdict").inner_text()
    assert f"reaches 0.5 in {relu} steps" in shown and f"tanh's in {tanh} " in shown
    assert f"ReLU {tanh / relu:.2f} times as fast" in shown


def test_train_binary_classifier_draws_its_sigmoid_output_as_the_api_measured_it(
    page: Page, live_server: str, watch: Watch
) -> None:
    presets = {p["name"]: p for p in httpx.get(f"{live_server}/api/v1/train/presets", timeout=5).json()}
    preset = presets["binary-tanh-sigmoid"]
    open_page(page, f"{live_server}/train?{preset['share']}")
    expect(page.locator("#claim .claim-verdict")).to_contain_text(preset["claim"]["reason"])
    train_to_the_end(page)
    result = httpx.get(f"{live_server}/api/v1/train?{preset['share']}", timeout=120).json()
    output = result["runs"][0]["captures"][-1]["layers"][-1]
    assert output["output"] is True
    # the last row of the histograms (the last step's) is the output unit, bar for bar the API's
    drawn = page.locator("#histograms").evaluate(
        """el => ({
          bars: el.data.filter(t => t.type === 'bar').map(t => Array.from(t.y)),
          titles: Object.entries(el.layout).filter(([k]) => k.startsWith('yaxis'))
            .map(([, a]) => a.title && a.title.text).filter(Boolean),
        })"""
    )
    assert "output σ(s)" in drawn["titles"] and f"layer {output['layer']}" not in drawn["titles"]
    assert output["post"]["counts"] in drawn["bars"]
    assert output["post"]["edges"][0] == 0 and output["post"]["edges"][-1] == 1
    # the claim's numbers are this output's: its smallest and largest value at the last step
    shown = page.locator("#claim .claim-verdict").inner_text()
    assert f"spans {output['post']['min']:.1e}".replace("e-0", "e-") in shown


# A binary classifier small enough to train in seconds, with histograms at its start and end.
BINARY = "depth=2&width=30&iterations=100&record_every=10&captures=0-100&run=tanh,xavier"
# The centres of the bars in the histograms' output row (the one titled σ(s), the sigmoid's).
OUTPUT_ROW = """el => {
  const titled = ([k, a]) => k.startsWith('yaxis') && a.title?.text === 'output σ(s)';
  const [key] = Object.entries(el.layout).find(titled) ?? [];
  if (!key) return null;
  const axis = 'y' + key.slice(5);
  return el.data.filter(t => t.type === 'bar' && t.yaxis === axis).flatMap(t => Array.from(t.x));
}"""


def test_train_loss_and_digits_fields_train_a_binary_classifier(
    page: Page, live_server: str, watch: Watch
) -> None:
    fields = {f["name"]: f for f in httpx.get(f"{live_server}/api/v1/train/fields", timeout=5).json()}
    link = fresh(BINARY)
    open_page(page, f"{live_server}/train?{link}")
    # no loss in the link: softmax, the default, in grey; no digits to choose
    expect(page.locator("#loss-choice")).to_have_value("")
    expect(page.locator("#loss-choice option:checked")).to_have_text("softmax cross-entropy (default)")
    options = page.locator("#loss-choice option").evaluate_all("os => os.map(o => o.value)")
    assert options == ["", *fields["loss"]["choices"]]
    expect(page.locator("#digits")).to_be_hidden()
    assert page.locator("#query").input_value() == link  # the link as it came
    page.locator("#loss-choice").select_option("bce")
    expect(page.locator("#digits")).to_be_visible()
    expect(page.locator("#digits")).to_have_attribute("placeholder", fields["digits"]["default"])
    assert fields["digits"]["default"] == "0-1"
    page.locator("#digits").fill("4-9")
    page.locator("#digits").dispatch_event("change")
    query = page.locator("#query").input_value()
    assert "loss=bce" in query and "digits=4-9" in query
    train_to_the_end(page)
    # the page trained what the API calls this link's canonical form, and says so in the address bar
    done = httpx.get(f"{live_server}/api/v1/train?{query}", timeout=60)
    assert done.headers["x-cache"] == "hit"  # the page's own training
    share = done.json()["share"]
    assert "loss=bce&digits=4-9" in share
    expect(page.locator("#query")).to_have_value(share)
    assert page.evaluate("() => location.search") == f"?{share}"
    expect(page.locator("#loss-choice")).to_have_value("bce")
    expect(page.locator("#digits")).to_have_value("4-9")
    # the histograms' last row is the output unit's sigmoid: every value in (0, 1)
    expect(page.locator("#capture-label")).to_have_text("100")
    page.wait_for_function(f"() => ({OUTPUT_ROW})(document.getElementById('histograms'))?.length > 0")
    centres: list[float] = page.locator("#histograms").evaluate(OUTPUT_ROW)
    assert all(0 < x < 1 for x in centres), centres
    output = done.json()["runs"][0]["captures"][-1]["layers"][-1]
    assert output["output"] is True and 0 < output["post"]["min"] <= output["post"]["max"] < 1


def test_train_link_with_loss_and_digits_fills_the_fields(page: Page, live_server: str, watch: Watch) -> None:
    watch.expect_error("422")
    open_page(page, f"{live_server}/train?loss=bce&digits=4-9&run=relu,he_normal")
    expect(page.locator("#loss-choice")).to_have_value("bce")
    expect(page.locator("#digits")).to_be_visible()
    expect(page.locator("#digits")).to_have_value("4-9")
    # a bad pair: the API's message names the field
    page.locator("#digits").fill("4-4")
    page.locator("#digits").dispatch_event("change")
    assert "digits=4-4" in page.locator("#query").input_value()
    page.locator("#start").click()
    expect(page.locator("#message")).to_contain_text("digits: must be two different digits")
    assert page.locator("#charts").is_hidden()
    # back to softmax: the digits leave the link with the loss, and their field hides
    page.locator("#loss-choice").select_option("")
    expect(page.locator("#query")).to_have_value("run=relu,he_normal")
    expect(page.locator("#digits")).to_be_hidden()
    # a link of bce without digits: the field shows the default in grey
    open_page(page, f"{live_server}/train?loss=bce&run=relu,he_normal")
    expect(page.locator("#digits")).to_have_value("")
    expect(page.locator("#digits")).to_be_visible()
