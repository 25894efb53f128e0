// node --test tests/js: the ridgeline view (static/js/ridgeline.js) of layer networks: rows paired
// across runs, run titles that fit their columns, and σ labels that do not pile up.
import assert from "node:assert/strict";
import { test } from "node:test";

import { labelledRows, ridgelineFigure, wrapWords } from "../../static/js/ridgeline.js";
import { rowTable } from "../../static/js/layers.js";

const linspace = (lo, hi, n) => [...Array(n + 1).keys()].map((i) => lo + ((hi - lo) * i) / n);
const tensor = (std = 0.5) => ({
  count: 300, mean: 0, std, edges: linspace(-1, 1, 3), counts: [100, 100, 100],
  below: 0, above: 0, nan_count: 0, inf_count: 0, saturated_fraction: null, zero_fraction: 0,
});
const row = (j, type = null, name = null, std = 0.5) => ({
  layer: j + 1, units: 10, dead_units: 0, distinct_units: 10, post: tensor(std), pre: tensor(), grad: tensor(),
  theory: null, weight_grad: null, ...(type ? { layer_type: type, name } : {}),
});
const run = (label, layers) => ({ label, phase: null, theory: { note: "no prediction" }, layers });

/** residual-depth's shape: a stem, then per block its tanh, projection and sum (σ growing). */
function residual(label, blocks) {
  const rows = [row(0, "dense", "stem")];
  for (let b = 1; b <= blocks; b++) {
    rows.push(row(rows.length, "activation", `block ${b} · tanh 1`));
    rows.push(row(rows.length, "dense", `block ${b} · projection`));
    rows.push(row(rows.length, "residual", `block ${b} · x + s F(x)`, Math.sqrt(1 + b)));
  }
  return run(label, rows);
}
const residualDepth = () => ({
  runs: [residual("tanh, Xavier", 50), residual("tanh, Xavier · res init depth", 50), residual("tanh, Xavier · res init rezero", 50)],
});

/** [left, right] in pixels of a centred annotation of `lines` at `size` px (a bold glyph ~0.62 em). */
function span(a, width, size) {
  const { l, r } = a.layout.margin;
  const centre = l + a.note.x * (width - l - r);
  const half = (Math.max(...a.note.text.split("<br>").map((t) => t.length)) * size * 0.62) / 2;
  return [centre - half, centre + half];
}

test("wrapWords_breaks_at_spaces_within_the_width", () => {
  assert.deepEqual(wrapWords("res init depth", 8), ["res init", "depth"]);
  assert.deepEqual(wrapWords("res init depth", 3), ["res", "init", "depth"]);
  assert.deepEqual(wrapWords("Xavier", 20), ["Xavier"]);
});

test("ridgeline_run_titles_fit_their_columns_on_a_phone", () => {
  // residual-depth at 390 px: three titles ran into each other ("res init depth" over its column)
  for (const width of [366, 990, 1400]) {
    const fig = ridgelineFigure(residualDepth(), { width });
    const titles = fig.layout.annotations.filter((a) => a.yref === "paper" && a.xref === "paper" && a.xanchor === "center");
    assert.equal(titles.length, 3);
    const size = titles[0].font.size;
    const spans = titles.map((note) => span({ note, layout: fig.layout }, width, size));
    for (let c = 1; c < spans.length; c++) assert.ok(spans[c - 1][1] < spans[c][0], `${width}px: ${JSON.stringify(spans)}`);
    // the scale's note is above the titles, not over them
    const corner = fig.layout.annotations.find((a) => a.text.startsWith("each ridge"));
    const lines = Math.max(...titles.map((t) => t.text.split("<br>").length));
    assert.ok(corner.yshift >= titles[0].yshift + lines * (size + 3), `${corner.yshift} over ${lines} lines`);
    assert.ok(fig.layout.margin.t >= corner.yshift + 14 * corner.text.split("<br>").length);
  }
  const phone = ridgelineFigure(residualDepth(), { width: 366 }).layout.annotations.find((a) => a.text.includes("rezero"));
  assert.equal(phone.text, "tanh<br>Xavier<br>res init<br>rezero");
});

