// node --test tests/js: the rows of runs side by side (static/js/layers.js rowTable): an answer's
// own table (`rows`, the engine's) when it has one, else the merge of its runs' row keys.
import assert from "node:assert/strict";
import { test } from "node:test";

import { mergedTable, rowCount, rowLayer, rowTable, tickStep } from "../../static/js/layers.js";

const row = (j, type = null, name = null) => ({ layer: j + 1, ...(type ? { layer_type: type, name } : {}) });
const bn = { layers: [row(0, "batch_norm", "layer 1 · batch_norm"), row(1, "activation", "layer 1 · relu")] };
const plain = { layers: [row(0), row(1)] };

test("rowTable_merges_runs_without_a_table_by_what_their_rows_follow", () => {
  assert.deepEqual(rowTable({ runs: [bn, plain] }), [
    { key: "1|norm before", cells: [0, null] },
    { key: "1|act", cells: [1, 0] },
    { key: "2|act", cells: [null, 1] },
  ]);
  assert.deepEqual(mergedTable([plain, plain]), [
    { key: "1|act", cells: [0, 0] },
    { key: "2|act", cells: [1, 1] },
  ]);
});

test("rowTable_reads_the_answers_table_when_it_has_one", () => {
  const rows = [
    { key: "1|norm before", cells: [0, 0] },
    { key: "1|act", cells: [1, 1] },
  ];
  const answer = { runs: [bn, plain], rows };
  assert.equal(rowTable(answer), rows);
  assert.equal(rowCount(answer), 2);
  assert.equal(rowLayer(answer, 0, 1), plain.layers[0]);
});

test("tickStep_gives_round_steps_within_the_ticks_that_fit", () => {
  assert.equal(tickStep(5, 10), 1);
  assert.equal(tickStep(50, 10), 5);
  assert.equal(tickStep(50, 4), 20); // not 13, 26, 39
  assert.equal(tickStep(50, 2), 25);
  assert.equal(tickStep(200, 10), 20);
});
