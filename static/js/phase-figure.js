// The order-to-chaos phase diagram of one activation, with the runs that use it.

import { esc } from "./format.js";
import { COLORS, baseLayout, theoryApplies } from "./plot-base.js";

// Blue below chi = 1 (ordered: gradients vanish), white at 1, red above (chaotic): the words of
// the caption. Plotly's "RdBu" was grey in the middle and tan above, which no caption said.
const CHI_COLORS = [[0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"], [1, "#b2182b"]];
// xi_c, a length: a sequential scale (viridis), dark where correlations settle within a layer or
// two, bright where they take hundreds of layers (next to the critical line, where it diverges).
const XI_COLORS = [[0, "#440154"], [0.25, "#3b528b"], [0.5, "#21918c"], [0.75, "#5ec962"], [1, "#fde725"]];

/** What each colouring draws: the answer's grid (log10), its colours, the key's decades (labelled
 * as values: beyond them the colour saturates), one filled band per quarter decade. */
export const PHASE_COLORINGS = {
  chi: {
    key: "log10_chi", colors: CHI_COLORS, ticks: [-2, -1, 0, 1, 2], step: 0.25, title: "χ",
    hover: "log₁₀ χ %{z:.2f}", name: "log₁₀ χ",
  },
  xi_c: {
    key: "log10_xi_c", colors: XI_COLORS, ticks: [-1, 0, 1, 2, 3], step: 0.25, title: "ξc",
    side: "layers · longest at χ = 1",
    hover: "ξc %{customdata:.3~g} layers (log₁₀ %{z:.2f})", name: "log₁₀ ξc",
  },
};

/** The colour of `v` (a log10) on a colouring's scale, linear in RGB between its stops (as plotly's). */
export function scaleColor(coloring, v) {
  const { colors, ticks } = coloring;
  const t = Math.min(1, Math.max(0, (v - ticks[0]) / (ticks.at(-1) - ticks[0])));
  const i = Math.max(1, colors.findIndex(([stop]) => stop >= t));
  const [[s0, c0], [s1, c1]] = [colors[i - 1], colors[i]];
  const rgb = (hex) => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
  const [a, b] = [rgb(c0), rgb(c1)];
  return `rgb(${a.map((x, k) => Math.round(x + ((t - s0) / (s1 - s0)) * (b[k] - x))).join(",")})`;
}

/** A number of layers as the key labels it: 0.1, 1, 10, 100, 1000. */
function decadeLabel(e) {
  return String(10 ** e);
}

/** The colour key beside the plot, one rect per band, labelled with the values (not their logs),
 * titled, and for xi_c a line up its side saying what it is. Drawn with layout shapes: plotly's
 * colour bar gives its rects a style attribute, which the CSP refuses. */
function colourKey(layout, coloring) {
  const { ticks, step } = coloring;
  const [lo, hi] = [ticks[0], ticks.at(-1)];
  const y = (v) => (v - lo) / (hi - lo);
  const bands = [...Array(Math.round((hi - lo) / step)).keys()].map((i) => lo + i * step);
  const key = { xref: "paper", yref: "paper", showarrow: false };
  layout.shapes = bands.map((v) => ({
    ...key, type: "rect", xsizemode: "pixel", xanchor: 1, x0: 10, x1: 22, y0: y(v), y1: y(v + step),
    fillcolor: scaleColor(coloring, v + step / 2), line: { width: 0 },
  }));
  const label = { ...key, x: 1, xanchor: "left", font: { size: 10 } };
  layout.annotations.push(
    ...ticks.map((e) => ({ ...label, text: decadeLabel(e), xshift: 24, y: y(e), yanchor: "middle" })),
    { ...label, text: coloring.title, xshift: 10, y: 1, yanchor: "bottom", font: { size: 12 } },
  );
  layout.margin.r = 64;
  if (coloring.side) {
    layout.annotations.push({
      ...label, text: coloring.side, textangle: -90, xshift: 52, y: 0.5, yanchor: "middle", xanchor: "left",
    });
    layout.margin.r = 80;
  }
}

/** The caption under the colour control: what the colour means (chi's is the page's own note). */
export function phaseCaption(color) {
  if (color !== "xi_c") return "";
  return (
    "Colour: ξc, the depth scale of the correlation between two inputs, in layers (log scale, " +
    "0.1 dark to 1000 bright): how many layers their correlation takes to settle at its fixed point c* " +
    "(c* = 1 in the ordered phase: every pair becomes alike; below 1 in the chaotic phase). ξc is " +
    "longest next to the critical line (black), where it diverges: there inputs stay distinguishable, " +
    "and the network trainable, deepest (Schoenholz et al. 2017). Blank: no fixed point (the variance " +
    "vanishes or explodes). Numbered markers are the runs; a hover gives ξc."
  );
}

/** The phase-diagram query for a colouring: color=xi_c adds the xi_c grid; chi keeps the old
 * query (and answer) as it was. */
export function phaseColorQuery(query, color) {
  const out = new URLSearchParams(query);
  if (color === "xi_c") out.set("color", "xi_c");
  else out.delete("color");
  return out;
}

/** 10^v per cell for the hover (null stays null). */
function powers(grid) {
  return grid.map((row) => row.map((v) => (v === null ? null : 10 ** v)));
}

/** sigma_w of a run's hidden layers (its first layer's when it has only one), or null. */
function runSigmaW(run) {
  const w2 = run.theory.sigma_w2;
  const hidden = w2.length > 1 ? w2[1] : w2[0];
  return hidden === null || hidden === undefined ? null : Math.sqrt(hidden);
}

/** The order-to-chaos phase diagram of one activation: log10 chi (color "chi") or log10 xi_c
 * (color "xi_c", the answer's grid with color=xi_c) over (sigma_w, sigma_b) with a colour key read
 * as values, the critical line chi = 1 where the grid has one, a dotted outline of the points with
 * two stable variances (their colour depends on the start, diagram.q0), and the runs that use
 * this activation as markers, each with its own theory's phase. The axes reach every marker, even
 * one beyond the diagram's grid. */
export function phaseFigure(diagram, runs, color = "chi") {
  const coloring = PHASE_COLORINGS[color];
  const { ticks, step } = coloring;
  const z = diagram[coloring.key];
  const data = [
    {
      // Filled contours are SVG paths with fills set through the CSSOM, which the CSP allows.
      type: "contour",
      x: diagram.sigma_w,
      y: diagram.sigma_b,
      z,
      zmin: ticks[0],
      zmax: ticks.at(-1),
      colorscale: coloring.colors,
      showscale: false, // plotly's colour bar sets style attributes: colourKey draws one instead
      contours: { start: ticks[0], end: ticks.at(-1), size: step, coloring: "fill", showlines: false },
      hovertemplate: `σw %{x:.3f}, σb %{y:.3f}: ${coloring.hover}<extra></extra>`,
      name: coloring.name,
      showlegend: false,
    },
  ];
  if (color === "xi_c") data[0].customdata = powers(z);
  if (diagram.critical_sigma_w?.some((v) => v !== null)) {
    data.push({
      type: "scatter",
      mode: "lines",
      x: diagram.critical_sigma_w,
      y: diagram.sigma_b,
      line: { color: "#1d2330", width: 2 },
      name: "critical: χ = 1",
      hoverinfo: "skip",
    });
  }
  if (diagram.bistable?.some((row) => row.some(Boolean))) {
    data.push({
      type: "contour",
      x: diagram.sigma_w,
      y: diagram.sigma_b,
      z: diagram.bistable.map((row) => row.map(Number)),
      contours: { start: 0.5, end: 0.5, size: 1, coloring: "none" },
      line: { color: "#1d2330", width: 1.5, dash: "dot" },
      showscale: false,
      hoverinfo: "skip",
      name: "two stable variances",
      showlegend: false,
    });
  }
  const points = [];
  runs.forEach(({ run, index }) => {
    const sigmaW = runSigmaW(run);
    if (sigmaW === null) return;
    const sigmaB = Math.sqrt(run.theory.sigma_b2);
    points.push([sigmaW, sigmaB]);
    const caveat = theoryApplies(run) ? "" : `; mean field does not apply: ${esc(run.theory.note)}`;
    data.push({
      type: "scatter",
      mode: "markers+text",
      x: [sigmaW],
      y: [sigmaB],
      text: [`${index + 1}`],
      textposition: "top center",
      cliponaxis: false, // a marker at sigma_b = 0 sits on the axis: draw all of it
      marker: { size: 12, color: COLORS[index % COLORS.length], line: { color: "#fff", width: 2 } },
      name: esc(run.label),
      hovertemplate: `${esc(run.label)}: σw %{x:.3f}, σb %{y:.3f} (${run.phase}${caveat})<extra></extra>`,
    });
  });
  // From the grid's first point (white left of it would read as chi = 1) or the leftmost marker.
  const start = (grid, i) => Math.min(grid[0], ...points.map((p) => 0.95 * p[i]));
  const reach = (grid, i) => Math.max(grid.at(-1), ...points.map((p) => 1.05 * p[i]));
  const layout = baseLayout(360);
  layout.showlegend = true;
  layout.legend = { orientation: "h", x: 0, y: -0.25 };
  layout.margin = { l: 64, r: 16, t: 16, b: 90 };
  const range = (grid, i) => [start(grid, i), reach(grid, i)];
  layout.xaxis = { title: { text: "σw (weight std × √fan_in)" }, range: range(diagram.sigma_w, 0) };
  layout.yaxis = { title: { text: "σb (bias std)" }, range: range(diagram.sigma_b, 1) };
  colourKey(layout, coloring);
  return { data, layout };
}
