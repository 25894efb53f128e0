// The signal-propagation chart: std per layer of every run on a log axis, measured and predicted.

import { logErrorBars } from "./bands.js";
import { esc, fmt } from "./format.js";
import { outputAxisTitle, outputRows } from "./layers.js";
import { COLORS, MUTED, baseLayout, note, theoryApplies } from "./plot-base.js";

const FLOOR_SYMBOL = "triangle-down-open";
const CEILING_SYMBOL = "triangle-up-open";
const AT_FLOOR = "σ = 0 (drawn at the axis floor: log scale has no 0)";
const AT_CEILING = "exploded (not finite)";

/** Where a log axis can put a std: a positive finite value as it is; 0 at `floor`; null, NaN or
 * infinite (the API sends null for a std that overflowed) at `ceiling`. */
function placeStd(v, floor, ceiling) {
  if (v > 0 && Number.isFinite(v)) return { y: v, at: null };
  return v === 0 ? { y: floor, at: "floor" } : { y: ceiling, at: "ceiling" };
}

/** The decades of a log axis over `values` (lo, hi: powers of ten), and one tick step below and
 * above them for the values it cannot show (floor, ceiling). One labelled tick per decade reads
 * well over a few decades; vanishing signals span dozens. */
function logAxisBounds(values) {
  const positive = values.filter((v) => v > 0 && Number.isFinite(v));
  const lo = positive.length ? Math.floor(Math.log10(Math.min(...positive))) : -1;
  const hi = positive.length ? Math.ceil(Math.log10(Math.max(...positive))) : 0;
  const dtick = Math.max(1, Math.ceil((hi - lo) / 8));
  return { lo, hi, dtick, floor: 10 ** (lo - dtick), ceiling: 10 ** (hi + dtick) };
}

/** Ticks of a log axis whose floor holds the zeros ("0") and ceiling the non-finite values: a
 * decade's label there would claim a measured value. */
function brokenLogTicks({ lo, hi, dtick, floor, ceiling }, placed) {
  const decades = [];
  for (let e = hi; e >= lo; e -= dtick) decades.unshift(e);
  const tickvals = decades.map((e) => 10 ** e);
  const ticktext = decades.map((e) => (Math.abs(e) <= 3 ? fmt(10 ** e) : `1e${e}`));
  if (placed.includes("floor")) {
    tickvals.unshift(floor);
    ticktext.unshift("0");
  }
  if (placed.includes("ceiling")) {
    tickvals.push(ceiling);
    ticktext.push("NaN/∞");
  }
  return { tickvals, ticktext };
}

/** The series of a run in the signal chart, with their raw values (placed on the axis later):
 * measured stds as markers, mean field's prediction as lines where its assumptions hold. */
function signalSeries(run, c) {
  const base = { label: esc(run.label), color: COLORS[c % COLORS.length], c, layers: run.layers.map((l) => l.layer) };
  if (run.layers.some((l) => l?.layer_type)) {
    // A layer network's rows are of several kinds (a norm's, a branch's, a block's sum): one line
    // through them all zig-zagged between kinds. Its chart is each layer's or block's output row,
    // at that layer's or block's number, beside a plain stack's layers.
    const rows = outputRows(run);
    run = { ...run, layers: rows.map(({ j }) => run.layers[j]) };
    Object.assign(base, { layers: rows.map(({ place }) => place), names: run.layers.map((l) => l.name) });
  }
  const theory = theoryApplies(run) && run.layers.every((l) => l.theory);
  const values = (get) => run.layers.map(get);
  const mode = "markers"; // measured values are markers only: a line on this chart is always a prediction
  const out = [];
  for (const [kind, symbol, dash, what] of [["post", "circle", "solid", "activation"], ["pre", "circle-open", "dot", "z"]]) {
    out.push({ ...base, what, symbol, dash, mode, values: values((l) => l[kind].std), ...seedBand(run, kind) });
    const predicted = values((l) => (kind === "post" ? l.theory?.std : l.theory?.z_std));
    if (theory) out.push({ ...base, what, dash, predicted: true, values: predicted });
  }
  if (run.layers.every((l) => l.grad)) {
    const what = "gradient";
    out.push({ ...base, what, symbol: "triangle-up", mode: "markers", values: values((l) => l.grad.std), ...seedBand(run, "grad") });
    if (theory) out.push({ ...base, what, dash: "dashdot", predicted: true, values: values((l) => l.theory.gradient_scale) });
  }
  return out;
}

/** A seed ensemble's band of a measured std series: the lowest and highest draw's std per layer
 * (nothing for a single draw's answer). */
function seedBand(run, kind) {
  if (!run.layers.some((l) => l[kind]?.band)) return {};
  return { lows: run.layers.map((l) => l[kind].band?.low.std ?? null), highs: run.layers.map((l) => l[kind].band?.high.std ?? null) };
}

/** One trace of the signal chart: zeros at the floor, non-finite at the ceiling, each with its
 * own marker and a hover that says why it is there. */
