// Plotly figure specs from an API result: pure functions, no DOM, no fetching.
// Used by the dashboard, the preset gallery and the standalone report (which inlines this file).
// No <b>/<sup> in labels: plotly.js renders them as style attributes, which the pages' CSP blocks.
// Every number printed comes from the API's value through fmt/count/pct, rounded, never truncated.

export const COLORS = ["#2456a6", "#d1495b", "#2e933c", "#c77c02", "#6b4c9a", "#00798c", "#8c564b", "#5b6472"];
export const KINDS = { post: "activation", pre: "z (pre-activation)", grad: "dL/dz (gradient)" };
const FONT = { family: "system-ui, sans-serif", size: 12, color: "#1d2330" };
const MUTED = "#5b6472";
const NOTE_BG = "rgba(255,255,255,0.85)"; // an SVG fill, not a style: the CSP allows it

/** Escapes text for Plotly's HTML-like labels: user labels must never become markup. */
export function esc(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A text annotation: plotly's default arrow off. */
const note = (text, props) => ({ text, showarrow: false, ...props });

/** A run's name over its column, in its colour; on two lines where the column is narrow. */
function runTitle(run, c, narrow, props) {
  const text = narrow ? esc(run.label).replace(", ", "<br>") : esc(run.label);
  const font = { size: 14, color: COLORS[c % COLORS.length], weight: 700, ...props.font };
  return note(text, { yref: "paper", y: 1, xanchor: "center", yanchor: "bottom", ...props, font });
}

// ---- numbers -------------------------------------------------------------------------------

/** "1.50" -> "1.5", "2.00" -> "2"; an integer part keeps its zeros ("120" stays "120"). */
const trimZeros = (s) => (s.includes(".") ? s.replace(/\.?0+$/, "") : s);

/** A measured value to 3 significant digits: 100.33 -> "100", 0.8219 -> "0.822", 1234.5 -> "1235",
 * 3.97e-41 -> "3.97e-41". Rounded first, so 999.7 reads "1000", never "1.00e+3". */
export function fmt(x) {
  if (x === null || x === undefined) return "–";
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "∞" : "−∞";
  if (x === 0) return "0";
  const r = Number(x.toPrecision(3));
  const a = Math.abs(r);
  if (a >= 1e4 || a < 1e-3) {
    const [mantissa, exponent] = x.toExponential(2).split("e");
    return `${trimZeros(mantissa)}e${exponent}`;
  }
  return a >= 1e3 ? String(Math.round(x)) : String(r); // String(r): no trailing zeros, no exponent here
}

/** A count with an SI suffix from 1000 up, 3 significant digits: 5000 -> "5k", 51234 -> "51.2k",
 * 1.2e6 -> "1.2M" (plotly's "SI" axis ticks read the same). */
export function count(n) {
  if (n === null || n === undefined) return "–";
  if (Math.abs(n) < 1000) return String(n);
  const units = [[1e3, "k"], [1e6, "M"], [1e9, "G"], [1e12, "T"]];
  let u = units.findLastIndex(([scale]) => Math.abs(n) >= scale);
  let v = Number((n / units[u][0]).toPrecision(3));
  if (Math.abs(v) >= 1000 && u < units.length - 1) v = Number((n / units[++u][0]).toPrecision(3)); // 999,999 -> 1M
  return `${v}${units[u][1]}`;
}

/** A fraction as a percentage that never rounds to a lie: "0%" and "100%" only when exact. */
export function pct(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (x === 0 || x === 1) return `${100 * x}%`;
  if (x > 0 && x < 0.001) return "<0.1%";
  if (x >= 0.9995 && x < 1) return ">99.9%";
  return `${(100 * x).toFixed(x < 0.1 || x > 0.9 ? 1 : 0)}%`;
}

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
  const parts = [`σ ${fmt(t.std)}`];
  if (kind === "post" && t.saturated_fraction != null) parts.push(`sat ${pct(t.saturated_fraction)}`);
  if (short) return parts.join(" · ");
  if (kind === "post") parts.push(`dead ${layer.dead_units}`);
  if (kind === "pre") parts.push(`mean ${fmt(t.mean)}`);
  if (kind === "grad" && layer.weight_grad?.grad_data_ratio != null) {
    parts.push(`dW:W ${fmt(layer.weight_grad.grad_data_ratio)}`);
  }
  // Distinct units are told apart by their activations: not a statement about gradients.
  if (kind !== "grad" && layer.distinct_units != null && layer.distinct_units < layer.units) {
    parts.push(`distinct ${layer.distinct_units}`);
  }
  parts.push(...hiddenValues(t).map((h) => h.text));
  return parts.join(" · ");
}

