// The distribution view, as TensorBoard draws its distributions: per run, the percentile bands of
// a layer's values over depth, every layer at once. The bands are the API's percentiles: min and
// max, then ±1.5, ±1 and ±0.5 standard deviations' worth of a normal distribution's mass around
// the median (6.68-93.32%, 15.87-84.13%, 30.85-69.15%).

import { esc, fmt } from "./format.js";
import { COLORS, baseLayout, domains, runTitle } from "./plot-base.js";

/** Outer to inner: [low percentile, high percentile, fill opacity]. */
export const BANDS = [
  ["0", "100", 0.12],
  ["6.68", "93.32", 0.22],
  ["15.87", "84.13", 0.34],
  ["30.85", "69.15", 0.5],
];

/** A colour "#rrggbb" with opacity `a`, as plotly reads it. */
function withAlpha(hex, a) {
  const [r, g, b] = [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
  return `rgba(${r},${g},${b},${a})`;
}

/** One run's traces: per band its upper edge, then its lower edge filled up to it; the median. */
export function distributionTraces(run, kind, color, k) {
  const layers = run.layers.map((l) => l.layer);
  const at = (key) => run.layers.map((l) => l[kind]?.percentiles?.[key] ?? null);
  const axes = { xaxis: `x${k}`, yaxis: `y${k}` };
  const traces = [];
  for (const [low, high, alpha] of BANDS) {
    const share = `${fmt(Number(high) - Number(low))}%`;
    traces.push({ type: "scatter", mode: "lines", x: layers, y: at(high), line: { width: 0 }, hoverinfo: "skip", showlegend: false, ...axes });
    traces.push({
      type: "scatter",
      mode: "lines",
      x: layers,
      y: at(low),
      line: { width: 0 },
      fill: "tonexty",
      fillcolor: withAlpha(color, alpha),
      name: low === "0" ? "min to max" : `middle ${share}`,
      customdata: at(high),
      hovertemplate: `layer %{x}: %{y:.3~g} to %{customdata:.3~g} (${low === "0" ? "min to max" : `middle ${share}`})<extra>${esc(run.label)}</extra>`,
      showlegend: false,
      ...axes,
    });
  }
  traces.push({
    type: "scatter",
    mode: "lines+markers",
    x: layers,
    y: at("50"),
    line: { color, width: 2 },
    marker: { size: 4, color },
    name: "median",
    hovertemplate: `layer %{x}: median %{y:.3~g}<extra>${esc(run.label)}</extra>`,
    showlegend: false,
    ...axes,
  });
  return traces;
}

/** One column per run: layer across, value up, the bands of `kind` (post, pre or grad). */
export function distributionFigure(result, { kind = "post", width = 1000, height = null, large = false } = {}) {
  const runs = result.runs;
  const layout = baseLayout(height ?? 380);
  if (large) layout.font = { ...layout.font, size: 15 };
  const narrow = width / runs.length < 260;
  layout.margin = { l: 64, r: 16, t: narrow ? 84 : 64, b: 48 };
  const xs = domains(runs.length, 56, width - layout.margin.l - layout.margin.r);
  const data = [];
  runs.forEach((run, c) => {
    const k = c + 1;
    const suffix = k === 1 ? "" : k;
    const color = COLORS[c % COLORS.length];
    data.push(...distributionTraces(run, kind, color, k));
    const depth = run.layers.length;
    layout[`xaxis${suffix}`] = {
      domain: xs[c],
      anchor: `y${k}`,
      title: { text: "layer" },
      range: [0.5, depth + 0.5],
      dtick: Math.max(1, Math.ceil(depth / 10)),
      showgrid: false,
    };
    layout[`yaxis${suffix}`] = { anchor: `x${k}`, exponentformat: "e", gridcolor: "#eef1f5", zeroline: true, zerolinecolor: "#d9dee6" };
    layout.annotations.push(runTitle(run, c, narrow, { xref: `x${k} domain`, x: 0.5, yshift: 12 }));
  });
  layout.annotations.push({
    text: "bands: min–max, middle 86.6%, 68.3%, 38.3%; line: median",
    showarrow: false,
    xref: "paper",
    yref: "paper",
    x: 1,
    y: 1,
    yshift: narrow ? 58 : 38,
    xanchor: "right",
    yanchor: "bottom",
    font: { size: 10, color: "#5b6472" },
  });
  return { data, layout };
}
