// The distribution view, as TensorBoard draws its distributions: per run, the percentile bands of
// a layer's values over depth, every layer at once. The bands are the API's percentiles: min and
// max, then ±1.5, ±1 and ±0.5 standard deviations' worth of a normal distribution's mass around
// the median (6.68-93.32%, 15.87-84.13%, 30.85-69.15%).
// Layer networks: each run's bands run through the rows carrying its layers' or blocks' outputs
// (layers.js outputRows: the activations, or the blocks' sums x + s F(x)), as the signal chart's
// line does; through every row they zig-zagged between norm, projection and sum rows. Each stands
// at its row of the runs side by side (the answer's table, layers.js rowTable), as the grid pairs
// them: a plain run's layer 3 above a BatchNorm run's layer-3 activation, not above its third row.
// An activation row's z is the norm's output before it; the grid has every row.

import { esc, fmt } from "./format.js";
import { outputAxisTitle, outputRows, placeTicks, rowLabel, rowTable, tickStep, typedRows } from "./layers.js";
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

/** One run's traces: per band its upper edge, then its lower edge filled up to it; the median.
 * `rows`: where each of the run's layers stands (1-based, its row of the table), and `names` what
 * the hover calls it ("layer 3 · BatchNorm"); a plain stack's layers stand at their numbers. */
export function distributionTraces(run, kind, color, k, rows = null, names = null) {
  const layers = rows ?? run.layers.map((l) => l.layer);
  const at = (key) => run.layers.map((l) => l[kind]?.percentiles?.[key] ?? null);
  const axes = { xaxis: `x${k}`, yaxis: `y${k}` };
  const where = names ? "%{text}" : "layer %{x}";
  const text = names ? { text: names } : {};
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
      hovertemplate: `${where}: %{y:.3~g} to %{customdata:.3~g} (${low === "0" ? "min to max" : `middle ${share}`})<extra>${esc(run.label)}</extra>`,
      showlegend: false,
      ...text,
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
    hovertemplate: `${where}: median %{y:.3~g}<extra>${esc(run.label)}</extra>`,
    showlegend: false,
    ...text,
    ...axes,
  });
  return traces;
}

/** Run `c`'s layers to draw and where (1-based, their rows of the table): a plain stack's every
 * layer at its number; a layer network's output rows, with the names the grid gives them. */
export function distributionRows(result, c) {
  const run = result.runs[c];
  const at = new Map();
  rowTable(result).forEach((row, i) => {
    const j = row.cells[c];
    if (j !== null && j !== undefined) at.set(j, i + 1);
  });
  if (!typedRows(result)) return { layers: run.layers.map((_, j) => j), rows: run.layers.map((_, j) => at.get(j) ?? j + 1), names: null };
  const layers = outputRows(run).map((row) => row.j);
  // as the grid names them (rowLabels): a plain run's layer beside typed rows says its activation
  const activation = (layer) => layer?.activation ?? run.config?.activation ?? null;
  const names = layers.map((j) => rowLabel(run.layers[j], j, { oneLine: true, activation: activation(run.layers[j]) }));
  return { layers, rows: layers.map((j) => at.get(j)), names };
}

/** One column per run: layer across, value up, the bands of `kind` (post, pre or grad). */
export function distributionFigure(result, { kind = "post", width = 1000, height = null, large = false } = {}) {
  const runs = result.runs;
  const layout = baseLayout(height ?? 380);
  if (large) layout.font = { ...layout.font, size: 15 };
  const narrow = width / runs.length < 260;
  layout.margin = { l: 64, r: 16, t: narrow ? 84 : 64, b: 48 };
  const columnPx = () => {
    const plot = width - layout.margin.l - layout.margin.r;
    const [start, end] = domains(runs.length, 56, plot)[0];
    return (end - start) * plot;
  };
  // A title wider than its column and the gap beside it (a phone's "res init depth" beside "res
  // init rezero") ran into the next: smaller type, down to 10 px, and the right margin takes what
  // still hangs over the last column (~0.6 em a character of the titles' bold).
  const lines = runs.map((run, c) => runTitle(run, c, narrow, {}).text.split("<br>"));
  const longest = Math.max(...lines.flat().map((line) => line.length));
  const size = Math.max(10, Math.min(14, Math.floor((columnPx() + 48) / (longest * 0.6))));
  layout.margin.r += Math.max(0, Math.ceil((longest * 0.6 * size - columnPx()) / 2));
  const titles = runs.map((run, c) =>
    runTitle(run, c, narrow, { xref: `x${c + 1} domain`, x: 0.5, yshift: 12, font: { size } }),
  );
  const xs = domains(runs.length, 56, width - layout.margin.l - layout.margin.r);
  const data = [];
  // as many ticks as fit a column side by side (a phone's three columns of 50 layers overlapped)
  const fit = Math.max(2, Math.min(10, Math.floor(columnPx() / 28)));
  const ticks = typedRows(result) ? placeTicks(result, fit) : null;
  runs.forEach((run, c) => {
    const k = c + 1;
    const suffix = k === 1 ? "" : k;
    const color = COLORS[c % COLORS.length];
    const { layers, rows, names } = distributionRows(result, c);
    data.push(...distributionTraces({ ...run, layers: layers.map((j) => run.layers[j]) }, kind, color, k, rows, names));
    // a layer network's columns span the same rows (they end in different kinds of rows)
    const depth = Math.max(0, ...(ticks ? runs.flatMap((_, r) => distributionRows(result, r).rows) : rows));
    const axis = ticks
      ? {
          // "block (its sum x + s F(x))" where it fits, else the word
          title: { text: columnPx() >= 200 ? outputAxisTitle(result) : ticks.word },
          tickmode: "array",
          tickvals: ticks.rows.map((i) => i + 1),
          ticktext: ticks.text,
        }
      : { title: { text: "layer" }, dtick: tickStep(depth, fit) };
    layout[`xaxis${suffix}`] = { domain: xs[c], anchor: `y${k}`, ...axis, range: [0.5, depth + 0.5], showgrid: false };
    layout[`yaxis${suffix}`] = { anchor: `x${k}`, exponentformat: "e", gridcolor: "#eef1f5", zeroline: true, zerolinecolor: "#d9dee6" };
    layout.annotations.push(titles[c]);
  });
  // a narrow column's title takes a line per part: the bands' key goes above the tallest
  const extra = 17 * Math.max(0, Math.max(...layout.annotations.map((a) => a.text.split("<br>").length)) - 2);
  layout.margin.t += extra;
  layout.annotations.push({
    text: "bands: min–max, middle 86.6%, 68.3%, 38.3%; line: median",
    showarrow: false,
    xref: "paper",
    yref: "paper",
    x: 1,
    y: 1,
    yshift: (narrow ? 58 : 38) + extra,
    xanchor: "right",
    yanchor: "bottom",
    font: { size: 10, color: "#5b6472" },
  });
  return { data, layout };
}
