// The dashboard: controls -> API -> figures, with the address bar always a link to what is shown.
// The experiment lives in the query string (the server's canonical share query); the view
// (grid / overlay / ridgeline, z or activations, log y, which layers) lives in the hash.

import { exportUrl, getCatalog, simulateBody, simulateQuery } from "./api.js";
import { Controls } from "./controls.js";
import { VIEWS, fmt, layerChoices, layerRows, phaseFigure, signalFigure } from "./figures.js";
import { copyLink, loadAndDraw, showMessage } from "./page.js";

const $ = (id) => document.getElementById(id);
const PLOT_CONFIG = {
  responsive: true,
  displaylogo: false,
  showSendToCloud: false, // plotly.js 4 defaults to a button that uploads the chart to its cloud
  modeBarButtonsToRemove: ["select2d", "lasso2d"],
  toImageButtonOptions: { filename: "initscope", scale: 2 },
};
const DEFAULT_PRESET = "saito-compare";

// edits counts control changes, so an answer to an older request never overwrites newer input.
const state = { catalog: null, result: null, controls: null, changedAt: 0, timer: 0, edits: 0, phases: new Map() };

function viewState() {
  const hash = new URLSearchParams(location.hash.slice(1));
  return {
    view: VIEWS[hash.get("view")] && hash.get("view") !== "signal" ? hash.get("view") : "grid",
    kind: ["pre", "grad"].includes(hash.get("kind")) ? hash.get("kind") : "post",
    log: hash.get("log") === "1",
    layers: hash.get("layers") ?? "auto",
  };
}

function setView(patch) {
  const v = { ...viewState(), ...patch };
  const hash = new URLSearchParams({ view: v.view, kind: v.kind, log: v.log ? "1" : "0", layers: v.layers });
  history.replaceState(null, "", `${location.pathname}${location.search}#${hash}`);
  syncViewControls();
  draw();
}

function syncViewControls() {
  const v = viewState();
  for (const el of document.querySelectorAll('input[name="view"]')) el.checked = el.value === v.view;
  for (const el of document.querySelectorAll('input[name="kind"]')) el.checked = el.value === v.kind;
  $("log-y").checked = v.log;
  const hasGrad = Boolean(state.result?.runs[0].layers[0].grad);
  $("gradients").checked = hasGrad;
  document.querySelector('input[name="kind"][value="grad"]').disabled = !hasGrad;
  const depth = state.result ? Math.max(...state.result.runs.map((r) => r.layers.length)) : 0;
  const choices = layerChoices(depth);
  const select = $("layers");
  select.replaceChildren(
    ...choices.map(({ value, text }) => Object.assign(document.createElement("option"), { value, text })),
  );
  select.value = choices.some((c) => c.value === v.layers) ? v.layers : "auto";
  $("layers-field").hidden = choices.length === 0 || v.view === "ridgeline";
}

async function draw() {
  const result = state.result;
  if (!result) return;
  const v = viewState();
  if (v.kind === "grad" && !result.runs[0].layers[0].grad) v.kind = "post"; // no backward pass run
  const depth = Math.max(...result.runs.map((r) => r.layers.length));
  const rows = layerRows(depth, v.layers);
  $("charts").hidden = false; // before drawing: a hidden plot would be laid out at a default width
  const width = $("figure").clientWidth;
  const main = VIEWS[v.view](result, { kind: v.kind, logY: v.log, rows, width });
  await Promise.all([
    window.Plotly.react("figure", main.data, main.layout, PLOT_CONFIG),
    window.Plotly.react("signal", ...Object.values(signalFigure(result)), PLOT_CONFIG),
    drawPhase(result),
  ]);
  if (!state.phaseWired) {
    $("phase").on("plotly_click", onPhaseClick);
    state.phaseWired = true;
  }
  const caption = depth > rows.length && v.view !== "ridgeline" ? ` (${rows.length} of ${depth} layers shown)` : "";
  $("figure-caption").textContent = `${result.runs.length} runs × ${depth} layers${caption}`;
  if (state.changedAt) {
    const ms = Math.round(performance.now() - state.changedAt);
    document.body.dataset.renderMs = String(ms);
    $("status").textContent = `Updated in ${ms} ms`;
    state.changedAt = 0;
  }
  document.body.dataset.ready = "1";
}

