// node --test tests/js: rows labelled by layer type (static/js/layers.js) in the grid, overlay and
// ridgeline figures, on synthetic results shaped like the API's.
import assert from "node:assert/strict";
import { test } from "node:test";

import { gridFigure, overlayFigure, ridgelineFigure } from "../../static/js/figures.js";
import { firstOutputRow, rowLabel, rowLabels, sameRow } from "../../static/js/layers.js";

const linspace = (lo, hi, n) => [...Array(n + 1).keys()].map((i) => lo + ((hi - lo) * i) / n);
const tensor = () => ({
  count: 300, mean: 0, std: 0.5, edges: linspace(-1, 1, 3), counts: [100, 100, 100],
  below: 0, above: 0, nan_count: 0, inf_count: 0, saturated_fraction: null, zero_fraction: 0,
});
const row = (j, type = null, name = null) => ({
  layer: j + 1, units: 10, dead_units: 0, distinct_units: 10, post: tensor(), pre: tensor(), grad: tensor(),
  theory: null, weight_grad: null, ...(type ? { layer_type: type, name } : {}),
});
const run = (label, layers) => ({ label, phase: null, theory: { note: "no prediction" }, layers });

const bn = run("bn", [row(0, "batch_norm", "layer 1 · batch_norm"), row(1, "activation", "layer 1 · sigmoid")]);
const ln = run("ln", [row(0, "layer_norm", "layer 1 · layer_norm"), row(1, "activation", "layer 1 · sigmoid")]);
const plain = run("plain", [row(0), row(1)]);

test("rowLabel_names_a_plain_layer_by_its_number_and_a_layer_networks_row_by_place_and_type", () => {
  assert.equal(rowLabel(plain.layers[1], 1), "layer 2");
  assert.equal(rowLabel(bn.layers[0], 0), "layer 1<br>BatchNorm");
  assert.equal(rowLabel(bn.layers[0], 0, { oneLine: true }), "layer 1 · BatchNorm");
  assert.equal(rowLabel(row(0, "rms_norm", "block 3 · rms_norm (pre)"), 0), "block 3<br>RMSNorm (pre)");
  assert.equal(rowLabel(row(0, "dense", "stem"), 0), "stem");
  assert.equal(rowLabel(undefined, 4), "layer 5");
});

test("sameRow_tells_rows_of_different_types_apart", () => {
  const both = { runs: [bn, ln] };
  assert.equal(sameRow(rowLabels(both, 0)), false);
  assert.equal(sameRow(rowLabels(both, 1)), true);
  assert.equal(sameRow(rowLabels({ runs: [bn, run("short", [row(0, "batch_norm", "layer 1 · batch_norm")])] }, 1)), true);
});

test("gridFigure_labels_rows_by_layer_type_and_each_cell_where_the_columns_differ", () => {
  const titles = (fig) => Object.entries(fig.layout).filter(([k]) => k.startsWith("yaxis")).map(([, a]) => a.title?.text ?? null);
  assert.deepEqual(titles(gridFigure({ runs: [bn, bn] })), ["L1 · BatchNorm", null, "L1 · sigmoid", null]);
  assert.deepEqual(titles(gridFigure({ runs: [bn, ln] })), ["L1 · BatchNorm", "L1 · LayerNorm", "L1 · sigmoid", null]);
  assert.deepEqual(titles(gridFigure({ runs: [plain] })), ["layer 1", "layer 2"]);
});

test("overlay_and_ridgeline_name_the_rows_by_type_too", () => {
  const overlay = overlayFigure({ runs: [bn, ln] }).layout.annotations.map((a) => a.text);
  assert.ok(overlay.includes("layer 1 · BatchNorm | layer 1 · LayerNorm"), overlay.join("; "));
  assert.ok(overlay.includes("layer 1 · sigmoid"));
  const ridge = ridgelineFigure({ runs: [bn, ln] }).layout;
  assert.deepEqual(ridge.yaxis.ticktext, ["L1 · BatchNorm", "L1 · sigmoid"]);
  assert.deepEqual(ridge.yaxis2.ticktext, ["L1 · LayerNorm", "L1 · sigmoid"]);
  assert.equal(ridge.yaxis2.showticklabels, true); // the columns' rows differ: each is labelled
  assert.equal(ridgelineFigure({ runs: [bn, bn] }).layout.yaxis2.showticklabels, false);
});

