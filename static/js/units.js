// The units page: one layer of every run, unit by unit (GET /api/v1/units). The query string is the
// dashboard's share link plus `layer`; the server reads it (the page parses no link) and answers
// with the canonical share query, which goes back into the address bar.

import { getLatest } from "./api.js";
import { fmt } from "./format.js";
import { copyLink, el, loadAndDraw, showMessage } from "./page.js";
import {
  colorKey,
  countsText,
  layerChoices,
  matrixFigure,
  matrixTitle,
  reading,
  runColor,
  stripFigure,
  unitsQuery,
} from "./units-figure.js";

const $ = (id) => document.getElementById(id);
const API = "/api/v1/units";
const DEFAULT_QUERY = "preset=ng-zero-init"; // the symmetry claim, when the page opens without a link
const PLOT_CONFIG = {
  responsive: true,
  displaylogo: false,
  showSendToCloud: false,
  modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
  toImageButtonOptions: { filename: "initscope-units", scale: 2 },
};

const state = { result: null, resizeTimer: 0, width: 0 };

const request = (query) => getLatest(API, `${API}?${query}`);


function swatch(color) {
  const s = el("span", { className: "swatch" });
  s.style.background = color; // CSSOM, not a style attribute: allowed by the CSP
  return s;
}

/** A run's card: its numbers in words, then its two figures (drawn by drawCard). */
function card(run, index, result) {
  const section = el("section", { className: "unit-run" });
  section.dataset.run = String(index);
  section.setAttribute("aria-label", run.label);
  section.append(el("h2", {}, swatch(runColor(index)), el("span", { textContent: run.label })));
  const p = run.profile;
  if (p === null) {
    section.append(
      el("p", {
        className: "unit-reading",
        textContent: `This run has ${run.depth} layers: it has no layer ${result.layer}.`,
      }),
    );
    return section;
  }
  const spread = el(
    "p",
    { className: "unit-spread" },
    "Spread of unit means ",
    el("strong", { className: "between", textContent: fmt(p.between) }),
    " against spread within a unit ",
    el("strong", { className: "within", textContent: fmt(p.within) }),
    ".",
  );
  spread.title = "Between: the std of the units' means. Within: the average over the units of each one's std across the inputs.";
  const { colors, text } = colorKey(p);
  const [first, ...others] = colors.map(swatch);
  const keyText = el("span", { className: "key-text", textContent: text });
  const key = el("p", { className: "unit-key hint" }, "Colour: ", ...(first ? [first, " "] : []), keyText);
  for (const s of others) key.append(" ", s);
  section.append(
    spread,
    el("p", { className: "unit-counts hint", textContent: countsText(p) }),
    el("p", { className: "unit-reading", textContent: reading(p) }),
    el(
      "div",
      { className: "unit-figures" },
      el(
        "div",
        {},
        el(
          "h3",
          { className: "chart-title" },
          "Each unit's mean output ",
          el("span", { className: "hint", textContent: "(line, in unit order) ± one std across the inputs (band)" }),
        ),
        el("div", { className: "plot unit-strip" }),
      ),
      el(
        "div",
        {},
        el(
          "h3",
          { className: "chart-title" },
          "The outputs themselves ",
          el("span", { className: "hint matrix-title", textContent: `(${matrixTitle(p)}; a row per unit)` }),
        ),
        el("div", { className: "plot unit-matrix" }),
        key,
      ),
    ),
  );
  return section;
}

async function drawCard(section, run, index) {
  if (run.profile === null) return;
  const strip = stripFigure(run.profile, index);
  const matrixDiv = section.querySelector(".unit-matrix");
  const matrix = matrixFigure(run.profile, matrixDiv.clientWidth || 360);
  await Promise.all([
    window.Plotly.react(section.querySelector(".unit-strip"), strip.data, strip.layout, PLOT_CONFIG),
    window.Plotly.react(matrixDiv, matrix.data, matrix.layout, { ...PLOT_CONFIG, responsive: false }),
  ]);
}

function fillControls(result) {
  const select = $("layer");
  select.replaceChildren(...layerChoices(result.depth).map((n) => new Option(String(n), String(n))));
  select.value = String(result.layer);
  $("layer-info").textContent = `of ${result.depth}`;
  $("back").href = `/?${result.share}`;
}

async function draw(result) {
  state.result = result;
  history.replaceState(null, "", `${location.pathname}?${unitsQuery(result.share, result.layer)}`);
  fillControls(result);
  showMessage("");
  for (const old of document.querySelectorAll(".unit-run .js-plotly-plot")) window.Plotly.purge(old);
  const cards = result.runs.map((run, i) => card(run, i, result));
  $("runs").replaceChildren(...cards);
  state.width = $("runs").clientWidth;
  await Promise.all(result.runs.map((run, i) => drawCard(cards[i], run, i)));
  document.body.dataset.ready = "1";
}

function show(query) {
  return loadAndDraw(() => request(query), draw, {
    what: "Cannot show this layer",
    hint: "Fix the link, or open the zero-initialization example: /units?preset=ng-zero-init.",
    still: "The page still shows the layer before.",
    drawn: () => Boolean(state.result),
  });
}

/** The matrix's squares are sized to its width: redraw when the width changes. */
function onResize() {
  clearTimeout(state.resizeTimer);
  state.resizeTimer = setTimeout(() => {
    const width = $("runs").clientWidth;
    if (!state.result || width === state.width) return;
    state.width = width;
    const cards = [...document.querySelectorAll(".unit-run")];
    state.result.runs.forEach((run, i) => drawCard(cards[i], run, i));
  }, 150);
}

function main() {
  $("layer").addEventListener("change", (e) => {
    if (state.result) show(unitsQuery(state.result.share, e.target.value));
  });
  $("copy-link").addEventListener("click", copyLink);
  window.addEventListener("resize", onResize);
  // A phone: the numbers and figures first; the explanation one tap away.
  if (window.matchMedia("(max-width: 760px)").matches) document.querySelector("details.explain").open = false;
  show(location.search.slice(1) || DEFAULT_QUERY);
}

main();