/** Why mean field's prediction is not drawn for a run: the API's note, when its assumptions fail
 * (constant weights, non-zero-mean biases). One entry per such run, run = 0-based index. */
export function theoryNotes(result) {
  return result.runs
    .map((run, index) => ({ run: index, label: run.label, note: run.theory?.note }))
    .filter((n) => typeof n.note === "string" && n.note.trim() !== "");
}

const theoryApplies = (run) => !(typeof run.theory?.note === "string" && run.theory.note.trim() !== "");

// ---- layers --------------------------------------------------------------------------------

/** Each run's last layer (0-based), ascending: a shallow run's output must be among the rows. */
export function lastLayers(result) {
  return [...new Set(result.runs.map((r) => r.layers.length - 1).filter((j) => j >= 0))].sort((a, b) => a - b);
}

/** Which layers (0-based) to draw: all up to `max`, else a window or every k-th layer, always
 * with the last layer and every layer in `lastLayers` (the shallower runs' last layers). */
export function layerRows(depth, choice = "auto", max = 10, lastLayers = []) {
  const all = [...Array(depth).keys()];
  if (depth <= max || choice === "all") return all;
  if (choice.startsWith("from-")) {
    const start = Math.min(Math.max(0, Number(choice.slice(5)) - 1), depth - 1);
    return all.slice(start, start + max);
  }
  const keep = new Set([depth - 1, ...lastLayers.filter((j) => j >= 0 && j < depth)]);
  // Widen the stride until the kept layers fit in `max` rows (or cannot, then they win).
  for (let step = Math.max(1, Math.ceil((depth - 1) / (max - 1))); ; step++) {
    const rows = [...new Set([...all.filter((j) => j % step === 0), ...keep])].sort((a, b) => a - b);
    if (rows.length <= max || step >= depth) return rows;
  }
}

export function layerChoices(depth, max = 10) {
  if (depth <= max) return [];
  const choices = [{ value: "auto", text: `one layer in ${Math.ceil((depth - 1) / (max - 1))}` }];
  for (let start = 1; start <= depth; start += max) {
    choices.push({ value: `from-${start}`, text: `layers ${start}–${Math.min(start + max - 1, depth)}` });
  }
  return choices;
}

const depthOf = (result) => Math.max(...result.runs.map((r) => r.layers.length));

// ---- histograms ----------------------------------------------------------------------------

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

/** A bar far above all others (ReLU's exact zeros) flattens the rest of the histogram: clip the
 * axis above the second-highest bar and label the clipped bar with its count. */
export function spikeClip({ edges, counts }) {
  let first = -1;
  for (let i = 0; i < counts.length; i++) if (first < 0 || counts[i] > counts[first]) first = i;
  const second = Math.max(0, ...counts.filter((_, i) => i !== first));
  if (second === 0 || counts[first] < 4 * second) return null;
  return { top: second * 1.25, count: counts[first], x: (edges[first] + edges[first + 1]) / 2 };
}

/** n equal [start, end] fractions of an axis of `span` pixels, `gapPx` pixels apart. */
function domains(n, gapPx, span = 1000) {
  const gap = Math.min(gapPx / span, 0.5 / Math.max(1, n - 1));
  const size = (1 - gap * (n - 1)) / n;
  return [...Array(n).keys()].map((i) => [i * (size + gap), i * (size + gap) + size]);
}

