// The dashboard: controls -> API -> figures, with the address bar always a link to what is shown.
// The experiment lives in the query string (the server's canonical share query); the view
// (grid / overlay / ridgeline, z or activations, log y, which layers) lives in the hash.

import { exportUrl, getCatalog, simulateBody, simulateQuery } from "./api.js";
import { Controls } from "./controls.js";
import { renderClaim } from "./claim-box.js";
import { VIEWS, lastLayers, layerChoices, layerRows, signalFigure, theoryNotes } from "./figures.js";
import { copyLink, loadAndDraw, showMessage } from "./page.js";
import { PHASE_NOTE, SIGNAL_NOTE, viewNote } from "./glossary.js";
import { PhasePanel } from "./phase-panel.js";
import { fittedHeight, presentationOrder, stepPreset } from "./present.js";

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
const state = { catalog: null, result: null, controls: null, changedAt: 0, timer: 0, edits: 0, phase: null };

function viewState() {
  const hash = new URLSearchParams(location.hash.slice(1));
  return {
    view: VIEWS[hash.get("view")] && hash.get("view") !== "signal" ? hash.get("view") : "grid",
    kind: ["pre", "grad"].includes(hash.get("kind")) ? hash.get("kind") : "post",
    log: hash.get("log") === "1",
    layers: hash.get("layers") ?? "auto",
    scale: hash.get("scale") === "common" ? "common" : "ridge", // the ridgeline's heights
    present: hash.get("present") === "1",
    order: hash.get("order"), // the presets the arrow keys step through, when presenting
  };
}

function hashOf(v) {
  const hash = new URLSearchParams({ view: v.view, kind: v.kind, log: v.log ? "1" : "0", layers: v.layers });
  if (v.scale === "common") hash.set("scale", "common");
  if (v.present) hash.set("present", "1");
  if (v.present && v.order) hash.set("order", v.order);
  return `#${hash}`;
}

function setView(patch) {
  history.replaceState(null, "", `${location.pathname}${location.search}${hashOf({ ...viewState(), ...patch })}`);
  syncViewControls();
  draw();
}

const hasGradients = (result) => Boolean(result?.runs.some((run) => run.layers[0]?.grad));

/** The view as drawn: gradients only when the result has them. */
function drawnView() {
  const v = viewState();
  if (v.kind === "grad" && !hasGradients(state.result)) v.kind = "post";
  return v;
}

function syncViewControls() {
  const v = drawnView();
  for (const el of document.querySelectorAll('input[name="view"]')) el.checked = el.value === v.view;
  for (const el of document.querySelectorAll('input[name="kind"]')) el.checked = el.value === v.kind;
  const hasGrad = hasGradients(state.result);
  $("gradients").checked = hasGrad;
  $("per-run-axes").checked = state.result?.experiment.axes === "run";
  document.querySelector('input[name="kind"][value="grad"]').disabled = !hasGrad;
  const depth = state.result ? Math.max(...state.result.runs.map((r) => r.layers.length)) : 0;
  const choices = layerChoices(depth);
  const select = $("layers");
  select.replaceChildren(
    ...choices.map(({ value, text }) => Object.assign(document.createElement("option"), { value, text })),
  );
  select.value = choices.some((c) => c.value === v.layers) ? v.layers : "auto";
  const everyLayer = v.view === "ridgeline" || v.view === "distribution"; // these draw all layers
  $("layers-field").hidden = choices.length === 0 || everyLayer;
  $("log-y").disabled = v.view === "distribution"; // values, not counts: no log axis there
  $("log-y").checked = v.log && v.view !== "distribution";
  $("scale-field").hidden = v.view !== "ridgeline";
  $("common-scale").checked = v.scale === "common";
}

