// node --test tests/js: the glossary behind the figures' hover texts and the pages' notes.
import assert from "node:assert/strict";
import { test } from "node:test";

import { GLOSSARY, explainTerms, viewNote } from "../../static/js/glossary.js";
import { statsLine } from "../../static/js/histograms.js";

const tensor = (extra = {}) => ({ edges: [0, 1], counts: [10], count: 10, std: 0.5, mean: 0.1, saturated_fraction: 0.2, below: 0, above: 0, nan_count: 0, inf_count: 0, ...extra });

test("every term of a full statistics line is explained, in the line's order", () => {
  const layer = { units: 100, dead_units: 3, distinct_units: 1, post: tensor({ above: 4 }) };
  const line = statsLine(layer, "post");
  assert.equal(line, "σ 0.5 · sat 20% · dead 3 · distinct 1 · 40% > 1");
  const lines = explainTerms(line);
  assert.deepEqual(lines.map((l) => l.split(":")[0]), ["σ", "sat", "dead", "distinct", "x% > b ▸"]);
});

test("the gradient line explains dW:W and never distinct units", () => {
  const layer = { units: 100, dead_units: 0, distinct_units: 1, grad: tensor({ saturated_fraction: null }), weight_grad: { grad_data_ratio: 0.002 } };
  const line = statsLine(layer, "grad");
  assert.equal(line, "σ 0.5 · dW:W 0.002");
  assert.deepEqual(explainTerms(line), [GLOSSARY["σ"], GLOSSARY["dW:W"]]);
});

test("a phone's short line keeps dead and distinct units when there are any", () => {
  const dead = { units: 100, dead_units: 100, distinct_units: 1, post: tensor({ std: 0, saturated_fraction: null }) };
  assert.equal(statsLine(dead, "post", true), "σ 0 · dead 100 · distinct 1");
  const healthy = { units: 100, dead_units: 0, distinct_units: 100, post: tensor() };
  assert.equal(statsLine(healthy, "post", true), "σ 0.5 · sat 20%");
});

test("the view notes say what the values are and what to look for", () => {
  assert.match(viewNote("grid", "grad"), /dL\/da ~ N\(0, 1\)/);
  assert.match(viewNote("grid", "grad", "mse"), /a − y/);
  assert.match(viewNote("grid", "grad"), /Vanishing looks like/);
  assert.match(viewNote("ridgeline", "post"), /own peak/);
  assert.match(viewNote("grid", "pre"), /N\(0, q\)/);
});
