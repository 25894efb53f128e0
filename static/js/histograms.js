// Histogram figures: one column per run and one row per layer (grid), or all runs in one plot per
// layer (overlay), each subplot with its statistics line and what its bars cannot show.

import { countErrorBars, bandText, wholeOrMean } from "./bands.js";
import { count, esc, fmt, pct } from "./format.js";
import { GLOSSARY, explainTerms } from "./glossary.js";
import { lastLayers, layerRows, missingRow, rowCount, rowLabels, rowLayer, sameRow } from "./layers.js";
import { COLORS, COUNT_AXIS, MUTED, NOTE_BG, VALUE_AXIS, baseLayout, domains, note, runTitle, theoryApplies, titleOver } from "./plot-base.js";

/** What a histogram cannot show: the share of values beyond its range (non-zero only when the
 * experiment sets one) and of values that are not finite. */
export function hiddenValues(t) {
  const total = t.count ?? 0;
  if (!total) return [];
  const nonFinite = (t.nan_count ?? 0) + (t.inf_count ?? 0);
  const out = [];
  if (t.below > 0) out.push({ side: "below", n: t.below, text: `${pct(t.below / total)} < ${fmt(t.edges[0])}` });
  if (t.above > 0) out.push({ side: "above", n: t.above, text: `${pct(t.above / total)} > ${fmt(t.edges.at(-1))}` });
  if (nonFinite > 0) out.push({ side: "nonfinite", n: nonFinite, text: `${pct(nonFinite / total)} not finite` });
  return out;
}

/** The compact statistics line of one layer: what each text's claim is read from. */
export function statsLine(layer, kind, short = false) {
  const t = layer[kind];
  const parts = [`σ ${fmt(t.std)}${short ? "" : bandText(t, "std")}`]; // a seed ensemble: its draws' range
  if (kind === "post" && t.saturated_fraction != null) parts.push(`sat ${pct(t.saturated_fraction)}`);
  const copies = layer.distinct_units != null && layer.distinct_units < layer.units;
  if (short) {
    // A phone's line: σ and sat, and dead or distinct units when there are any (they are the point)
    if (kind === "post" && layer.dead_units > 0) parts.push(`dead ${wholeOrMean(layer.dead_units)}`);
    if (kind !== "grad" && copies) parts.push(`distinct ${wholeOrMean(layer.distinct_units)}`);
    return parts.join(" · ");
  }
  if (kind === "post") parts.push(`dead ${wholeOrMean(layer.dead_units)}`);
  if (kind === "pre") parts.push(`mean ${fmt(t.mean)}`);
  if (kind === "grad" && layer.weight_grad?.grad_data_ratio != null) {
    parts.push(`dW:W ${fmt(layer.weight_grad.grad_data_ratio)}`);
  }
  // Distinct units are told apart by their activations: not a statement about gradients.
  if (kind !== "grad" && copies) parts.push(`distinct ${wholeOrMean(layer.distinct_units)}`);
  parts.push(...hiddenValues(t).map((h) => h.text));
  return parts.join(" · ");
}

/** Whether a one-line statistics text fits a column `px` wide at `fontSize` (an average glyph is
 * about 0.55 em): a seed ensemble's ranges make the full line longer than a column of three runs
 * at 1024 px, where it ran into the next column's. */
export function fitsColumn(text, fontSize, px) {
  return text.length * 0.55 * fontSize <= px;
}

/** A statistics line broken into lines that each fit a column `px` wide (fitsColumn), at its
 * " · " separators, as few as fit: a phone's short line with dead and distinct units ran into the
 * next column's (three runs at 390 px). */
export function wrapToColumn(text, fontSize, px) {
  const lines = [];
  for (const part of text.split(" · ")) {
    const joined = lines.length ? `${lines.at(-1)} · ${part}` : part;
    if (lines.length && fitsColumn(joined, fontSize, px)) lines[lines.length - 1] = joined;
    else lines.push(part);
  }
  return lines.join("<br>");
}