/** The phase diagram of the first run's activation, with every run that uses it marked. */
async function drawPhase(result) {
  const hasTheory = result.runs.every((run) => run.theory);
  $("phase-section").hidden = !hasTheory; // theory=0 in the link: nothing to place on the diagram
  if (!hasTheory) return;
  const first = result.runs[0].config;
  const marked = result.runs.map((run, index) => ({ run, index })).filter((r) => r.run.config.activation === first.activation);
  const sigma = (r) => Math.sqrt(r.run.theory.sigma_w2.at(r.run.theory.sigma_w2.length > 1 ? 1 : 0) ?? 0);
  const query = new URLSearchParams({
    activation: first.activation,
    // Wide enough to show every run (the API allows up to 50).
    sigma_w_max: String(Math.min(50, Math.max(4, Math.ceil(1.2 * Math.max(...marked.map(sigma)))))),
    sigma_b_max: String(
      Math.min(50, Math.max(1, Math.ceil(1.2 * Math.max(...marked.map((r) => Math.sqrt(r.run.theory.sigma_b2)))))),
    ),
  });
  for (const name of ["alpha", "pieces"]) if (first[name] !== undefined) query.set(name, String(first[name]));
  const phases = (key) => {
    if (!state.phases.has(key)) state.phases.set(key, fetch(`/api/v1/phase-diagram?${key}`).then((r) => r.json()));
    return state.phases.get(key);
  };
  let diagram = await phases(query.toString());
  // Where the map has two stable variances the phase depends on where it starts: draw the
  // diagram from the first run's own q1, as that run's theory does.
  const q1 = result.runs[0].layers[0].theory?.q;
  const bistable = diagram.bistable?.some((row) => row.some(Boolean));
  if (bistable && Number.isFinite(q1) && q1 >= 1e-12 && q1 <= 1e12) {
    query.set("q0", String(q1));
    diagram = await phases(query.toString());
  }
  const { data, layout } = phaseFigure(diagram, marked);
  await window.Plotly.react("phase", data, layout, PLOT_CONFIG);
  $("phase-title").textContent = `Order-to-chaos phase diagram: ${first.activation}`;
  const start = query.has("q0") ? `q₁ = ${fmt(diagram.q0)}, run 1's first layer` : `q = ${fmt(diagram.q0)}`;
  $("phase-start").hidden = !bistable;
  $("phase-start").textContent = bistable
    ? `Inside the dotted line the variance map has two stable fixed points, so the phase there depends ` +
      `on where it starts: the colours are for ${start}; a marker's hover gives its run's own phase.`
    : "";
  const select = $("phase-run");
  select.replaceChildren(
    ...marked.map((r) => Object.assign(document.createElement("option"), { value: String(r.index), text: `run ${r.index + 1}` })),
  );
}

/** A click on the diagram gives the chosen run weights N(0, (sigma_w / sqrt(width))^2) and every run
 * biases N(0, sigma_b^2): the network moves to that point of the diagram. */
function onPhaseClick(event) {
  const point = event.points?.[0];
  const run = Number($("phase-run").value);
  const config = state.result?.runs[run]?.config;
  if (!point || !config) return;
  const width = Array.isArray(config.width) ? config.width[0] : config.width;
  const round = (x) => Number(x.toPrecision(4));
  state.controls.set(null, point.y > 0.001 ? { bias: "normal", bias_std: round(point.y) } : { bias: "none" });
  state.controls.set(run, { init: "normal", std: round(point.x / Math.sqrt(width)) });
}

function apply(result, edits) {
  state.result = result;
  history.replaceState(null, "", `${location.pathname}?${result.share}${location.hash}`);
  if (edits === state.edits) state.controls.fill(result.experiment);
  const preset = state.catalog.presets.find((p) => p.share === result.share);
  $("preset").value = preset ? preset.name : "";
  $("preset-info").textContent = preset ? `${preset.shows} From ${preset.source}.` : "";
  $("download-csv").href = exportUrl("csv", result.share);
  $("download-report").href = exportUrl("report", result.share);
  showMessage("");
  syncViewControls();
  return draw();
}

function run(request) {
  const edits = state.edits;
  return loadAndDraw(request, (result) => apply(result, edits), {
    what: "Cannot show this experiment",
    hint: "Fix the link, or pick a preset above.",
    drawn: () => Boolean(state.result),
  });
}

function onControlsChange() {
  state.edits += 1;
  state.changedAt ||= performance.now();
  clearTimeout(state.timer);
  state.timer = setTimeout(() => run(() => simulateBody({ ...state.controls.read(), ...backwardOptions() })), 40);
}

/** The backward pass: off when the Backward pass box is cleared; loss and theory stay what the link says. */
function backwardOptions() {
  const options = $("gradients").checked ? {} : { grad: false };
  const { loss, theory } = state.result?.experiment ?? {};
  if (loss) options.loss = loss;
  if (theory === false) options.theory = false;
  return options;
}

function loadQuery(query) {
  return run(() => simulateQuery(query));
}

function downloadJson() {
  if (!state.result) return;
  const blob = new Blob([JSON.stringify(state.result, null, 1)], { type: "application/json" });
  const a = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: "initscope.json" });
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function wire() {
  $("add-run").addEventListener("click", () => state.controls.addRun());
  $("copy-link").addEventListener("click", copyLink);
  $("download-json").addEventListener("click", downloadJson);
  $("preset").addEventListener("change", (e) => {
    const preset = state.catalog.presets.find((p) => p.name === e.target.value);
    if (!preset) return;
    state.changedAt = performance.now();
    history.pushState(null, "", `${location.pathname}?${preset.share}${location.hash}`);
    loadQuery(preset.share);
  });
  for (const el of document.querySelectorAll('input[name="view"]')) el.addEventListener("change", () => setView({ view: el.value }));
  for (const el of document.querySelectorAll('input[name="kind"]')) el.addEventListener("change", () => setView({ kind: el.value }));
  $("log-y").addEventListener("change", (e) => setView({ log: e.target.checked }));
  $("gradients").addEventListener("change", () => onControlsChange());
  $("layers").addEventListener("change", (e) => setView({ layers: e.target.value }));
  window.addEventListener("popstate", () => loadQuery(location.search.slice(1)));
}

async function main() {
  state.changedAt = performance.now(); // the first draw is timed from page start too
  wire();
  try {
    state.catalog = await getCatalog();
  } catch (err) {
    showMessage(`Cannot reach the server: ${err.message}`);
    return;
  }
  const menu = $("preset");
  for (const p of state.catalog.presets) menu.append(Object.assign(document.createElement("option"), { value: p.name, text: p.title }));
  state.controls = new Controls(state.catalog, { shared: $("shared"), runs: $("runs"), onChange: onControlsChange });
  const query = location.search.slice(1);
  const fallback = state.catalog.presets.find((p) => p.name === DEFAULT_PRESET).share;
  await loadQuery(query || fallback);
}

main();
