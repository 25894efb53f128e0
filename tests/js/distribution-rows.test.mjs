// node --test tests/js: the distribution view over a layer network's rows (static/js/distribution.js):
// each run's rows stand at their row of the answer's table, as the grid pairs them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { BANDS, distributionFigure } from "../../static/js/distribution.js";

const KEYS = ["0", "6.68", "15.87", "30.85", "50", "69.15", "84.13", "93.32", "100"];
const percentiles = (m) => Object.fromEntries(KEYS.map((k, i) => [k, m + i - 4]));
const row = (j, m, type = null, name = null) => ({
  layer: j + 1, activation: type === "batch_norm" ? "batch_norm" : "sigmoid", post: { percentiles: percentiles(m) },
  ...(type ? { layer_type: type, name } : {}),
});
const bn = {
  label: "BN",
  config: { activation: "sigmoid" },
  layers: [
    row(0, 10, "batch_norm", "layer 1 · batch_norm"), row(1, 20, "activation", "layer 1 · sigmoid"),
    row(2, 30, "batch_norm", "layer 2 · batch_norm"), row(3, 40, "activation", "layer 2 · sigmoid"),
  ],
};
const plain = { label: "plain", config: { activation: "sigmoid" }, layers: [row(0, 21), row(1, 41)] };
const rows = [
  { key: "1|norm before", cells: [0, null] },
  { key: "1|act", cells: [1, 0] },
  { key: "2|norm before", cells: [2, null] },
  { key: "2|act", cells: [3, 1] },
];

const median = (data, k) => data.filter((t) => t.xaxis === `x${k}`).at(-1);

test("distribution_rows_stand_at_their_rows_of_the_table_as_the_grid_pairs_them", () => {
  const { data, layout } = distributionFigure({ runs: [bn, plain], rows }, { kind: "post" });
  assert.equal(data.length, 2 * (2 * BANDS.length + 1));
  // the layers' outputs (their activation rows), where the grid pairs them: not the norm rows
  assert.deepEqual(median(data, 1).x, [2, 4]);
  assert.deepEqual(median(data, 1).y, [20, 40]);
  assert.deepEqual(median(data, 2).x, [2, 4]); // the plain layers beside the BN run's sigmoid rows
  assert.deepEqual(median(data, 2).y, [21, 41]);
  assert.deepEqual(median(data, 2).text, ["layer 1 · sigmoid", "layer 2 · sigmoid"]);
  assert.deepEqual(median(data, 1).text, ["layer 1 · sigmoid", "layer 2 · sigmoid"]);
  assert.ok(median(data, 1).hovertemplate.startsWith("%{text}: median"));
  const bands = data.filter((t) => t.xaxis === "x1" && t.fill === "tonexty");
  assert.deepEqual(bands.map((t) => t.y), BANDS.map(([low]) => [20, 40].map((m) => percentiles(m)[low])));
  for (const axis of [layout.xaxis, layout.xaxis2]) {
    assert.deepEqual(axis.range, [0.5, 4.5]);
    assert.deepEqual(axis.tickvals, [2, 4]); // the layers' numbers at their activation rows
    assert.deepEqual(axis.ticktext, ["1", "2"]);
    assert.equal(axis.title.text, "layer (its activation)");
  }
});

test("distribution_of_plain_stacks_keeps_every_layer_at_its_number", () => {
  const { data, layout } = distributionFigure({ runs: [plain, plain] }, { kind: "post" });
  assert.deepEqual(median(data, 1).x, [1, 2]);
  assert.equal(median(data, 1).text, undefined);
  assert.equal(layout.xaxis.title.text, "layer");
  assert.equal(layout.xaxis.tickvals, undefined);
});

test("distribution_rows_follow_the_answers_table_not_a_merge_of_their_own", () => {
  // an answer whose table puts the plain run's layers on the norm rows: the figure draws that
  const odd = rows.map((r) => ({ ...r, cells: [r.cells[0], r.key.endsWith("norm before") ? Number(r.key[0]) - 1 : null] }));
  const { data } = distributionFigure({ runs: [bn, plain], rows: odd }, { kind: "post" });
  assert.deepEqual(median(data, 2).x, [1, 3]);
  assert.deepEqual(median(data, 1).x, [2, 4]);
});

test("distribution_of_residual_blocks_ticks_the_blocks_sums", () => {
  const r = (j, type, name) => ({ layer: j + 1, post: { percentiles: percentiles(j) }, layer_type: type, name, activation: type });
  const res = {
    label: "res",
    layers: [r(0, "dense", "stem"), r(1, "activation", "block 1 · relu 1"), r(2, "dense", "block 1 · projection"), r(3, "residual", "block 1 · x + s F(x)"),
      r(4, "activation", "block 2 · relu 1"), r(5, "dense", "block 2 · projection"), r(6, "residual", "block 2 · x + s F(x)")],
  };
  const { data, layout } = distributionFigure({ runs: [res] }, { kind: "post" }); // no table given: merged
  assert.deepEqual(median(data, 1).x, [4, 7]);
  assert.deepEqual(median(data, 1).y, [3, 6]);
  assert.equal(layout.xaxis.title.text, "block (its sum x + s F(x))");
  assert.deepEqual(layout.xaxis.tickvals, [4, 7]);
  assert.deepEqual(layout.xaxis.ticktext, ["1", "2"]);
});