/** For each edge, the bin it opens (the last edge: the last bin) as [a, b, ")" or "]"]: numpy's
 * last bin includes its right edge, the others do not. */
function binOf(edges, bins) {
  return edges.map((_, e) => {
    const i = Math.min(e, bins - 1);
    return [edges[i], edges[i + 1], i === bins - 1 ? "]" : ")"];
  });
}

function bars(tensor, color, name, showlegend) {
  const { edges, counts } = tensor;
  const centers = counts.map((_, i) => (edges[i] + edges[i + 1]) / 2);
  return {
    type: "bar",
    x: centers,
    y: counts,
    width: counts.map((_, i) => edges[i + 1] - edges[i]),
    customdata: binOf(edges, counts.length).slice(0, counts.length),
    hovertemplate: `[%{customdata[0]:.4~g}, %{customdata[1]:.4~g}%{customdata[2]}: %{y}<extra>${esc(name)}</extra>`,
    marker: { color, line: { width: 0 } },
    name: esc(name),
    showlegend,
  };
}

/** ReLU's exact zeros make one bar far above all others and flatten the rest of the histogram:
 * clip the axis above the second-highest bar, and the page marks the clipped bar as cut, with its
 * count. Only a bar made mostly of exact zeros is clipped: a bar that is tall because the values
 * crowd there (a vanished gradient's centre bin) is the shape the student must see. */
export function spikeClip({ edges, counts, zero_fraction: zeroFraction = 0, count: total = 0 }) {
  let first = -1;
  for (let i = 0; i < counts.length; i++) if (first < 0 || counts[i] > counts[first]) first = i;
  const second = Math.max(0, ...counts.filter((_, i) => i !== first));
  if (second === 0 || counts[first] < 4 * second) return null;
  const zeros = Math.round(zeroFraction * total);
  const holdsZero = edges[first] <= 0 && 0 <= edges[first + 1];
  if (!holdsZero || zeros < counts[first] / 2) return null;
  return { top: second * 1.25, count: counts[first], zeros, bin: first, x: (edges[first] + edges[first + 1]) / 2 };
}

/** A "#rrggbb" colour at opacity `a`, as plotly reads it. */
const faded = (hex, a) => `rgba(${[1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16)).join(",")},${a})`;

/** A log count axis from below one count to above the tallest bar, so bars keep their heights'
 * ratios and the decades are labelled (plotly's own range hugged the bars: 46k to 54k, no label). */
function logCountRange(counts) {
  const top = Math.max(1, ...counts);
  return [Math.log10(0.7), Math.log10(top * 1.8)];
}

/** Notes inside subplot k for the values its bars cannot show: "24% > 1 ▸" at the right edge,
 * "◂ 5% < 0" at the left, "100% not finite" in the middle; `lines` stacks several runs' notes. */
function hiddenNotes(k, hidden, { color = "#1d2330", size = 10, line = 0 } = {}) {
  const where = { below: [0, "left"], above: [1, "right"], nonfinite: [0.5, "center"] };
  return hidden.map((h) =>
    note(h.side === "below" ? `◂ ${h.text}` : h.side === "above" ? `${h.text} ▸` : h.text, {
      xref: `x${k} domain`,
      yref: `y${k} domain`,
      x: where[h.side][0],
      y: h.side === "nonfinite" ? 0.5 : 1,
      xanchor: where[h.side][1],
      yanchor: h.side === "nonfinite" ? "middle" : "top",
      yshift: -(size + 4) * line,
      bgcolor: NOTE_BG,
      font: { size, color },
    }),
  );
}

/** The x and y axes of subplot k (1-based) of a histogram figure; returns their layout keys.
 * Tick labels that cannot reach the figure's edge are drawn without plotly's check for labels
 * past it ("hide past div" measures every label's box: a tenth of a grid's redraw): count labels
 * sit in the left margin or between columns, value labels below their plot; only the last
 * column's value labels can run past the right edge, and they keep the check. */
