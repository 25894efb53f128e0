// The training page: the query string is the training API's share link. Start streams the job's
// partial results (Server-Sent Events over fetch, so a 422's body can be read) and redraws as
// they arrive, at most every REDRAW_MS (the events in between are merged, and drawing takes at
// most about a fifth of the time, so the browser leaves the CPU to the training); Cancel deletes
// the job and closes the stream (closing alone stops it too). The page sends the query as it is and
// puts the server's canonical share in the address bar; the form fields only set a few of its
// shared keys, and show the defaults the API gives (/api/v1/train/fields) where the link has none.
// A finished training downloads as JSON (the API's document) and as two CSV files.

import { ApiError, exportUrl } from "./api.js";
import { renderClaim } from "./claim-box.js";
import { COLORS } from "./figures.js";
import { accuracyFigure, activationRows, captureSteps, deadFigure, histogramsFigure, lossFigure, ratioFigure, ridgeChoices, ridgeFigure } from "./train-figures.js";
import { copyLink, showMessage } from "./page.js";
import { mergeProgress } from "./train-progress.js";

const $ = (id) => document.getElementById(id);
/** The form field that sets the link's `key` (its id may differ: the loss chart is #loss). */
const formField = (key) => document.querySelector(`[data-key="${key}"]`);
const API = "/api/v1/train";
const PLOT_CONFIG = {
  responsive: true,
  displaylogo: false,
  showSendToCloud: false,
  modeBarButtonsToRemove: ["select2d", "lasso2d"],
  toImageButtonOptions: { filename: "initscope-training", scale: 2 },
};
const KEYS = ["iterations", "batch", "opt", "lr", "loss", "digits"]; // the shared keys the form fields set
// the loss's choices as the select names them (the API's names otherwise)
const LOSS_LABELS = { softmax: "softmax cross-entropy", bce: "binary cross-entropy (sigmoid)" };
const REDRAW_MS = 250; // progress redraws the charts at most this often
// and the drawing takes at most this share of the time: on a core shared with the training, the
// CPU the page uses is CPU the training waits for
const DRAW_SHARE = 0.2;

const state = {
  presets: [],
  fields: {}, // the API's training fields by link key: type, bounds, default
  job: null,
  result: null,
  labels: [],
  follow: true,
  drawing: null, // the draw under way (a promise)
  queued: null, // what to draw next: "all" or "captures"
  urgent: false, // the next draw is the user's (or the end's): no waiting
  timer: 0,
  frame: 0,
  last: { start: -Infinity, end: -Infinity }, // the last draw's times (performance.now())
  captures: "", // what the capture figures show (see capturesKey)
  generation: 0, // counts the trainings started
};

// ---- the query and the form fields -----------------------------------------------------------

/** The query with shared `key` set to `value` (removed when blank); run items are left alone. */
function setShared(query, key, value) {
  const parts = query.split("&").filter((p) => p && !p.startsWith(`${key}=`));
  if (value === "") return parts.join("&");
  const firstRun = parts.findIndex((p) => p.startsWith("run="));
  parts.splice(firstRun < 0 ? parts.length : firstRun, 0, `${key}=${encodeURIComponent(value)}`);
  return parts.join("&");
}

function syncFields() {
  const query = $("query").value.trim();
  const params = new URLSearchParams(query);
  for (const key of KEYS) formField(key).value = params.get(key) ?? "";
  const preset = state.presets.find((p) => p.share === query);
  $("preset").value = preset ? preset.name : "";
  $("preset-info").textContent = preset ? `From ${preset.source}.` : "";
  // The preset's claim, its verdict and the measured numbers behind it (the chart to read them in).
  renderClaim($("claim"), preset?.claim ?? null, preset?.share);
  // The learning rate's default is the optimizer's: the link's, or the default one.
  const { lr, opt } = state.fields;
  if (lr && opt) $("lr").placeholder = String(lr.defaults[$("opt").value || opt.default] ?? lr.default ?? "");
  // The digits are a binary classifier's on MNIST: the field shows only then (or to clear a
  // link's digits, which the API would refuse).
  const data = params.get("data") ?? state.fields.data?.default ?? "mnist";
  $("digits-field").hidden = !(params.get("loss") === "bce" && data === "mnist") && !params.has("digits");
}

