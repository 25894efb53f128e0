// node --test tests/js: the dashboard's correlation map (static/js/correlation-panel.js), its pure parts.
import assert from "node:assert/strict";
import { test } from "node:test";

import { correlationCaption, correlationQuery } from "../../static/js/correlation-panel.js";

test("correlationQuery_asks_for_the_map_only_and_keeps_the_links_draws", () => {
  assert.equal(correlationQuery("run=tanh,xavier"), "run=tanh,xavier&jacobian=0");
  assert.equal(correlationQuery("run=tanh,xavier&seeds=4"), "run=tanh,xavier&seeds=4&jacobian=0");
  assert.equal(correlationQuery("run=relu,he_normal&jacobian=3"), "run=relu,he_normal&jacobian=0");
});

test("correlationCaption_says_the_pairs_and_the_draws", () => {
  const options = { c0: [0.1, 0.5], pairs: 8, jacobian: 0 };
  assert.equal(correlationCaption({ options }), "Input pairs with starting correlation c0 = 0.1, 0.5, 8 pairs each.");
  assert.match(correlationCaption({ options: { ...options, seeds: 4 } }), /8 pairs each, 4 weight draws \(band: lowest to highest\)\.$/);
});
