// node --test tests/js: mean field's prediction over a z histogram (static/js/histograms.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { normalCdf, predictedDensity } from "../../static/js/histograms.js";

const tensor = (edges, count) => ({ edges, counts: edges.slice(1).map(() => 0), count });

test("normalCdf matches known values", () => {
  for (const [x, p] of [[0, 0.5], [1, 0.841344746], [-1, 0.158655254], [1.96, 0.975002105], [-3, 0.001349898]]) {
    assert.ok(Math.abs(normalCdf(x) - p) < 2e-7, `${x}: ${normalCdf(x)}`);
  }
});

test("wide bins get the counts N(0, q) predicts per bin, never above what a bin can hold", () => {
  // saito-compare's z of sigmoid Xavier over the shared +-40 range: bins 2.7 wide, sd about 1
  const edges = [...Array(31).keys()].map((i) => -40 + (80 * i) / 30);
  const { x, y, shape } = predictedDensity(tensor(edges, 100000), 1);
  assert.equal(shape, "hv");
  assert.deepEqual(x, edges);
  const perBin = y.slice(0, -1);
  const sum = perBin.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 100000) < 1, `sum ${sum}`);
  // the bin [0, 2.67] holds P(0 < z < 2.67) of the values, 49.6%, not the
  // 100000 * 2.67 * 0.399 = 106k a point density would draw at its left edge
  assert.ok(Math.max(...perBin) < 49700 && Math.max(...perBin) > 49500, `${Math.max(...perBin)}`);
});

test("narrow bins draw the smooth density times the bin width", () => {
  const edges = [...Array(31).keys()].map((i) => -3 + (6 * i) / 30); // 0.2 wide, sd 1
  const { x, y, shape } = predictedDensity(tensor(edges, 1000), 1);
  assert.equal(shape, "spline");
  const peak = y[x.findIndex((v) => Math.abs(v) < 1e-9)];
  assert.ok(Math.abs(peak - (1000 * 0.2) / Math.sqrt(2 * Math.PI)) < 1e-6);
});

test("the prediction covers every finite value, those beyond an explicit range too", () => {
  // count is the finite values; the bars hold only those inside [0, 1]
  const edges = [...Array(11).keys()].map((i) => i / 10);
  const { y } = predictedDensity(tensor(edges, 1000), 4); // sd 2: bins 0.1 wide are narrow
  const inRange = (normalCdf(0.5) - normalCdf(0)) * 1000;
  const approx = y.reduce((a, b) => a + b, 0) * (1 / 120) / 0.1;
  assert.ok(Math.abs(approx - inRange) / inRange < 0.01, `${approx} vs ${inRange}`);
});

test("the overlay says when runs have the very same histogram", async () => {
  const { coincidingRuns } = await import("../../static/js/histograms.js");
  const t = (counts) => ({ post: { edges: [0, 1, 2], counts } });
  const runs = [{ layers: [t([5, 0])] }, { layers: [t([5, 0])] }, { layers: [t([4, 1])] }, { layers: [t([5, 0])] }];
  assert.equal(coincidingRuns(runs, 0, "post"), "runs 1, 2 and 4 coincide (one outline hides the other)");
  assert.equal(coincidingRuns(runs.slice(1, 3), 0, "post"), null);
  assert.equal(coincidingRuns(runs, 1, "post"), null); // no such layer
});

test("a_statistics_line_too_long_for_its_column_breaks_at_its_separators_into_as_few_lines_as_fit", async () => {
  const { fitsColumn, wrapToColumn } = await import("../../static/js/histograms.js");
  // three runs at 390 px: a column of ~117 px at 9 px type holds ~23 characters
  const px = (0.9 * 390) / 3;
  const line = "σ 0.916 · dead 3 · distinct 98";
  assert.equal(fitsColumn(line, 9, px), false);
  assert.equal(wrapToColumn(line, 9, px), "σ 0.916 · dead 3<br>distinct 98");
  for (const part of wrapToColumn(line, 9, px).split("<br>")) assert.ok(fitsColumn(part, 9, px), part);
  assert.equal(wrapToColumn("σ 0.822", 9, px), "σ 0.822"); // one that fits stays one line
  assert.equal(wrapToColumn("σ 0.822 · sat 72%", 9, px), "σ 0.822 · sat 72%");
  // a part longer than the column on its own is a line of its own (nothing is dropped)
  assert.equal(wrapToColumn("σ 0.5 · 12% not finite and more text", 9, 40), "σ 0.5<br>12% not finite and more text");
});