function signalTrace(s, floor, ceiling) {
  // A prediction the theory does not make (its variance past 1e30) is a gap in its line
  const placed = s.values.map((v) =>
    s.predicted && !(v > 0 && Number.isFinite(v)) ? { y: null, at: "none" } : placeStd(v, floor, ceiling),
  );
  const text = placed.map(({ at }, i) => {
    const band = s.lows && s.lows[i] != null && s.highs[i] != null ? ` (draws ${fmt(s.lows[i])}–${fmt(s.highs[i])})` : "";
    const value = at === "floor" ? AT_FLOOR : at === "ceiling" ? AT_CEILING : `σ ${fmt(s.values[i])}${band}`;
    return `${s.names?.[i] ?? `layer ${s.layers[i]}`}: ${s.predicted ? "predicted " : ""}${value}`;
  });
  const what = s.what === "gradient" ? "dL/dz" : s.what;
  const trace = {
    type: "scatter",
    x: s.layers,
    y: placed.map((p) => p.y),
    text,
    hovertemplate: `%{text}<extra>${s.label} (${what})</extra>`,
    name: `${s.label}: ${s.what}${s.predicted ? ", theory" : ""}`,
    legendgroup: `run${s.c}`,
  };
  if (s.predicted) return { ...trace, mode: "lines", showlegend: false, line: { color: s.color, dash: s.dash, width: 2 } };
  const symbols = { floor: FLOOR_SYMBOL, ceiling: CEILING_SYMBOL };
  const symbol = placed.map(({ at }) => symbols[at] ?? s.symbol);
  const filled = s.symbol === "triangle-up";
  const drawn = {
    ...trace,
    mode: s.mode,
    line: { color: s.color, dash: s.dash ?? "solid", width: 1.5 },
    marker: { size: filled ? 8 : 7, symbol, color: s.color, line: { color: s.color, width: 1.5 } },
  };
  // a seed ensemble: each marker is the draws' mean, its bar the lowest to highest draw
  if (s.lows) drawn.error_y = logErrorBars(placed.map(({ y, at }) => (at ? null : y)), s.lows, s.highs, floor, s.color);
  return drawn;
}

const LEGEND_TOP = 56; // px below the plot: the tick labels and the axis title
const ENTRY_PX = 19; // one legend line
const CHAR_PX = 7; // a legend character at plotly's 12 px font, roughly

/** The height of the signal chart's horizontal legend: one block per run (its entries one under
 * the other), as many blocks a row as the width holds the longest entry. */
export function wideLegendHeight(data, width) {
  const shown = data.filter((t) => t.showlegend !== false);
  if (!shown.length) return 0;
  const groups = new Map();
  for (const t of shown) groups.set(t.legendgroup, (groups.get(t.legendgroup) ?? 0) + 1);
  const longest = Math.max(...shown.map((t) => t.name.length));
  const perRow = Math.max(1, Math.floor((width - 80) / (longest * CHAR_PX + 40)));
  const tallest = Math.max(...groups.values());
  return Math.ceil(groups.size / perRow) * (tallest * ENTRY_PX + 12);
}

/** Std per layer for every run, log y: measured as markers (activations filled, z open,
 * gradients triangles), the mean-field prediction as lines where it applies. */
export function signalFigure(result, { width = 1000 } = {}) {
  const series = result.runs.flatMap(signalSeries);
  const bounds = logAxisBounds(series.flatMap((s) => [...s.values, ...(s.lows ?? []), ...(s.highs ?? [])]));
  const { floor, ceiling, dtick } = bounds;
  const data = series.map((s) => signalTrace(s, floor, ceiling));
  const layout = baseLayout(380);
  layout.showlegend = true;
  layout.margin = { l: 64, r: 16, t: 24, b: 90 };
  // Below the axis title, in a margin tall enough for the rows the legend wraps into: placed at a
  // fraction of the plot, a legend of several rows rose over the title "layer" (1024 px, 3 runs).
  const legendHeight = wideLegendHeight(data, width);
  layout.margin.b = LEGEND_TOP + legendHeight;
  layout.height = 290 + layout.margin.b;
  layout.legend = { orientation: "h", x: 0, y: 0, yref: "container", yanchor: "bottom" };
  if (width < 600) {
    // A phone: one legend entry per line, below the axis title, in a figure tall enough for them.
    const entries = data.filter((t) => t.showlegend !== false).length;
    layout.margin = { l: 52, r: 8, t: 24, b: 64 + 20 * entries };
    layout.height = 280 + layout.margin.b;
    layout.legend = { orientation: "v", x: 0, y: 0, yref: "container", yanchor: "bottom" };
  }
  layout.xaxis = { title: { text: outputAxisTitle(result) }, dtick: Math.max(1, Math.ceil((data[0]?.x.length ?? 1) / 20)) };
  // within a decade one labelled tick would leave the values unreadable: 1, 2 and 5 of each
  const shown = series.flatMap((s) => s.values).filter((v) => v > 0 && Number.isFinite(v));
  const within = shown.length > 0 && Math.log10(Math.max(...shown) / Math.min(...shown)) < 1.5;
  layout.yaxis = { title: { text: "std" }, type: "log", dtick: within ? "D2" : dtick, gridcolor: "#eef1f5", exponentformat: "e" };
  const placed = series.filter((s) => !s.predicted).flatMap((s) => s.values.map((v) => placeStd(v, floor, ceiling).at));
  const keys = [];
  if (placed.includes("floor")) keys.push("▽ σ = 0, drawn at the floor (a log axis has no 0)");
  if (placed.includes("ceiling")) keys.push("△ not finite, drawn at the top");
  if (result.ensemble) keys.push(`bars: lowest to highest of ${result.ensemble.seeds} weight draws`);
  if (keys.length) {
    Object.assign(layout.yaxis, brokenLogTicks(bounds, placed));
    layout.margin.t = 40;
    const corner = { xref: "paper", yref: "paper", x: 1, y: 1, xanchor: "right", yanchor: "bottom", yshift: 4 };
    layout.annotations.push(note(keys.join(" · "), { ...corner, font: { size: 11, color: MUTED } }));
  }
  return { data, layout };
}