function histogramAxes(layout, k, xDomain, yDomain, logY, title, lastColumn = true) {
  const suffix = k === 1 ? "" : k;
  layout[`xaxis${suffix}`] = { ...VALUE_AXIS, domain: xDomain, anchor: `y${k}` };
  if (!lastColumn) layout[`xaxis${suffix}`].ticklabeloverflow = "allow";
  layout[`yaxis${suffix}`] = {
    ticklabeloverflow: "allow",
    ...COUNT_AXIS,
    domain: yDomain,
    anchor: `x${k}`,
    type: logY ? "log" : "linear",
    dtick: logY ? 1 : undefined, // a log count axis labelled by decades only: 1, 10, 100, 1k
    title: title ? { text: title, standoff: 4 } : undefined,
  };
  return [`xaxis${suffix}`, `yaxis${suffix}`];
}

/** Mean field's N(0, q) over a z histogram, as a dashed curve of expected counts. */
function theoryCurve(t, q, k, logY) {
  const curve = predictedDensity(t, q);
  return {
    type: "scatter",
    mode: "lines",
    x: curve.x,
    y: logY ? curve.y.map((v) => (v >= 0.5 ? v : null)) : curve.y,
    line: { color: "#1d2330", width: 1.5, dash: "dash", shape: curve.shape === "hv" ? "hv" : "linear" },
    hovertemplate: `N(0, ${fmt(q)}) predicts %{y:.0f}<extra>theory</extra>`,
    xaxis: `x${k}`,
    yaxis: `y${k}`,
    showlegend: false,
  };
}

/** Subplot k of the grid: one run's histogram of one layer, its theory curve where mean field
 * applies, its clipped spike and its hidden values. Returns the traces. */
function gridCell(layout, k, axes, { run, layer, kind, logY, color, compact, narrow, tight, large, columnPx }) {
  const [xa, ya] = axes;
  const t = layer[kind];
  layout[xa].range = [t.edges[0], t.edges.at(-1)];
  const trace = bars(t, color, run.label, false);
  Object.assign(trace, { xaxis: `x${k}`, yaxis: `y${k}` });
  const band = countErrorBars(t, { logY }); // a seed ensemble: each bar's lowest to highest draw
  if (band) trace.error_y = band;
  if (logY) {
    trace.y = trace.y.map((v) => (v > 0 ? v : null));
    layout[ya].range = logCountRange(t.counts);
  }
  const traces = [trace];
  const q = layer.theory?.q;
  if (kind === "pre" && theoryApplies(run) && q > 0 && Number.isFinite(q)) traces.push(theoryCurve(t, q, k, logY));
  const hidden = hiddenValues(t);
  const size = compact ? 9 : 10;
  layout.annotations.push(...hiddenNotes(k, hidden, { size }));
  const clip = logY ? null : spikeClip(t);
  if (clip) {
    layout[ya].range = [0, clip.top];
    // The cut bar is pale, so it cannot pass for an ordinary peak; its label says what it holds.
    trace.marker.color = t.counts.map((_, i) => (i === clip.bin ? faded(color, 0.35) : color));
    // Below the notes when one holds the top left corner, or when a phone's column has no room.
    const under = hidden.some((h) => h.side === "below") || (narrow && hidden.length > 0);
    const at = { xref: `x${k}`, yref: `y${k} domain`, x: clip.x, y: 1, yshift: under ? -(size + 6) : 0 };
    const font = { size: large ? 14 : 10, color: "#1d2330" };
    // a phone's column has no room for the zeros (post-vs-pre-norm's ran off it); the hover tells them
    const text = compact || tight || narrow ? `▲ ${count(clip.count)}` : `▲ ${count(clip.count)} (${count(clip.zeros)} zeros)`;
    const props = { ...at, xanchor: "left", yanchor: "top", font, bgcolor: NOTE_BG, hovertext: GLOSSARY["▲"] };
    layout.annotations.push(note(text, props));
  }
  {
    // compact (the gallery's cards): the short line, which keeps dead and distinct units
    const fontSize = statsFontSize({ large, narrow, compact });
    const line = statsText(layer, kind, { fontSize, compact, narrow, tight, columnPx });
    const stats = titleOver(k, line, "right", { size: fontSize, color: large ? "#1d2330" : MUTED });
    layout.annotations.push({ ...stats, hovertext: explainTerms(line).join("<br>") });
  }
  return traces;
}

