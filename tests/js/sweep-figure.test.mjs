// node --test tests/js: the sweep page's grid, figures and words.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  DIVERGING,
  colorAt,
  criticalLine,
  crossesCritical,
  dashboardHref,
  gridOf,
  heatmapFigure,
  isLog,
  lineFigure,
  pointHref,
  progressText,
  runCount,
  scalarMetrics,
  symmetricRange,
  valueRange,
} from "../../static/js/sweep-figure.js";

const AX = { name: "gain", field: "gain", run: null, text: "0.5:1.5:lin:3", values: [0.5, 1, 1.5] };
const AY = { name: "bias_std", field: "bias_std", run: null, text: "0,1", values: [0, 1] };
const METRIC = { name: "log10_chi_measured", per_layer: false, doc: "" };

/** Points as the stream sends them, the metric at (i, j) = i - 1 + j / 10, theory = i - 1. */
function points(skip = []) {
  const out = new Map();
  let index = 0;
  AX.values.forEach((x, i) =>
    AY.values.forEach((y, j) => {
      if (!skip.includes(index)) {
        out.set(index, {
          index,
          link: `run=tanh,xavier,gain:${x}&bias_std=${y}`,
          values: { gain: x, bias_std: y },
          runs: [{ log10_chi_measured: i - 1 + j / 10, log10_chi_star: i - 1, std_ratio: 2 }],
          error: null,
        });
      }
      index++;
    }),
  );
  return out;
}

test("gridOf puts each point at its axes' values, rows along the second axis", () => {
  const grid = gridOf([AX, AY], points(), "log10_chi_measured");
  assert.deepEqual(grid.x, [0.5, 1, 1.5]);
  assert.deepEqual(grid.y, [0, 1]);
  assert.deepEqual(grid.z, [[-1, 0, 1], [-0.9, 0.1, 1.1]]);
  assert.equal(grid.links[1][2], "run=tanh,xavier,gain:1.5&bias_std=1");
  assert.deepEqual(grid.theory, [[-1, 0, 1], [-1, 0, 1]]);
});

test("cells not done yet are null, and a third axis is held at its chosen value", () => {
  const grid = gridOf([AX, AY], points([0, 5]), "log10_chi_measured");
  assert.equal(grid.z[0][0], null);
  assert.equal(grid.z[1][2], null);
  const AZ = { name: "seed", values: [0, 1], text: "0,1" };
  const withSeed = new Map([...points()].map(([k, p]) => [k, { ...p, values: { ...p.values, seed: k % 2 } }]));
  const held = gridOf([AX, AY, AZ], withSeed, "log10_chi_measured", 0, { seed: 1 });
  const count = held.z.flat().filter((v) => v !== null).length;
  assert.equal(count, [...withSeed.values()].filter((p) => p.values.seed === 1).length);
});

test("the critical line crosses each row where the theory changes sign, interpolated", () => {
  assert.deepEqual(criticalLine([[-1, 1, 3], [-3, -1, 1]]), { x: [0.5, 1.5], y: [0, 1] });
  assert.deepEqual(criticalLine([[-1, null, 3], [2, 3, 4]]), { x: [0.5, null], y: [0, null] });
  assert.equal(criticalLine([[1, 2], [3, 4]]), null);
  assert.equal(crossesCritical([[1, 2]]), false);
  assert.equal(crossesCritical([[-1, 2]]), true);
});

test("heatmap: a square cell per finished point, the key and the theory's line", () => {
  const grid = gridOf([AX, AY], points([3]), "log10_chi_measured");
  const { data, layout } = heatmapFigure(grid, [AX, AY], METRIC, { width: 600 });
  const cells = data[0];
  assert.equal(cells.x.length, 5); // six points, one not done
  assert.deepEqual(cells.customdata[0], ["run=tanh,xavier,gain:0.5&bias_std=0", "0.5", "0"]);
  assert.deepEqual([cells.marker.cmin, cells.marker.cmax], [-1.1, 1.1]); // symmetric about 0
  assert.equal(cells.marker.showscale, false);
  const cell = cells.marker.size - 1;
  assert.equal(layout.width - layout.margin.l - layout.margin.r, Math.round(cell * 3));
  assert.equal(layout.height - layout.margin.t - layout.margin.b, Math.round(cell * 2));
  assert.equal(data[1].name, "theory: chi = 1");
  assert.deepEqual(data[1].x, [1, 1]);
  assert.ok(layout.shapes.length >= 10); // the colour key's bands
  assert.deepEqual(layout.xaxis.ticktext, ["0.5", "1", "1.5"]);
  const off = heatmapFigure(grid, [AX, AY], METRIC, { critical: false });
  assert.equal(off.data.length, 1);
});

