// node --test tests/js: the pages' notes say what z, dL/dz and "dead" are for maxout (static/js/glossary.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { GLOSSARY, viewNote } from "../../static/js/glossary.js";

test("the notes say what z, dL/dz and dead mean for maxout", () => {
  assert.match(viewNote("grid", "pre"), /for maxout, every piece's z: k values per unit and sample/);
  assert.match(viewNote("grid", "grad"), /for maxout, per piece: the winning piece's carries the unit's gradient/);
  assert.match(GLOSSARY.dead, /A maxout unit is never dead/);
});

test("a maxout run's column title says its k; other runs' and labelled runs' titles are their labels", async () => {
  const { runName } = await import("../../static/js/plot-base.js");
  assert.equal(runName({ label: "maxout, He", config: { activation: "maxout", pieces: 2 } }), "maxout, He · k = 2");
  assert.equal(runName({ label: "relu, He", config: { activation: "relu" } }), "relu, He");
  assert.equal(runName({ label: "relu, He" }), "relu, He"); // no config: a synthetic run
  // twins told apart by their pieces already say it; a user's label is the user's
  assert.equal(runName({ label: "maxout, He · pieces 3", config: { pieces: 3 } }), "maxout, He · pieces 3");
  assert.equal(runName({ label: "wide", config: { pieces: 3, label: "wide" } }), "wide");
});
