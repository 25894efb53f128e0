// node --test tests/js: the sliders' scales (static/js/slider-scale.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  SLIDERS,
  exactPosition,
  linearValues,
  logValues,
  positionOf,
  representable,
  sliderSpec,
  valueText,
} from "../../static/js/slider-scale.js";

test("a log scale holds round values, the texts' own among them, evenly spread in log", () => {
  const std = sliderSpec("std").values;
  assert.equal(std[0], 0.001);
  assert.equal(std.at(-1), 10);
  for (const v of [0.001, 0.01, 0.012, 0.05, 0.1, 1, 1.4, 2.5, 10]) assert.ok(std.includes(v), `${v}`);
  for (let i = 1; i < std.length; i++) {
    const ratio = std[i] / std[i - 1];
    assert.ok(ratio > 1.05 && ratio < 1.25, `${std[i - 1]} -> ${std[i]}`);
  }
  // no binary noise: each value is the number a person types
  assert.ok(std.every((v) => String(v).length <= 6), std.filter((v) => String(v).length > 6).join());
});

test("integer log scales keep each whole number once, and every one up to `every`", () => {
  const depth = logValues(1, 100, { integer: true, every: 20 });
  assert.deepEqual(depth.slice(0, 20), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.ok(depth.includes(50) && depth.includes(100));
  assert.equal(new Set(depth).size, depth.length);
  assert.ok(depth.every(Number.isInteger));
  const width = sliderSpec("width").values;
  assert.ok([1, 10, 100, 512, 1000, 2000].every((v) => width.includes(v) || v === 512));
  assert.ok(width.every((v, i) => i === 0 || v > width[i - 1]));
});

test("a linear scale steps without accumulating error", () => {
  const values = linearValues(0, 3, 0.01);
  assert.equal(values.length, 301);
  assert.equal(values[30], 0.3);
  assert.equal(values[7], 0.07);
  assert.equal(values.at(-1), 3);
});

test("alpha takes its activation's bounds, in 100 steps; no bounds, no slider", () => {
  const leaky = sliderSpec("alpha", { min: 0, max: 1 });
  assert.equal(leaky.values.length, 101);
  assert.ok(leaky.values.includes(0.01));
  assert.equal(sliderSpec("alpha", { min: 0, max: 10 }).values[1], 0.1);
  assert.equal(sliderSpec("alpha", {}), null);
  assert.equal(sliderSpec("seed"), null);
  assert.deepEqual(Object.keys(SLIDERS).sort(), ["alpha", "bias_std", "depth", "gain", "std", "width"]);
});

test("a typed value rests the slider on itself, or on its nearest value in log distance", () => {
  const { values, log } = sliderSpec("std");
  assert.equal(values[positionOf(values, log, "0.01")], 0.01);
  assert.equal(values[positionOf(values, log, 0.01)], 0.01);
  assert.equal(values[positionOf(values, log, "0.0123")], 0.012);
  assert.equal(values[positionOf(values, log, "1.414")], 1.4);
  // beyond the ends: the ends; no number: no position
  assert.equal(positionOf(values, log, "0"), 0);
  assert.equal(positionOf(values, log, "100"), values.length - 1);
  assert.equal(positionOf(values, log, ""), null);
  assert.equal(positionOf(values, log, "abc"), null);
  assert.equal(positionOf(values, log, "-1"), 0);
  // nearest in log distance, not in plain distance: 0.00949 is past 0.009 and 0.01's geometric
  // mean (0.009487), short of their arithmetic mean
  const pair = [0.001, 0.009, 0.01];
  assert.equal(positionOf(pair, true, "0.00949"), 2);
  assert.equal(positionOf(pair, false, "0.00949"), 1);
  assert.equal(positionOf([1, 10], true, "3"), 0);
  assert.equal(positionOf([1, 10], false, "3"), 0);
  assert.equal(positionOf([1, 10], true, "4"), 1); // log: 4 is nearer 10 than 1
  assert.equal(positionOf([1, 10], false, "4"), 0);
});

test("a widths list rests the width slider at its first width", () => {
  const { values, log } = sliderSpec("width");
  assert.equal(values[positionOf(values, log, "100-50-20")], 100);
});

test("only the slider's own values are representable; a typed 0.0123 stays as typed", () => {
  const { values } = sliderSpec("std");
  assert.ok(representable(values, "0.012"));
  assert.ok(representable(values, "1.40"));
  assert.ok(!representable(values, "0.0123"));
  assert.ok(!representable(values, "100"));
  assert.ok(!representable(values, ""));
  assert.equal(exactPosition(values, 0.3), values.indexOf(0.3));
});

test("a position writes its value as text, clamped to the slider", () => {
  const values = [0.01, 0.011, 0.012];
  assert.equal(valueText(values, 1), "0.011");
  assert.equal(valueText(values, 9), "0.012");
  assert.equal(valueText(values, -1), "0.01");
});
