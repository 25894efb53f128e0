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

test("a gallery card's grid leaves k out of its titles, the dashboard's grid says it", async () => {
  const { gridFigure } = await import("../../static/js/histograms.js");
  const tensor = { count: 3, mean: 0, std: 1, edges: [0, 1, 2, 3], counts: [1, 1, 1], below: 0, above: 0,
    nan_count: 0, inf_count: 0, saturated_fraction: null, zero_fraction: 0 };
  const layer = { layer: 1, units: 10, dead_units: 0, distinct_units: 10, post: tensor, pre: tensor, grad: tensor };
  const result = { runs: [{ label: "maxout, He", config: { pieces: 2 }, theory: { note: "" }, layers: [layer] }] };
  const title = (fig) => fig.layout.annotations.find((a) => a.xref === "paper").text;
  assert.equal(title(gridFigure(result, { width: 1000 })), "maxout, He · k = 2");
  assert.equal(title(gridFigure(result, { width: 400, compact: true })), "maxout<br>He");
});
