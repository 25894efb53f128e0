// The diagnostics page: each run's correlation map and Jacobian spectrum (GET /api/v1/diagnostics).
// The query string is the dashboard's share link plus c0, pairs and jacobian; the server reads it
// (the page parses no link) and answers with the canonical query, which goes back into the address bar.

import { getCatalog, getLatest } from "./api.js";
import { renderClaim } from "./claim-box.js";
import {
  coordFigure,
  coordSummary,
  correlationFigure,
  diagnosticsQuery,
  fixedPointText,
  formDefaults,
  formFields,
  meanSquareFigure,
  methodText,
  phaseText,
  refusedKey,
  runColor,
  shareOf,
  spectrumFigure,
  spectrumRows,
} from "./diagnostics-figure.js";
import { copyLink, el, loadAndDraw, showMessage } from "./page.js";

const $ = (id) => document.getElementById(id);
const API = "/api/v1/diagnostics";
const DEFAULT_QUERY = "preset=saito-compare"; // when the page opens without a link: the classic comparison
const PLOT_CONFIG = {
  responsive: true,
  displaylogo: false,
  showSendToCloud: false,
  modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
  toImageButtonOptions: { filename: "initscope-diagnostics", scale: 2 },
};
const COLUMNS = [
  ["layer", "layer"],
  ["mean_sq", "mean σ²"],
  ["predicted", "∏χ"],
  ["var_sq", "var σ²"],
  ["min", "min σ"],
  ["max", "max σ"],
  ["spread", "max/min"],
  ["zeros", "σ ≈ 0"],
];

const state = { result: null, presets: [], defaults: {} };
const FIELD_IDS = { c0: "c0", pairs: "pairs", seeds: "seeds", jacobian: "jacobian-at" };

const request = (query) => getLatest(API, `${API}?${query}`);


function heading(run, index) {
  const swatch = el("span", { className: "swatch" });
  swatch.style.background = runColor(index); // CSSOM, not a style attribute: allowed by the CSP
  return el("h3", {}, swatch, el("span", { textContent: run.label }));
}

function correlationCard(run, index) {
  const fp = run.correlation.fixed_point;
  const section = el("section", { className: "diag-run" });
  section.dataset.run = String(index);
  section.append(
    heading(run, index),
    el("p", { className: "fixed-point", textContent: fixedPointText(fp) }),
    el("p", { className: "phase hint", textContent: phaseText(fp) }),
  );
  if (run.correlation.note) section.append(el("p", { className: "theory-note hint", textContent: `Mean field: ${run.correlation.note}.` }));
  section.append(el("div", { className: "plot corr-plot" }));
  return section;
}

function jacobianCard(run, index) {
  const section = el("section", { className: "diag-run" });
  section.dataset.run = String(index);
  section.append(heading(run, index), el("div", { className: "plot msq-plot" }), el("div", { className: "plot spec-plot" }));
  const table = el("table", { className: "diag-table" });
  table.append(el("thead", {}, el("tr", {}, ...COLUMNS.map(([, title]) => el("th", { scope: "col", textContent: title })))));
  const body = el("tbody");
  for (const row of spectrumRows(run)) {
    const tr = el("tr");
    tr.dataset.layer = row.layer;
    for (const [key] of COLUMNS) {
      const td = el("td", { textContent: row[key] });
      td.dataset.key = key;
      tr.append(td);
    }
    body.append(tr);
  }
  table.append(body);
  section.append(el("div", { className: "diag-table-wrap" }, table));
  return section;
}

/** The form's four fields, and which one (if any) the server refused. */
function setFields(fields, refused = null) {
  for (const [key, id] of Object.entries(FIELD_IDS)) {
    $(id).value = fields[key];
    if (key === refused) $(id).setAttribute("aria-invalid", "true");
    else $(id).removeAttribute("aria-invalid");
  }
}

function fillForm(result) {
  const { c0, pairs, jacobian, seeds } = result.options;
  setFields({ c0: c0.join(","), pairs: String(pairs), jacobian: String(jacobian), seeds: String(seeds ?? 1) });
  $("back").href = `/?${result.share}`;
  const preset = state.presets.find((p) => p.query === result.query);
  $("preset").value = preset ? preset.name : "";
  renderClaim($("claim"), preset ? preset.claim : null, result.share);
}

