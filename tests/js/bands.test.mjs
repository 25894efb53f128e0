// node --test tests/js: seed ensembles' bands (static/js/bands.js) and how the signal chart and the
// histogram grid draw them, on a synthetic answer shaped like /api/v1/simulate?...&seeds=N's.
import assert from "node:assert/strict";
import { test } from "node:test";

import { bandOf, countErrorBars, ensembleCaption, logErrorBars, bandText, wholeOrMean } from "../../static/js/bands.js";
import { gridFigure, signalFigure, statsLine } from "../../static/js/figures.js";
import { fitsColumn } from "../../static/js/histograms.js";
import { wideLegendHeight } from "../../static/js/signal.js";

const edges = [0, 1, 2, 3];

function spreadTensor(std, low, high, counts = [10, 20, 30], countsLow = [8, 20, 25], countsHigh = [12, 20, 36]) {
  return {
    edges, counts, count: 60, mean: 1, std, min: 0, max: 3, percentiles: null, zero_fraction: 0,
    saturated_fraction: null, nan_count: 0, inf_count: 0, below: 0, above: 0,
    band: {
      low: { counts: countsLow, count: 60, mean: 0.9, std: low, min: 0, max: 3, zero_fraction: 0, percentiles: null },
      high: { counts: countsHigh, count: 60, mean: 1.1, std: high, min: 0, max: 3, zero_fraction: 0, percentiles: null },
    },
  };
}

function ensembleResult() {
  const layers = [0.8, 0.5].map((std, j) => ({
    layer: j + 1, units: 10, activation: "relu", dead_units: 1.25, dead_fraction: 0.125, distinct_units: 10,
    pre: spreadTensor(std * 2, std * 1.5, std * 2.5), post: spreadTensor(std, std * 0.9, std * 1.2),
    grad: spreadTensor(0.1, 0, 0.2), theory: null, weight_grad: null,
    band: { low: { dead_units: 1, dead_fraction: 0.1, distinct_units: 10 }, high: { dead_units: 2, dead_fraction: 0.2, distinct_units: 10 } },
  }));
  return {
    share: "run=relu,he_normal&seeds=4", ensemble: { seeds: 4, band: "min-max", inputs: "fixed" },
    runs: [{ label: "relu, He", phase: null, theory: null, config: {}, layers }],
  };
}

test("bandOf_reads_the_lowest_and_highest_draw_or_null", () => {
  const t = spreadTensor(0.5, 0.4, 0.7);
  assert.deepEqual(bandOf(t, "std"), { low: 0.4, high: 0.7 });
  assert.equal(bandOf({ std: 0.5 }, "std"), null);
  assert.equal(bandOf({ band: { low: { std: null }, high: { std: 1 } } }, "std"), null);
});

test("countErrorBars_span_each_bin_from_its_lowest_to_its_highest_draw", () => {
  const bars = countErrorBars(spreadTensor(0.5, 0.4, 0.7));
  assert.deepEqual(bars.array, [2, 0, 6]);
  assert.deepEqual(bars.arrayminus, [2, 0, 5]);
  assert.equal(bars.symmetric, false);
  assert.equal(countErrorBars({ edges, counts: [1, 2, 3] }), null, "a single draw has none");
  // a log axis has no 0: a band down to 0 stops at the floor
  const low0 = spreadTensor(0.5, 0.4, 0.7, [3, 3, 3], [0, 3, 3], [6, 3, 3]);
  assert.equal(countErrorBars(low0, { logY: true, floor: 0.7 }).arrayminus[0], 3 - 0.7);
});

test("logErrorBars_stop_at_the_floor_and_skip_points_without_a_band", () => {
  const bars = logErrorBars([1, 0.5, null], [0.5, 0, 0.1], [2, 0.6, 0.3], 0.01, "#000");
  assert.deepEqual(bars.array, [1, 0.09999999999999998, 0]);
  assert.deepEqual(bars.arrayminus, [0.5, 0.49, 0]);
});

