// node --test tests/js: the training page's progress merging.
import assert from "node:assert/strict";
import { test } from "node:test";

import { mergeProgress } from "../../static/js/train-progress.js";

const run = (status, steps, loss, recordSteps, captureSteps) => ({
  label: "relu, He",
  status,
  steps,
  loss_stride: 2,
  loss,
  loss_smoothed: loss.map((x) => x / 2),
  records: { step: recordSteps, test_accuracy: recordSteps.map((s) => s / 100) },
  captures: captureSteps.map((step) => ({ step, layers: [] })),
});
const increment = (steps, runs) => ({ share: "run=relu,he_normal", id: "x", iterations: 10, steps, increment: true, runs });

test("mergeProgress_first_increment_is_the_progress", () => {
  const first = increment(2, [run("running", 2, [2.3], [0], [0])]);
  assert.deepEqual(mergeProgress(null, first), first);
});

test("mergeProgress_appends_every_array_and_takes_the_latest_status", () => {
  const a = increment(4, [run("running", 4, [2.3, 2.1], [0], [0])]);
  const b = increment(10, [run("done", 10, [1.9, 1.5, 1.2], [5, 10], [10])]);
  const merged = mergeProgress(mergeProgress(null, a), b);
  const [r] = merged.runs;
  assert.equal(merged.steps, 10);
  assert.equal(r.status, "done");
  assert.deepEqual(r.loss, [2.3, 2.1, 1.9, 1.5, 1.2]);
  assert.deepEqual(r.loss_smoothed, [1.15, 1.05, 0.95, 0.75, 0.6]);
  assert.deepEqual(r.records.step, [0, 5, 10]);
  assert.deepEqual(r.records.test_accuracy, [0, 0.05, 0.1]);
  assert.deepEqual(r.captures.map((c) => c.step), [0, 10]);
});

test("mergeProgress_leaves_its_arguments_unchanged", () => {
  const a = increment(4, [run("running", 4, [2.3, 2.1], [0], [0])]);
  const b = increment(6, [run("running", 6, [1.9], [], [])]);
  const before = JSON.stringify([a, b]);
  mergeProgress(mergeProgress(null, a), b);
  assert.equal(JSON.stringify([a, b]), before);
});

test("mergeProgress_keeps_runs_apart", () => {
  const a = increment(2, [run("running", 2, [1], [0], []), run("running", 2, [9], [0], [])]);
  const b = increment(4, [run("diverged", 3, [2], [], []), run("running", 4, [8], [], [])]);
  const merged = mergeProgress(mergeProgress(null, a), b);
  assert.deepEqual(merged.runs.map((r) => r.loss), [[1, 2], [9, 8]]);
  assert.deepEqual(merged.runs.map((r) => r.status), ["diverged", "running"]);
});