/** A line of text just above subplot k, flush with its left or right edge. */
function titleOver(k, text, side, font) {
  const x = side === "left" ? 0 : 1;
  const at = { xref: `x${k} domain`, yref: `y${k} domain`, x, y: 1.02 };
  return note(text, { ...at, xanchor: side, yanchor: "bottom", font });
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

// The value axis of a histogram. exponentformat "e": plotly's default writes huge values (an
// exploding network's 1e30) with <sup>, styled inline, which the pages' CSP refuses.
const VALUE_AXIS = { showgrid: false, zeroline: false, ticks: "outside", exponentformat: "e" };
// The count axis: "SI" reads 5k, 15k, 1.2M like count(); "e" wrote 0.5e+4. Below 1000 plain.
const COUNT_AXIS = { exponentformat: "SI", minexponent: 3, rangemode: "tozero", gridcolor: "#eef1f5", nticks: 4 };

/** The x and y axes of subplot k (1-based) of a histogram figure; returns their layout keys. */
function histogramAxes(layout, k, xDomain, yDomain, logY, title) {
  const suffix = k === 1 ? "" : k;
  layout[`xaxis${suffix}`] = { ...VALUE_AXIS, domain: xDomain, anchor: `y${k}` };
  layout[`yaxis${suffix}`] = {
    ...COUNT_AXIS,
    domain: yDomain,
    anchor: `x${k}`,
    type: logY ? "log" : "linear",
    title: title ? { text: title, standoff: 4 } : undefined,
  };
  return [`xaxis${suffix}`, `yaxis${suffix}`];
}

function baseLayout(height) {
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

/** Mean field's N(0, q) over a z histogram, as a dashed curve of expected counts. */
function theoryCurve(t, q, k, logY) {
  const curve = predictedDensity(t, q);
  return {
    type: "scatter",
    mode: "lines",
    x: curve.x,
    y: logY ? curve.y.map((v) => (v >= 0.5 ? v : null)) : curve.y,
    line: { color: "#1d2330", width: 1.5, dash: "dash" },
    hovertemplate: `N(0, ${fmt(q)}): %{y:.0f}<extra>theory</extra>`,
    xaxis: `x${k}`,
    yaxis: `y${k}`,
    showlegend: false,
  };
}

/** Subplot k of the grid: one run's histogram of one layer, its theory curve where mean field
 * applies, its clipped spike and its hidden values. Returns the traces. */
function gridCell(layout, k, axes, { run, layer, kind, logY, color, compact, narrow }) {
  const [xa, ya] = axes;
  const t = layer[kind];
  layout[xa].range = [t.edges[0], t.edges.at(-1)];
  const trace = bars(t, color, run.label, false);
  Object.assign(trace, { xaxis: `x${k}`, yaxis: `y${k}` });
  if (logY) trace.y = trace.y.map((v) => (v > 0 ? v : null));
  const traces = [trace];
  const q = layer.theory?.q;
  if (kind === "pre" && theoryApplies(run) && q > 0 && Number.isFinite(q)) traces.push(theoryCurve(t, q, k, logY));
  const hidden = hiddenValues(t);
  const size = compact ? 9 : 10;
  layout.annotations.push(...hiddenNotes(k, hidden, { size }));
  const clip = logY ? null : spikeClip(t);
  if (clip) {
    layout[ya].range = [0, clip.top];
    // Below the notes when one holds the top left corner, or when a phone's column has no room.
    const under = hidden.some((h) => h.side === "below") || (narrow && hidden.length > 0);
    const at = { xref: `x${k}`, yref: `y${k} domain`, x: clip.x, y: 1, yshift: under ? -(size + 6) : 0 };
    const font = { size: 10, color: MUTED };
    layout.annotations.push(note(`▲ ${count(clip.count)}`, { ...at, xanchor: "left", yanchor: "top", font }));
  }
  if (!compact) {
    layout.annotations.push(titleOver(k, statsLine(layer, kind, narrow), "right", { size: narrow ? 9 : 11, color: MUTED }));
  }
  return traces;
}

/** One column per run, one row per layer (layer 1 on top): histograms with their statistics.
 * Every row is labelled on its first drawn subplot (a shallow run leaves the first column blank). */
export function gridFigure(result, { kind = "post", logY = false, rows = null, compact = false, width = 1000 } = {}) {
  const runs = result.runs;
  const shown = rows ?? layerRows(depthOf(result), "auto", 10, lastLayers(result));
  const rowHeight = compact ? 90 : 150;
  const layout = baseLayout(shown.length * rowHeight + (compact ? 60 : 90));
  const narrow = width / runs.length < 260; // phones: short statistics, labels on two lines
  if (narrow) layout.margin = { ...layout.margin, l: 48, r: 8, t: compact ? 64 : 84 };
  // Gaps in real pixels: a column's count ticks need them, or they print over its left neighbour.
  const xs = domains(runs.length, compact ? 24 : 40, width - layout.margin.l - layout.margin.r);
  const ys = domains(shown.length, compact ? 30 : 44, layout.height - layout.margin.t - layout.margin.b).reverse();
  const data = [];
  shown.forEach((j, r) => {
    const labelled = runs.findIndex((run) => run.layers[j]?.[kind]);
    runs.forEach((run, c) => {
      const k = r * runs.length + c + 1;
      const axes = histogramAxes(layout, k, xs[c], ys[r], logY, c === labelled ? `layer ${j + 1}` : null);
      layout[axes[0]].nticks = 5;
      const layer = run.layers[j];
      if (!layer?.[kind]) {
        layout[axes[0]].visible = false;
        layout[axes[1]].visible = false;
        return;
      }
      const color = COLORS[c % COLORS.length];
      data.push(...gridCell(layout, k, axes, { run, layer, kind, logY, color, compact, narrow }));
    });
  });
  runs.forEach((run, c) => {
    const x = (xs[c][0] + xs[c][1]) / 2;
    const props = { xref: "paper", x, yshift: compact ? 28 : 40, font: compact ? { size: 12 } : {} };
    layout.annotations.push(runTitle(run, c, narrow || compact, props));
  });
  return { data, layout };
}

/** All runs in one plot per layer (outlines), like TensorBoard's overlay mode. */
export function overlayFigure(result, { kind = "post", logY = false, rows = null } = {}) {
  const runs = result.runs;
  const shown = rows ?? layerRows(depthOf(result), "auto", 10, lastLayers(result));
  const cols = shown.length > 4 ? 2 : 1;
  const nrows = Math.ceil(shown.length / cols);
  const layout = baseLayout(nrows * 170 + 100);
  layout.margin.t = 70;
  const plotHeight = layout.height - layout.margin.t - layout.margin.b;
  // The legend above the plots, inside the figure: paper coordinates, 24 px over the layer titles
  // (yref "container" put it outside the SVG, where nothing showed).
  layout.showlegend = true;
  layout.legend = { orientation: "h", x: 0, y: 1 + 24 / plotHeight, yanchor: "bottom", yref: "paper" };
  const xs = domains(cols, 70, 1000);
  const ys = domains(nrows, 44, plotHeight).reverse();
  const data = [];
  shown.forEach((j, i) => {
    const k = i + 1;
    const [r, c] = [Math.floor(i / cols), i % cols];
    histogramAxes(layout, k, xs[c], ys[r], logY, c === 0 ? "count" : null);
    layout.annotations.push(titleOver(k, `layer ${j + 1}`, "left", { size: 12 }));
    let line = 0; // runs' hidden-value notes stack downwards, each in its run's colour
    runs.forEach((run, ri) => {
      const layer = run.layers[j];
      if (!layer?.[kind]) return;
      const color = COLORS[ri % COLORS.length];
      const { edges, counts } = layer[kind];
      data.push({
        type: "scatter",
        mode: "lines",
        line: { shape: "hv", color, width: 2 },
        x: edges,
        y: [...counts, counts.at(-1)].map((v) => (logY && v === 0 ? null : v)),
        name: esc(run.label),
        legendgroup: `run${ri}`,
        showlegend: i === 0,
        customdata: binOf(edges, counts.length), // a step's point is its bin's left edge, the last its right
        hovertemplate: `[%{customdata[0]:.4~g}, %{customdata[1]:.4~g}%{customdata[2]}: %{y}<extra>${esc(run.label)}</extra>`,
        xaxis: `x${k}`,
        yaxis: `y${k}`,
      });
      const hidden = hiddenValues(layer[kind]);
      if (hidden.length) layout.annotations.push(...hiddenNotes(k, hidden, { color, line: line++ }));
    });
  });
  return { data, layout };
}

/** One ridge: the histogram as a filled outline from `base` up to `base + 1.6` at its tallest
 * (`top` counts), heights in counts or, with logY, in log10(1 + count). */
function ridge(edges, counts, base, top, logY) {
  const height = (n) => 1.6 * (logY ? Math.log10(1 + n) / Math.log10(1 + top) : n / top);
  const x = [edges[0]];
  const y = [base];
  counts.forEach((n, b) => {
    x.push(edges[b], edges[b + 1]);
    y.push(base + height(n), base + height(n));
  });
  x.push(edges.at(-1));
  y.push(base);
  return { x, y };
}

/** Layers stacked downwards per run (ridgeline / offset view): depth at a glance. Each ridge is
 * labelled with its σ at its right end: with scale "ridge" every ridge fills its own height, so a
 * collapsed run (σ 1e-41, every value in the first bin) has the same shape as a healthy ReLU's
 * zero spike; scale "common" draws all ridges against the largest count of the figure. */
export function ridgelineFigure(result, { kind = "post", logY = false, scale = "ridge", width = 1000 } = {}) {
  const runs = result.runs;
  const depth = depthOf(result);
  const layout = baseLayout(Math.min(900, Math.max(320, depth * 34 + 120)));
  const narrow = width / runs.length < 260; // phones: run labels on two lines
  if (narrow) layout.margin = { ...layout.margin, r: 8, t: 84 };
  const xs = domains(runs.length, 40, width - layout.margin.l - layout.margin.r);
  const common = Math.max(1, ...runs.flatMap((run) => run.layers.flatMap((l) => l[kind]?.counts ?? [])));
  const size = depth > 24 ? 8 : 9; // ridges 16 px apart at depth 50
  const data = [];
  runs.forEach((run, c) => {
    const k = c + 1;
    const color = COLORS[c % COLORS.length];
    run.layers.forEach((layer, j) => {
      const t = layer[kind];
      if (!t) return;
      const top = scale === "common" ? common : Math.max(...t.counts) || 1;
      data.push({
        type: "scatter",
        mode: "lines",
        ...ridge(t.edges, t.counts, -j, top, logY),
        fill: "toself",
        fillcolor: color + "55",
        line: { color, width: 1 },
        name: `layer ${j + 1}`,
        hoverinfo: "text",
        text: `${esc(run.label)}<br>layer ${j + 1}: ${statsLine(layer, kind)}`,
        hoveron: "fills",
        xaxis: `x${k}`,
        yaxis: `y${k}`,
      });
      // The ridge's scale, which its height does not show, at its right end
      const text = [`σ ${fmt(t.std)}`, ...hiddenValues(t).map((h) => h.text)].join(" · ");
      const at = { xref: `x${k} domain`, yref: `y${k}`, x: 1, y: -j, xanchor: "right", yanchor: "bottom" };
      layout.annotations.push(note(text, { ...at, bgcolor: NOTE_BG, borderpad: 0, font: { size, color } }));
    });
    ridgeAxes(layout, k, xs[c], depth);
    layout.annotations.push(runTitle(run, c, narrow, { xref: `x${k} domain`, x: 0.5, yshift: 12 }));
  });
  const how = (scale === "common" ? "one scale for all ridges" : "each ridge to its own peak") + (logY ? ", log counts" : "");
  const corner = { xref: "paper", yref: "paper", x: 1, y: 1, yshift: narrow ? 54 : 34 };
  layout.annotations.push(note(how, { ...corner, xanchor: "right", yanchor: "bottom", font: { size: 10, color: MUTED } }));
  return { data, layout };
}

/** Column k's axes of the ridgeline: values across, layers downwards (labelled in column 1). */
function ridgeAxes(layout, k, domain, depth) {
  const suffix = k === 1 ? "" : k;
  const step = Math.max(1, Math.ceil(depth / 12));
  const ticks = [...Array(depth).keys()].filter((j) => j % step === 0);
  layout[`xaxis${suffix}`] = { ...VALUE_AXIS, domain, anchor: `y${k}` };
  layout[`yaxis${suffix}`] = {
    domain: [0, 1],
    anchor: `x${k}`,
    range: [-depth + 0.5, 2],
    tickvals: ticks.map((j) => -j),
    ticktext: ticks.map((j) => `layer ${j + 1}`),
    showticklabels: k === 1,
    showgrid: false,
    zeroline: false,
  };
}

// ---- std per layer -------------------------------------------------------------------------

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
  const theory = theoryApplies(run) && run.layers.every((l) => l.theory);
  const values = (get) => run.layers.map(get);
  const mode = theory ? "markers" : "lines+markers"; // without theory lines, lines join the markers
  const out = [];
  for (const [kind, symbol, dash, what] of [["post", "circle", "solid", "activation"], ["pre", "circle-open", "dot", "z"]]) {
    out.push({ ...base, what, symbol, dash, mode, values: values((l) => l[kind].std) });
    const predicted = values((l) => (kind === "post" ? l.theory?.std : l.theory?.z_std));
    if (theory) out.push({ ...base, what, dash, predicted: true, values: predicted });
  }
  if (run.layers.every((l) => l.grad)) {
    const what = "gradient";
    out.push({ ...base, what, symbol: "triangle-up", mode: "markers", values: values((l) => l.grad.std) });
    if (theory) out.push({ ...base, what, dash: "dashdot", predicted: true, values: values((l) => l.theory.gradient_scale) });
  }
  return out;
}

/** One trace of the signal chart: zeros at the floor, non-finite at the ceiling, each with its
 * own marker and a hover that says why it is there. */
function signalTrace(s, floor, ceiling) {
  const placed = s.values.map((v) => placeStd(v, floor, ceiling));
  const text = placed.map(({ at }, i) => {
    const value = at === "floor" ? AT_FLOOR : at === "ceiling" ? AT_CEILING : `σ ${fmt(s.values[i])}`;
    return `layer ${s.layers[i]}: ${s.predicted ? "predicted " : ""}${value}`;
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
  return {
    ...trace,
    mode: s.mode,
    line: { color: s.color, dash: s.dash ?? "solid", width: 1.5 },
    marker: { size: filled ? 8 : 7, symbol, color: s.color, line: { color: s.color, width: 1.5 } },
  };
}

/** Std per layer for every run, log y: measured as markers (activations filled, z open,
 * gradients triangles), the mean-field prediction as lines where it applies. */
export function signalFigure(result, { width = 1000 } = {}) {
  const series = result.runs.flatMap(signalSeries);
  const bounds = logAxisBounds(series.flatMap((s) => s.values));
  const { floor, ceiling, dtick } = bounds;
  const data = series.map((s) => signalTrace(s, floor, ceiling));
  const layout = baseLayout(380);
  layout.showlegend = true;
  layout.legend = { orientation: "h", x: 0, y: -0.22 };
  layout.margin = { l: 64, r: 16, t: 24, b: 90 };
  if (width < 600) {
    // A phone: one legend entry per line, below the axis title, in a figure tall enough for them.
    const entries = data.filter((t) => t.showlegend !== false).length;
    layout.margin = { l: 52, r: 8, t: 24, b: 64 + 20 * entries };
    layout.height = 280 + layout.margin.b;
    layout.legend = { orientation: "v", x: 0, y: 0, yref: "container", yanchor: "bottom" };
  }
  layout.xaxis = { title: { text: "layer" }, dtick: Math.max(1, Math.ceil((data[0]?.x.length ?? 1) / 20)) };
  layout.yaxis = { title: { text: "std" }, type: "log", dtick, gridcolor: "#eef1f5", exponentformat: "e" };
  const placed = series.flatMap((s) => s.values.map((v) => placeStd(v, floor, ceiling).at));
  const keys = [];
  if (placed.includes("floor")) keys.push("▽ σ = 0, drawn at the floor (a log axis has no 0)");
  if (placed.includes("ceiling")) keys.push("△ not finite, drawn at the top");
  if (keys.length) {
    Object.assign(layout.yaxis, brokenLogTicks(bounds, placed));
    layout.margin.t = 40;
    const corner = { xref: "paper", yref: "paper", x: 1, y: 1, xanchor: "right", yanchor: "bottom", yshift: 4 };
    layout.annotations.push(note(keys.join(" · "), { ...corner, font: { size: 11, color: MUTED } }));
  }
  return { data, layout };
}

/** The mean-field density of z, N(0, q), as expected counts per bin width: a smooth curve. */
export function predictedDensity(tensor, q) {
  const { edges, counts } = tensor;
  // All finite values, those beyond an explicit range too: the curve is N(0, q) of every z.
  const finite = (tensor.count ?? NaN) - (tensor.nan_count ?? 0) - (tensor.inf_count ?? 0);
  const total = Number.isFinite(finite) ? finite : counts.reduce((a, b) => a + b, 0);
  const width = (edges.at(-1) - edges[0]) / counts.length;
  const sd = Math.sqrt(q);
  const n = 120;
  const x = [...Array(n + 1).keys()].map((i) => edges[0] + ((edges.at(-1) - edges[0]) * i) / n);
  const y = x.map((v) => (total * width * Math.exp(-0.5 * (v / sd) ** 2)) / (sd * Math.sqrt(2 * Math.PI)));
  return { x, y };
}

// ---- phase diagram -------------------------------------------------------------------------

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

export const VIEWS = { grid: gridFigure, overlay: overlayFigure, ridgeline: ridgelineFigure, signal: signalFigure };