test("a_phones_narrow_columns_get_one_short_line", () => {
  assert.equal(rowLabel(row(0, "layer_norm", "block 12 · layer_norm (pre)"), 0, { short: true }), "B12 · LayerNorm (pre)");
  assert.equal(rowLabel(bn.layers[0], 0, { short: true }), "L1 · BatchNorm");
  const narrow = gridFigure({ runs: [bn, ln] }, { width: 390 }).layout;
  assert.equal(narrow.yaxis.title.text, "L1 · BatchNorm");
});

test("phase_diagrams_leave_out_layer_networks_whose_map_is_not_the_plain_stacks", async () => {
  const { phaseGroups, layerNetwork } = await import("../../static/js/phase-panel.js");
  const withTheory = (r, activation) => ({ ...r, config: { activation }, theory: { note: "", sigma_w2: [2, 2] } });
  const plainRun = withTheory(plain, "relu");
  const lnRun = withTheory(ln, "sigmoid");
  assert.equal(layerNetwork(lnRun), true);
  assert.equal(layerNetwork(plainRun), false);
  const groups = phaseGroups([plainRun, lnRun]);
  assert.deepEqual(groups.map((g) => g.activation), ["relu"]);
});

// ---- rows of runs side by side (rowTable) ------------------------------------------------------

const { layerChoices, layerRows, lastLayers, missingRow, rowCount, rowKeys, rowLayer, rowTable } = await import("../../static/js/layers.js");

/** A plain-stack layer network of `depth` layers: a norm before (or after) each activation. */
const normed = (label, depth, { norm = "batch_norm", at = "before", act = "sigmoid" } = {}) => {
  const rows = [];
  for (let k = 1; k <= depth; k++) {
    const pair = [[norm, `layer ${k} · ${norm}`], ["activation", `layer ${k} · ${act}`]];
    for (const [type, name] of at === "before" ? pair : pair.reverse()) rows.push(row(rows.length, type, name));
  }
  return run(label, rows);
};
const plainOf = (label, depth) => ({ ...run(label, [...Array(depth).keys()].map((j) => row(j))), config: { activation: "sigmoid" } });
/** A residual stack: a stem, then per block [pre-norm], activation, projection, sum, [post-norm]. */
const residual = (label, blocks, at = null) => {
  const rows = [row(0, "dense", "stem")];
  for (let b = 1; b <= blocks; b++) {
    if (at === "pre") rows.push(row(rows.length, "layer_norm", `block ${b} · layer_norm (pre)`));
    rows.push(row(rows.length, "activation", `block ${b} · relu 1`));
    rows.push(row(rows.length, "dense", `block ${b} · projection`));
    rows.push(row(rows.length, "residual", `block ${b} · x + s F(x)`));
    if (at === "post") rows.push(row(rows.length, "layer_norm", `block ${b} · layer_norm (post)`));
  }
  if (at === "pre") rows.push(row(rows.length, "layer_norm", "final · layer_norm"));
  return run(label, rows);
};

test("rowTable_pairs_a_plain_layer_with_the_batchnorm_networks_activation_of_the_same_layer", () => {
  // bn-sigmoid: the plain run's layer 2 must sit beside "L2 · sigmoid", not "L1 · sigmoid"
  const result = { runs: [plainOf("plain", 5), normed("bn", 5)] };
  const table = rowTable(result);
  assert.equal(rowCount(result), 10);
  assert.deepEqual(table.map((r) => r.cells), [[null, 0], [0, 1], [null, 2], [1, 3], [null, 4], [2, 5], [null, 6], [3, 7], [null, 8], [4, 9]]);
  assert.deepEqual(rowLabels(result, 3, { short: true }), ["L2 · sigmoid", "L2 · sigmoid"]); // the plain row says its activation
  assert.deepEqual(rowLabels(result, 2, { short: true }), [null, "L2 · BatchNorm"]);
  assert.equal(missingRow(result, 2, 0), "BatchNorm");
  assert.equal(missingRow(result, 3, 0), null);
  assert.equal(rowLayer(result, 3, 0), result.runs[0].layers[1]);
  assert.deepEqual(lastLayers(result), [9]);
});

