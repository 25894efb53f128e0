// The dashboard: controls -> API -> figures, with the address bar always a link to what is shown.
// The experiment lives in the query string (the server's canonical share query); the view
// (grid / overlay / ridgeline, z or activations, log y, which layers) lives in the hash.
// A moving slider redraws live (the link untouched); its release, as any change, commits: the
// link follows. Every request goes through one LatestOnly: the newest value wins.

import { ApiError, exportUrl, getCatalog, refusedLinkMessage, simulateBody, simulateQuery, withoutRefused } from "./api.js";
import { ensembleCaption } from "./bands.js";
import { Controls } from "./controls.js";
import { renderClaim } from "./claim-box.js";
import { CorrelationPanel } from "./correlation-panel.js";
import { VIEWS, lastLayers, layerChoices, layerRows, signalFigure, theoryNotes } from "./figures.js";
import { rowCount, typedRows } from "./layers.js";
import { copyLink, showMessage } from "./page.js";
import { PHASE_NOTE, SIGNAL_NOTE, viewNote } from "./glossary.js";
import { PhasePanel } from "./phase-panel.js";
import { gridColumns, mergeColumns, planParts } from "./grid-columns.js";
import { fittedHeight, presentationOrder, stepPreset } from "./present.js";
import { LatestOnly } from "./slider-live.js";

const $ = (id) => document.getElementById(id);
// Set a text or an attribute only when it changes: each write invalidates the page's layout, which
// the next redraw then pays for (plotly measures the page as it draws).
const setText = (el, text) => el.textContent !== text && (el.textContent = text);
const setAttr = (el, name, value) => el.getAttribute(name) !== value && el.setAttribute(name, value);
// The phase diagrams wait for a pause this long in the answers (a held arrow key, a drag's end):
// they are the page's costliest drawing, and the histograms come first.
const PHASE_QUIET_MS = 150;
const PLOT_CONFIG = {
  responsive: true,
  displaylogo: false,
  showSendToCloud: false, // plotly.js 4 defaults to a button that uploads the chart to its cloud
  modeBarButtonsToRemove: ["select2d", "lasso2d"],
  toImageButtonOptions: { filename: "initscope", scale: 2 },
};
const DEFAULT_PRESET = "saito-compare";
// Presentation sets large type only on a figure at least this wide (a projector, not a phone).
const LARGE_TYPE_MIN_WIDTH = 700;

// edits counts control changes, so an answer to an older request never overwrites newer input;
// changedAt is the first change not yet drawn (0: none).
const state = {
  catalog: null, result: null, controls: null, changedAt: 0, timer: 0, edits: 0, phase: null,
  drawing: null, drawAgain: false, phaseDrawing: null, phaseNext: null, phaseTimer: 0, phaseDone: null,
  commits: 0, claimOf: undefined, notes: "",
};
// When each result's figure was drawn (a result folded into a later draw has none), and how long
// after its control change.
const drawnAt = new WeakMap();
const plotMs = new WeakMap(); // of which building and drawing the plots took
const shownIn = new WeakMap();
// What each plot shows ({ result, key }), so a draw skips a plot already showing it.
const shownPlots = new Map();
// The main figure's plots in #figure: one for a view or a grid drawn whole, one per run column for
// the grid (laid on top of each other), so a redraw reacts only what changed.
const parts = [];
// Each column's figure drawn (and as JSON), whether as one plot, and what the last draw reacted.
const partsShown = { json: null, whole: false, columns: null, drew: "" };
const configured = new WeakSet(); // parts given their config
let dragmode = null; // zoom or pan, as chosen in the modebar: kept for every part and redraw
// The plots on the screen or near it (IntersectionObserver): an off-screen one waits.
const onScreen = new Set();
// The correlation map and the phase diagrams below it are drawn together: near if either is.
const panelsNear = () => onScreen.has("correlation-section") || onScreen.has("phase-section");
// Answers to a slider still moving: their phase diagrams wait for the release (a diagram is a
// request of its own and the page's costliest drawing; the drag needs the histograms).
const liveResults = new WeakSet();
// The time from a control change to its redrawn figure, split into waiting, the request and the
// drawing, for a test (and a curious visitor) to read; also as performance measures.
const timings = (window.initscopeTimings = []);
const requests = new LatestOnly({
  send: (request, signal) => (request.body ? simulateBody(request.body, signal) : simulateQuery(request.query, signal)),
});
window.initscopeRequests = requests; // its `aborted` count, for the tests

