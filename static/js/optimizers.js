// The optimizers page: optimizers' paths on a 2-D surface over its contours. The query string is the
// paths API's share link: the page sends its controls as JSON, then shows what the server answers
// and puts the server's canonical query in the address bar. It parses no link itself.

import { ApiError, getCatalog } from "./api.js";
import { renderClaim } from "./claim-box.js";
import { COLOR, gapsFigure, pathsFigure, zigzagFigure } from "./paths-figures.js";
import { copyLink, loadAndDraw, showMessage } from "./page.js";

const $ = (id) => document.getElementById(id);
const API = "/api/v1/optimizer-paths";
const PLOT_CONFIG = {
  responsive: true,
  displaylogo: false,
  showSendToCloud: false,
  modeBarButtonsToRemove: ["select2d", "lasso2d"],
  toImageButtonOptions: { filename: "optimizer-paths", scale: 2 },
};

const state = { catalog: null, result: null, edits: 0, inFlight: null, uid: 0, zigzag: null };

async function request(init = {}, query = "") {
  state.inFlight?.abort();
  const controller = (state.inFlight = new AbortController());
  const response = await fetch(`${API}${query ? `?${query}` : ""}`, { ...init, signal: controller.signal });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body?.detail);
  return body;
}

// ---- controls ---------------------------------------------------------------------------------

function numberInput(param, value) {
  const el = Object.assign(document.createElement("input"), { type: "number", step: "any", inputMode: "decimal" });
  el.dataset.param = param.name;
  if (param.min !== null) el.min = param.min;
  if (param.max !== null) el.max = param.max;
  el.title = param.doc;
  el.value = value ?? param.default;
  return el;
}

function optimizerRow(name, params, enabled) {
  const spec = state.catalog.optimizers.find((o) => o.name === name);
  const id = `opt${++state.uid}`;
  const row = Object.assign(document.createElement("div"), { className: "opt-row" });
  row.dataset.optimizer = name;
  const box = Object.assign(document.createElement("input"), { type: "checkbox", id, checked: enabled });
  box.dataset.role = "enabled";
  const label = Object.assign(document.createElement("label"), { className: "name", htmlFor: id, title: spec.formula });
  const swatch = Object.assign(document.createElement("span"), { className: "swatch" });
  swatch.style.background = COLOR[name]; // CSSOM, not a style attribute: allowed by the CSP
  label.append(swatch, spec.label);
  const [lrSpec, ...others] = spec.params;
  const lr = Object.assign(document.createElement("div"), { className: "lr" });
  const lrInput = numberInput(lrSpec, params.lr);
  lrInput.setAttribute("aria-label", `${spec.label} learning rate`);
  lr.append(Object.assign(document.createElement("span"), { textContent: "η" }), lrInput);
  const remove = Object.assign(document.createElement("button"), { type: "button", className: "remove", textContent: "×" });
  remove.title = `Remove this ${spec.label} row`;
  remove.addEventListener("click", () => {
    row.remove();
    onChange();
  });
  row.append(box, label, lr, remove);
  if (others.length) {
    const more = document.createElement("details");
    more.append(Object.assign(document.createElement("summary"), { textContent: `more: ${others.map((p) => p.name).join(", ")}` }));
    const fields = Object.assign(document.createElement("div"), { className: "fields" });
    for (const p of others) {
      const field = Object.assign(document.createElement("div"), { className: "field" });
      const input = numberInput(p, params[p.name]);
      input.id = `${id}-${p.name}`;
      field.append(Object.assign(document.createElement("label"), { htmlFor: input.id, textContent: p.name }), input);
      fields.append(field);
    }
    more.append(fields);
    row.append(more);
  }
  row.classList.toggle("off", !enabled);
  return row;
}

function readParams(row) {
  const params = {};
  for (const input of row.querySelectorAll("input[data-param]")) {
    if (input.value !== "") params[input.dataset.param] = Number(input.value);
  }
  return params;
}

