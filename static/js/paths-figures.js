// Plotly figure specs of an optimizer-paths answer: pure functions, no DOM, no fetching.
// No <b>/<sup> in plotly text, and no "power" exponents (superscripts): plotly.js styles them with
// style attributes, which the pages' CSP blocks.

import { esc } from "./figures.js";

const FONT = { family: "system-ui, sans-serif", size: 12, color: "#1d2330" };
// One colour per optimizer, so ticking one on or off never repaints the others.
export const COLOR = { sgd: "#2456a6", momentum: "#c77c02", nesterov: "#6b4c9a", adagrad: "#2e933c", rmsprop: "#00798c", adam: "#d1495b" };
const DASHES = ["solid", "dot", "dash", "dashdot"];

/** One line with markers per path: the optimizer's colour, a dash for a repeated optimizer. */
function pathTraces(result) {
  const seen = {};
  return result.paths.map((p) => {
    const k = (seen[p.optimizer] = (seen[p.optimizer] ?? -1) + 1);
    const color = COLOR[p.optimizer];
    const name = p.diverged_at === null ? p.label : `${p.label}: diverged at step ${p.diverged_at}`;
    return {
      type: "scatter",
      mode: "lines+markers",
      x: p.x,
      y: p.y,
      name: esc(name),
      line: { color, width: 2, dash: DASHES[k % DASHES.length] },
      marker: { color, size: 6 },
      customdata: p.f.map((f, step) => [step, f]),
      hovertemplate: `${esc(p.label)}<br>step %{customdata[0]}: (%{x:.4g}, %{y:.4g}), f = %{customdata[1]:.4g}<extra></extra>`,
    };
  });
}

/** Contours of the surface, its minima, and every path (equal scales on both axes). */
export function pathsFigure(result, width) {
  const { surface, contour } = result;
  const [x0, x1, y0, y1] = surface.window;
  const margin = { l: 52, r: 16, t: 40, b: 48 };
  // Equal scales on both axes (an ellipse stays an ellipse): the height follows the window's shape.
  const plotWidth = Math.max(200, width - margin.l - margin.r);
  const height = Math.round(Math.min(760, Math.max(300, (plotWidth * (y1 - y0)) / (x1 - x0))) + margin.t + margin.b);
  const data = [
    {
      type: "contour",
      x: contour.x,
      y: contour.y,
      z: contour.z,
      ncontours: 16,
      colorscale: [[0, "#b7c0ce"], [1, "#b7c0ce"]],
      contours: { coloring: "lines", showlabels: true, labelfont: { size: 10, color: "#7a8494" } },
      line: { width: 1 },
      showscale: false,
      hovertemplate: `(%{x:.3g}, %{y:.3g}): ${esc(contour.of)} = %{z:.3g}<extra></extra>`,
      name: "contours",
      showlegend: false,
    },
    {
      type: "scatter",
      mode: "markers",
      x: surface.minima.map((m) => m[0]),
      y: surface.minima.map((m) => m[1]),
      name: "minimum",
      marker: { symbol: "x-thin", size: 12, line: { width: 2, color: "#1d2330" } },
      hovertemplate: "minimum (%{x}, %{y})<extra></extra>",
    },
    ...pathTraces(result),
  ];
  const layout = {
    height,
    font: FONT,
    margin,
    paper_bgcolor: "#fff",
    plot_bgcolor: "#fff",
    hovermode: "closest",
    showlegend: true,
    legend: { orientation: "h", x: 0, xanchor: "left", y: 1.01, yanchor: "bottom", font: { size: 12 } },
    xaxis: { range: [x0, x1], title: { text: "x" }, zeroline: false, constrain: "domain", ticks: "outside" },
    yaxis: { range: [y0, y1], title: { text: "y" }, zeroline: false, constrain: "domain", ticks: "outside", scaleanchor: "x", scaleratio: 1 },
  };
  return { data, layout };
}

/** f − f_min after each step, log y: which path gets close, and how fast. */
export function gapsFigure(result) {
  const data = pathTraces(result).map((t, i) => ({
    ...t,
    x: result.paths[i].gap.map((_, step) => step),
    y: result.paths[i].gap,
    hovertemplate: `${esc(result.paths[i].label)}<br>step %{x}: f − f_min = %{y:.3g}<extra></extra>`,
    showlegend: false,
  }));
  const layout = {
    height: 280,
    font: FONT,
    margin: { l: 64, r: 16, t: 12, b: 44 },
    paper_bgcolor: "#fff",
    plot_bgcolor: "#fff",
    hovermode: "closest",
    xaxis: { title: { text: "step" }, zeroline: false, ticks: "outside" },
    yaxis: { type: "log", title: { text: "f − f_min" }, exponentformat: "e", ticks: "outside" },
  };
  return { data, layout };
}