/** The link to this share link's diagnostics (/diagnostics), beside the Units button; made once. */
function diagnosticsLink() {
  let link = $("diagnostics-link");
  if (!link) {
    const title = "Correlation map and Jacobian spectrum of these networks";
    link = Object.assign(document.createElement("a"), { id: "diagnostics-link", className: "button", textContent: "Diagnostics", title });
    $("units-link").after(" ", link);
  }
  return link;
}

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
    phase: hash.get("phase") === "xi_c" ? "xi_c" : "chi", // what colours the phase diagrams
  };
}

function hashOf(v) {
  const hash = new URLSearchParams({ view: v.view, kind: v.kind, log: v.log ? "1" : "0", layers: v.layers });
  if (v.scale === "common") hash.set("scale", "common");
  if (v.present) hash.set("present", "1");
  if (v.present && v.order) hash.set("order", v.order);
  if (v.phase === "xi_c") hash.set("phase", "xi_c");
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
  syncSeeds(state.result);
  document.querySelector('input[name="kind"][value="grad"]').disabled = !hasGrad;
  // rows of the runs side by side: a BatchNorm run's norm rows are rows of their own
  const choices = state.result ? layerChoices(rowCount(state.result), 10, state.result) : [];
  const select = $("layers");
  const key = choices.map((c) => c.value).join();
  if (select.dataset.choices !== key) {
    select.dataset.choices = key;
    select.replaceChildren(
      ...choices.map(({ value, text }) => Object.assign(document.createElement("option"), { value, text })),
    );
  }
  select.value = choices.some((c) => c.value === v.layers) ? v.layers : "auto";
  const everyLayer = v.view === "ridgeline" || v.view === "distribution"; // these draw all layers
  $("layers-field").hidden = choices.length === 0 || everyLayer;
  $("log-y").disabled = v.view === "distribution"; // values, not counts: no log axis there
  $("log-y").checked = v.log && v.view !== "distribution";
  $("scale-field").hidden = v.view !== "ridgeline";
  $("common-scale").checked = v.scale === "common";
}

/** Draw state.result. Draws never overlap: one asked for while another runs happens once after
 * it, with the newest result (a drag's intermediate answers are skipped, not queued). */
function draw() {
  state.drawAgain = true;
  return drawing();
}

/** The one drawing in progress, started if none is: `first` (if given), then draws while asked. */
function drawing(first = null) {
  state.drawing ??= (async () => {
    try {
      if (first) await first();
      while (state.drawAgain) {
        state.drawAgain = false;
        await drawFigures();
      }
    } finally {
      state.drawing = null;
    }
  })();
  return state.drawing;
}

