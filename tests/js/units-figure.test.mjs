// node --test tests/js: the units page's figures and sentences.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  COLORSCALE,
  HIGH_COLOR,
  LOW_COLOR,
  MID_COLOR,
  colorKey,
  countsText,
  hexAlpha,
  layerChoices,
  matrixFigure,
  matrixRange,
  matrixTitle,
  reading,
  spreadText,
  stripFigure,
  unitsQuery,
} from "../../static/js/units-figure.js";

/** A profile as GET /api/v1/units answers it: `rows` units (each row the unit's values). */
const profile = (rows, extra = {}) => {
  const units = rows.length;
  const samples = rows[0].length;
  const mean = rows.map((r) => r.reduce((a, b) => a + b, 0) / samples);
  const std = rows.map((r, u) => Math.sqrt(r.reduce((a, b) => a + (b - mean[u]) ** 2, 0) / samples));
  return {
    layer: 1,
    activation: "tanh",
    units,
    samples,
    mean,
    std,
    between: 0,
    within: 0,
    dead_units: 0,
    distinct_units: units,
    matrix: { units, samples, values: rows },
    ...extra,
  };
};

test("unitsQuery_appends_the_layer_to_the_share_query", () => {
  assert.equal(unitsQuery("run=relu,he_normal", 3), "run=relu,he_normal&layer=3");
  assert.equal(unitsQuery("", 2), "layer=2");
  assert.deepEqual(layerChoices(5), [1, 2, 3, 4, 5]);
  assert.deepEqual(layerChoices(0), []);
});

test("spreadText_states_the_claim_in_numbers", () => {
  const p = profile([[0.5]], { between: 0.013230637156034229, within: 3.8545696074452756e-7 });
  assert.equal(spreadText(p), "spread of unit means 0.0132 against spread within a unit 3.85e-7");
  assert.equal(spreadText(profile([[0]], { between: 0, within: 0 })), "spread of unit means 0 against spread within a unit 0");
  assert.equal(spreadText(profile([[0]], { between: null, within: null })), "spread of unit means – against spread within a unit –");
});

test("countsText_says_distinct_dead_and_samples", () => {
  const p = profile([[0, 0], [0, 0]], { distinct_units: 1, dead_units: 2, units: 100, samples: 1000 });
  assert.equal(countsText(p), "1 distinct unit of 100 · 2 dead · 1k samples");
  assert.equal(countsText({ ...p, distinct_units: 98 }), "98 distinct units of 100 · 2 dead · 1k samples");
  assert.match(countsText({ ...p, distinct_units: null }), /^distinct units unknown/);
});

test("reading_tells_identical_small_and_ordinary_units_apart", () => {
  const zeros = profile([[0, 0], [0, 0]], { distinct_units: 1, between: 0, within: 0 });
  assert.equal(reading(zeros), "All 2 units are identical: they compute one and the same function, and give the same value, 0, for every input.");
  const constant = profile([[-1, 1], [-1, 1]], { distinct_units: 1, between: 0, within: 1 });
  assert.match(reading(constant), /^All 2 units are identical: .* the line is flat and every row of the grid is the same\.$/);
  const small = profile([[0.5, 0.5], [0.51, 0.51]], { between: 0.013, within: 3.9e-7 });
  assert.match(reading(small), /^The units differ, but each one barely answers its input/);
  const ordinary = profile([[0, 1], [1, 0]], { between: 0.1, within: 0.5 });
  assert.equal(reading(ordinary), "The units differ from each other, and each one answers its input.");
  assert.match(reading({ ...ordinary, between: null }), /NaN or infinite/);
});

test("matrixRange_skips_values_that_are_not_finite", () => {
  assert.deepEqual(matrixRange([[1, -2], [null, 3]]), { low: -2, high: 3, nonFinite: 1 });
  assert.deepEqual(matrixRange([[null]]), { low: null, high: null, nonFinite: 1 });
});