const statsFontSize = ({ large, narrow, compact }) => (large ? 15 : narrow || compact ? 9 : 11);

/** A cell's statistics line as drawn: the full line where it fits its column, else the short one
 * (which keeps dead and distinct units); one statistic a line in a card's narrow column or a
 * phone's too narrow for the short line (four runs at 390 px), so none runs into the next column;
 * else as few lines as fit (a phone's short line with dead and distinct units). */
function statsText(layer, kind, { fontSize, compact, narrow, tight, columnPx }) {
  const full = statsLine(layer, kind);
  const short = narrow || compact || !fitsColumn(full, fontSize, columnPx) ? statsLine(layer, kind, true) : full;
  return compact || tight ? short.replaceAll(" · ", "<br>") : wrapToColumn(short, fontSize, columnPx);
}

/** The note in an empty cell of a row its run lacks: "no BatchNorm" (in this run), centred on the
 * cell's domains (paper coordinates: plotly places nothing on the axes of a subplot without data). */
function absent([x0, x1], [y0, y1], what, narrow) {
  const at = { xref: "paper", yref: "paper", x: (x0 + x1) / 2, y: (y0 + y1) / 2, xanchor: "center", yanchor: "middle" };
  const text = narrow ? `no ${what}<br>in this run` : `no ${what} in this run`;
  const hovertext = "This run has no such layer; its rows sit beside the other runs' rows that follow the same layer.";
  return note(text, { ...at, font: { size: 11, color: MUTED }, hovertext });
}

/** One column per run, one row per layer (layer 1 on top): histograms with their statistics.
 * Rows pair the runs' comparable layers (rowTable); `rows` are its rows. Every row is labelled on
 * its first drawn subplot (a shallow run leaves the first column blank); a cell of a row its run
 * lacks says so ("no BatchNorm").
 * `height` fits the figure to a screen (presentation); `large` sets fonts read from a room's back. */