async function draw(result) {
  state.result = result;
  history.replaceState(null, "", `${location.pathname}?${result.query}`);
  fillForm(result);
  showMessage("");
  for (const old of document.querySelectorAll(".diag-run .js-plotly-plot")) window.Plotly.purge(old);
  const corrCards = result.runs.map(correlationCard);
  $("correlation-runs").replaceChildren(...corrCards);
  const withJacobian = result.runs.map((run, i) => [run, i]).filter(([run]) => run.jacobian !== null);
  const jacCards = withJacobian.map(([run, i]) => jacobianCard(run, i));
  $("jacobian-runs").replaceChildren(...jacCards);
  $("jacobian-method").textContent = withJacobian.length
    ? methodText(withJacobian[0][0].jacobian)
    : "No Jacobian asked for (Jacobian at 0 inputs).";
  const plots = [];
  result.runs.forEach((run, i) => {
    const fig = correlationFigure(run);
    plots.push(window.Plotly.react(corrCards[i].querySelector(".corr-plot"), fig.data, fig.layout, PLOT_CONFIG));
  });
  withJacobian.forEach(([run, i], k) => {
    const msq = meanSquareFigure(run, i);
    const spec = spectrumFigure(run, i);
    plots.push(window.Plotly.react(jacCards[k].querySelector(".msq-plot"), msq.data, msq.layout, PLOT_CONFIG));
    plots.push(window.Plotly.react(jacCards[k].querySelector(".spec-plot"), spec.data, spec.layout, PLOT_CONFIG));
  });
  await Promise.all(plots);
  document.body.dataset.ready = "1";
}

function show(query) {
  return loadAndDraw(() => request(query), draw, {
    what: "Cannot show the diagnostics",
    hint: "The fields show the refused link's values: fix the one marked, or pick a preset.",
    still: "The page still shows the diagnostics before, and the fields are back to them.",
    drawn: () => Boolean(state.result),
    failed: (err) => refused(query, err),
  });
}

/** A refused link leaves no blank field: the fields go back to the last answer (the address bar
 * too), or, before any, show the refused link's own values; the field it names is marked. */
function refused(query, err) {
  const key = refusedKey(err.detail);
  if (state.result) {
    fillForm(state.result);
    history.replaceState(null, "", `${location.pathname}?${state.result.query}`);
  } else {
    state.refusedQuery = query;
    setFields(formFields(query, state.defaults, state.presets), key);
    const preset = state.presets.find((p) => p.name === new URLSearchParams(query).get("preset"));
    $("preset").value = preset ? preset.name : "";
  }
  if (key && state.result) $(FIELD_IDS[key]).setAttribute("aria-invalid", "true");
}

async function loadPresets() {
  try {
    const response = await fetch(`${API}/presets`);
    state.presets = response.ok ? await response.json() : [];
  } catch {
    state.presets = [];
  }
  try {
    const keys = (await getCatalog()).diagnostics.keys; // the fields' defaults, for a refused first link
    state.defaults = formDefaults(keys);
  } catch {
    state.defaults = {};
  }
  $("preset").append(...state.presets.map((p) => new Option(p.title, p.name)));
}

/** The coordinate check: independent of the link, run on demand (a few seconds of the server's work). */
async function runCoordCheck() {
  const params = new URLSearchParams({ activation: $("coord-activation").value, optimizer: $("coord-optimizer").value });
  // Adam's usual 0.001 barely moves SGD in 3 steps: 0.01 shows SP blowing up and muP staying flat
  if (params.get("optimizer") === "sgd") params.set("lr", "0.01");
  $("coord-run").disabled = true;
  $("coord-summary").textContent = "Running…";
  delete document.body.dataset.coordReady;
  try {
    const body = await getLatest("/api/v1/coord-check", `/api/v1/coord-check?${params}`);
    const fig = coordFigure(body, window.matchMedia("(max-width: 760px)").matches);
    await window.Plotly.react($("coord-plot"), fig.data, fig.layout, PLOT_CONFIG);
    $("coord-summary").textContent = coordSummary(body);
  } catch (err) {
    $("coord-summary").textContent = `Cannot run the check: ${err.message}.`;
  } finally {
    $("coord-run").disabled = false;
    document.body.dataset.coordReady = "1";
  }
}

function main() {
  $("coord-run").addEventListener("click", runCoordCheck);
  $("diag-form").addEventListener("submit", (e) => {
    e.preventDefault();
    // before any answer (a refused first link), the form applies to that link's experiment
    const share = state.result ? state.result.share : shareOf(state.refusedQuery ?? "");
    const fields = { c0: $("c0").value, pairs: $("pairs").value, jacobian: $("jacobian-at").value, seeds: $("seeds").value };
    show(diagnosticsQuery(share, fields));
  });
  $("preset").addEventListener("change", (e) => {
    const preset = state.presets.find((p) => p.name === e.target.value);
    if (preset) show(preset.query);
  });
  $("copy-link").addEventListener("click", copyLink);
  if (window.matchMedia("(max-width: 760px)").matches) document.querySelector("details.explain").open = false;
  loadPresets().then(() => show(location.search.slice(1) || DEFAULT_QUERY));
}

main();
