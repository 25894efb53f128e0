// The training page: the query string is the training API's share link. Start streams the job's
// partial results (Server-Sent Events over fetch, so a 422's body can be read) and redraws as
// they arrive; Cancel deletes the job and closes the stream (closing alone stops it too). The
// page sends the query as it is and puts the server's canonical share in the address bar; the
// form fields only set a few of its shared keys.

import { ApiError } from "./api.js";
import { COLORS } from "./figures.js";
import { accuracyFigure, captureSteps, deadFigure, histogramsFigure, lossFigure, ratioFigure, ridgeFigure } from "./train-figures.js";
import { copyLink, showMessage } from "./page.js";
import { mergeProgress } from "./train-progress.js";

const $ = (id) => document.getElementById(id);
const API = "/api/v1/train";
const PLOT_CONFIG = {
  responsive: true,
  displaylogo: false,
  showSendToCloud: false,
  modeBarButtonsToRemove: ["select2d", "lasso2d"],
  toImageButtonOptions: { filename: "initscope-training", scale: 2 },
};
const KEYS = ["iterations", "batch", "opt", "lr"]; // the shared keys the form fields set

const state = { presets: [], job: null, result: null, labels: [], follow: true, drawing: null, queued: null };

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
  for (const key of KEYS) $(key).value = params.get(key) ?? "";
  const preset = state.presets.find((p) => p.share === query);
  $("preset").value = preset ? preset.name : "";
  $("preset-info").textContent = preset ? `${preset.shows} From ${preset.source}.` : "";
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
  $("charts").hidden = true; // until this training's first result: no empty or stale charts
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
      else if (event === "progress") onResult(mergeProgress(state.result, data));
      else if (event === "done") onResult(data);
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

function onResult(result) {
  state.result = result;
  const steps = Math.max(result.steps ?? 0, ...result.runs.map((r) => r.steps));
  setProgress(steps, result.iterations);
  if (result.runs.some((r) => r.status === "cancelled")) showCancelled(steps, result.iterations);
  else if (state.job.cancelled) showMessage(""); // it had finished before the cancel reached it
  renderRuns(result.runs);
  scheduleDraw();
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
  const hidden = Math.max(1, ...result.runs.map((r) => r.records.dead_fraction[0]?.length ?? 0));
  const layers = [...Array(hidden).keys()].map((j) => ({ value: String(j), text: `layer ${j + 1}` }));
  const mean = { value: "mean", text: "mean over layers" };
  fillSelect($("dead-layer"), [mean, ...layers]);
  fillSelect($("ratio-layer"), [mean, ...layers, { value: "output", text: "output layer" }]);
  const ridge = [...layers].reverse().map(({ value, text }) => ({ value: String(Number(value) + 1), text }));
  fillSelect($("ridge-layer"), ridge);
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

async function drawCaptures() {
  const result = state.result;
  if (!result) return;
  const step = syncSlider(result);
  if (step === undefined) return;
  const kind = document.querySelector('input[name="kind"]:checked').value;
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
  const figures = {
    loss: lossFigure(result, { logY: $("loss-log").checked, iterations }),
    accuracy: accuracyFigure(result, { iterations }),
    dead: deadFigure(result, { which: $("dead-layer").value, iterations }),
    ratio: ratioFigure(result, { which: $("ratio-layer").value, iterations }),
  };
  await Promise.all([
    ...Object.entries(figures).map(([id, f]) => window.Plotly.react(id, f.data, f.layout, PLOT_CONFIG)),
    drawCaptures(),
  ]);
  document.body.dataset.drawn = String(Number(document.body.dataset.drawn ?? 0) + 1);
}

/** Redraw with the newest result and view; what is asked during a draw waits for it, then draws
 * once. `part`: "all" the charts, or only the "captures" (the slider, the layer, the values). */
function scheduleDraw(part = "all") {
  state.queued = state.queued === "all" || part === "all" ? "all" : "captures";
  if (!state.drawing) drawQueued();
}

function drawQueued() {
  const part = state.queued;
  state.queued = null;
  state.drawing = (part === "all" ? draw() : drawCaptures()).finally(() => {
    state.drawing = null;
    if (state.queued) drawQueued();
  });
}

// ---- wiring ------------------------------------------------------------------------------------

function wire() {
  $("start").addEventListener("click", start);
  $("cancel").addEventListener("click", () => stop());
  $("copy-link").addEventListener("click", copyLink);
  $("query").addEventListener("input", syncFields);
  for (const key of KEYS) {
    $(key).addEventListener("change", (e) => setQuery(setShared($("query").value.trim(), key, e.target.value.trim())));
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

async function main() {
  wire();
  try {
    const response = await fetch(`${API}/presets`);
    if (!response.ok) throw new ApiError(response.status, null);
    state.presets = await response.json();
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