export function gridFigure(
  result,
  { kind = "post", logY = false, rows = null, compact = false, width = 1000, height = null, large = false } = {},
) {
  const runs = result.runs;
  const shown = rows ?? layerRows(rowCount(result), "auto", 10, lastLayers(result));
  const narrow = width / runs.length < 260; // phones: short statistics, labels on two lines
  const tight = width / runs.length < 100; // narrower still (four runs on a phone): one statistic a line, rows apart for them
  const columnPx = (0.9 * width) / runs.length; // a cell's width, about: the margins and gaps take a tenth
  const rowHeight = compact ? 110 : tight ? 180 : 150;
  const layout = baseLayout(height ?? shown.length * rowHeight + (compact ? 60 : 90));
  if (large) layout.font = { ...layout.font, size: 15 };
  if (narrow) layout.margin = { ...layout.margin, l: 48, r: 8, t: compact ? 72 : 100 }; // titles on up to 3 lines
  // a layer network's row by its layer type, on one short line (a second line would run into
  // the count ticks); each cell's own label where the runs' rows differ
  const titles = shown.map((j) => {
    const labels = rowLabels(result, j, { short: true });
    const labelled = runs.findIndex((_, c) => rowLayer(result, j, c)?.[kind]);
    const same = sameRow(labels);
    return runs.map((_, c) => (c === labelled || (!same && rowLayer(result, j, c)?.[kind]) ? labels[c] : null));
  });
  // Gaps in real pixels: a column's count ticks need them, or they print over its left neighbour.
  // Columns that title their own cells (their rows differ, or the first lacks a row): room for it
  const differ = titles.some((t) => t.some((title, c) => c > 0 && title));
  const gap = differ ? (compact ? 44 : 64) : compact ? 24 : 40;
  const xs = domains(runs.length, gap, width - layout.margin.l - layout.margin.r);
  // A statistics line broken into more lines takes the rows further apart by its extra lines, so
  // it stays clear of the x tick labels above it.
  const fontSize = statsFontSize({ large, narrow, compact });
  const linesOf = (j, c) => {
    const layer = rowLayer(result, j, c);
    return layer?.[kind] ? statsText(layer, kind, { fontSize, narrow, columnPx }).split("<br>").length : 1;
  };
  const extra = compact || tight ? 0 : Math.max(0, ...shown.flatMap((j) => runs.map((_, c) => linesOf(j, c) - 1)));
  // large type (presenting): its tick labels and statistics lines take more room between rows
  const rowGap = (compact ? 48 : tight ? 74 : large ? 60 : 44) + Math.ceil(extra * fontSize * 1.3);
  const ys = domains(shown.length, rowGap, layout.height - layout.margin.t - layout.margin.b).reverse();
  const data = [];
  shown.forEach((j, r) => {
    runs.forEach((run, c) => {
      const k = r * runs.length + c + 1;
      const axes = histogramAxes(layout, k, xs[c], ys[r], logY, titles[r][c], c === runs.length - 1);
      layout[axes[0]].nticks = narrow ? 3 : 5; // a phone's column: few ticks, so none is rotated over the next row
      if (narrow) layout[axes[0]].tickfont = { size: 10 };
      const layer = rowLayer(result, j, c);
      if (!layer?.[kind]) {
        layout[axes[0]].visible = false;
        layout[axes[1]].visible = false;
        const lacks = missingRow(result, j, c);
        if (lacks) layout.annotations.push(absent(xs[c], ys[r], lacks, narrow || compact));
        return;
      }
      const color = COLORS[c % COLORS.length];
      data.push(...gridCell(layout, k, axes, { run, layer, kind, logY, color, compact, narrow, tight, large, columnPx }));
    });
  });
  runs.forEach((run, c) => {
    const x = (xs[c][0] + xs[c][1]) / 2;
    const props = { xref: "paper", x, yshift: compact ? 28 : 40, font: compact ? { size: 12 } : large ? { size: 19 } : {} };
    layout.annotations.push(runTitle(run, c, narrow || compact, props, { pieces: !compact }));
  });
  return { data, layout };
}

