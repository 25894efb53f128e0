// node --test tests/js: a refused link shown without the parts it was refused for (static/js/api.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { refusedLinkMessage, withoutRefused } from "../../static/js/api.js";

const at = (...loc) => ({ loc, msg: "m" });

test("a refusal's field is left out, every part of it, the rest as written", () => {
  assert.deepEqual(withoutRefused("depth=100000&std=0.01&run=tanh,xavier", [at("query", "depth")]), {
    rest: "std=0.01&run=tanh,xavier",
    dropped: ["depth=100000"],
  });
  assert.deepEqual(withoutRefused("depth=5&run=tanh&depth=6", [at("query", "depth")]), {
    rest: "run=tanh",
    dropped: ["depth=5", "depth=6"],
  });
  assert.deepEqual(withoutRefused("depth=0&std=-3&run=tanh", [at("query", "depth"), at("query", "std")]).rest, "run=tanh");
});

test("a run's field is the shared setting where the link has one, else that run", () => {
  assert.deepEqual(withoutRefused("samples=50000&run=relu,he_normal", [at("query", "runs", 0, "samples")]), {
    rest: "run=relu,he_normal",
    dropped: ["samples=50000"],
  });
  assert.deepEqual(withoutRefused("run=tanh,xavier&run=relu,bogus&depth=3", [at("query", "runs", 1, "init")]), {
    rest: "run=tanh,xavier&depth=3",
    dropped: ["run=relu,bogus"],
  });
});

test("a refusal naming nothing the link has leaves nothing out", () => {
  const none = { rest: "depth=5", dropped: [] };
  assert.deepEqual(withoutRefused("depth=5", [at("query", "width")]), none);
  assert.deepEqual(withoutRefused("depth=5", [at("query", "runs")]), none); // "needs at least one run"
  assert.deepEqual(withoutRefused("depth=5", [at("query", "runs", 2, "init")]), none);
  assert.deepEqual(withoutRefused("depth=5", [at("body", "depth")]), none);
  // leaving out the only run would leave no experiment: the caller shows the default instead
  assert.deepEqual(withoutRefused("run=relu,bogus&depth=5", [at("query", "runs", 0, "init")]), { rest: "run=relu,bogus&depth=5", dropped: [] });
  assert.deepEqual(withoutRefused("run=a&run=b", [at("query", "run")]), { rest: "run=a&run=b", dropped: [] });
  assert.deepEqual(withoutRefused("depth=5", [{ msg: "no loc" }]), none);
  assert.deepEqual(withoutRefused("depth=5", "a string detail"), none);
  assert.deepEqual(withoutRefused("depth=5", undefined), none);
});

test("parts are compared and shown decoded; what does not decode stays as written", () => {
  assert.deepEqual(withoutRefused("de%70th=0&run=tanh%2Cxavier", [at("query", "depth")]), { rest: "run=tanh%2Cxavier", dropped: ["depth=0"] });
  assert.deepEqual(withoutRefused("%E0=1&depth=2", [at("query", "%E0")]), { rest: "depth=2", dropped: ["%E0=1"] });
});

test("the message says why, and what the figures show instead", () => {
  assert.equal(
    refusedLinkMessage([{ message: "depth: must be between 1 and 10000", dropped: ["depth=100000"] }]),
    "Cannot show this link as it is: depth: must be between 1 and 10000. The figures and controls show the link " +
      "without depth=100000 (a setting left out takes its default).",
  );
  const two = [
    { message: "std: must be between 0 and 100", dropped: ["std=-3"] },
    { message: "runs[1].init: unknown init 'bogus'", dropped: ["run=relu,bogus"] },
  ];
  assert.match(refusedLinkMessage(two), /: std: must be between 0 and 100; runs\[1\]\.init: unknown init 'bogus'\. .* without std=-3 and run=relu,bogus \(/);
  const none = [...two, { message: "runs: an experiment needs at least one run", dropped: [] }];
  assert.match(refusedLinkMessage(none, true), /at least one run\. The figures and controls show the default experiment instead\.$/);
});
