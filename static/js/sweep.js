// The sweep page: a grid of experiments or trainings run on the server's Dask cluster, streamed
// point by point (GET /api/v1/sweep/stream, Server-Sent Events), drawn as a heatmap (two axes) or
// lines (one). The query string is the sweep link; the server reads it (the page parses no link)
// and its canonical form goes back into the address bar. A click on a cell opens that point's
// link (a training's on /train). The metrics offered are the sweep's kind's, from its start event.

import { ApiError, getCatalog } from "./api.js";
import { copyLink, showMessage } from "./page.js";
import {
  gridOf,
  heatmapFigure,
  lineFigure,
  pointHref,
  progressText,
  runCount,
  scalarMetrics,
  valueText,
} from "./sweep-figure.js";

const $ = (id) => document.getElementById(id);
const PLOT_CONFIG = {
  responsive: true,
  displaylogo: false,
  showSendToCloud: false,
  modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
  toImageButtonOptions: { filename: "initscope-sweep", scale: 2 },
};
const REDRAW_MS = 250; // while points stream in: at most four redraws a second

const state = {
  catalog: null,
  source: null, // the EventSource of the running sweep
  id: null, // its id, for DELETE
  sweep: null, // the canonical sweep link
  axes: [],
  kind: "experiment", // or "train": the points are training links
  metrics: [], // the kind's metrics (the start event's)
  wanted: null, // the metric to show once the sweep's metrics are known (a preset's)
  size: 0,
  points: new Map(), // index -> point event
  cached: 0,
  failed: 0,
  status: "idle",
  timer: 0,
  metricChosen: false,
};

function metricDoc(name) {
  return state.metrics.find((m) => m.name === name);
}

/** The metric select holds `metrics`' scalars, showing the first of `wanted`, the current choice
 * and a training's test accuracy that is one of them (else the first). */
function fillMetrics(metrics, wanted) {
  state.metrics = metrics;
  const metric = $("metric");
  const names = scalarMetrics(metrics).map((m) => m.name);
  const keep = [wanted, metric.value, "test_accuracy"].find((name) => names.includes(name));
  metric.replaceChildren(
    ...scalarMetrics(metrics).map((m) => Object.assign(new Option(m.name, m.name), { title: m.doc })),
  );
  if (keep) metric.value = keep;
  describeMetric();
}

function fillCatalog(catalog) {
  state.catalog = catalog;
  const presets = $("preset");
  for (const p of catalog.sweeps.presets) presets.append(new Option(p.title, p.name));
  fillMetrics(catalog.sweeps.metrics, null);
}

function describeMetric() {
  const doc = metricDoc($("metric").value);
  $("metric-doc").textContent = doc ? doc.doc : "";
}

function fillExtras() {
  // a select per axis beyond the second: the heatmap shows the first two at one value of each
  const box = $("extra-axes");
  box.replaceChildren();
  state.axes.slice(2).forEach((axis) => {
    const label = Object.assign(document.createElement("label"), { textContent: `${axis.name} ` });
    const select = document.createElement("select");
    select.dataset.axis = axis.name;
    for (const v of axis.values) select.append(new Option(valueText(v), JSON.stringify(v)));
    select.addEventListener("change", draw);
    label.append(select);
    box.append(label);
  });
  const runs = $("run");
  runs.replaceChildren();
  runs.closest("label").hidden = true;
  // the theory's line is drawn over two axes of an experiment sweep (a training has no chi)
  $("critical").closest("label").hidden = state.axes.length < 2 || state.kind === "train";
}

function fixedValues() {
  const fixed = {};
  for (const select of $("extra-axes").querySelectorAll("select")) fixed[select.dataset.axis] = JSON.parse(select.value);
  return fixed;
}

function updateRuns() {
  const n = runCount(state.points);
  const runs = $("run");
  if (runs.options.length === n) return;
  runs.replaceChildren(...[...Array(n).keys()].map((r) => new Option(`run ${r + 1}`, String(r))));
  runs.closest("label").hidden = n < 2 || state.axes.length < 2;
}

function draw() {
  state.timer = 0;
  if (!state.axes.length) return;
  const metric = metricDoc($("metric").value);
  const plot = $("sweep-plot");
  const width = plot.clientWidth || 800;
  const figure =
    state.axes.length === 1
      ? lineFigure(state.axes, state.points, metric, runCount(state.points), {
          height: Math.max(300, Math.min(480, Math.round(width * 0.55))),
        })
      : heatmapFigure(gridOf(state.axes, state.points, metric.name, Number($("run").value || 0), fixedValues()), state.axes, metric, {
          critical: $("critical").checked && state.kind !== "train",
          width,
          maxHeight: Math.max(220, Math.min(560, Math.round(window.innerHeight * 0.6))),
        });
  window.Plotly.react(plot, figure.data, figure.layout, PLOT_CONFIG);
  if (!plot.dataset.bound) {
    plot.dataset.bound = "1";
    plot.on("plotly_click", (event) => openPoint(event.points[0]));
    plot.on("plotly_hover", (event) => showPoint(event.points[0]));
  }
  $("progress").textContent = progressText(state.points.size, state.size, state.cached, state.failed, state.status);
  plot.dataset.drawn = String(state.points.size);
}

function scheduleDraw() {
  if (!state.timer) state.timer = setTimeout(draw, REDRAW_MS);
}