/** All runs in one plot per layer (outlines), like TensorBoard's overlay mode. */
export function overlayFigure(result, { kind = "post", logY = false, rows = null, height = null, large = false } = {}) {
  const runs = result.runs;
  const shown = rows ?? layerRows(rowCount(result), "auto", 10, lastLayers(result));
  const cols = shown.length > 4 ? 2 : 1;
  const nrows = Math.ceil(shown.length / cols);
  const layout = baseLayout(height ?? nrows * 170 + 100);
  if (large) layout.font = { ...layout.font, size: 15 };
  layout.margin.t = 70;
  const plotHeight = layout.height - layout.margin.t - layout.margin.b;
  // The legend above the plots, inside the figure: paper coordinates, 24 px over the layer titles
  // (yref "container" put it outside the SVG, where nothing showed).
  layout.showlegend = true;
  layout.legend = { orientation: "h", x: 0, y: 1 + 24 / plotHeight, yanchor: "bottom", yref: "paper" };
  const xs = domains(cols, 70, 1000);
  const ys = domains(nrows, 44, plotHeight).reverse();
  const data = [];
  const named = new Set(); // runs with a legend entry: each run's first row drawn (not row 1: a plain run has no BatchNorm row)
  shown.forEach((j, i) => {
    const k = i + 1;
    const [r, c] = [Math.floor(i / cols), i % cols];
    histogramAxes(layout, k, xs[c], ys[r], logY, c === 0 ? "count" : null, c === cols - 1);
    const labels = rowLabels(result, j, { oneLine: true });
    const title = sameRow(labels) ? labels.find((l) => l !== null) : [...new Set(labels.filter((l) => l !== null))].join(" | ");
    layout.annotations.push(titleOver(k, title, "left", { size: 12 }));
    let line = 0; // runs' hidden-value notes stack downwards, each in its run's colour
    runs.forEach((run, ri) => {
      const layer = rowLayer(result, j, ri);
      if (!layer?.[kind]) return;
      const color = COLORS[ri % COLORS.length];
      const { edges, counts } = layer[kind];
      const first = !named.has(ri);
      named.add(ri);
      data.push({
        type: "scatter",
        mode: "lines",
        line: { shape: "hv", color, width: 2 },
        x: edges,
        y: [...counts, counts.at(-1)].map((v) => (logY && v === 0 ? null : v)),
        name: esc(run.label),
        legendgroup: `run${ri}`,
        showlegend: first,
        legendrank: ri + 1, // the legend in the runs' order, whichever row names a run first
        customdata: binOf(edges, counts.length), // a step's point is its bin's left edge, the last its right
        hovertemplate: `[%{customdata[0]:.4~g}, %{customdata[1]:.4~g}%{customdata[2]}: %{y}<extra>${esc(run.label)}</extra>`,
        xaxis: `x${k}`,
        yaxis: `y${k}`,
      });
      const hidden = hiddenValues(layer[kind]);
      if (hidden.length) layout.annotations.push(...hiddenNotes(k, hidden, { color, line: line++ }));
    });
    const same = coincidingRuns(runs.map((_, c) => ({ layers: [rowLayer(result, j, c)] })), 0, kind);
    if (same) layout.annotations.push(titleOver(k, same, "right", { size: 11, color: MUTED }));
  });
  return { data, layout };
}

/** "runs 1 and 2 coincide" when runs have the very same histogram in layer j: one outline hides
 * the other, which a reader cannot tell from the figure. */
export function coincidingRuns(runs, j, kind) {
  const groups = new Map();
  runs.forEach((run, ri) => {
    const t = run.layers[j]?.[kind];
    if (!t) return;
    const key = JSON.stringify([t.edges, t.counts]);
    groups.set(key, [...(groups.get(key) ?? []), ri + 1]);
  });
  const same = [...groups.values()].filter((g) => g.length > 1);
  if (!same.length) return null;
  const words = (g) => `runs ${g.slice(0, -1).join(", ")} and ${g.at(-1)}`;
  return `${same.map(words).join("; ")} coincide (one outline hides the other)`;
}

/** The standard normal CDF, through erfc (Abramowitz and Stegun 7.1.26: absolute error under
 * 1.5e-7, a hundredth of a count in 100,000 values). */
export function normalCdf(x) {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erfc = poly * Math.exp(-z * z);
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** Mean field's N(0, q) as the counts it predicts for the histogram's bins: what the bars should
 * reach. Where the bins are narrow beside the spread (a bin under half a standard deviation) the
 * density times the bin width is the same and draws a smooth curve; wider bins get a step per bin,
 * since a point density would rise far above the bar it predicts. */
export function predictedDensity(tensor, q) {
  const { edges, counts } = tensor;
  // Every finite value (those beyond an explicit range too): the prediction is for all of z.
  const total = tensor.count ?? counts.reduce((a, b) => a + b, 0);
  const sd = Math.sqrt(q);
  const width = (edges.at(-1) - edges[0]) / counts.length;
  if (width > sd / 2) {
    const y = counts.map((_, i) => total * (normalCdf(edges[i + 1] / sd) - normalCdf(edges[i] / sd)));
    return { x: edges, y: [...y, y.at(-1)], shape: "hv" };
  }
  const n = 120;
  const x = [...Array(n + 1).keys()].map((i) => edges[0] + ((edges.at(-1) - edges[0]) * i) / n);
  const y = x.map((v) => (total * width * Math.exp(-0.5 * (v / sd) ** 2)) / (sd * Math.sqrt(2 * Math.PI)));
  return { x, y, shape: "spline" };
}
