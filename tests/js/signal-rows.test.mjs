// node --test tests/js: the signal chart of layer networks (static/js/signal.js) draws each layer's
// or block's output row at that layer's or block's number, beside a plain stack's layers.
import assert from "node:assert/strict";
import { test } from "node:test";

import { signalFigure } from "../../static/js/figures.js";

const tensor = (std) => ({
  count: 300, mean: 0, std, edges: [-1, 0, 1], counts: [150, 150],
  below: 0, above: 0, nan_count: 0, inf_count: 0, saturated_fraction: null, zero_fraction: 0,
});
const row = (j, std, type = null, name = null) => ({
  layer: j + 1, units: 10, dead_units: 0, distinct_units: 10, post: tensor(std), pre: tensor(std * 2),
  grad: tensor(std * 0.5), theory: null, weight_grad: null, ...(type ? { layer_type: type, name } : {}),
});
const run = (label, layers) => ({ label, phase: null, theory: { note: "no prediction" }, layers });

// bn-sigmoid's shape: a plain stack beside the same stack with BatchNorm before each activation
const plain = run("plain", [row(0, 0.45), row(1, 0.44)]);
const bn = run("bn", [
  row(0, 1.0, "batch_norm", "layer 1 · batch_norm"),
  row(1, 0.21, "activation", "layer 1 · sigmoid"),
  row(2, 1.0, "batch_norm", "layer 2 · batch_norm"),
  row(3, 0.22, "activation", "layer 2 · sigmoid"),
]);
// residual-depth's shape: blocks whose branch is dense + tanh, then the sum
const residual = run("res", [
  row(0, 0.9, "dense", "block 1 · dense"),
  row(1, 0.6, "activation", "block 1 · tanh"),
  row(2, 1.2, "residual", "block 1 · x + s F(x)"),
  row(3, 0.9, "dense", "block 2 · dense"),
  row(4, 0.6, "activation", "block 2 · tanh"),
  row(5, 1.5, "residual", "block 2 · x + s F(x)"),
]);

const measured = (fig, label, what) => fig.data.find((t) => t.name === `${label}: ${what}`);

test("signal_chart_puts_a_layer_networks_activation_rows_at_their_layers_beside_a_plain_stack", () => {
  const fig = signalFigure({ runs: [plain, bn] });
  assert.deepEqual(measured(fig, "plain", "activation").x, [1, 2]);
  assert.deepEqual(measured(fig, "plain", "activation").y, [0.45, 0.44]);
  const norm = measured(fig, "bn", "activation");
  assert.deepEqual(norm.x, [1, 2]); // the sigmoid rows, not the BatchNorm rows between them
  assert.deepEqual(norm.y, [0.21, 0.22]);
  assert.match(norm.text[0], /^layer 1 · sigmoid: σ 0\.21/);
  assert.deepEqual(measured(fig, "bn", "gradient").y, [0.105, 0.11]);
  assert.match(fig.layout.xaxis.title.text, /^layer \(its activation\)$/);
});

test("signal_chart_of_residual_blocks_is_their_sums_by_block", () => {
  const fig = signalFigure({ runs: [residual] });
  assert.deepEqual(measured(fig, "res", "activation").x, [1, 2]);
  assert.deepEqual(measured(fig, "res", "activation").y, [1.2, 1.5]);
  assert.match(fig.layout.xaxis.title.text, /^block \(its sum x \+ s F\(x\)\)$/);
  assert.equal(fig.layout.yaxis.dtick, "D2"); // stds within a decade: 1, 2 and 5 of it labelled
});

test("signal_chart_of_plain_stacks_is_unchanged", () => {
  const fig = signalFigure({ runs: [plain] });
  assert.deepEqual(measured(fig, "plain", "activation").x, [1, 2]);
  assert.equal(fig.layout.xaxis.title.text, "layer");
  assert.match(measured(fig, "plain", "activation").text[1], /^layer 2: σ 0\.44/);
});
