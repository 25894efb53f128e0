// node --test tests/js: which tick labels the histogram figures let plotly draw without its check
// for labels past the figure's edge (static/js/histograms.js): only those that can reach it keep it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { gridFigure, overlayFigure } from "../../static/js/histograms.js";

const edges = [...Array(31).keys()].map((i) => i / 30);
const tensor = () => ({ count: 300, mean: 0.5, std: 0.29, edges, counts: Array(30).fill(10), below: 0, above: 0,
  nan_count: 0, inf_count: 0, saturated_fraction: 0, zero_fraction: 0 });
const layer = (j) => ({ layer: j, units: 100, dead_units: 0, distinct_units: 100, post: tensor(), pre: tensor(), theory: null });
const run = (label) => ({ label, theory: { note: "" }, layers: [1, 2, 3, 4, 5].map(layer) });
const result = { runs: ["a", "b", "c"].map(run) };

/** Each axis of the figure: its kind, its subplot's column (0 = left) and its overflow setting. */
function axes(fig, columns) {
  return Object.entries(fig.layout)
    .filter(([key]) => /^[xy]axis\d*$/.test(key))
    .map(([key, axis]) => {
      const k = Number(key.slice(5) || 1);
      return { kind: key[0], column: (k - 1) % columns, overflow: axis.ticklabeloverflow };
    });
}

test("the grid checks only its last column's value labels against the right edge", () => {
  for (const width of [1440, 390]) {
    const all = axes(gridFigure(result, { width }), 3);
    assert.equal(all.length, 30);
    for (const { kind, column, overflow } of all) {
      // count labels sit left of their plot (in the margin or between columns); value labels
      // below it: only the right end of the last column can pass the figure's edge
      const expected = kind === "x" && column === 2 ? undefined : "allow";
      assert.equal(overflow, expected, `${kind} axis of column ${column} at ${width} px`);
    }
  }
});

test("the overlay's two columns: the right one keeps the check on its value labels", () => {
  const all = axes(overlayFigure(result, {}), 2); // 5 rows shown in two columns
  assert.equal(all.length, 10);
  for (const { kind, column, overflow } of all) {
    assert.equal(overflow, kind === "x" && column === 1 ? undefined : "allow", `${kind} axis of column ${column}`);
  }
});
