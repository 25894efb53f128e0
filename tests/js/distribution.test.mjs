// node --test tests/js: the distribution view (static/js/distribution.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { BANDS, distributionFigure } from "../../static/js/distribution.js";

const KEYS = ["0", "6.68", "15.87", "30.85", "50", "69.15", "84.13", "93.32", "100"];
const percentiles = (shift) => Object.fromEntries(KEYS.map((k, i) => [k, i - 4 + shift]));
const layer = (j, p) => ({ layer: j, post: { percentiles: p } });
const result = {
  runs: [
    { label: "relu, He", layers: [layer(1, percentiles(0)), layer(2, percentiles(1)), layer(3, null)] },
    { label: "tanh, Xavier", layers: [layer(1, percentiles(0))] },
  ],
};

test("each band spans the API's percentiles, every layer, a gap where there are none", () => {
  const { data } = distributionFigure(result, { kind: "post" });
  const run1 = data.filter((t) => t.xaxis === "x1");
  assert.equal(run1.length, 2 * BANDS.length + 1);
  BANDS.forEach(([low, high], b) => {
    const [upper, lower] = [run1[2 * b], run1[2 * b + 1]];
    assert.deepEqual(upper.x, [1, 2, 3]);
    assert.deepEqual(upper.y, [percentiles(0)[high], percentiles(1)[high], null]);
    assert.deepEqual(lower.y, [percentiles(0)[low], percentiles(1)[low], null]);
    assert.equal(lower.fill, "tonexty");
  });
  assert.deepEqual(run1.at(-1).y, [0, 1, null]); // the median
});

test("one column per run, each with its own layers and title", () => {
  const { data, layout } = distributionFigure(result, { kind: "post" });
  assert.equal(data.filter((t) => t.xaxis === "x2").length, 2 * BANDS.length + 1);
  assert.deepEqual(layout.xaxis2.range, [0.5, 1.5]);
  const titles = layout.annotations.map((a) => a.text);
  assert.ok(titles.includes("relu, He") && titles.includes("tanh, Xavier"));
  assert.ok(titles.some((t) => t.includes("median")));
});
