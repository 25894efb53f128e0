// node --test tests/js: the training page's figures (static/js/train-figures.js), on results
// shaped like the training API's: every chart has a legend naming each run in its colour, and
// grey entries saying what each line style means.
import assert from "node:assert/strict";
import { test } from "node:test";

import { COLORS } from "../../static/js/figures.js";
import {
  accuracyFigure,
  deadFigure,
  histogramsFigure,
  legendHeight,
  lossFigure,
  ratioFigure,
  ridgeFigure,
  smoothingSteps,
} from "../../static/js/train-figures.js";

const histogram = (lo, hi) => ({ edges: [lo, (lo + hi) / 2, hi], counts: [3, 1], std: 0.5 });

/** A run of the API's document: `steps` losses, records every 10 steps, captures at 0 and 20. */
function run(label, { steps = 20, status = "done", layers = 2 } = {}) {
  const recorded = [0, 10, 20].filter((s) => s <= steps);
  return {
    label,
    status,
    steps,
    loss_stride: 1,
    loss: [...Array(steps).keys()].map((i) => 2.3 / (1 + i)),
    loss_smoothed: [...Array(steps).keys()].map((i) => 2.3 / (1 + i / 2)),
    records: {
      step: recorded,
      train_loss: recorded.map(() => 1),
      train_accuracy: recorded.map((s) => s / 40),
      test_loss: recorded.map(() => 1),
      test_accuracy: recorded.map((s) => s / 50),
      dead_fraction: recorded.map(() => Array(layers).fill(0.1)),
      update_ratio: recorded.map((s) => (s === 0 ? [] : Array(layers + 1).fill(-3))),
    },
    captures: [0, 20].map((step) => ({
      step,
      layers: [...Array(layers).keys()].map((j) => ({ layer: j + 1, units: 10, post: histogram(0, 1), grad: histogram(-1, 1) })),
    })),
  };
}

const LABELS = ["relu, N(0, 0.01²)", "relu, Xavier", "relu, He"];
const result = (runs = LABELS.map((label) => run(label))) => ({ share: "x", iterations: 20, steps: 20, smoothing_beta: 0.98, runs });

const FIGURES = {
  loss: (r) => lossFigure(r, { iterations: 20 }),
  accuracy: (r) => accuracyFigure(r, { iterations: 20 }),
  dead: (r) => deadFigure(r, { iterations: 20 }),
  ratio: (r) => ratioFigure(r, { iterations: 20 }),
};

/** The legend's entries: traces plotly lists (showlegend is not false), in order. */
const entries = (figure) => figure.data.filter((t) => t.showlegend !== false);
const runEntries = (figure) => entries(figure).filter((t) => t.legendgroup !== "key");
const keyEntries = (figure) => entries(figure).filter((t) => t.legendgroup === "key");

for (const [name, make] of Object.entries(FIGURES)) {
  test(`${name}Figure_legend_names_every_run_once_in_its_colour`, () => {
    const figure = make(result());
    assert.equal(figure.layout.showlegend, true);
    assert.equal(figure.layout.legend.orientation, "h"); // above the plot, wrapping on a phone
    const runs = runEntries(figure);
    assert.deepEqual(runs.map((t) => t.name), LABELS);
    assert.deepEqual(runs.map((t) => t.line.color), LABELS.map((_, i) => COLORS[i]));
    // Every line of a run is in its legend group (a click on the entry hides them all), in its colour.
    for (const trace of figure.data.filter((t) => t.legendgroup !== "key")) {
      const i = LABELS.indexOf(trace.name);
      assert.ok(i >= 0, trace.name);
      assert.equal(trace.legendgroup, `run${i}`);
      assert.equal((trace.line ?? trace.marker).color, COLORS[i]);
    }
    // The grey entries carry no data: nothing to hover, nothing on the axes.
    for (const trace of keyEntries(figure)) {
      assert.deepEqual([trace.x, trace.y, trace.hoverinfo], [[null], [null], "skip"]);
    }
  });
}

test("lossFigure_legend_says_which_line_is_each_batch_and_which_the_moving_average", () => {
  const figure = lossFigure(result());
  const [raw, smoothed] = figure.data; // the first run's two lines
  assert.deepEqual(keyEntries(figure).map((t) => t.name), ["each batch's loss", "moving average (~50 steps)"]);
  const [rawKey, smoothedKey] = keyEntries(figure);
  // each key entry is drawn as the lines it explains: thin and faint, bold
  assert.equal(rawKey.line.width, raw.line.width);
  assert.ok(rawKey.opacity < 1 && raw.opacity < 1);
  assert.equal(smoothedKey.line.width, smoothed.line.width);
  assert.equal(raw.showlegend, false);
  assert.equal(smoothed.name, LABELS[0]);
});