/** A clicked or hovered point's link and value: a cell's customdata is [link, x, y], a line's the link. */
function pointOf(p) {
  const cell = Array.isArray(p.customdata);
  const link = cell ? p.customdata[0] : p.customdata;
  if (typeof link !== "string" || !link) return null;
  // a cell without a value (diverged, failed) carries its reason as a fourth item
  return { link, value: cell ? (p.customdata.length > 3 ? p.customdata[3] : p["marker.color"]) : p.y };
}

function showPoint(p) {
  const point = pointOf(p);
  if (!point) return;
  const anchor = $("point-link");
  anchor.href = pointHref(point.link, state.kind);
  const value = point.value === null || point.value === undefined ? "—" : valueText(point.value);
  anchor.textContent = `${point.link}  (${$("metric").value} = ${value})`;
  anchor.parentElement.hidden = false;
}

function openPoint(p) {
  const point = pointOf(p);
  if (!point) return;
  showPoint(p);
  window.open(pointHref(point.link, state.kind), "_blank", "noopener");
}

function setStatus(status) {
  state.status = status;
  document.body.dataset.status = status;
  $("cancel").disabled = status !== "running";
  $("run-sweep").disabled = status === "running";
}

function stop() {
  state.source?.close();
  state.source = null;
}

function start(query) {
  stop();
  showMessage("");
  Object.assign(state, { points: new Map(), cached: 0, failed: 0, id: null, axes: [], size: 0 });
  setStatus("running");
  const source = (state.source = new EventSource(`/api/v1/sweep/stream?${query}`));
  source.addEventListener("start", (event) => {
    const s = JSON.parse(event.data);
    Object.assign(state, { id: s.id, sweep: s.sweep, axes: s.axes, size: s.size, kind: s.kind ?? "experiment" });
    fillMetrics(s.metrics ?? state.catalog.sweeps.metrics, state.wanted);
    state.wanted = null;
    document.body.dataset.kind = state.kind;
    $("sweep-link").value = s.sweep;
    history.replaceState(null, "", `?${s.sweep}`);
    const exportQuery = s.sweep;
    $("export-csv").href = `/api/v1/sweep/export.csv?${exportQuery}`;
    $("export-json").href = `/api/v1/sweep/export.json?${exportQuery}`;
    fillExtras();
    draw();
  });
  source.addEventListener("point", (event) => {
    const p = JSON.parse(event.data);
    state.points.set(p.index, p);
    if (p.cached) state.cached++;
    if (p.error) state.failed++;
    updateRuns();
    scheduleDraw();
  });
  source.addEventListener("done", (event) => {
    const d = JSON.parse(event.data);
    stop();
    setStatus(d.cancelled ? "cancelled" : "done");
    clearTimeout(state.timer);
    draw();
    document.body.dataset.ready = "1";
  });
  source.onerror = (event) => {
    if (state.source !== source) return;
    stop();
    setStatus("failed");
    if (event.data) {
      // the server's own `error` event: the cluster could not be reached
      showMessage(`The sweep could not run: ${JSON.parse(event.data).detail}.`);
      document.body.dataset.ready = "1";
      return;
    }
    // EventSource hides the answer's body: ask the plan endpoint for the reason (422 names the key)
    fetch(`/api/v1/sweep?${query}`)
      .then(async (response) => {
        const body = await response.json().catch(() => null);
        const reason = response.ok ? "the stream was cut" : new ApiError(response.status, body?.detail).message;
        showMessage(`The sweep could not run: ${reason}.`);
      })
      .catch(() => showMessage("The sweep could not run: the server did not answer."))
      .finally(() => (document.body.dataset.ready = "1"));
  };
}

async function cancel() {
  if (!state.id) return;
  await fetch(`/api/v1/sweep/${encodeURIComponent(state.id)}`, { method: "DELETE" });
}

function choosePreset(name) {
  const preset = state.catalog.sweeps.presets.find((p) => p.name === name);
  if (!preset) return;
  state.wanted = preset.metric; // set once its sweep's metrics are in the select
  start(preset.sweep);
}

async function main() {
  fillCatalog(await getCatalog());
  const query = location.search.slice(1);
  const first = state.catalog.sweeps.presets[0];
  const preset = state.catalog.sweeps.presets.find((p) => p.sweep === query);
  $("preset").value = preset ? preset.name : query ? "" : first.name;
  state.wanted = (preset ?? first).metric; // a link of another kind shows its own first choice
  $("preset").addEventListener("change", (e) => choosePreset(e.target.value));
  $("metric").addEventListener("change", () => {
    describeMetric();
    draw();
  });
  $("run").addEventListener("change", draw);
  $("critical").addEventListener("change", draw);
  $("sweep-form").addEventListener("submit", (e) => {
    e.preventDefault();
    $("preset").value = "";
    start($("sweep-link").value.trim().replace(/^.*\?/, ""));
  });
  $("cancel").addEventListener("click", cancel);
  $("copy-link").addEventListener("click", copyLink);
  let width = 0;
  window.addEventListener("resize", () => {
    const now = $("sweep-plot").clientWidth;
    if (now !== width) {
      width = now;
      scheduleDraw();
    }
  });
  start(query || first.sweep);
}

main().catch((err) => {
  showMessage(`The page could not start: ${err.message}.`);
  document.body.dataset.ready = "1";
});