/** Rows for the answer's optimizers (ticked), then one unticked row for each optimizer not in it. */
function buildRows(result) {
  const used = new Set(result.config.optimizers.map((o) => o.name));
  const rows = result.config.optimizers.map(({ name, ...params }) => optimizerRow(name, params, true));
  for (const o of state.catalog.optimizers) {
    if (!used.has(o.name)) rows.push(optimizerRow(o.name, { lr: result.suggested_lr[o.name] }, false));
  }
  $("optimizers").replaceChildren(...rows);
}

/** Put the server's canonical values back into the ticked rows and the surface fields. */
function fill(result) {
  const { config } = result;
  $("surface").value = config.surface;
  $("start-x").value = config.start[0];
  $("start-y").value = config.start[1];
  $("steps").value = config.steps;
  const ticked = [...document.querySelectorAll(".opt-row")].filter((r) => r.querySelector("[data-role=enabled]").checked);
  ticked.forEach((row, i) => {
    for (const input of row.querySelectorAll("input[data-param]")) input.value = config.optimizers[i][input.dataset.param];
  });
}

/**
 * A newly chosen surface starts from its defaults (the catalog's, measured to suit it): its start, its
 * steps and its learning rate in every row, ticked or not; the rows' other parameters stay.
 */
function useSurfaceDefaults(name) {
  const { defaults } = state.catalog.surfaces.find((s) => s.name === name);
  $("start-x").value = defaults.start[0];
  $("start-y").value = defaults.start[1];
  $("steps").value = defaults.steps;
  for (const row of document.querySelectorAll(".opt-row")) {
    row.querySelector("input[data-param=lr]").value = defaults.lr[row.dataset.optimizer];
  }
}

function readBody() {
  const body = { surface: $("surface").value, steps: Number($("steps").value) };
  if ($("start-x").value !== "" && $("start-y").value !== "") {
    body.start = [Number($("start-x").value), Number($("start-y").value)];
  }
  if ($("steps").value === "") delete body.steps;
  body.optimizers = [...document.querySelectorAll(".opt-row")]
    .filter((row) => row.querySelector("[data-role=enabled]").checked)
    .map((row) => ({ name: row.dataset.optimizer, ...readParams(row) }));
  return body;
}

// ---- figures ----------------------------------------------------------------------------------

const rateList = (lr) => state.catalog.optimizers.map((o) => `${o.label} ${lr[o.name]}`).join(", ");

async function draw(result) {
  const paths = pathsFigure(result, $("paths").clientWidth);
  const gaps = gapsFigure(result);
  await Promise.all([
    window.Plotly.react("paths", paths.data, paths.layout, PLOT_CONFIG),
    window.Plotly.react("gaps", gaps.data, gaps.layout, PLOT_CONFIG),
  ]);
  const { config, surface } = result;
  const zoomed = paths.zoomed ? "; zoomed to the paths (a wider screen shows the whole window)" : "";
  $("formula").textContent = surface.formula;
  $("caption").textContent = `${surface.label}: ${result.paths.length} paths of ${config.steps} steps from (${config.start.join(", ")}); contours of ${result.contour.of}${zoomed}`;
  $("note").textContent = `(${surface.note})`;
  const d = surface.defaults;
  $("defaults-text").textContent = `${surface.label} opens from (${d.start.join(", ")}) with ${d.steps} steps and η ${rateList(d.lr)}: ${d.note}.`;
  $("defaults-link").href = `${location.pathname}?${d.share}`;
  $("defaults-link").hidden = d.share === result.share;
  document.body.dataset.ready = "1";
}

// ---- flow -------------------------------------------------------------------------------------

function apply(result, edits, rebuild) {
  state.result = result;
  history.replaceState(null, "", `${location.pathname}?${result.share}`);
  $("download-json").href = `${API}?${result.share}`;
  if (rebuild) buildRows(result);
  if (edits === state.edits) fill(result); // a newer edit keeps what the user typed
  showMessage("");
  return draw(result);
}