async function drawFigures() {
  const result = state.result;
  if (!result) return;
  const started = performance.now();
  const v = drawnView(); // no backward pass run: activations, and the controls say so
  const depth = Math.max(...result.runs.map((r) => r.layers.length));
  const total = rowCount(result); // the runs' rows side by side (layer networks have more than depth)
  const rows = layerRows(total, v.layers, 10, lastLayers(result), result);
  $("charts").hidden = false; // before drawing: a hidden plot would be laid out at a default width
  document.body.classList.toggle("presenting", v.present);
  const width = $("figure").clientWidth;
  // Presenting: every row on the screen (the figure takes what is left of it), and large fonts
  // where a room reads them: on a phone, held close, they only overlap.
  const height = v.present ? fittedHeight(window.innerHeight, $("figure").getBoundingClientRect().top + window.scrollY) : null;
  const large = v.present && width >= LARGE_TYPE_MIN_WIDTH;
  const figureKey = `${hashOf(v)}|${width}|${height}|${large}`;
  // The signal chart below the grid is drawn with it when on the screen. Off the screen, a moving
  // slider's answers leave it (it follows when scrolled to, or at the release) and a commit draws
  // it once the browser has painted the grid: a quarter of a redraw's plotting went on a chart
  // the visitor did not see while the grid waited for it (issue 14).
  const signalKey = String(width);
  const drawSignal = () => reactPlot("signal", signalFigure(result, { width }), width, result, signalKey);
  const signalNow = due("signal", result, signalKey) && onScreen.has("signal");
  if (due("figure", result, figureKey)) {
    const main = VIEWS[v.view](result, { kind: v.kind, logY: v.log, rows, width, scale: v.scale, height, large });
    setText($("explain-view"), viewNote(v.view, v.kind, result.experiment.loss ?? "normal"));
    // Plotly.react on the existing plots: only what changed is redrawn (a new grid only when the
    // rows or columns change). At the width measured: react keeps a plot's first autosized width,
    // so entering presentation (the panel gone) drew the grid at its old width.
    await drawMain(v.view === "grid" ? gridColumns(main, result.runs.length) : [main], width);
    shownPlots.set("figure", { result, key: figureKey });
    if (signalNow) await drawSignal(); // painted together: the time is both plots'
    drawnAt.set(result, performance.now());
    plotMs.set(result, performance.now() - started);
    const everyLayer = v.view === "ridgeline" || v.view === "distribution";
    // a layer network's rows (its norms, a block's projection and sum) are more than its layers
    const unit = typedRows(result) ? "row" : "layer";
    const caption = total > rows.length && !everyLayer ? ` (${rows.length} of ${total} ${unit}s shown)` : "";
    const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
    const drawn = result.ensemble ? ` · ${ensembleCaption(result)}` : ""; // a seed ensemble says what it averages
    setText($("figure-caption"), `${plural(result.runs.length, "run")} × ${plural(unit === "row" ? total : depth, unit)}${caption}${drawn}`);
    if (liveResults.has(result)) markStale(true); // dimmed: not this run's point yet
    else startPhase(result);
  } else if (signalNow) await drawSignal();
  if (!due("signal", result, signalKey) || liveResults.has(result)) return;
  await afterPaint();
  if (state.result !== result) return; // a newer answer came meanwhile: its draw follows
  await drawSignal();
}

/** Whether plot `id` shows something other than `result` drawn with `key` (its view and size). */
const due = (id, result, key) => shownPlots.get(id)?.result !== result || shownPlots.get(id)?.key !== key;

async function reactPlot(id, { data, layout }, width, result, key) {
  // The config goes with a plot's first drawing only: given again, react copies plotly's whole
  // default config and compares it with the old one (a twentieth of a grid's redraw).
  const config = shownPlots.has(id) ? undefined : PLOT_CONFIG;
  await window.Plotly.react(id, data, { ...layout, width }, config);
  shownPlots.set(id, { result, key });
}

/** The main figure's plots: `figures` are a grid's columns, or a view's one figure. A redraw
 * reacts only the columns whose figure changed: a slider moves one run, and plotly redraws a whole
 * plot (every subplot's axes, ticks and notes) for any change of its data (issue 14). When every
 * column changed, the grid is drawn as one plot (planParts). */
async function drawMain(figures, width) {
  const sized = figures.map(({ data, layout }) => ({ data, layout: { ...layout, width, ...(dragmode ? { dragmode } : {}) } }));
  const json = sized.map((figure) => JSON.stringify(figure));
  const plan = planParts(partsShown.json, partsShown.whole, json);
  await drawParts(plan.whole ? [mergeColumns(sized)] : sized, plan.draw);
  Object.assign(partsShown, { json, whole: plan.whole, columns: sized, drew: plan.whole ? "one plot" : `columns ${plan.draw}` });
  // A grid drawn as one plot is split into its columns once the page is idle, so that the next
  // change of one run (the first step of a slider) redraws its column only.
  cancelIdleCallback(state.idleSplit);
  if (plan.whole) state.idleSplit = requestIdleCallback(() => state.drawing || drawing(splitParts));
}

/** The grid drawn as one plot, drawn again as its columns (the same pixels). */
async function splitParts() {
  const { json, columns, whole } = partsShown;
  if (!whole || !json) return;
  await drawParts(columns, columns.map((_, c) => c));
  Object.assign(partsShown, { json, whole: false }); // the columns' JSON as given (plotly adds to them)
}