test("colorKey_names_the_ends_or_the_one_colour", () => {
  assert.deepEqual(colorKey(profile([[0.476, 0.5], [0.5, 0.529]])), {
    colors: [LOW_COLOR, HIGH_COLOR],
    text: "dark purple 0.476 (lowest) to yellow 0.529 (highest)",
  });
  assert.deepEqual(colorKey(profile([[0, 0], [0, 0]])), { colors: [MID_COLOR], text: "every value is 0: one colour" });
  const holes = profile([[1, 2]]);
  holes.matrix.values = [[1, null]];
  assert.equal(colorKey(holes).text, "every value is 1: one colour · 1 NaN or ∞ values left blank");
  assert.deepEqual(colorKey({ ...holes, matrix: { units: 1, samples: 1, values: [[null]] } }).colors, []);
  assert.equal(LOW_COLOR, COLORSCALE[0][1]);
  assert.equal(HIGH_COLOR, COLORSCALE.at(-1)[1]);
});

test("matrixTitle_says_how_much_of_the_layer_is_shown", () => {
  const p = profile([[0, 0], [0, 0]]);
  assert.equal(matrixTitle(p), "all 2 units × all 2 samples");
  assert.equal(matrixTitle({ ...p, units: 100, samples: 1000 }), "first 2 of 100 units × first 2 of 1k samples");
});

test("stripFigure_draws_mean_and_band_in_unit_order", () => {
  const p = profile([[1, 3], [2, 2], [0, 0]]);
  const { data, layout } = stripFigure(p, 1);
  const [lower, upper, mean] = data;
  assert.deepEqual(mean.x, [1, 2, 3]);
  assert.deepEqual(mean.y, [2, 2, 0]);
  assert.deepEqual(mean.customdata, [1, 0, 0]);
  assert.deepEqual(lower.y, [1, 2, 0]);
  assert.deepEqual(upper.y, [3, 2, 0]);
  assert.equal(upper.fill, "tonexty");
  assert.equal(mean.line.color, "#d1495b"); // the second run's colour
  assert.equal(layout.xaxis.title.text, "unit");
  assert.equal(layout.yaxis.exponentformat, "e"); // never <sup>, refused by the CSP
  // identical units: one flat line
  const flat = stripFigure(profile([[0.5, 0.7], [0.5, 0.7]]), 0).data[2];
  assert.equal(new Set(flat.y).size, 1);
});

test("stripFigure_leaves_non_finite_units_out_of_the_band", () => {
  const p = { ...profile([[0, 1], [0, 1]]), mean: [null, 0.5], std: [null, 0.5] };
  const [lower, upper] = stripFigure(p, 0).data;
  assert.deepEqual(lower.y, [null, 0]);
  assert.deepEqual(upper.y, [null, 1]);
});

test("matrixFigure_is_squares_coloured_by_value_not_a_heatmap", () => {
  const p = profile([[0, 1, 2], [3, 4, 5]]);
  const { data, layout } = matrixFigure(p, 364);
  assert.equal(data.length, 1);
  const [trace] = data;
  assert.equal(trace.type, "scatter"); // a heatmap is an image from a data: URL: refused by the CSP
  assert.equal(trace.marker.symbol, "square");
  assert.equal(trace.marker.showscale, false); // a colour bar sets style attributes
  assert.deepEqual(trace.x, [1, 2, 3, 1, 2, 3]);
  assert.deepEqual(trace.y, [1, 1, 1, 2, 2, 2]);
  assert.deepEqual(trace.marker.color, [0, 1, 2, 3, 4, 5]);
  assert.deepEqual([trace.marker.cmin, trace.marker.cmax], [0, 5]);
  // squares tile the plot: 300 px for 3 samples, 2 units -> 100 px squares, 200 px high
  assert.equal(trace.marker.size, 101);
  assert.equal(layout.height, 200 + layout.margin.t + layout.margin.b);
  assert.deepEqual(layout.yaxis.range, [2.5, 0.5]); // unit 1 on top
});

test("matrixFigure_of_one_value_uses_the_middle_colour_and_skips_nulls", () => {
  const one = matrixFigure(profile([[0, 0], [0, 0]]), 300).data[0].marker;
  assert.deepEqual([one.cmin, one.cmax], [-1, 1]); // 0 sits in the middle: MID_COLOR
  const p = profile([[1, 2]]);
  p.matrix.values = [[1, null]];
  const trace = matrixFigure(p, 300).data[0];
  assert.deepEqual(trace.x, [1]);
  assert.deepEqual(trace.marker.color, [1]);
});

test("hexAlpha_makes_an_rgba_fill", () => {
  assert.equal(hexAlpha("#2456a6", 0.25), "rgba(36,86,166,0.25)");
});