/** The query with the form's `key` set to `value`: a loss other than bce drops the digits. */
function setField(query, key, value) {
  const set = setShared(query, key, value);
  return key === "loss" && value !== "bce" ? setShared(set, "digits", "") : set;
}

/** The fields from the API's training fields: a blank field shows the default in grey (what a
 * link without the key trains with), the optimizers are the API's, bounds and help its own. */
function applyFields(fields) {
  state.fields = Object.fromEntries(fields.map((f) => [f.name, f]));
  const { opt } = state.fields;
  if (opt) {
    const label = (name) => opt.labels?.[name] ?? name;
    const blank = new Option(`${label(opt.default)} (default)`, "");
    $("opt").replaceChildren(blank, ...opt.choices.map((name) => new Option(label(name), name)));
  }
  const { loss } = state.fields;
  if (loss) {
    const label = (name) => LOSS_LABELS[name] ?? name;
    const blank = new Option(`${label(loss.default)} (default)`, "");
    formField("loss").replaceChildren(blank, ...loss.choices.map((name) => new Option(label(name), name)));
  }
  for (const key of KEYS) {
    const field = state.fields[key];
    if (!field) continue;
    formField(key).title = field.doc;
    if (field.type === "choice") continue;
    if (field.default !== null) formField(key).placeholder = String(field.default);
    if (field.type === "digits") continue; // "4-9": a text field, its bounds the digits'
    if (field.min !== null) formField(key).min = String(field.min);
    if (field.max !== null) formField(key).max = String(field.max);
  }
}

function setQuery(query) {
  $("query").value = query;
  syncFields();
}

// ---- the stream --------------------------------------------------------------------------------

/** The network failed (not the server's answer, not an abort). */
class Lost extends Error {}

async function network(promise) {
  try {
    return await promise;
  } catch (err) {
    throw err.name === "AbortError" ? err : new Lost(`the connection was lost (${err.message})`);
  }
}