test("lossFigure_legend_marks_a_diverged_run_only_when_one_diverged", () => {
  const diverged = result([run("relu, He"), run("relu, N(0, 10²)", { steps: 5, status: "diverged" })]);
  const figure = lossFigure(diverged);
  assert.deepEqual(keyEntries(figure).map((t) => t.name).at(-1), "diverged");
  assert.equal(keyEntries(figure).at(-1).marker.symbol, "x");
  assert.ok(!keyEntries(lossFigure(result())).some((t) => t.name === "diverged"));
});

test("accuracyFigure_legend_says_test_is_solid_and_training_samples_dashed", () => {
  const figure = accuracyFigure(result());
  assert.deepEqual(keyEntries(figure).map((t) => [t.name, t.line.dash ?? "solid"]), [
    ["test set", "solid"],
    ["training samples", "dash"],
  ]);
  // the run's entry is its test curve; its training curve is in its group, off the legend
  const lines = figure.data.filter((t) => t.legendgroup === "run0");
  assert.deepEqual(lines.map((t) => [t.line.dash, t.showlegend]), [["dash", false], ["solid", true]]);
});

test("ratioFigure_legend_explains_the_dotted_rule_of_thumb", () => {
  const figure = ratioFigure(result());
  const [rule] = keyEntries(figure);
  assert.equal(rule.name, "−3: the rule of thumb");
  assert.equal(rule.line.dash, figure.layout.shapes[0].line.dash);
  assert.equal(figure.layout.shapes[0].y0, -3);
});

test("legend_entries_escape_the_labels_of_the_link", () => {
  const figure = deadFigure(result([run("<b>mine</b>")]));
  assert.deepEqual(runEntries(figure).map((t) => t.name), ["&lt;b&gt;mine&lt;/b&gt;"]);
});

test("smoothingSteps_is_the_moving_averages_span_from_the_documents_beta", () => {
  assert.equal(smoothingSteps({ smoothing_beta: 0.98 }), 50);
  assert.equal(smoothingSteps({ smoothing_beta: 0.9 }), 10);
  assert.equal(smoothingSteps({}), null); // an older document: the legend says "moving average"
  assert.ok(keyEntries(lossFigure({ ...result(), smoothing_beta: undefined })).some((t) => t.name === "moving average"));
});

test("legendHeight_counts_the_rows_plotly_wraps_the_legend_into", () => {
  const entry = (name) => ({ name });
  assert.equal(legendHeight([entry("relu, He")], 600), 27); // one row
  const five = lossFigure(result()).data; // 3 runs and 2 grey entries
  assert.equal(legendHeight(five, 2000), 27);
  // Not on one row: every entry takes the widest one's width ("moving average (~50 steps)")
  assert.equal(legendHeight(five, 600), 19 * 3 + 8); // two columns
  assert.equal(legendHeight(five, 390), 19 * 5 + 8); // a phone: one column
  assert.equal(legendHeight([entry("&lt;b&gt;"), ...Array(9).fill(entry("abc"))], 10000), 27);
  assert.equal(legendHeight([...five, { name: "hidden", showlegend: false }], 2000), 27);
});

const SIZED = { loss: lossFigure, accuracy: accuracyFigure, dead: deadFigure, ratio: ratioFigure };
for (const [name, figureOf] of Object.entries(SIZED)) {
  test(`${name}Figure_grows_by_its_legend_so_the_plot_keeps_its_height`, () => {
    const plots = [390, 600, 1400].map((width) => {
      const { data, layout } = figureOf(result(), { iterations: 20, width });
      return layout.height - legendHeight(data, width);
    });
    assert.deepEqual(plots, [plots[0], plots[0], plots[0]]);
    const [phone, desk] = [390, 1400].map((width) => figureOf(result(), { width }).layout.height);
    assert.ok(phone > desk, `${phone} > ${desk}`);
  });
}

test("ridgeFigure_has_no_legend_its_columns_are_the_runs", () => {
  assert.equal(ridgeFigure(result(), 1).layout.showlegend, false);
});

test("histogramsFigure_names_a_binary_classifiers_output_row", () => {
  const binary = run("tanh, Xavier");
  for (const capture of binary.captures) {
    capture.layers.push({ layer: 3, units: 1, output: true, post: histogram(0, 1), grad: histogram(-1, 1) });
  }
  const titles = (kind) =>
    Object.entries(histogramsFigure(result([binary]), 20, { kind, width: 800 }).layout)
      .filter(([key]) => key.startsWith("yaxis"))
      .map(([, axis]) => axis.title?.text)
      .filter(Boolean);
  assert.deepEqual(titles("post"), ["layer 1", "layer 2", "output σ(s)"]);
  assert.deepEqual(titles("grad"), ["layer 1", "layer 2", "output dL/ds"]);
  // a softmax training has no output row: its rows are its layers, as always
  assert.deepEqual(
    Object.entries(histogramsFigure(result([run("relu, He")]), 20, { width: 800 }).layout)
      .filter(([key]) => key.startsWith("yaxis"))
      .map(([, axis]) => axis.title?.text)
      .filter(Boolean),
    ["layer 1", "layer 2"],
  );
});

