// What every figure shares: colours, fonts, the base layout, annotations, subplot domains, and
// whether mean field's prediction applies to a run.
// No <b>/<sup> in labels: plotly.js renders them as style attributes, which the pages' CSP blocks.

import { esc } from "./format.js";

export const COLORS = ["#2456a6", "#d1495b", "#2e933c", "#c77c02", "#6b4c9a", "#00798c", "#8c564b", "#5b6472"];
export const KINDS = { post: "activation", pre: "z (pre-activation)", grad: "dL/dz (gradient)" };
const FONT = { family: "system-ui, sans-serif", size: 12, color: "#1d2330" };
export const MUTED = "#5b6472";
export const NOTE_BG = "rgba(255,255,255,0.85)"; // an SVG fill, not a style: the CSP allows it

/** A text annotation: plotly's default arrow off. */
export const note = (text, props) => ({ text, showarrow: false, ...props });

/** A run's name: its label, and a maxout run's k (pieces), which the default label leaves out
 * (the answers' labels are pinned) and which sets its weights: k sets a layer. */
export function runName(run) {
  const k = run.config?.pieces;
  const told = run.config?.label || run.label.includes("pieces");
  return k != null && !told ? `${run.label} · k = ${k}` : run.label;
}

/** A run's name over its column, in its colour; on two lines where the column is narrow.
 * `pieces: false` leaves a maxout run's k out (a gallery card's top margin has no room for it). */
export function runTitle(run, c, narrow, props, { pieces = true } = {}) {
  // Narrow: a line per part ("tanh → sigmoid", "N(0, 0.01²)", "depth 20"), none cut off
  const name = pieces ? runName(run) : run.label;
  const text = narrow ? esc(name).replace(", ", "<br>").replaceAll(" · ", "<br>") : esc(name);
  const font = { size: 14, color: COLORS[c % COLORS.length], weight: 700, ...props.font };
  return note(text, { yref: "paper", y: 1, xanchor: "center", yanchor: "bottom", ...props, font });
}

/** n equal [start, end] fractions of an axis of `span` pixels, `gapPx` pixels apart. */
export function domains(n, gapPx, span = 1000) {
  const gap = Math.min(gapPx / span, 0.5 / Math.max(1, n - 1));
  const size = (1 - gap * (n - 1)) / n;
  return [...Array(n).keys()].map((i) => [i * (size + gap), i * (size + gap) + size]);
}

/** A line of text just above subplot k, flush with its left or right edge. */
export function titleOver(k, text, side, font) {
  const x = side === "left" ? 0 : 1;
  const at = { xref: `x${k} domain`, yref: `y${k} domain`, x, y: 1.02 };
  return note(text, { ...at, xanchor: side, yanchor: "bottom", font });
}

// The value axis of a histogram. exponentformat "e": plotly's default writes huge values (an
// exploding network's 1e30) with <sup>, styled inline, which the pages' CSP refuses.
export const VALUE_AXIS = { showgrid: false, zeroline: false, ticks: "outside", exponentformat: "e" };
// The count axis: "SI" reads 5k, 15k, 1.2M like count(); "e" wrote 0.5e+4. Below 1000 plain.
export const COUNT_AXIS = { exponentformat: "SI", minexponent: 3, rangemode: "tozero", gridcolor: "#eef1f5", nticks: 4 };

export function baseLayout(height) {
  return {
    height,
    font: FONT,
    paper_bgcolor: "#fff",
    plot_bgcolor: "#fff",
    bargap: 0,
    hoverlabel: { font: { size: 12 } },
    margin: { l: 64, r: 16, t: 64, b: 40 },
    annotations: [],
    showlegend: false,
  };
}

/** Why mean field's prediction is not drawn for a run: the API's note, when its assumptions fail
 * (constant weights, non-zero-mean biases). One entry per such run, run = 0-based index. */
export function theoryNotes(result) {
  return result.runs
    .map((run, index) => ({ run: index, label: run.label, note: run.theory?.note }))
    .filter((n) => typeof n.note === "string" && n.note.trim() !== "");
}

export const theoryApplies = (run) => !(typeof run.theory?.note === "string" && run.theory.note.trim() !== "");

export const depthOf = (result) => Math.max(...result.runs.map((r) => r.layers.length));