/** Server-Sent Events from a fetch response: {event, data} per blank-line-separated block. */
async function* sse(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await network(reader.read());
    if (done) return;
    buffer += value;
    const blocks = buffer.split(/\r?\n\r?\n/);
    buffer = blocks.pop();
    for (const block of blocks) {
      let event = "message";
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

async function open(query, signal) {
  const response = await network(fetch(`${API}/stream?${query}`, { signal, headers: { accept: "text/event-stream" } }));
  if (response.ok) return response;
  const body = await response.json().catch(() => null);
  const wait = response.headers.get("Retry-After");
  if (response.status === 503) {
    throw new ApiError(503, `the server is busy${wait ? `: try again in ${wait} s` : ""}`);
  }
  throw apiError(response.status, body);
}

/** The API's error: the first detail's message, as it names the field. */
function apiError(status, body) {
  const err = new ApiError(status, body?.detail);
  if (Array.isArray(body?.detail) && body.detail[0]?.msg) err.message = body.detail[0].msg;
  return err;
}

async function start() {
  const query = $("query").value.trim();
  const job = (state.job = { controller: new AbortController(), id: null, cancelled: false });
  state.result = null;
  state.follow = true;
  state.generation += 1;
  $("charts").hidden = true; // until this training's first result: no empty or stale charts
  $("downloads").hidden = true;
  $("runs").replaceChildren();
  setRunning(true);
  showMessage("");
  setProgress(0, 0, "starting…");
  try {
    const response = await open(query, job.controller.signal);
    let finished = false;
    for await (const { event, data } of sse(response)) {
      if (job !== state.job) return;
      // Once cancelled, only the server's last word counts: its result, runs marked cancelled.
      if (job.cancelled && event !== "done") continue;
      if (event === "start") onStart(data, job);
      else if (event === "progress") onResult(mergeProgress(state.result, data), { throttled: true });
      else if (event === "done") onResult(data, { done: true });
      else if (event === "error") throw apiError(500, data);
      if (event === "done") finished = true;
    }
    if (!finished && !job.cancelled) showMessage("The server closed the stream before the end: the results shown are partial.");
  } catch (err) {
    if (job.cancelled || job !== state.job) return;
    const partial = state.result ? " The results shown are partial." : "";
    if (!state.result) $("progress-text").textContent = "not started";
    showMessage(`Cannot train: ${err.message}.${partial}`);
    if (!(err instanceof ApiError || err instanceof Lost)) throw err; // a bug: the console says where
  } finally {
    job.finished = true;
    if (job === state.job) setRunning(false);
  }
}

function onStart(data, job) {
  job.id = data.id;
  job.token = data.token; // ours alone: cancelling needs it
  state.labels = data.labels ?? [];
  history.replaceState(null, "", `${location.pathname}?${data.share}`);
  setQuery(data.share);
  setProgress(0, data.iterations);
  renderRuns(state.labels.map((label) => ({ label, status: "waiting", steps: 0 })));
}

/** A result: the progress so far (`throttled`: its charts wait for the next redraw) or, `done`,
 * the training's last word. The bar and the runs' statuses follow every event. */
function onResult(result, { throttled = false, done = false } = {}) {
  state.result = result;
  const steps = Math.max(result.steps ?? 0, ...result.runs.map((r) => r.steps));
  setProgress(steps, result.iterations);
  if (result.runs.some((r) => r.status === "cancelled")) showCancelled(steps, result.iterations);
  else if (state.job.cancelled) showMessage(""); // it had finished before the cancel reached it
  renderRuns(result.runs);
  if (done) showDownloads(result);
  scheduleDraw("all", { throttled });
}

/** The downloads of a finished training (every run done or diverged; a cancelled one is not
 * kept by the server): its document as JSON, its curves and its histograms as CSV. */
function showDownloads(result) {
  const finished = result.runs.every((r) => r.status === "done" || r.status === "diverged");
  $("downloads").hidden = !finished;
  if (!finished) return;
  $("download-json").href = `${API}?${result.share}`;
  $("download-csv").href = exportUrl("train-csv", result.share);
  $("download-histograms").href = exportUrl("train-histograms-csv", result.share);
}

function showCancelled(steps, iterations) {
  $("progress-text").textContent = `cancelled at step ${steps} of ${iterations}`;
  showMessage(`Cancelled at step ${steps}.`, "info");
}

/** Cancel: say so at once, DELETE the job, and close the stream (which alone would stop it too)
 * once the server's last word (its result, runs marked cancelled) is in, or after a second. */
function stop() {
  const job = state.job;
  if (!job || job.cancelled || job.finished) return;
  job.cancelled = true;
  if (job.id) {
    const url = `${API}/${encodeURIComponent(job.id)}?token=${encodeURIComponent(job.token)}`;
    job.deleted = fetch(url, { method: "DELETE" }).catch(() => {});
    job.deleted.then(() => setTimeout(() => job.controller.abort(), 1000));
  } else job.controller.abort();
  setRunning(false);
  const runs = state.result?.runs ?? state.labels.map((label) => ({ label, steps: 0 }));
  for (const run of runs) if (run.status !== "done" && run.status !== "diverged") run.status = "cancelled";
  renderRuns(runs);
  showCancelled($("progress").value, $("progress").max);
}

// ---- status ------------------------------------------------------------------------------------

function setRunning(running) {
  $("start").disabled = running;
  $("cancel").disabled = !running;
  document.body.dataset.running = running ? "1" : "0";
}

function setProgress(steps, iterations, text) {
  const bar = $("progress");
  bar.max = Math.max(1, iterations);
  bar.value = steps;
  $("progress-text").textContent = text ?? `step ${steps} of ${iterations}`;
}

const STATUS = { waiting: "waiting", running: "training", done: "done" };

function renderRuns(runs) {
  const items = runs.map((run, i) => {
    const li = Object.assign(document.createElement("li"), { className: "run" });
    li.dataset.status = run.status;
    const swatch = Object.assign(document.createElement("span"), { className: "swatch" });
    swatch.style.background = COLORS[i % COLORS.length]; // CSSOM, not a style attribute: allowed by the CSP
    const name = Object.assign(document.createElement("span"), { className: "name", textContent: run.label });
    const status = Object.assign(document.createElement("span"), { className: "status" });
    status.textContent = STATUS[run.status] ?? `${run.status} at step ${run.steps}`;
    const acc = run.records?.test_accuracy.at(-1);
    const detail = Object.assign(document.createElement("span"), { className: "hint" });
    if (acc !== undefined && acc !== null) detail.textContent = `test accuracy ${(100 * acc).toFixed(1)}%`;
    li.append(swatch, name, status, detail);
    return li;
  });
  $("runs").replaceChildren(...items);
}

// ---- figures -----------------------------------------------------------------------------------

function fillSelect(select, options) {
  const key = options.map((o) => o.value).join();
  if (select.dataset.options === key) return;
  const keep = select.value;
  select.replaceChildren(...options.map(({ value, text }) => new Option(text, value)));
  select.dataset.options = key;
  select.value = options.some((o) => o.value === keep) ? keep : options[0].value;
}

function syncSelects(result) {
  // hidden layers: a BatchNorm run's norm rows are not layers of their own here
  const hidden = Math.max(1, ...result.runs.map((r) => activationRows(r).length));
  const layers = [...Array(hidden).keys()].map((j) => ({ value: String(j), text: `layer ${j + 1}` }));
  const mean = { value: "mean", text: "mean over layers" };
  fillSelect($("dead-layer"), [mean, ...layers]);
  fillSelect($("ratio-layer"), [mean, ...layers, { value: "output", text: "output layer" }]);
  // the runs' rows side by side (a BatchNorm run's norm rows too), the output unit's last
  fillSelect($("ridge-layer"), ridgeChoices(result));
}

function syncSlider(result) {
  const steps = captureSteps(result);
  const slider = $("capture-step");
  slider.max = String(Math.max(0, steps.length - 1));
  if (state.follow) slider.value = slider.max;
  $("capture-section").hidden = steps.length === 0;
  $("capture-label").textContent = steps.length ? String(steps[Number(slider.value)]) : "";
  return steps[Number(slider.value)];
}

/** What the capture figures show: the training, its captures so far, the step, the values, the
 * layer and the widths. Progress brings new captures only now and then: the same key, no redraw. */
function capturesKey(result, step, kind) {
  const counts = result.runs.map((r) => r.captures.length).join();
  const widths = `${$("histograms").clientWidth}x${$("ridgeline").clientWidth}`;
  return [state.generation, counts, step, kind, $("ridge-layer").value, widths].join("|");
}

async function drawCaptures() {
  const result = state.result;
  if (!result) return;
  const step = syncSlider(result);
  if (step === undefined) return;
  const kind = document.querySelector('input[name="kind"]:checked').value;
  const key = capturesKey(result, step, kind);
  if (key === state.captures) return;
  state.captures = key;
  const grid = histogramsFigure(result, step, { kind, width: $("histograms").clientWidth });
  const ridge = ridgeFigure(result, Number($("ridge-layer").value), { kind, width: $("ridgeline").clientWidth });
  await Promise.all([
    grid && window.Plotly.react("histograms", grid.data, grid.layout, PLOT_CONFIG),
    window.Plotly.react("ridgeline", ridge.data, ridge.layout, PLOT_CONFIG),
  ]);
}

async function draw() {
  const result = state.result;
  if (!result) return;
  $("charts").hidden = false; // before drawing: a hidden plot is laid out at a default width
  syncSelects(result);
  const { iterations } = result;
  const width = (id) => $(id).clientWidth || undefined; // the legend's rows depend on it
  const figures = {
    loss: lossFigure(result, { logY: $("loss-log").checked, iterations, width: width("loss") }),
    accuracy: accuracyFigure(result, { iterations, width: width("accuracy") }),
    dead: deadFigure(result, { which: $("dead-layer").value, iterations, width: width("dead") }),
    ratio: ratioFigure(result, { which: $("ratio-layer").value, iterations, width: width("ratio") }),
  };
  await Promise.all([
    ...Object.entries(figures).map(([id, f]) => window.Plotly.react(id, f.data, f.layout, PLOT_CONFIG)),
    drawCaptures(),
  ]);
  document.body.dataset.drawn = String(Number(document.body.dataset.drawn ?? 0) + 1);
}

/** Redraw with the newest result and view, at the next animation frame; what is asked until then
 * (or during a draw) is drawn once. `part`: "all" the charts, or only the "captures" (the slider,
 * the layer, the values). A `throttled` redraw (progress) waits until REDRAW_MS after the last
 * draw began, and after its end four times as long as it took: drawing takes at most a fifth of
 * the time however slow the machine, and none while the tab is hidden. */
function scheduleDraw(part = "all", { throttled = false } = {}) {
  state.queued = state.queued === "all" || part === "all" ? "all" : "captures";
  if (!throttled) state.urgent = true;
  if (!state.drawing) plan();
}

function plan() {
  if (state.frame) return; // a frame is asked for: it draws what is queued then
  const { start, end } = state.last;
  const idle = (end - start) * (1 / DRAW_SHARE - 1); // after a draw, rest long enough for its share
  const wait = state.urgent ? 0 : Math.max(start + REDRAW_MS, end + idle) - performance.now();
  clearTimeout(state.timer);
  state.timer = setTimeout(() => {
    state.frame = requestAnimationFrame(() => {
      state.frame = 0;
      drawQueued();
    });
  }, Math.max(0, wait));
}

function drawQueued() {
  const part = state.queued;
  if (!part) return;
  state.queued = null;
  state.urgent = false;
  const start = performance.now();
  state.drawing = (part === "all" ? draw() : drawCaptures()).finally(() => {
    state.last = { start, end: performance.now() };
    state.drawing = null;
    if (state.queued) plan();
  });
}

// ---- wiring ------------------------------------------------------------------------------------

function wire() {
  $("start").addEventListener("click", start);
  $("cancel").addEventListener("click", () => stop());
  $("copy-link").addEventListener("click", copyLink);
  $("query").addEventListener("input", syncFields);
  for (const key of KEYS) {
    formField(key).addEventListener("change", (e) => setQuery(setField($("query").value.trim(), key, e.target.value.trim())));
  }
  $("preset").addEventListener("change", (e) => {
    const preset = state.presets.find((p) => p.name === e.target.value);
    if (!preset) return;
    history.pushState(null, "", `${location.pathname}?${preset.share}`);
    setQuery(preset.share);
  });
  for (const id of ["loss-log", "dead-layer", "ratio-layer"]) $(id).addEventListener("change", () => scheduleDraw());
  $("ridge-layer").addEventListener("change", () => scheduleDraw("captures"));
  for (const el of document.querySelectorAll('input[name="kind"]')) el.addEventListener("change", () => scheduleDraw("captures"));
  $("capture-step").addEventListener("input", (e) => {
    state.follow = e.target.value === e.target.max;
    scheduleDraw("captures");
  });
  window.addEventListener("popstate", () => setQuery(location.search.slice(1)));
  let resizing = 0; // the grid's labels depend on the width: redraw once a resize settles
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => scheduleDraw(), 200);
  });
}

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new ApiError(response.status, null);
  return response.json();
}

async function main() {
  wire();
  try {
    const [presets, fields] = await Promise.all([getJson(`${API}/presets`), getJson(`${API}/fields`)]);
    state.presets = presets;
    applyFields(fields);
  } catch (err) {
    showMessage(`Cannot reach the server: ${err.message}`);
  }
  for (const p of state.presets) $("preset").append(new Option(p.title, p.name));
  let query = location.search.slice(1);
  if (!query && state.presets.length) {
    query = state.presets[0].share;
    history.replaceState(null, "", `${location.pathname}?${query}`);
  }
  setQuery(query);
  if (!$("message").textContent) showMessage("Press Start to train these networks; the charts grow as it runs.", "info");
  document.body.dataset.ready = "1";
}

main();
