// The order-to-chaos phase diagram of one activation, with the runs that use it.

import { esc } from "./format.js";
import { COLORS, baseLayout, theoryApplies } from "./plot-base.js";

// Blue below chi = 1 (ordered: gradients vanish), white at 1, red above (chaotic): the words of
// the caption. Plotly's "RdBu" was grey in the middle and tan above, which no caption said.
const CHI_COLORS = [[0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"], [1, "#b2182b"]];
const CHI_TICKS = [-2, -1, 0, 1, 2]; // log10 chi, labelled as chi: beyond 100x either way it saturates
const CHI_STEP = 0.25; // one filled band per quarter decade

/** The colour of log10 chi `v` on CHI_COLORS, linear in RGB between its stops (as plotly's). */
function chiColor(v) {
  const t = Math.min(1, Math.max(0, (v - CHI_TICKS[0]) / (CHI_TICKS.at(-1) - CHI_TICKS[0])));
  const i = Math.max(1, CHI_COLORS.findIndex(([stop]) => stop >= t));
  const [[s0, c0], [s1, c1]] = [CHI_COLORS[i - 1], CHI_COLORS[i]];
  const rgb = (hex) => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
  const [a, b] = [rgb(c0), rgb(c1)];
  return `rgb(${a.map((x, k) => Math.round(x + ((t - s0) / (s1 - s0)) * (b[k] - x))).join(",")})`;
}

/** The colour key of chi beside the plot, one rect per band, labelled with chi's values. Drawn with
 * layout shapes: plotly's colour bar gives its rects a style attribute, which the CSP refuses. */
function chiKey(layout) {
  const [lo, hi] = [CHI_TICKS[0], CHI_TICKS.at(-1)];
  const y = (v) => (v - lo) / (hi - lo);
  const bands = [...Array(Math.round((hi - lo) / CHI_STEP)).keys()].map((i) => lo + i * CHI_STEP);
  const key = { xref: "paper", yref: "paper", showarrow: false };
  layout.shapes = bands.map((v) => ({
    ...key, type: "rect", xsizemode: "pixel", xanchor: 1, x0: 10, x1: 22, y0: y(v), y1: y(v + CHI_STEP),
    fillcolor: chiColor(v + CHI_STEP / 2), line: { width: 0 },
  }));
  const label = { ...key, x: 1, xanchor: "left", font: { size: 10 } };
  layout.annotations.push(
    ...CHI_TICKS.map((e) => ({ ...label, text: String(10 ** e), xshift: 24, y: y(e), yanchor: "middle" })),
    { ...label, text: "χ", xshift: 10, y: 1, yanchor: "bottom", font: { size: 12 } },
  );
  layout.margin.r = 64;
}

/** sigma_w of a run's hidden layers (its first layer's when it has only one), or null. */
function runSigmaW(run) {
  const w2 = run.theory.sigma_w2;
  const hidden = w2.length > 1 ? w2[1] : w2[0];
  return hidden === null || hidden === undefined ? null : Math.sqrt(hidden);
}

/** The order-to-chaos phase diagram of one activation: log10 chi over (sigma_w, sigma_b) with a
 * colour key read as chi, the critical line chi = 1 where the grid has one, a dotted outline of
 * the points with two stable variances (their chi depends on the start, diagram.q0), and the runs
 * that use this activation as markers, each with its own theory's phase. The axes reach every
 * marker, even one beyond the diagram's grid. */
export function phaseFigure(diagram, runs) {
  const data = [
    {
      // Filled contours are SVG paths with fills set through the CSSOM, which the CSP allows.
      type: "contour",
      x: diagram.sigma_w,
      y: diagram.sigma_b,
      z: diagram.log10_chi,
      zmin: -2,
      zmax: 2,
      colorscale: CHI_COLORS,
      showscale: false, // plotly's colour bar sets style attributes: chiKey draws one instead
      contours: { start: CHI_TICKS[0], end: CHI_TICKS.at(-1), size: CHI_STEP, coloring: "fill", showlines: false },
      hovertemplate: "σw %{x:.3f}, σb %{y:.3f}: log₁₀ χ %{z:.2f}<extra></extra>",
      name: "log₁₀ χ",
      showlegend: false,
    },
  ];
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
  chiKey(layout);
  return { data, layout };
}