/** React parts `draw` of #figure to `drawn` (one figure per part), adding or removing parts. */
async function drawParts(drawn, draw) {
  while (parts.length > drawn.length) {
    window.Plotly.purge(parts.pop());
    $("figure").lastElementChild.remove();
  }
  while (parts.length < drawn.length) {
    parts.push($("figure").appendChild(Object.assign(document.createElement("div"), { className: "figure-part" })));
    draw.includes(parts.length - 1) || draw.push(parts.length - 1);
  }
  partsShown.json = null; // a failed react leaves nothing taken for drawn
  // the top parts first: the first part, drawn last, may hold the whole grid till then
  for (const i of [...draw].sort((a, b) => b - a)) {
    // The config goes with a part's first drawing only (given again, react compares plotly's
    // whole default config). The first part holds the modebar; the others none (theirs would
    // sit on top of its).
    const config = configured.has(parts[i]) ? undefined : i === 0 ? mainConfig() : { ...PLOT_CONFIG, displayModeBar: false };
    await window.Plotly.react(parts[i], drawn[i].data, drawn[i].layout, config);
    if (!config) continue;
    configured.add(parts[i]);
    if (i === 0) parts[0].on("plotly_relayout", followMode);
  }
}

/** The modebar's zoom or pan mode, chosen on the first part, for the others too. */
function followMode(event) {
  if (!event.dragmode) return;
  dragmode = event.dragmode;
  for (const part of parts.slice(1)) window.Plotly.relayout(part, { dragmode });
}

/** The main figure as drawn: its parts' traces and layouts as one figure (the grid's columns
 * merged back), for the image download and for reading it as one plot (`#figure.data`). */
const mainFigure = () => mergeColumns(parts.map((p) => ({ data: p.data, layout: p.layout })));

/** Plotly's computed layout of the main figure: one part's own, or the first's with every
 * column's axes. */
function mainFullLayout() {
  if (parts.length < 2) return parts[0]?._fullLayout;
  const full = { ...parts[0]._fullLayout };
  for (const part of parts.slice(1)) {
    for (const [key, value] of Object.entries(part._fullLayout ?? {})) if (/^[xy]axis\d*$/.test(key)) full[key] = value;
  }
  return full;
}

/** The first part's config: its image button downloads the whole figure (every column), and a
 * zoom or pan mode chosen there holds for every column. */
function mainConfig() {
  const download = {
    name: "toImage", // plotly's own name: its place and title in the bar
    title: "Download plot as a png",
    icon: window.Plotly.Icons.camera,
    click: () => {
      const { data, layout } = structuredClone(mainFigure());
      window.Plotly.downloadImage({ data, layout: { ...layout, paper_bgcolor: "#fff" } }, { format: "png", ...PLOT_CONFIG.toImageButtonOptions });
    },
  };
  return { ...PLOT_CONFIG, modeBarButtonsToRemove: [...PLOT_CONFIG.modeBarButtonsToRemove, "toImage"], modeBarButtonsToAdd: [download] };
}

/** Resolves once the browser has painted what was drawn (or soon, in a tab it does not paint). */
const afterPaint = () =>
  new Promise((resolve) => {
    requestAnimationFrame(() => setTimeout(resolve, 0));
    setTimeout(resolve, 100);
  });

/** The phase diagrams and the correlation map dimmed (data-stale) while they show an earlier
 * link than the figure: the map's dimming through the CSSOM (the stylesheet dims the diagrams). */
function markStale(stale) {
  for (const id of ["phase-section", "correlation-section"]) {
    if (stale) $(id).dataset.stale = "1";
    else delete $(id).dataset.stale;
  }
  $("correlation-list").style.opacity = stale ? "0.45" : "";
}

/** The diagrams follow on their own, after a pause in the answers: a slow one (a new axis is a
 * new request) holds no redraw. state.phaseDone resolves once they are drawn. Off the screen they
 * wait, dimmed, and draw once scrolled to (the observer): 300-400 ms of main thread and two
 * requests after every commit went on diagrams nobody saw, while the next change waited (issue 14). */