async function draw() {
  const result = state.result;
  if (!result) return;
  const v = drawnView(); // no backward pass run: activations, and the controls say so
  const depth = Math.max(...result.runs.map((r) => r.layers.length));
  const rows = layerRows(depth, v.layers, 10, lastLayers(result));
  $("charts").hidden = false; // before drawing: a hidden plot would be laid out at a default width
  document.body.classList.toggle("presenting", v.present);
  const width = $("figure").clientWidth;
  // Presenting: large fonts, and every row on the screen (the figure takes what is left of it).
  const height = v.present ? fittedHeight(window.innerHeight, $("figure").getBoundingClientRect().top + window.scrollY) : null;
  const main = VIEWS[v.view](result, { kind: v.kind, logY: v.log, rows, width, scale: v.scale, height, large: v.present });
  $("explain-view").textContent = viewNote(v.view, v.kind, result.experiment.loss ?? "normal");
  await Promise.all([
    window.Plotly.react("figure", main.data, main.layout, PLOT_CONFIG),
    window.Plotly.react("signal", ...Object.values(signalFigure(result, { width })), PLOT_CONFIG),
    drawPhase(result),
  ]);
  const everyLayer = v.view === "ridgeline" || v.view === "distribution";
  const caption = depth > rows.length && !everyLayer ? ` (${rows.length} of ${depth} layers shown)` : "";
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  $("figure-caption").textContent = `${plural(result.runs.length, "run")} × ${plural(depth, "layer")}${caption}`;
  document.body.dataset.ready = "1";
}

/** The phase diagrams, one per activation, unless the link switched the theory off. */
async function drawPhase(result) {
  const hasTheory = result.runs.some((run) => run.theory);
  $("phase-section").hidden = !hasTheory; // theory=0 in the link: nothing to place on a diagram
  if (hasTheory) await state.phase.draw(result);
}

/** A click on a diagram gives the chosen run weights N(0, (sigma_w / sqrt(width))^2) and biases
 * N(0, sigma_b^2): that run moves to the point; the other runs stay where they are. */
function onPhasePick(run, sigmaW, sigmaB) {
  const config = state.result?.runs[run]?.config;
  if (!config) return;
  const width = Array.isArray(config.width) ? config.width[0] : config.width;
  const round = (x) => Number(x.toPrecision(4));
  const bias = sigmaB > 0.001 ? { bias: "normal", bias_std: round(sigmaB) } : { bias: "none", bias_std: "" };
  state.controls.set(run, { init: "normal", std: round(sigmaW / Math.sqrt(width)), ...bias });
}

async function apply(result, edits) {
  state.result = result;
  history.replaceState(null, "", `${location.pathname}?${result.share}${location.hash}`);
  if (edits === state.edits) state.controls.fill(result.experiment);
  const preset = presetOf(result.share);
  // A preset's link without a view (?preset=name too) opens in the view its claim is about.
  if (!location.hash && preset?.claim) history.replaceState(null, "", `${location.pathname}?${result.share}${claimHash(preset)}`);
  $("preset").value = preset ? preset.name : "";
  $("preset-info").textContent = preset ? preset.title : "";
  $("present-title").textContent = preset ? preset.title : "Custom experiment";
  renderClaim($("claim"), preset?.claim ?? null, preset?.share);
  showNotes(result);
  $("download-csv").href = exportUrl("csv", result.share);
  $("download-report").href = exportUrl("report", result.share);
  $("units-link").href = `/units?${result.share}&layer=${preset?.claim?.units_layer ?? 1}`;
  showMessage("");
  syncViewControls();
  await draw();
  const ms = state.changedAt ? Math.round(performance.now() - state.changedAt) : null;
  if (ms !== null) document.body.dataset.renderMs = String(ms);
  $("status").textContent = ms === null ? "" : `Updated in ${ms} ms`;
  state.changedAt = 0;
}

/** Presenting: step to the previous or next preset of the order (the arrow keys). */
function stepPresentation(delta) {
  const v = viewState();
  const names = state.catalog.presets.map((p) => p.name);
  const next = state.catalog.presets.find((p) => p.name === stepPreset(presentationOrder(v.order, names), $("preset").value, delta));
  if (next) choosePreset(next);
}

/** Open `preset` in the view its claim is about, as a new history entry. */
function choosePreset(preset) {
  state.changedAt = performance.now();
  history.pushState(null, "", `${location.pathname}?${preset.share}${claimHash(preset) ?? location.hash}`);
  syncViewControls();
  return loadQuery(preset.share);
}

function onKey(event) {
  if (!viewState().present || event.target.closest?.("input, select, textarea")) return;
  if (event.key === "ArrowRight" || event.key === "PageDown") stepPresentation(1);
  else if (event.key === "ArrowLeft" || event.key === "PageUp") stepPresentation(-1);
  else if (event.key === "Escape") setView({ present: false });
  else return;
  event.preventDefault();
}

/** The preset whose experiment this is. Per-run axes change only how it is binned, so a
 * preset's link with axes=run is still that preset, with its claim. */
