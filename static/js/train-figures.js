// Plotly figure specs of a training result: pure functions, no DOM, no fetching.
// No <b>/<sup> in plotly text and no "power" exponents: plotly.js styles them with style
// attributes, which the pages' CSP blocks.

import { COLORS, esc, fmt, gridFigure, layerRows, spikeClip } from "./figures.js";
import { missingRow, rowCount, rowLabels, rowLayer, rowTable } from "./layers.js";

const FONT = { family: "system-ui, sans-serif", size: 12, color: "#1d2330" };
const MAX_POINTS = 4000; // per raw loss trace: more than the plot has pixels
const KEY = "#5b6472"; // the grey of the legend's entries that explain a line's style
const color = (i) => COLORS[i % COLORS.length];
const group = (i) => `run${i}`;

const MARGIN = { l: 56, r: 20, t: 18, b: 44 };
/** The legend above the plot: one entry per run in its colour (a click hides the run's lines),
 * then grey entries saying what each line style means. It wraps on a narrow screen, and the
 * figure grows by its rows (legendHeight). */
const LEGEND = { orientation: "h", traceorder: "normal", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom", font: { size: 11 } };

function layout(height, extra = {}) {
  return {
    height,
    font: FONT,
    paper_bgcolor: "#fff",
    plot_bgcolor: "#fff",
    margin: { ...MARGIN },
    hovermode: "closest",
    showlegend: true,
    legend: { ...LEGEND },
    xaxis: { title: { text: "step" }, zeroline: false, ticks: "outside", rangemode: "tozero" },
    ...extra,
  };
}

/** The height the legend adds above the plot at `width` px, for the figure to grow by (plotly
 * takes the legend's rows from the plot otherwise). Plotly's horizontal legend wraps within the
 * plot's width (the figure's less the side margins): an entry is its text (about 5.9 px a
 * character at 11 px) and 40 px of line sample and gap, 5 px apart; when they do not fit on one
 * row, every entry takes the widest one's width. A row is 19 px, and the legend pushes 8 more. */
export function legendHeight(data, width) {
  const room = width - MARGIN.l - MARGIN.r;
  const names = data.filter((t) => t.showlegend !== false).map((t) => t.name.replace(/&(#\d+|\w+);/g, "x"));
  const widths = names.map((name) => 40 + 5.9 * name.length);
  let rows = 1;
  if (widths.reduce((a, b) => a + b + 5, 5) >= room) {
    const slot = Math.max(...widths) + 5;
    rows = Math.ceil(widths.length / Math.max(1, Math.ceil((room + 5) / slot) - 1));
  }
  return 19 * rows + 8;
}

/** A legend entry without data: what a line style (or a mark) means, in grey. */
function key(name, style) {
  return { type: "scatter", x: [null], y: [null], name, legendgroup: "key", hoverinfo: "skip", ...style };
}

/** Every k-th point (and the last) of a long curve: the raw loss has one point per step, or one
 * per `stride` steps in a progress update (the server thins those). */
function thin(values, stride = 1) {
  const k = Math.ceil(values.length / MAX_POINTS);
  const x = [];
  const y = [];
  for (let i = 0; i < values.length; i += k) {
    x.push(i * stride);
    y.push(values[i]);
  }
  if (values.length && x.at(-1) !== (values.length - 1) * stride) {
    x.push((values.length - 1) * stride);
    y.push(values.at(-1));
  }
  return { x, y };
}

/** The steps the loss's moving average spans: the server's is exponential with `smoothing_beta`
 * (0.98), whose weights sum to about 1 − 1/e over the last 1 / (1 − β) steps (50). */
export function smoothingSteps(result) {
  const beta = result.smoothing_beta;
  return Number.isFinite(beta) && beta < 1 ? Math.round(1 / (1 - beta)) : null;
}

/** Each step's batch loss (thin, faint) and its moving average (bold), one colour per run. A
 * diverging run's loss shoots up by orders of magnitude: the axis stops at twice the highest
 * starting loss, and an × marks where the run stopped. The legend names the runs and says which
 * line is which. */
export function lossFigure(result, { logY = false, iterations = null, width = 600 } = {}) {
  const data = [];
  const firsts = result.runs.map((run) => run.loss_smoothed.find((v) => v !== null)).filter(Number.isFinite);
  const top = firsts.length ? 2 * Math.max(...firsts) : Infinity;
  result.runs.forEach((run, i) => {
    const stride = run.loss_stride ?? 1;
    const raw = thin(run.loss, stride);
    data.push({
      type: "scatter",
      mode: "lines",
      ...raw,
      y: logY ? raw.y.map((v) => (v > 0 ? v : null)) : raw.y,
      line: { color: color(i), width: 1 },
      opacity: 0.3,
      name: esc(run.label),
      legendgroup: group(i),
      showlegend: false,
      hovertemplate: `step %{x}: %{y:.4g}<extra>${esc(run.label)} (batch)</extra>`,
    });
    data.push({
      type: "scatter",
      mode: "lines",
      ...thin(run.loss_smoothed, stride),
      line: { color: color(i), width: 2.5 },
      name: esc(run.label), // the run's legend entry
      legendgroup: group(i),
      hovertemplate: `step %{x}: %{y:.4g}<extra>${esc(run.label)} (smoothed)</extra>`,
    });
    if (run.status !== "diverged") return;
    const last = run.loss.findLast((v) => v !== null) ?? top;
    data.push({
      type: "scatter",
      mode: "markers",
      x: [(run.loss.length - 1) * stride],
      y: [Math.min(last, top * 0.96)],
      marker: { symbol: "x", size: 11, color: color(i), line: { width: 1, color: "#fff" } },
      name: esc(run.label),
      legendgroup: group(i),
      showlegend: false,
      hovertemplate: `diverged at step ${run.steps}<extra>${esc(run.label)}</extra>`,
    });
  });
  const values = data.flatMap((t) => t.y).filter((v) => v > 0 && Number.isFinite(v));
  const span = smoothingSteps(result);
  data.push(
    key("each batch's loss", { mode: "lines", line: { color: KEY, width: 1 }, opacity: 0.45 }),
    key(span ? `moving average (~${span} steps)` : "moving average", { mode: "lines", line: { color: KEY, width: 2.5 } }),
  );
  if (result.runs.some((run) => run.status === "diverged")) {
    data.push(key("diverged", { mode: "markers", marker: { symbol: "x", size: 10, color: KEY } }));
  }
  const spec = layout(320 + legendHeight(data, width));
  if (iterations) spec.xaxis.range = [0, iterations];
  spec.yaxis = { title: { text: "cross-entropy" }, gridcolor: "#eef1f5", zeroline: false, ticks: "outside", exponentformat: "e" };
  const clipped = values.some((v) => v > top);
  if (logY) {
    Object.assign(spec.yaxis, { type: "log", tickformat: "~g", dtick: "D2" });
    if (clipped) spec.yaxis.range = [Math.log10(Math.min(...values)) - 0.05, Math.log10(top)];
  } else {
    spec.yaxis.rangemode = "tozero";
    if (clipped) spec.yaxis.range = [0, top];
  }
  return { data, layout: spec };
}

/** Accuracy on the test set (solid) and on the training probe (dashed) at every record; the
 * legend names the runs and says which line is which. */
export function accuracyFigure(result, { iterations = null, width = 600 } = {}) {
  const data = [];
  result.runs.forEach((run, i) => {
    const { step, test_accuracy: test, train_accuracy: train } = run.records;
    for (const [y, dash, what] of [[train, "dash", "training"], [test, "solid", "test"]]) {
      data.push({
        type: "scatter",
        mode: step.length > 1 ? "lines" : "markers",
        x: step,
        y,
        line: { color: color(i), width: what === "test" ? 2.5 : 1.5, dash },
        marker: { color: color(i) },
        name: esc(run.label), // the test curve is the run's legend entry
        legendgroup: group(i),
        showlegend: what === "test",
        hovertemplate: `step %{x}: %{y:.1%}<extra>${esc(run.label)} (${what})</extra>`,
      });
    }
  });
  data.push(
    key("test set", { mode: "lines", line: { color: KEY, width: 2.5 } }),
    key("training samples", { mode: "lines", line: { color: KEY, width: 1.5, dash: "dash" } }),
  );
  const spec = layout(320 + legendHeight(data, width));
  if (iterations) spec.xaxis.range = [0, iterations];
  spec.yaxis = { title: { text: "accuracy" }, range: [0, 1.02], tickformat: ".0%", gridcolor: "#eef1f5", zeroline: false };
  return { data, layout: spec };
}

/** One value per record from per-layer lists: layer `which` (0-based), the "output" layer (the
 * last), or the "mean" over layers. */
function perLayer(rows, which) {
  return rows.map((row) => {
    if (which === "output") return row.at(-1) ?? null;
    if (which !== "mean") return row[Number(which)] ?? null;
    const ok = row.filter((v) => v !== null && v !== undefined);
    return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : null;
  });
}

/** The indices of a run's rows that are a hidden layer's activation: every row of a plain stack; a
 * layer network's activation rows (a norm row's units are never all zero: counted in, its zeros
 * would halve the mean of a BatchNorm run's dead units beside a plain run's). */
export function activationRows(run) {
  const layers = run.captures.at(-1)?.layers ?? [];
  const rows = run.records.dead_fraction[0]?.length ?? 0;
  return [...Array(rows).keys()].filter((j) => !layers[j]?.layer_type || layers[j].layer_type === "activation");
}

/** The fraction of each hidden layer's units that are zero for every probe sample. */
export function deadFigure(result, { which = "mean", iterations = null, width = 600 } = {}) {
  const data = result.runs.map((run, i) => ({
    type: "scatter",
    mode: run.records.step.length > 1 ? "lines" : "markers",
    x: run.records.step,
    y: perLayer(run.records.dead_fraction.map((row) => activationRows(run).map((j) => row[j])), which),
    line: { color: color(i), width: 2 },
    marker: { color: color(i) },
    name: esc(run.label),
    legendgroup: group(i),
    hovertemplate: `step %{x}: %{y:.1%} dead<extra>${esc(run.label)}</extra>`,
  }));
  const spec = layout(280 + legendHeight(data, width));
  if (iterations) spec.xaxis.range = [0, iterations];
  // At least 0 to 10%, at most 0 to 100%: a few dead units stay visible.
  spec.yaxis = {
    title: { text: "dead units" },
    autorangeoptions: { include: [0, 0.1], clipmin: 0, clipmax: 1 },
    tickformat: ".0%",
    gridcolor: "#eef1f5",
    zeroline: false,
  };
  return { data, layout: spec };
}

/** log10(std of the update / std of the weights) per record; the rule of thumb is about -3. */
export function ratioFigure(result, { which = "mean", iterations = null, width = 600 } = {}) {
  const data = result.runs.map((run, i) => {
    // Step 0 has no update yet: its list is empty.
    const y = perLayer(run.records.update_ratio, which);
    return {
      type: "scatter",
      mode: run.records.step.length > 2 ? "lines" : "lines+markers",
      x: run.records.step,
      y,
      connectgaps: false,
      line: { color: color(i), width: 2 },
      marker: { color: color(i) },
      name: esc(run.label),
      legendgroup: group(i),
      hovertemplate: `step %{x}: %{y:.2f}<extra>${esc(run.label)}</extra>`,
    };
  });
  const values = data.flatMap((t) => t.y).filter((v) => v !== null);
  data.push(key("−3: the rule of thumb", { mode: "lines", line: { color: KEY, width: 1.5, dash: "dot" } }));
  const low = Math.min(-4, ...values);
  const high = Math.max(-2, ...values);
  const spec = layout(280 + legendHeight(data, width));
  if (iterations) spec.xaxis.range = [0, iterations];
  spec.yaxis = {
    title: { text: "log10 update ratio" },
    range: [Math.floor(low) - 0.25, Math.ceil(high) + 0.25],
    dtick: 1,
    gridcolor: "#eef1f5",
    zeroline: false,
  };
  spec.shapes = [
    { type: "line", xref: "paper", x0: 0, x1: 1, y0: -3, y1: -3, line: { color: "#5b6472", width: 1.5, dash: "dot" } },
  ];
  return { data, layout: spec };
}

/** The steps with histograms, of any run, in order. */
export function captureSteps(result) {
  return [...new Set(result.runs.flatMap((run) => run.captures.map((c) => c.step)))].sort((a, b) => a - b);
}

/** A run's capture at `step`, or null (a run that diverged or stopped before it). */
function captureAt(run, step) {
  return run.captures.find((c) => c.step === step) ?? null;
}

/** Per-layer histograms (activations "post" or gradients "grad") of every run at one captured
 * step: the dashboard's grid. A layer without that histogram is left blank. */
export function histogramsFigure(result, step, { kind = "post", width = 1000 } = {}) {
  const captured = capturedRows(result, step);
  const total = rowCount(captured);
  if (total === 0) return null;
  const rows = layerRows(total);
  const figure = gridFigure(captured, { kind, rows, width });
  // A binary classifier's output unit comes last (`output`): its row says so, not "layer N".
  const table = rowTable(captured);
  const title = kind === "grad" ? "output dL/ds" : "output σ(s)";
  rows.forEach((i, r) => {
    if (table[i].key !== "output") return;
    captured.runs.forEach((_, c) => {
      const axis = figure.layout[`yaxis${r * captured.runs.length + c + 1 === 1 ? "" : r * captured.runs.length + c + 1}`];
      if (axis?.title?.text) axis.title.text = title;
    });
  });
  // Values of a network about to diverge pass 1e15, where plotly's default switches to
  // superscript exponents (blocked by the CSP): "e" notation instead.
  for (const key of Object.keys(figure.layout)) if (key.startsWith("xaxis")) figure.layout[key].exponentformat = "e";
  return figure;
}

/** The runs' rows at a captured step (null: their last capture's), each run with its label and
 * config: rows pair across runs as on the dashboard (layers.js rowTable). */
export function capturedRows(result, step = null) {
  const layersOf = (run) => (step === null ? run.captures.at(-1) : captureAt(run, step))?.layers ?? [];
  return { runs: result.runs.map((run) => ({ label: run.label, config: run.config, layers: layersOf(run) })) };
}

/** The rows "one layer over training" offers, the last first: value the row (of capturedRows),
 * text its name ("layer 5" in plain stacks, "L5 · relu" or "L5 · BatchNorm" beside a BatchNorm
 * run, "output unit σ(s)" for a binary classifier's output). */
export function ridgeChoices(result) {
  const rows = capturedRows(result);
  return rowTable(rows)
    .map((row, i) => {
      const text = row.key === "output" ? "output unit σ(s)" : rowLabels(rows, i, { oneLine: true }).find((l) => l !== null);
      return { value: String(i), text };
    })
    .reverse();
}

/** One row's histogram at every captured step, stacked downwards (the first on top), one column
 * per run: TensorBoard's offset view of a distribution over training. `row` is a row of
 * capturedRows: the runs' comparable layers (a run without it says so in its column). */
export function ridgeFigure(result, row, { kind = "post", width = 1000 } = {}) {
  const steps = captureSteps(result);
  const rows = capturedRows(result);
  const n = result.runs.length;
  const narrow = width / n < 260; // phones: labels on several lines
  const gap = Math.min(0.06, 0.5 / Math.max(1, n - 1));
  const size = (1 - gap * (n - 1)) / n;
  // Each run's name over its column, in paper coordinates: a column without a ridge (a run without
  // this row) has no subplot, and a title placed on its axes landed on the first column's.
  const titles = result.runs.map((run) => (narrow ? esc(run.label).replace(", ", "\n").split(/\n| · /) : [esc(run.label)]));
  const lines = Math.max(...titles.map((t) => t.length));
  const spec = layout(Math.min(640, Math.max(260, steps.length * 34 + 110)) + 16 * (lines - 1), {
    margin: { l: 72, r: 12, t: 20 + 16 * lines, b: 40 },
    hovermode: "closest",
    showlegend: false, // the runs are the columns' titles, the steps the rows'
    annotations: [],
  });
  delete spec.xaxis;
  const data = [];
  result.runs.forEach((run, c) => {
    const k = c + 1;
    const suffix = k === 1 ? "" : k;
    const name = rowLabels(rows, row, { oneLine: true })[c];
    steps.forEach((step, at) => {
      const found = rowLayer(capturedRows(result, step), row, c)?.[kind];
      if (!found) return;
      const { edges, counts } = found;
      // ReLU's exact zeros are one bar far above the rest: scale by the second-highest bar.
      const peak = spikeClip(found)?.top ?? (Math.max(...counts) || 1);
      const height = (count) => 1.6 * Math.min(1.15, count / peak);
      const base = -at;
      const x = [edges[0]];
      const y = [base];
      counts.forEach((count, b) => {
        x.push(edges[b], edges[b + 1]);
        y.push(base + height(count), base + height(count));
      });
      x.push(edges.at(-1));
      y.push(base);
      const fade = Math.round(0x33 + (0x99 * (at + 1)) / steps.length).toString(16);
      data.push({
        type: "scatter",
        mode: "lines",
        x,
        y,
        fill: "toself",
        fillcolor: color(c) + fade,
        line: { color: color(c), width: 1 },
        name: `step ${step}`,
        hoverinfo: "text",
        hoveron: "fills",
        text: `${esc(run.label)}, ${esc(name ?? "")}, step ${step}: σ ${fmt(found.std)}`,
        xaxis: `x${k}`,
        yaxis: `y${k}`,
      });
    });
    const domain = [c * (size + gap), c * (size + gap) + size];
    spec[`xaxis${suffix}`] = { domain, anchor: `y${k}`, zeroline: false, ticks: "outside", exponentformat: "e" };
    const every = Math.max(1, Math.ceil(steps.length / 12));
    const ticks = steps.map((s, at) => [s, at]).filter(([, at]) => at % every === 0 || at === steps.length - 1);
    spec[`yaxis${suffix}`] = {
      anchor: `x${k}`,
      range: [-steps.length + 0.6, 2],
      tickvals: ticks.map(([, at]) => -at),
      ticktext: ticks.map(([s]) => `step ${s}`),
      showticklabels: c === 0,
      showgrid: false,
      zeroline: false,
    };
    const middle = (domain[0] + domain[1]) / 2;
    const title = { xref: "paper", yref: "paper", x: middle, y: 1, yshift: 8, xanchor: "center", yanchor: "bottom", showarrow: false };
    spec.annotations.push({ ...title, text: titles[c].join("<br>"), font: { size: 13, color: color(c), weight: 700 } });
    const lacks = missingRow(rows, row, c);
    if (lacks) {
      // the row is another run's (a BatchNorm run's norm row): this run has no such layer
      const text = `no ${lacks}<br>in this run`;
      spec.annotations.push({ text, xref: "paper", yref: "paper", x: middle, y: 0.5, xanchor: "center", showarrow: false, font: { size: 12, color: KEY } });
      spec[`yaxis${suffix}`].visible = c === 0; // the steps stay named on the first column
      spec[`xaxis${suffix}`].visible = false;
    }
  });
  return { data, layout: spec };
}
