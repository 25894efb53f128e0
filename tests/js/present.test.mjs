// node --test tests/js: presentation mode's pure functions (static/js/present.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { fittedHeight, presentationOrder, stepPreset } from "../../static/js/present.js";

const names = ["a", "b", "c", "d"];

test("the order is the link's, known names only, else the catalog's", () => {
  assert.deepEqual(presentationOrder("c,a,zzz", names), ["c", "a"]);
  assert.deepEqual(presentationOrder(null, names), names);
  assert.deepEqual(presentationOrder("zzz", names), names);
});

test("arrow keys step through the order and wrap around", () => {
  assert.equal(stepPreset(["c", "a"], "c", 1), "a");
  assert.equal(stepPreset(["c", "a"], "a", 1), "c");
  assert.equal(stepPreset(["c", "a"], "c", -1), "a");
  assert.equal(stepPreset(names, "custom", 1), "a");
  assert.equal(stepPreset(names, "custom", -1), "d");
});

test("the figure takes the rest of the window, never less than a readable minimum", () => {
  assert.equal(fittedHeight(768, 200), 556);
  assert.equal(fittedHeight(400, 300), 320);
});