function presetOf(share) {
  const experiment = share.split("&").filter((part) => part !== "axes=run").join("&");
  return state.catalog.presets.find((p) => p.share === experiment);
}

/** Why a run has no theory curve: the mean field's assumptions do not hold for it. */
function showNotes(result) {
  const notes = theoryNotes(result);
  $("notes").replaceChildren(
    ...notes.map(({ run, label, note }) =>
      Object.assign(document.createElement("li"), {
        textContent: `Run ${run + 1} (${label}): no theory curve is drawn, because ${note}.`,
      }),
    ),
  );
  $("notes").hidden = notes.length === 0;
}

/** A refused request leaves the figures on the last experiment drawn: the address bar and the
 * controls go back to it, and the message says so. */
function refused() {
  if (!state.result) return;
  history.replaceState(null, "", `${location.pathname}?${state.result.share}${location.hash}`);
  state.controls.fill(state.result.experiment);
  $("preset").value = presetOf(state.result.share)?.name ?? "";
  syncViewControls();
  state.changedAt = 0;
}

function run(request) {
  const edits = state.edits;
  $("status").textContent = "Updating…";
  return loadAndDraw(request, (result) => apply(result, edits), {
    what: "Cannot show this experiment",
    hint: "Fix the link, or pick a preset above.",
    drawn: () => Boolean(state.result),
    still: "The figures still show the previous experiment, and the controls are back to it.",
    failed: () => {
      $("status").textContent = "";
      refused();
    },
  });
}

function onControlsChange() {
  state.edits += 1;
  state.changedAt ||= performance.now();
  clearTimeout(state.timer);
  state.timer = setTimeout(() => run(() => simulateBody({ ...state.controls.read(), ...backwardOptions() })), 40);
}

/** The toolbar's settings of the experiment: the backward pass (off when its box is cleared) and
 * per-run axes; loss and theory stay what the link says. */
function backwardOptions() {
  const options = $("gradients").checked ? {} : { grad: false };
  if ($("per-run-axes").checked) options.axes = "run";
  const { loss, theory } = state.result?.experiment ?? {};
  if (loss) options.loss = loss;
  if (theory === false) options.theory = false;
  return options;
}

/** The hash that opens `preset` in the view its claim is about (the other view settings kept). */
function claimHash(preset) {
  if (!preset.claim?.view) return null;
  return hashOf({ ...viewState(), ...preset.claim.view, layers: "auto" });
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
    if (preset) choosePreset(preset);
  });
  for (const el of document.querySelectorAll('input[name="view"]')) el.addEventListener("change", () => setView({ view: el.value }));
  for (const el of document.querySelectorAll('input[name="kind"]')) el.addEventListener("change", () => setView({ kind: el.value }));
  $("log-y").addEventListener("change", (e) => setView({ log: e.target.checked }));
  $("gradients").addEventListener("change", () => onControlsChange());
  $("per-run-axes").addEventListener("change", () => onControlsChange());
  $("layers").addEventListener("change", (e) => setView({ layers: e.target.value }));
  $("common-scale").addEventListener("change", (e) => setView({ scale: e.target.checked ? "common" : "ridge" }));
  window.addEventListener("popstate", () => loadQuery(location.search.slice(1)));
  $("present").addEventListener("click", () => setView({ present: true }));
  $("present-exit").addEventListener("click", () => setView({ present: false }));
  $("present-prev").addEventListener("click", () => stepPresentation(-1));
  $("present-next").addEventListener("click", () => stepPresentation(1));
  document.addEventListener("keydown", onKey);
  // The figures follow the window (a projector's, a phone turned sideways): redraw once it settles.
  let resized = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resized);
    resized = setTimeout(draw, 150);
  });
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
  // A phone shows the figure first; its settings stay folded until asked for.
  if (window.matchMedia("(max-width: 760px)").matches) {
    for (const section of document.querySelectorAll(".panel details.section")) section.open = false;
  }
  $("explain-signal").textContent = SIGNAL_NOTE;
  $("explain-phase").textContent = PHASE_NOTE;
  state.phase = new PhasePanel($("phase-list"), PLOT_CONFIG, onPhasePick);
  await loadQuery(location.search.slice(1) || state.catalog.presets.find((p) => p.name === DEFAULT_PRESET).share);
}

main();