test("spreadText_and_wholeOrMean_print_what_the_api_sends", () => {
  assert.equal(bandText(spreadTensor(0.5, 0.41234, 0.7), "std"), " (0.412–0.7)");
  assert.equal(bandText({ std: 0.5 }, "std"), "");
  assert.equal(wholeOrMean(3), "3");
  assert.equal(wholeOrMean(1 / 3), "0.333");
  assert.equal(ensembleCaption({}), "");
  assert.match(ensembleCaption(ensembleResult()), /mean of 4 weight draws/);
});

test("signalFigure_draws_each_measured_std_with_its_draws_band", () => {
  const result = ensembleResult();
  const fig = signalFigure(result);
  const post = fig.data.find((t) => t.name === "relu, He: activation");
  assert.deepEqual(post.y, [0.8, 0.5]);
  assert.equal(post.error_y.symmetric, false);
  post.y.forEach((y, i) => {
    const band = result.runs[0].layers[i].post.band;
    assert.ok(Math.abs(y + post.error_y.array[i] - band.high.std) < 1e-12);
    assert.ok(Math.abs(y - post.error_y.arrayminus[i] - band.low.std) < 1e-12);
  });
  assert.match(post.text[0], /draws 0\.72–0\.96/);
  // the gradient's band reaches 0: its bar stops at the axis floor, above 0
  const grad = fig.data.find((t) => t.name === "relu, He: gradient");
  assert.ok(grad.y[0] - grad.error_y.arrayminus[0] > 0);
  assert.ok(fig.layout.annotations.some((a) => a.text.includes("4 weight draws")));
  // a single draw's answer has no bars
  const single = structuredClone(result);
  delete single.ensemble;
  for (const l of single.runs[0].layers) for (const k of ["pre", "post", "grad"]) delete l[k].band;
  assert.ok(signalFigure(single).data.every((t) => !t.error_y));
});

test("gridFigure_bars_carry_the_draws_band_and_the_line_their_std_range", () => {
  const result = ensembleResult();
  const fig = gridFigure(result, { kind: "post", width: 1000 });
  const bars = fig.data.filter((t) => t.type === "bar");
  assert.equal(bars.length, 2);
  assert.deepEqual(bars[0].y, [10, 20, 30]);
  assert.deepEqual(bars[0].error_y.array, [2, 0, 6]);
  const line = statsLine(result.runs[0].layers[0], "post");
  assert.match(line, /^σ 0\.8 \(0\.72–0\.96\) · dead 1\.25/);
  assert.ok(fig.layout.annotations.some((a) => a.text === line));
  assert.equal(statsLine(result.runs[0].layers[0], "post", true), "σ 0.8 · dead 1.25");
});

test("signalFigure_legend_sits_below_the_axis_title_in_a_margin_that_holds_its_rows", () => {
  const result = ensembleResult();
  for (const runs of [1, 3, 6]) {
    const many = { ...result, runs: Array.from({ length: runs }, (_, i) => ({ ...result.runs[0], label: `run number ${i}` })) };
    for (const width of [700, 1000, 1400]) {
      const fig = signalFigure(many, { width });
      const rows = wideLegendHeight(fig.data, width);
      assert.equal(fig.layout.margin.b, 56 + rows, `${runs} runs at ${width}px`);
      assert.equal(fig.layout.legend.yref, "container");
      assert.equal(fig.layout.legend.yanchor, "bottom");
    }
  }
  // more runs than a row holds wrap into taller legends, never shorter
  const wide = (n) => wideLegendHeight(signalFigure({ ...result, runs: Array(n).fill(result.runs[0]).map((r, i) => ({ ...r, label: `r${i}` })) }).data, 700);
  assert.ok(wide(6) > wide(1));
});

test("an_ensembles_statistics_line_is_short_where_the_full_one_would_run_into_the_next_column", () => {
  // three runs at 1024 px: a column of ~300 px at 11 px type holds ~50 characters
  const full = "σ 0.908 (0.811–1.1) · dead 2.25 · distinct 98.3 · 24% > 1";
  assert.equal(fitsColumn(full, 11, (0.9 * 1024) / 3), false);
  assert.equal(fitsColumn("σ 0.908 · dead 2 · distinct 98 · 24% > 1", 11, (0.9 * 1024) / 3), true);
  assert.equal(fitsColumn(full, 11, (0.9 * 1440) / 3), true);
});