test("rowTable_keeps_plain_stacks_alone_as_they_always_were", () => {
  const result = { runs: [plain, run("deeper", [row(0), row(1), row(2)])] };
  assert.deepEqual(rowTable(result).map((r) => r.cells), [[0, 0], [1, 1], [null, 2]]);
  assert.deepEqual(rowLabels(result, 1), ["layer 2", "layer 2"]);
  assert.equal(missingRow(result, 2, 0), null); // a shallower run ends: no "no ..." note
  assert.deepEqual(lastLayers(result), [1, 2]);
});

test("rowTable_tells_a_norm_before_the_activation_from_one_after_it_and_pre_from_post_norm", () => {
  const placed = { runs: [normed("before", 2), normed("after", 2, { at: "after" })] };
  assert.deepEqual(rowKeys(placed.runs[1]), ["1|act", "1|norm after", "2|act", "2|norm after"]);
  assert.deepEqual(rowTable(placed).map((r) => r.cells), [[0, null], [1, 0], [null, 1], [2, null], [3, 2], [null, 3]]);
  const residuals = { runs: [residual("post", 2, "post"), residual("pre", 2, "pre")] };
  const keys = rowTable(residuals).map((r) => r.key);
  assert.deepEqual(keys, [
    "stem|dense stem", "1|norm (pre)", "1|act", "1|dense projection", "1|residual", "1|norm (post)",
    "2|norm (pre)", "2|act", "2|dense projection", "2|residual", "2|norm (post)", "final|norm before",
  ]);
  assert.equal(missingRow(residuals, 1, 0), "LayerNorm (pre)");
  assert.equal(missingRow(residuals, 10, 1), "LayerNorm (post)");
  assert.deepEqual(lastLayers(residuals), [10, 11]);
});

test("rowTable_pairs_a_plain_layer_with_a_residual_blocks_activation", () => {
  const result = { runs: [plainOf("plain", 2), residual("res", 2)] };
  const table = rowTable(result);
  assert.deepEqual(table.map((r) => r.cells), [[null, 0], [0, 1], [null, 2], [null, 3], [1, 4], [null, 5], [null, 6]]);
  assert.deepEqual(rowLabels(result, 4, { short: true }), ["L2 · sigmoid", "B2 · relu 1"]);
});

