// node --test tests/js: a phone's grid of four runs (static/js/histograms.js): columns under 100 px
// put one statistic a line, rows far enough apart for those lines, and the spike's short note.
import assert from "node:assert/strict";
import { test } from "node:test";

import { gridFigure } from "../../static/js/histograms.js";

const linspace = (lo, hi, n) => [...Array(n + 1).keys()].map((i) => lo + ((hi - lo) * i) / n);

function tensor(counts, { lo = 0, hi = 1, std = 0.0944 } = {}) {
  const count = counts.reduce((a, b) => a + b, 0);
  return { count, mean: 0.1, std, edges: linspace(lo, hi, counts.length), counts, below: 0, above: 0,
    nan_count: 0, inf_count: 0, saturated_fraction: null, zero_fraction: 0.9 };
}

/** A dying ReLU layer: a spike of zeros, 4 dead and 97 distinct units of 100. */
function run(label) {
  const spike = [90000, ...Array(29).fill(300)];
  const layer = { layer: 1, units: 100, dead_units: 4, distinct_units: 97, post: tensor(spike), pre: tensor(spike),
    grad: tensor(spike), theory: null, weight_grad: null };
  return { label, phase: "critical", theory: { note: "", sigma_w2: [2], sigma_b2: 0 }, layers: [layer] };
}

const statsLines = (fig) => fig.layout.annotations.filter((a) => a.text.startsWith("σ")).map((a) => a.text);
const yGap = (fig) => {
  const rows = Object.keys(fig.layout).filter((k) => /^yaxis\d*$/.test(k)).map((k) => fig.layout[k].domain);
  const starts = [...new Set(rows.map((d) => d[0]))].sort((a, b) => b - a);
  const ends = [...new Set(rows.map((d) => d[1]))].sort((a, b) => b - a);
  return (starts[0] - ends[1]) * (fig.layout.height - fig.layout.margin.t - fig.layout.margin.b);
};

test("gridFigure_four_runs_on_a_phone_one_statistic_a_line", () => {
  const result = { runs: ["maxout, He", "relu, He", "maxout, N(0, 1)", "sigmoid, N(0, 1)"].map(run) };
  result.runs.forEach((r) => r.layers.push({ ...r.layers[0], layer: 2 }));
  const phone = gridFigure(result, { width: 390 });
  assert.deepEqual(statsLines(phone)[0], "σ 0.0944<br>dead 4<br>distinct 97");
  assert.ok(phone.layout.annotations.some((a) => a.text === "▲ 90k"), "the spike's short note");
  assert.ok(yGap(phone) >= 70, `rows ${yGap(phone)} px apart: three lines of 9 px type and the ticks`);
  // wider columns keep the one-line statistics and the rows' usual spacing
  const laptop = gridFigure(result, { width: 1440 });
  assert.deepEqual(statsLines(laptop)[0], "σ 0.0944 · dead 4 · distinct 97");
  assert.ok(laptop.layout.annotations.some((a) => a.text.startsWith("▲ 90k (") && a.text.endsWith(" zeros)")));
  assert.ok(yGap(laptop) < 50);
  const two = gridFigure({ runs: result.runs.slice(0, 2) }, { width: 390 });
  assert.deepEqual(statsLines(two)[0], "σ 0.0944 · dead 4 · distinct 97");
});