function startPhase(result) {
  clearTimeout(state.phaseTimer);
  if (!panelsNear()) {
    markStale(true);
    state.phaseDone?.resolve(); // a drawing scrolled away from before it started: nobody waits for it
    state.phaseDone = null;
    state.phaseFor = null;
    return;
  }
  state.phaseFor = result; // the observer's next call (the other panel coming near) starts no second
  let done = state.phaseDone;
  if (!done) {
    let resolve;
    done = state.phaseDone = new Promise((r) => (resolve = r));
    done.resolve = resolve;
  }
  state.phaseTimer = setTimeout(() => {
    state.phaseDone = null;
    const began = performance.now();
    drawPhase(result)
      .then(() => {
        // the time the diagrams took, their requests included (for a test, and a curious visitor)
        performance.measure("initscope: phase diagrams and correlation map", { start: began });
        if (state.result !== result) return;
        markStale(false);
        $("phase-section").dataset.drawn = result.share; // for a test: which link they show
      })
      .catch((err) => showMessage(`Cannot draw the phase diagram: ${err.message}.`))
      .finally(done.resolve);
  }, PHASE_QUIET_MS);
}

/** The phase diagrams of the newest result, one drawing at a time, as the figures. */
function drawPhase(result) {
  state.phaseNext = result;
  state.phaseDrawing ??= (async () => {
    try {
      while (state.phaseNext) {
        const next = state.phaseNext;
        state.phaseNext = null;
        await drawPhaseNow(next);
      }
    } finally {
      state.phaseDrawing = null;
    }
  })();
  return state.phaseDrawing;
}