function run(call, rebuild = false) {
  const edits = state.edits;
  return loadAndDraw(call, (result) => apply(result, edits, rebuild), {
    what: "Cannot show these paths",
    hint: "Fix the link, or go back to the book's comparison (link on the left).",
    drawn: () => Boolean(state.result),
  });
}

function onChange() {
  state.edits += 1;
  for (const row of document.querySelectorAll(".opt-row")) {
    row.classList.toggle("off", !row.querySelector("[data-role=enabled]").checked);
  }
  const body = readBody();
  if (body.optimizers.length === 0) {
    showMessage("Tick at least one optimizer to draw its path.", "info");
    return;
  }
  const init = { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  run(() => request(init));
}

function wire() {
  $("surface").addEventListener("change", () => {
    useSurfaceDefaults($("surface").value);
    onChange();
  });
  for (const id of ["start-x", "start-y", "steps"]) $(id).addEventListener("change", () => onChange());
  $("optimizers").addEventListener("change", () => onChange());
  $("add-optimizer").addEventListener("change", (e) => {
    const name = e.target.value;
    if (!name) return;
    e.target.value = "";
    $("optimizers").append(optimizerRow(name, { lr: state.result?.suggested_lr[name] }, true));
    onChange();
  });
  $("copy-link").addEventListener("click", copyLink);
  window.addEventListener("popstate", () => run(() => request({}, location.search.slice(1)), true));
  $("defaults-link").addEventListener("click", (e) => {
    e.preventDefault();
    run(() => request({}, new URL(e.currentTarget.href).search.slice(1)), true);
  });
  // The contour plot's height follows its width (equal scales): draw again once a resize settles.
  let resizing = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      if (state.result) draw(state.result);
      if (state.zigzag) drawZigzag(state.zigzag);
    }, 150);
  });
}

// ---- the zig-zag section -------------------------------------------------------------------------

const percent = (x) => `${(100 * x).toFixed(0)}%`;

async function drawZigzag(doc) {
  const figure = zigzagFigure(doc, $("zigzag-plot").clientWidth || 600);
  await window.Plotly.react("zigzag-plot", figure.data, figure.layout, PLOT_CONFIG);
  $("zigzag-near").textContent = String(doc.near);
  const steps = doc.config.steps;
  $("zigzag-numbers").tBodies[0].replaceChildren(
    ...doc.paths.map((p) => {
      const row = document.createElement("tr");
      row.dataset.inputs = p.inputs;
      const cells = [
        p.label,
        `${percent(p.same_sign)} of ${steps}`,
        `${p.detour.toFixed(2)}× (${p.length.toFixed(2)} ÷ ${p.straight.toFixed(2)})`,
        p.arrived === null ? `not in ${steps} steps` : `step ${p.arrived}`,
      ];
      row.append(...cells.map((text, i) => Object.assign(document.createElement("td"), { textContent: text, className: i === 0 ? p.inputs : "" })));
      return row;
    }),
  );
  $("zigzag").dataset.drawn = "1";
}

/** The zig-zag of all-positive inputs, at its preset's link, with the preset's claim. */
async function loadZigzag() {
  try {
    const [presets, doc] = await Promise.all([
      fetch("/api/v1/paths/presets").then((r) => r.json()),
      fetch("/api/v1/unit-paths").then((r) => r.json()),
    ]);
    const preset = presets.find((p) => p.claim.view.section === "zigzag");
    renderClaim($("zigzag-claim"), preset?.claim ?? null);
    state.zigzag = doc;
    await drawZigzag(doc);
  } catch (err) {
    $("zigzag-plot").textContent = `Could not draw the zig-zag: ${err.message}`;
    $("zigzag").dataset.drawn = "error";
  }
}

async function main() {
  wire();
  loadZigzag();
  try {
    state.catalog = await getCatalog();
  } catch (err) {
    showMessage(`Cannot reach the server: ${err.message}`);
    return;
  }
  for (const s of state.catalog.surfaces) $("surface").append(new Option(s.label, s.name));
  for (const o of state.catalog.optimizers) $("add-optimizer").append(new Option(o.label, o.name));
  await run(() => request({}, location.search.slice(1)), true);
}

main();