test("a finished cell without a value is a cross saying why, not a blank like a running one", () => {
  const pts = points([3]);
  pts.get(0).runs[0].log10_chi_measured = null;
  pts.get(0).runs[0].diverged = 1;
  pts.get(1).runs = [];
  pts.get(1).error = "over a limit";
  pts.get(2).runs[0].log10_chi_measured = null;
  const grid = gridOf([AX, AY], pts, "log10_chi_measured");
  assert.deepEqual(grid.why, [
    ["diverged", "no value", null],
    ["failed", null, null],
  ]);
  const { data } = heatmapFigure(grid, [AX, AY], METRIC, { width: 600 });
  assert.equal(data[0].x.length, 2); // the two cells with a value
  const crosses = data.find((t) => t.name === "no value: diverged or failed");
  assert.deepEqual(crosses.x, [0, 1, 0]);
  assert.deepEqual(crosses.y, [0, 0, 1]);
  assert.deepEqual(
    crosses.customdata.map((c) => c[3]),
    ["diverged", "no value", "failed"],
  );
  assert.equal(crosses.customdata[0][0], pts.get(0).link);
  // point 3 is still running: neither a cell nor a cross
  assert.ok(!crosses.customdata.some((c) => c[0] === pts.get(3)?.link));
});

test("a sequential metric's colours span its own range", () => {
  const grid = gridOf([AX, AY], points(), "std_ratio");
  const { data } = heatmapFigure(grid, [AX, AY], { name: "std_ratio" });
  assert.deepEqual([data[0].marker.cmin, data[0].marker.cmax], [1.5, 2.5]); // one value, widened
  assert.deepEqual(valueRange([[1, null], [3, 2]]), [1, 3]);
  assert.deepEqual(symmetricRange([[1e30, -0.5]]), [-2, 2]); // one explosion does not wash out the rest
});

test("lines: one per run, a log value axis for positive spreads", () => {
  const ax = { name: "std", text: "0.01:1:log:3", values: [0.01, 0.1, 1] };
  const pts = new Map(
    ax.values.map((v, i) => [i, { index: i, link: `s${i}`, values: { std: v }, runs: [{ std_ratio: v }, { std_ratio: 2 * v }] }]),
  );
  assert.equal(runCount(pts), 2);
  const { data, layout } = lineFigure([ax], pts, { name: "std_ratio" }, 2);
  assert.equal(data.length, 2);
  assert.deepEqual(data[1].y, [0.02, 0.2, 2]);
  assert.deepEqual(data[0].customdata, ["s0", "s1", "s2"]);
  assert.equal(layout.xaxis.type, "log");
  assert.equal(layout.yaxis.type, "log");
  assert.ok(isLog(ax) && !isLog(AX));
});

test("words and links", () => {
  assert.equal(progressText(12, 165, 3, 0, "running"), "12 of 165 points (3 from the cache)");
  assert.equal(progressText(165, 165, 0, 1, "done"), "165 of 165 points (1 failed), done");
  assert.equal(progressText(2, 9, 0, 0, "cancelled"), "2 of 9 points, cancelled");
  assert.equal(dashboardHref("run=relu,he_normal"), "/?run=relu,he_normal");
  assert.equal(pointHref("run=relu,he_normal", "experiment"), "/?run=relu,he_normal");
  assert.equal(pointHref("lr=0.1&run=relu,he_normal", "train"), "/train?lr=0.1&run=relu,he_normal");
  assert.deepEqual(scalarMetrics([{ name: "a", per_layer: false }, { name: "b", per_layer: true }]), [{ name: "a", per_layer: false }]);
  assert.equal(colorAt(DIVERGING, 0), "rgb(33,102,172)");
  assert.equal(colorAt(DIVERGING, 0.5), "rgb(247,247,247)");
});