test("ridgeline_labels_the_blocks_outputs_where_ridges_are_too_close_for_a_label_each", () => {
  const result = residualDepth();
  const fig = ridgelineFigure(result, { width: 1000 });
  const sigmas = fig.layout.annotations.filter((a) => a.text.startsWith("σ") && a.xref === "x1 domain");
  // 151 rows in 900 px: the 50 sums carry the σ, 16 px apart
  assert.equal(sigmas.length, 50);
  const table = rowTable(result);
  assert.ok(sigmas.every((a) => table[-a.y].key.endsWith("|residual")));
  assert.equal(sigmas.at(-1).text, `σ ${Math.sqrt(51).toPrecision(3)}`);
  const corner = fig.layout.annotations.find((a) => a.text.startsWith("each ridge"));
  assert.match(corner.text, /σ of the x \+ s F\(x\) rows \(strong\)/);
  // the rows between them faint, the sums strong
  const sum = fig.data.find((t) => t.name === "block 1 · x + s F(x)");
  const tanh = fig.data.find((t) => t.name === "block 1 · tanh 1");
  assert.ok(sum.fillcolor.endsWith("55") && tanh.fillcolor.endsWith("22"));
  // ticks: the sums, about 30 px apart, named as in the grid
  assert.ok(fig.layout.yaxis.ticktext.every((t) => t.endsWith("x + s F(x)")), fig.layout.yaxis.ticktext.join());
  assert.equal(fig.layout.yaxis.ticktext.at(-1), "B50 · x + s F(x)");
  // a short stack: every ridge labelled, none faint
  const short = ridgelineFigure({ runs: [residual("r", 3)] }, { width: 1000 });
  assert.equal(short.layout.annotations.filter((a) => a.text.startsWith("σ")).length, 10);
  assert.deepEqual(labelledRows(rowTable({ runs: [residual("r", 3)] }), 20, 12), [...Array(10).keys()]);
});

test("ridgeline_pairs_a_plain_runs_ridges_with_the_batchnorm_runs_activation_rows", () => {
  const bn = run("bn", [1, 2, 3].flatMap((k) => [row(0, "batch_norm", `layer ${k} · batch_norm`), row(0, "activation", `layer ${k} · sigmoid`)]));
  const plain = { ...run("plain", [row(0), row(1), row(2)]), config: { activation: "sigmoid" } };
  const fig = ridgelineFigure({ runs: [plain, bn] });
  const base = (t) => Math.min(...t.y) + 0; // + 0: -0 is 0
  assert.deepEqual(fig.data.filter((t) => t.xaxis === "x1").map(base), [-1, -3, -5]); // the plain run's layers 1-3
  assert.deepEqual(fig.data.filter((t) => t.xaxis === "x2").map(base), [0, -1, -2, -3, -4, -5]);
  // one set of ticks names both columns' rows, the BatchNorm rows too
  assert.deepEqual(fig.layout.yaxis.ticktext, ["L1 · BatchNorm", "L1 · sigmoid", "L2 · BatchNorm", "L2 · sigmoid", "L3 · BatchNorm", "L3 · sigmoid"]);
  assert.equal(fig.layout.yaxis2.showticklabels, false);
});

test("a_ridge_spans_the_bins_that_hold_values_not_a_range_shared_with_another_runs_row", () => {
  // bn-deep-relu: a plain ReLU layer binned on a BatchNorm row's range (-15 to 15) drew a long
  // flat line left of 0
  const relu = { ...row(0), post: { ...tensor(), edges: linspace(-15, 15, 6), counts: [0, 0, 0, 40, 10, 0] } };
  const fig = ridgelineFigure({ runs: [run("relu", [relu])] });
  assert.deepEqual([Math.min(...fig.data[0].x), Math.max(...fig.data[0].x)], [0, 10]);
});
