// node --test tests/js: rows labelled by layer type (static/js/layers.js) in the grid, overlay and
// ridgeline figures, on synthetic results shaped like the API's.
import assert from "node:assert/strict";
import { test } from "node:test";

import { gridFigure, overlayFigure, ridgelineFigure } from "../../static/js/figures.js";
import { rowLabel, rowLabels, sameRow } from "../../static/js/layers.js";

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
