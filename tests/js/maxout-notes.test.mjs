// node --test tests/js: the pages' notes say what z, dL/dz and "dead" are for maxout (static/js/glossary.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { GLOSSARY, viewNote } from "../../static/js/glossary.js";

test("the notes say what z, dL/dz and dead mean for maxout", () => {
  assert.match(viewNote("grid", "pre"), /for maxout, every piece's z: k values per unit and sample/);
  assert.match(viewNote("grid", "grad"), /for maxout, per piece: the winning piece's carries the unit's gradient/);
  assert.match(GLOSSARY.dead, /A maxout unit is never dead/);
});
