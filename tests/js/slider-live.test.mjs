// node --test tests/js: requests while a slider moves (static/js/slider-live.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { LatestOnly } from "../../static/js/slider-live.js";

/** A scheduler over a fake server: each send waits until the test answers it. */
function harness(options = {}) {
  let clock = 0;
  const timers = [];
  const sent = [];
  const scheduler = new LatestOnly({
    send: (request, signal) =>
      new Promise((resolve, reject) => {
        const call = { key: request.key, signal, resolve, reject, aborted: false };
        signal.addEventListener("abort", () => {
          call.aborted = true;
          reject(new DOMException("aborted", "AbortError"));
        });
        sent.push(call);
      }),
    now: () => clock,
    later: (fn, ms) => timers.push({ fn, at: clock + ms }) - 1,
    cancelLater: (id) => {
      if (id !== null && timers[id]) timers[id].fn = null;
    },
    ...options,
  });
  const outcomes = [];
  const submit = (key, commit = false) => {
    const request = { key, commit };
    scheduler.submit(request).then(
      (result) => outcomes.push({ key, result, request }),
      (error) => outcomes.push({ key, error: error.name, request }),
    );
    return request;
  };
  const tick = async (ms) => {
    clock += ms;
    for (const t of timers) if (t.fn && t.at <= clock) [t.fn, t.fn = null][0]();
    await settle();
  };
  return { scheduler, sent, outcomes, submit, tick };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

test("one request at a time: newer values wait in one slot, replacing each other, never queued", async () => {
  const { sent, outcomes, submit } = harness();
  submit("a");
  submit("b");
  submit("c");
  await settle();
  assert.deepEqual(sent.map((s) => s.key), ["a"]);
  assert.deepEqual(outcomes.map((o) => [o.key, o.error]), [["b", "AbortError"]]); // b gave way to c
  sent[0].resolve("A");
  await settle();
  // c goes out as soon as a is answered; a is drawn meanwhile
  assert.deepEqual(sent.map((s) => s.key), ["a", "c"]);
  assert.deepEqual(outcomes.at(-1).result, "A");
  sent[1].resolve("C");
  await settle();
  assert.equal(outcomes.at(-1).result, "C");
  assert.equal(sent.filter((s) => s.aborted).length, 0);
});

test("an overtaken request is cancelled once it has run past its patience", async () => {
  const { scheduler, sent, outcomes, submit, tick } = harness({ minPatience: 250 });
  submit("a");
  await tick(100);
  submit("b"); // a is overtaken, but young: it may still answer
  await tick(100);
  assert.equal(sent.length, 1);
  await tick(60); // a has run 260 ms: cancelled, b goes out
  assert.equal(sent[0].aborted, true);
  assert.deepEqual(sent.map((s) => s.key), ["a", "b"]);
  assert.deepEqual(outcomes.map((o) => [o.key, o.error]), [["a", "AbortError"]]);
  assert.equal(scheduler.aborted, 1);
  // a slow server earns more patience: the next overtaken request gets twice as long
  assert.ok(scheduler.patience() >= 500);
  sent[1].resolve("B");
  await settle();
  assert.equal(outcomes.at(-1).result, "B");
});

test("patience follows the answer time, so a slow server still draws while the slider moves", async () => {
  const { scheduler, sent, submit, tick } = harness({ minPatience: 100 });
  submit("a");
  await tick(400);
  sent[0].resolve("A");
  await settle();
  assert.equal(scheduler.patience(), 800);
  submit("b");
  await tick(300);
  submit("c");
  await tick(300); // b has run 600 ms < 800: kept
  assert.equal(sent[1].aborted, false);
});

test("a commit cancels the older request in flight at once and goes out itself", async () => {
  const { sent, outcomes, submit } = harness();
  submit("a");
  submit("b");
  submit("c", true);
  await settle();
  assert.deepEqual(sent.map((s) => s.key), ["a", "c"]);
  assert.equal(sent[0].aborted, true);
  assert.deepEqual(outcomes.map((o) => [o.key, o.error]), [["b", "AbortError"], ["a", "AbortError"]]);
});

test("a commit of the value in flight takes over its answer: no second request", async () => {
  const { sent, outcomes, submit } = harness();
  const live = submit("a");
  const commit = submit("a", true);
  await settle();
  assert.equal(sent.length, 1);
  sent[0].resolve("A");
  await settle();
  assert.deepEqual(outcomes.map((o) => [o.key, o.request.commit, o.error ?? o.result]), [
    ["a", false, "AbortError"],
    ["a", true, "A"],
  ]);
  assert.equal(commit.sentAt, live.sentAt);
});

test("a commit of the value just answered reuses the answer", async () => {
  const { sent, outcomes, submit } = harness();
  submit("a");
  sent[0].resolve("A");
  await settle();
  const commit = submit("a", true);
  await settle();
  assert.equal(sent.length, 1);
  assert.equal(outcomes.at(-1).result, "A");
  assert.equal(commit.reused, true);
  // a live value already drawn asks nothing
  submit("a");
  await settle();
  assert.equal(sent.length, 1);
});

test("an error goes to its request's owner; the waiting value still goes out", async () => {
  const { sent, outcomes, submit } = harness();
  submit("a");
  submit("b");
  sent[0].reject(Object.assign(new Error("422"), { name: "ApiError" }));
  await settle();
  assert.deepEqual(outcomes.map((o) => [o.key, o.error]), [["a", "ApiError"]]);
  assert.deepEqual(sent.map((s) => s.key), ["a", "b"]);
});

test("timings: each request records when it went out and when its answer came", async () => {
  const { sent, submit, tick } = harness();
  const request = submit("a");
  await tick(70);
  sent[0].resolve("A");
  await settle();
  assert.equal(request.sentAt, 0);
  assert.equal(request.answeredAt, 70);
});
