// node --test tests/js: the grid split into one plot per run column (static/js/grid-columns.js)
// and merged back: every trace, axis and annotation lands in its run's column, and nothing is lost.
import assert from "node:assert/strict";
import { test } from "node:test";

import { gridFigure } from "../../static/js/figures.js";
import { gridColumns, mergeColumns, planParts, subplotOf } from "../../static/js/grid-columns.js";

const linspace = (lo, hi, n) => [...Array(n + 1).keys()].map((i) => lo + ((hi - lo) * i) / n);

/** One tensor as the API sends it: 30 bins over [0, 1], counts offset by `shift`. */
function tensor(shift, { above = 0 } = {}) {
  const counts = [...Array(30).keys()].map((i) => 100 + i + shift);
  const total = counts.reduce((a, b) => a + b, 0) + above;
  return {
    count: total, mean: 0.5, std: 0.1 + shift / 1000, edges: linspace(0, 1, 30), counts,
    below: 0, above, nan_count: 0, inf_count: 0, saturated_fraction: null, zero_fraction: 0,
  };
}

function run(label, depth, shift, options = {}) {
  const layers = [...Array(depth).keys()].map((j) => ({
    layer: j + 1, units: 100, dead_units: 0, distinct_units: 100,
    post: tensor(shift + j, options), pre: tensor(shift + j, options), theory: { q: 1 },
  }));
  return { label, phase: "critical", theory: { note: "", sigma_w2: Array(depth).fill(2), sigma_b2: 0 }, layers };
}

const result = (runs) => ({ runs, experiment: { depth: 3 } });
const bars = (fig) => fig.data.filter((t) => t.type === "bar");

test("subplot_of_reads_axis_references", () => {
  assert.equal(subplotOf("x"), 1);
  assert.equal(subplotOf("y"), 1);
  assert.equal(subplotOf("x4"), 4);
  assert.equal(subplotOf("y12 domain"), 12);
  assert.equal(subplotOf("paper"), null);
  assert.equal(subplotOf(undefined), null);
});

test("grid_columns_put_each_runs_cells_in_its_own_column", () => {
  const answer = result([run("a", 3, 0), run("b", 3, 50, { above: 7 }), run("c", 3, 100)]);
  const grid = gridFigure(answer, { width: 1200 });
  const columns = gridColumns(grid, 3);
  assert.equal(columns.length, 3);
  columns.forEach((column, c) => {
    // its run's three layers, top to bottom, with the API's counts
    assert.deepEqual(bars(column).map((t) => t.y), answer.runs[c].layers.map((l) => l.post.counts));
    // its own axes only (subplots c + 1, c + 4, c + 7), at the grid's domains
    const axes = Object.keys(column.layout).filter((k) => /^[xy]axis\d*$/.test(k)).sort();
    const ks = [c + 1, c + 4, c + 7];
    const names = ks.flatMap((k) => [`xaxis${k === 1 ? "" : k}`, `yaxis${k === 1 ? "" : k}`]).sort();
    assert.deepEqual(axes, names);
    for (const name of axes) assert.deepEqual(column.layout[name], grid.layout[name]);
    // its annotations: each refers to its subplots, or sits over its domain (the run's title)
    for (const a of column.layout.annotations) {
      const k = subplotOf(a.xref);
      if (k !== null) assert.ok(ks.includes(k), a.text);
      else {
        const [x0, x1] = grid.layout[`xaxis${c === 0 ? "" : c + 1}`].domain;
        assert.ok(x0 <= a.x && a.x <= x1, a.text);
      }
    }
    assert.equal(column.layout.annotations.filter((a) => a.text.startsWith("σ")).length, 3);
    assert.ok(column.layout.annotations.some((a) => a.text === answer.runs[c].label)); // its title
    assert.equal(column.layout.height, grid.layout.height);
    assert.deepEqual(column.layout.margin, grid.layout.margin);
  });
  // only the middle run has values above the range: its notes are in its column only
  assert.deepEqual(columns.map((col) => col.layout.annotations.filter((a) => a.text.endsWith("▸")).length), [0, 3, 0]);
  // the first column paints the paper; the others, laid on top, are transparent
  assert.equal(columns[0].layout.paper_bgcolor, grid.layout.paper_bgcolor);
  assert.equal(columns[1].layout.paper_bgcolor, "rgba(0,0,0,0)");
  assert.equal(columns[2].layout.paper_bgcolor, "rgba(0,0,0,0)");
});

test("merged_columns_are_the_grid_again", () => {
  const answer = result([run("a", 3, 0), run("b", 2, 50), run("c", 3, 100)]); // b lacks layer 3
  const grid = gridFigure(answer, { width: 1200 });
  const merged = mergeColumns(gridColumns(grid, 3));
  assert.deepEqual(merged.data, grid.data); // the grid's traces in the grid's order
  const sorted = (l) => [...l.annotations].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  assert.deepEqual(sorted(merged.layout), sorted(grid.layout));
  const { annotations: _a, ...restMerged } = merged.layout;
  const { annotations: _b, ...restGrid } = grid.layout;
  assert.deepEqual(restMerged, restGrid);
  assert.deepEqual(Object.keys(merged.layout), Object.keys(grid.layout)); // the axes in the grid's order
});

test("a_one_run_grid_is_one_column_and_a_single_figure_merges_to_itself", () => {
  const grid = gridFigure(result([run("a", 3, 0)]), { width: 800 });
  const [only] = gridColumns(grid, 1);
  assert.deepEqual(only.data, grid.data);
  assert.deepEqual(only.layout, grid.layout);
  assert.deepEqual(mergeColumns([grid]), grid);
});

test("plan_parts_draws_only_the_changed_columns_and_the_whole_grid_when_every_one_changed", () => {
  // the first drawing, a seed, a shared setting: every column new, one plot
  assert.deepEqual(planParts(null, false, ["a", "b", "c"]), { whole: true, draw: [0] });
  assert.deepEqual(planParts(["a", "b", "c"], false, ["A", "B", "C"]), { whole: true, draw: [0] });
  assert.deepEqual(planParts(["a", "b", "c"], true, ["A", "B", "C"]), { whole: true, draw: [0] });
  // a slider on one run: its column only
  assert.deepEqual(planParts(["a", "b", "c"], false, ["A", "b", "c"]), { whole: false, draw: [0] });
  assert.deepEqual(planParts(["a", "b", "c"], false, ["a", "b", "C"]), { whole: false, draw: [2] });
  assert.deepEqual(planParts(["a", "b", "c"], false, ["A", "b", "C"]), { whole: false, draw: [0, 2] });
  // from one plot back to columns: every part drawn (the first held the whole grid)
  assert.deepEqual(planParts(["a", "b", "c"], true, ["a", "B", "c"]), { whole: false, draw: [0, 1, 2] });
  // nothing changed: nothing drawn
  assert.deepEqual(planParts(["a", "b", "c"], false, ["a", "b", "c"]), { whole: false, draw: [] });
  // another number of runs: all new
  assert.deepEqual(planParts(["a", "b"], false, ["a", "b", "c"]), { whole: true, draw: [0] });
  // a view's one figure (or one run): drawn when changed, or when the parts held a grid
  assert.deepEqual(planParts(["a"], false, ["A"]), { whole: false, draw: [0] });
  assert.deepEqual(planParts(["a"], false, ["a"]), { whole: false, draw: [] });
  assert.deepEqual(planParts(["a", "b", "c"], true, ["x"]), { whole: false, draw: [0] });
  assert.deepEqual(planParts(null, false, ["x"]), { whole: false, draw: [0] });
});