test("layerChoices_offer_a_layer_networks_recurring_rows_and_layerRows_draws_them", () => {
  const result = { runs: [residual("post", 12, "post"), residual("pre", 12, "pre")] };
  const n = rowCount(result);
  assert.equal(n, 62);
  const choices = layerChoices(n, 10, result);
  assert.deepEqual(choices.slice(0, 6).map((c) => [c.value, c.text]), [
    ["auto", "x + s F(x) rows"], ["every", "one row in 7"], ["rows-norm (pre)", "LayerNorm (pre) rows"],
    ["rows-act", "relu 1 rows"], ["rows-dense projection", "projection rows"], ["rows-norm (post)", "LayerNorm (post) rows"],
  ]);
  // by default a deep layer network shows its blocks' outputs, not a mix of stems, norms and sums
  const auto = layerRows(n, "auto", 10, lastLayers(result), result);
  assert.deepEqual(auto.map((i) => rowLabels(result, i, { short: true })[0]), [...Array(12).keys()].map((b) => `B${b + 1} · x + s F(x)`));
  assert.equal(layerRows(n, "every", 10, lastLayers(result), result).length, 10);
  assert.ok(choices.at(-1).text.startsWith("rows 61"));
  const rows = layerRows(n, "rows-dense projection", 10, lastLayers(result), result);
  assert.equal(rows.length, 12); // each of the 12 blocks' projections
  assert.ok(rows.every((i) => rowLabels(result, i, { short: true }).every((l) => l.endsWith("projection"))));
  // 50 of a role: every fifth from the first, and the last
  const deep = { runs: [normed("bn", 50, { act: "relu" }), plainOf("plain", 50)] };
  const bn = layerRows(rowCount(deep), "rows-norm before", 10, lastLayers(deep), deep);
  assert.deepEqual(bn.map((i) => rowLabels(deep, i, { short: true })[0]), [1, 6, 11, 16, 21, 26, 31, 36, 41, 46, 50].map((k) => `L${k} · BatchNorm`));
  // a deep BatchNorm stack beside a plain one: by default every k-th layer, its BatchNorm and
  // ReLU rows, the plain run's layer beside the ReLU row
  const layers = layerRows(rowCount(deep), "auto", 10, lastLayers(deep), deep);
  assert.deepEqual(layers.map((i) => rowLabels(deep, i, { short: true })[0]), [1, 14, 27, 40, 50].flatMap((k) => [`L${k} · BatchNorm`, `L${k} · relu`]));
  assert.deepEqual(layers.map((i) => rowTable(deep)[i].cells[1] !== null), Array(5).fill([false, true]).flat());
  assert.equal(layerChoices(rowCount(deep), 10, deep)[0].text, "5 of 50 layers, all their rows");
  // plain stacks: the menu as always
  assert.deepEqual(layerChoices(20, 10, { runs: [plainOf("p", 20)] }).map((c) => c.text), ["one layer in 3", "layers 1–10", "layers 11–20"]);
});

test("gridFigure_pairs_rows_and_says_what_a_run_lacks", () => {
  const result = { runs: [plainOf("plain", 2), normed("bn", 2)] };
  const fig = gridFigure(result);
  const titles = Object.entries(fig.layout).filter(([k]) => k.startsWith("yaxis")).map(([, a]) => a.title?.text ?? null);
  assert.deepEqual(titles, [null, "L1 · BatchNorm", "L1 · sigmoid", null, null, "L2 · BatchNorm", "L2 · sigmoid", null]);
  const notes = fig.layout.annotations.filter((a) => a.text.startsWith("no "));
  assert.deepEqual(notes.map((a) => a.text), ["no BatchNorm in this run", "no BatchNorm in this run"]);
  // each note sits in the middle of the empty cell (column 1 of rows 1 and 3)
  assert.ok(notes.every((a) => a.xref === "paper" && Math.abs(a.x - (fig.layout.xaxis.domain[0] + fig.layout.xaxis.domain[1]) / 2) < 1e-9));
  assert.deepEqual(notes.map((a) => Math.abs(a.y - (fig.layout.yaxis.domain[0] + fig.layout.yaxis.domain[1]) / 2) < 1e-9), [true, false]);
  // the bars of the plain run's layer 2 are in row 4 (cell 7), beside L2 · sigmoid (cell 8)
  const bars = fig.data.filter((t) => t.type === "bar").map((t) => t.xaxis);
  assert.deepEqual(bars, ["x2", "x3", "x4", "x6", "x7", "x8"]);
});

test("overlayFigure_names_every_run_in_its_legend_though_row_1_is_one_runs_only", () => {
  const fig = overlayFigure({ runs: [plainOf("plain", 2), normed("bn", 2)] });
  const named = fig.data.filter((t) => t.showlegend);
  assert.deepEqual(named.map((t) => [t.name, t.legendrank]), [["bn", 2], ["plain", 1]]);
});

test("firstOutputRow_is_a_layer_networks_first_activation_not_its_norm", () => {
  assert.equal(firstOutputRow({ runs: [plain] }), 0);
  assert.equal(firstOutputRow({ runs: [bn] }), 1); // L1 · sigmoid, after L1 · BatchNorm
  assert.equal(firstOutputRow({ runs: [plain, bn] }), 1); // the paired row of plain layer 1 and the sigmoid
});