/** The phase diagrams, one per activation, unless the link switched the theory off. */
async function drawPhaseNow(result) {
  const hasTheory = result.runs.some((run) => run.theory);
  $("phase-section").hidden = !hasTheory; // theory=0 in the link: nothing to place on a diagram
  // the correlation map (a diagnostics request of the same link) draws beside the diagrams
  await Promise.all([hasTheory ? state.phase.draw(result) : null, state.correlation.draw(result)]);
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

/** Show an answer. A commit's becomes the link and fills the controls (unless newer input came
 * meanwhile); a live one (a slider still moving) is drawn only. */
async function apply(result, request) {
  const redraw = result !== state.result; // a commit of the value a drag drew draws nothing again
  state.result = result;
  if (request.commit) liveResults.delete(result);
  else liveResults.add(result);
  const preset = presetOf(result.share);
  if (request.commit) {
    history.replaceState(null, "", `${location.pathname}?${result.share}${location.hash}`);
    // A preset's link without a view (?preset=name too) opens in the view its claim is about.
    if (!location.hash && preset?.claim) history.replaceState(null, "", `${location.pathname}?${result.share}${claimHash(preset)}`);
  }
  if ($("preset").value !== (preset?.name ?? "")) $("preset").value = preset ? preset.name : "";
  setText($("preset-info"), preset ? preset.title : "");
  setText($("present-title"), preset ? preset.title : "Custom experiment");
  if (state.claimOf !== preset) renderClaim($("claim"), preset?.claim ?? null, preset?.share);
  state.claimOf = preset;
  showNotes(result);
  // the downloads hold what is shown, a seed ensemble's means and bands included; /units is one draw's
  const single = result.share.split("&").filter((part) => !part.startsWith("seeds=")).join("&");
  setAttr($("download-csv"), "href", exportUrl("csv", result.share));
  setAttr($("download-report"), "href", exportUrl("report", result.share));
  setAttr($("units-link"), "href", `/units?${single}&layer=${preset?.claim?.units_layer ?? 1}`); // one draw's units
  setAttr(diagnosticsLink(), "href", `/diagnostics?${result.share}`);
  if (!$("message").hidden) showMessage("");
  syncViewControls();
  if (redraw) await draw();
  else if (request.commit) {
    // a drag's release: the value is drawn, but an off-screen signal chart waited for it
    if (shownPlots.get("signal")?.result !== result) await draw();
    if ($("phase-section").dataset.stale) startPhase(result);
  }
  // The controls take the canonical experiment after the figure is drawn (unless newer input
  // came meanwhile): filling them before it cost the redraw their writes and a relayout of the panel.
  if (request.commit && request.edits === state.edits) state.controls.fill(result.experiment);
  if (request.edits === state.edits) state.changedAt = 0; // the figure shows every change made
  record(result, request, redraw);
  await state.phaseDone; // ready once the diagrams are drawn too
  document.body.dataset.ready = "1";
}

/** Record how long `request`'s control change took to reach the figure, in parts: waiting (for
 * an earlier request or the commit's batching), the request (server and network) and the
 * drawing (the page's work after the answer). */
function record(result, request, redraw) {
  const end = drawnAt.get(result);
  const total = request.changedAt ? Math.round((end ?? performance.now()) - request.changedAt) : null;
  if (redraw && total !== null) shownIn.set(result, total);
  if (request.commit) {
    // a drag's release commits what the drag already drew: its time is that drawing's
    const ms = redraw ? total : (shownIn.get(result) ?? null);
    if (ms !== null) document.body.dataset.renderMs = String(ms);
    $("status").textContent = ms === null ? "" : `Updated in ${ms} ms`;
  }
  if (!redraw || request.reused || end === undefined || total === null) return; // nothing requested or drawn for it
  const entry = {
    live: !request.commit,
    total,
    wait: Math.round(request.sentAt - request.changedAt),
    request: Math.round(request.answeredAt - request.sentAt),
    draw: Math.round(end - request.answeredAt),
    plot: Math.round(plotMs.get(result)),
    drew: partsShown.drew, // the main figure's plots reacted: "one plot" or "columns 0,2"
    share: result.share,
  };
  timings.push(entry);
  if (timings.length > 500) timings.shift();
  performance.measure("initscope: control change to figure", { start: request.changedAt, end, detail: entry });
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
 * preset's link with or without axes=run is still that preset, with its claim (a preset may have
 * per-run axes of its own: maxout-relu-sigmoid). */
function presetOf(share) {
  const binless = (query) => query.split("&").filter((part) => part !== "axes=run" && !part.startsWith("seeds=")).join("&");
  const experiment = binless(share);
  return state.catalog.presets.find((p) => binless(p.share) === experiment);
}

/** The weight-draws select shows the answer's draws (a link's seeds=3 adds its option). With
 * per-run axes too, each run's draws share their own range. */
function syncSeeds(result) {
  const select = $("seeds");
  const seeds = String(result?.ensemble?.seeds ?? 1);
  if (![...select.options].some((o) => o.value === seeds)) select.add(new Option(seeds, seeds));
  select.value = seeds;
}

/** Why a run has no theory curve: the mean field's assumptions do not hold for it. */
function showNotes(result) {
  const notes = theoryNotes(result);
  const key = JSON.stringify(notes);
  if (key === state.notes) return; // unchanged: no DOM write
  state.notes = key;
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

/** Ask for an experiment (`body`, or a share `query`) and show it: `live` while a slider moves
 * (drawn only; the figures are not dimmed, the drag itself says they follow), else a commit.
 * A link refused before anything was shown is shown without the parts it was refused for
 * (`refusals` so far), or else as the default experiment (`instead`), so that the controls are
 * there to fix it. */
async function run({ body, query, live = false, changedAt = state.changedAt, refusals = [], instead = false }) {
  const key = body ? JSON.stringify(body) : `?${query}`;
  const request = { body, query, key, commit: !live, changedAt, edits: state.edits };
  if (!live) {
    state.commits += 1;
    document.body.dataset.busy = "1";
    $("status").textContent = "Updating…";
  }
  try {
    await apply(await requests.submit(request), request);
    if (refusals.length) showMessage(refusedLinkMessage(refusals, instead));
  } catch (err) {
    if (err.name === "AbortError") return; // a newer value took its place
    if (!state.result && query !== undefined && !instead && err instanceof ApiError && err.status === 422) {
      const { rest, dropped } = withoutRefused(query, err.detail);
      const more = [...refusals, { message: err.message, dropped }];
      if (dropped.length) return run({ query: rest, changedAt, refusals: more });
      return run({ query: defaultShare(), changedAt, refusals: more, instead: true });
    }
    const after = state.result ? "The figures still show the previous experiment" : "Fix the link, or pick a preset above.";
    // while a slider moves the controls stay under the visitor's hand; its release restores them
    const restored = state.result && !live ? ", and the controls are back to it." : state.result ? "." : "";
    showMessage(`Cannot show this experiment: ${err.message}. ${after}${restored}`);
    if (!live) {
      $("status").textContent = "";
      refused();
    }
    document.body.dataset.ready = "1";
  } finally {
    if (!live && --state.commits === 0) delete document.body.dataset.busy;
  }
}

/** Settings the request sends: the controls and the toolbar's. */
const requestBody = () => ({ ...state.controls.read(), ...backwardOptions() });

function onControlsChange() {
  state.edits += 1;
  state.changedAt ||= performance.now();
  clearTimeout(state.timer);
  // changes of one moment (a phase click sets several fields) make one request
  state.timer = setTimeout(() => run({ body: requestBody() }), 0);
}

/** A slider moving: its value now, drawn as soon as the server answers; the link waits for the
 * release (its change event commits). */
function onControlsLive() {
  state.edits += 1;
  const now = performance.now();
  state.changedAt ||= now;
  run({ body: requestBody(), live: true, changedAt: now });
}

/** The toolbar's settings of the experiment: the backward pass (off when its box is cleared) and
 * per-run axes; loss and theory stay what the link says. */
function backwardOptions() {
  const options = $("gradients").checked ? {} : { grad: false };
  if ($("per-run-axes").checked) options.axes = "run";
  const seeds = Number($("seeds").value);
  if (seeds > 1) options.seeds = seeds;
  const { loss, theory } = state.result?.experiment ?? {};
  if (loss) options.loss = loss;
  if (theory === false) options.theory = false;
  return options;
}

/** The hash that opens `preset` in the view its claim is about (the other view settings kept). */
function claimHash(preset) {
  if (!preset.claim?.view) return null;
  return hashOf({ ...viewState(), ...preset.claim.view, layers: preset.claim.view.layers ?? "auto" });
}

const defaultShare = () => state.catalog.presets.find((p) => p.name === DEFAULT_PRESET).share;

function loadQuery(query) {
  return run({ query });
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
  $("seeds").addEventListener("change", () => onControlsChange());
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
  state.controls = new Controls(state.catalog, {
    shared: $("shared"),
    runs: $("runs"),
    onChange: onControlsChange,
    onLive: onControlsLive,
  });
  // Typing is an edit before its change event (on Enter or leaving the field): an answer to an
  // earlier request that arrives meanwhile must not refill the field over what is being typed.
  for (const root of [$("shared"), $("runs")]) {
    root.addEventListener("input", (e) => {
      if (e.target.type !== "range") state.edits += 1; // a slider's input is onControlsLive's
    });
  }
  // A phone shows the figure first; its settings stay folded until asked for.
  if (window.matchMedia("(max-width: 760px)").matches) {
    for (const section of document.querySelectorAll(".panel details.section")) section.open = false;
  }
  $("explain-signal").textContent = SIGNAL_NOTE;
  $("explain-phase").textContent = PHASE_NOTE;
  // The signal chart, once scrolled to, catches up with the figure a drag left it behind.
  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (entry.isIntersecting) onScreen.add(entry.target.id);
        else onScreen.delete(entry.target.id);
      }
      if (onScreen.has("signal") && state.result && shownPlots.get("signal")?.result !== state.result) draw();
      // the diagrams and the correlation map (one panel below the signal chart) catch up once near
      const waiting = $("phase-section").dataset.stale && state.phaseFor !== state.result && !liveResults.has(state.result);
      if (panelsNear() && state.result && waiting) startPhase(state.result);
    },
    { rootMargin: "200px" },
  );
  for (const id of ["signal", "correlation-section", "phase-section"]) observer.observe($(id));
  state.phase = new PhasePanel($("phase-list"), PLOT_CONFIG, onPhasePick, {
    color: viewState().phase,
    // kept in the link's hash like the view: a shared link opens the diagrams coloured as sent
    onColor: (phase) => history.replaceState(null, "", `${location.pathname}${location.search}${hashOf({ ...viewState(), phase })}`),
  });
  // #figure reads as one plot (its data and layout: the parts' merged), as before the columns
  for (const name of ["data", "layout"]) Object.defineProperty($("figure"), name, { get: () => mainFigure()[name] });
  // and plotly's computed layout (axes' lengths in pixels): the first part's, with every part's axes
  Object.defineProperty($("figure"), "_fullLayout", { get: mainFullLayout });
  state.correlation = new CorrelationPanel($("correlation-list"), $("correlation-status"), PLOT_CONFIG);
  await loadQuery(location.search.slice(1) || defaultShare());
}

main();