// ---- a BatchNorm training beside a plain one (mnist-batchnorm-std001) -------------------------

const { activationRows, ridgeChoices } = await import("../../static/js/train-figures.js");

/** `run` with BatchNorm before each of its `layers` ReLUs: 2 rows a layer, as the API captures. */
function bnRun(label, layers = 2) {
  const r = run(label, { layers: 2 * layers });
  for (const capture of r.captures) {
    capture.layers.forEach((l, j) => {
      const k = Math.floor(j / 2) + 1;
      Object.assign(l, j % 2 ? { layer_type: "activation", name: `layer ${k} · relu` } : { layer_type: "batch_norm", name: `layer ${k} · batch_norm` });
      if (j % 2 === 0) l.post = histogram(-3, 3); // BatchNorm's rows: values either side of 0
    });
  }
  // norm rows are never dead; the ReLU rows 40%
  r.records.dead_fraction = r.records.step.map(() => [...Array(2 * layers).keys()].map((j) => (j % 2 ? 0.4 : 0)));
  return r;
}
const mixed = () => ({ ...result([bnRun("relu, N(0, 0.01²) · norm batch"), run("relu, N(0, 0.01²)")]), runs: [bnRun("relu, N(0, 0.01²) · norm batch"), { ...run("relu, N(0, 0.01²)"), config: { activation: "relu" } }] });

test("ridgeChoices_offer_the_runs_rows_side_by_side_the_last_first", () => {
  assert.deepEqual(ridgeChoices(mixed()), [
    { value: "3", text: "layer 2 · relu" },
    { value: "2", text: "layer 2 · BatchNorm" },
    { value: "1", text: "layer 1 · relu" },
    { value: "0", text: "layer 1 · BatchNorm" },
  ]);
  // plain runs alone: their layers, named as always
  assert.deepEqual(ridgeChoices(result()).map((c) => c.text), ["layer 2", "layer 1"]);
});

test("ridgeFigure_titles_every_column_in_place_and_a_run_without_the_row_says_so", () => {
  for (const width of [366, 1000]) {
    const fig = ridgeFigure(mixed(), 2, { width }); // layer 2 · BatchNorm: the plain run has none
    const titles = fig.layout.annotations.filter((a) => a.font?.weight === 700);
    assert.equal(titles.length, 2);
    // paper coordinates, each over its own column: the plain run's no longer lands on the first
    assert.ok(titles.every((t) => t.xref === "paper"));
    assert.ok(titles[0].x < 0.5 && titles[1].x > 0.5, titles.map((t) => t.x).join());
    const lines = Math.max(...titles.map((t) => t.text.split("<br>").length));
    assert.ok(fig.layout.margin.t >= 8 + 16 * lines, `${fig.layout.margin.t} for ${lines} lines`);
    const note = fig.layout.annotations.find((a) => a.text.startsWith("no "));
    assert.equal(note.text, "no BatchNorm<br>in this run");
    assert.equal(note.x, titles[1].x);
    assert.ok(fig.data.every((t) => t.xaxis === "x1"), "only the BatchNorm run has ridges in this row");
  }
  // the row both runs have: layer 2's ReLU in the BN run, layer 2 in the plain run
  const both = ridgeFigure(mixed(), 3, { width: 1000 });
  assert.deepEqual([...new Set(both.data.map((t) => t.xaxis))], ["x1", "x2"]);
  assert.ok(both.data.find((t) => t.xaxis === "x2").text.includes("layer 2 · relu"));
  const phone = ridgeFigure(mixed(), 3, { width: 366 }).layout.annotations.find((a) => a.font?.weight === 700);
  assert.equal(phone.text, "relu<br>N(0, 0.01²)<br>norm batch");
});

test("deadFigure_counts_a_batchnorm_runs_activation_rows_only", () => {
  const r = mixed();
  assert.deepEqual(activationRows(r.runs[0]), [1, 3]);
  assert.deepEqual(activationRows(r.runs[1]), [0, 1]);
  const fig = deadFigure(r, { which: "mean" });
  assert.ok(fig.data[0].y.every((v) => Math.abs(v - 0.4) < 1e-12), "the ReLU rows' 40%, not halved by the norm rows' 0");
  assert.deepEqual(deadFigure(r, { which: "1" }).data[0].y, [0.4, 0.4, 0.4]); // layer 2: its ReLU row
});

test("histogramsFigure_pairs_a_plain_layer_with_the_batchnorm_runs_relu_row", () => {
  const fig = histogramsFigure(mixed(), 20, { width: 1000 });
  const titles = Object.entries(fig.layout).filter(([k]) => k.startsWith("yaxis")).map(([, a]) => a.title?.text ?? null);
  assert.deepEqual(titles, ["L1 · BatchNorm", null, "L1 · relu", null, "L2 · BatchNorm", null, "L2 · relu", null]);
  assert.equal(fig.layout.annotations.filter((a) => a.text === "no BatchNorm in this run").length, 2);
});
