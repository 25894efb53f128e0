// Plotly figure specs from an API result: pure functions, no DOM, no fetching.
// Used by the dashboard, the preset gallery and the standalone report (which inlines this file).
// No <b>/<sup> in labels: plotly.js renders them as style attributes, which the pages' CSP blocks.

export const COLORS = ["#2456a6", "#d1495b", "#2e933c", "#c77c02", "#6b4c9a", "#00798c", "#8c564b", "#5b6472"];
export const KINDS = { post: "activation", pre: "z (pre-activation)", grad: "dL/dz (gradient)" };
const FONT = { family: "system-ui, sans-serif", size: 12, color: "#1d2330" };

/** Escapes text for Plotly's HTML-like labels: user labels must never become markup. */
export function esc(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function fmt(x) {
  if (x === null || x === undefined) return "–";
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1e4 || a < 1e-3 ? x.toExponential(1) : x.toPrecision(3).replace(/\.?0+$/, "");
}

function count(n) {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : String(n);
}

function pct(x) {
  return x < 0.001 && x > 0 ? "<0.1%" : `${(100 * x).toFixed(x < 0.1 ? 1 : 0)}%`;
}

/** The compact statistics line of one layer: what each text's claim is read from. */
export function statsLine(layer, kind, short = false) {
  const t = layer[kind];
  const parts = [`σ ${fmt(t.std)}`];
  if (kind === "post" && t.saturated_fraction !== null) parts.push(`sat ${pct(t.saturated_fraction)}`);
  if (short) return parts.join(" · ");
  if (kind === "post") parts.push(`dead ${layer.dead_units}`);
  if (kind === "pre") parts.push(`mean ${fmt(t.mean)}`);
  if (kind === "grad" && layer.weight_grad?.grad_data_ratio != null) {
    parts.push(`dW:W ${fmt(layer.weight_grad.grad_data_ratio)}`);
  }
  if (layer.distinct_units !== null && layer.distinct_units < layer.units) parts.push(`distinct ${layer.distinct_units}`);
  if (t.nan_count + t.inf_count > 0) parts.push(`non-finite ${t.nan_count + t.inf_count}`);
  return parts.join(" · ");
}

/** Which layers (0-based) to draw: all up to `max`, else a window or every k-th layer. */
export function layerRows(depth, choice = "auto", max = 10) {
  const all = [...Array(depth).keys()];
  if (depth <= max || choice === "all") return all;
  if (choice.startsWith("from-")) {
    const start = Math.min(Math.max(0, Number(choice.slice(5)) - 1), depth - 1);
    return all.slice(start, start + max);
  }
  const step = Math.ceil((depth - 1) / (max - 1));
  const rows = all.filter((j) => j % step === 0);
  if (rows[rows.length - 1] !== depth - 1) rows.push(depth - 1);
  return rows;
}

export function layerChoices(depth, max = 10) {
  if (depth <= max) return [];
  const choices = [{ value: "auto", text: `one layer in ${Math.ceil((depth - 1) / (max - 1))}` }];
  for (let start = 1; start <= depth; start += max) {
    choices.push({ value: `from-${start}`, text: `layers ${start}–${Math.min(start + max - 1, depth)}` });
  }
  return choices;
}

function bars(tensor, color, name, showlegend) {
  const { edges, counts } = tensor;
  const centers = counts.map((_, i) => (edges[i] + edges[i + 1]) / 2);
  return {
    type: "bar",
    x: centers,
    y: counts,
    width: counts.map((_, i) => edges[i + 1] - edges[i]),
    customdata: counts.map((_, i) => [edges[i], edges[i + 1]]),
    hovertemplate: "[%{customdata[0]:.4g}, %{customdata[1]:.4g}): %{y}<extra>" + esc(name) + "</extra>",
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
  return {
    text,
    xref: `x${k} domain`,
    yref: `y${k} domain`,
    x: side === "left" ? 0 : 1,
    y: 1.02,
    xanchor: side,
    yanchor: "bottom",
    showarrow: false,
    font,
  };
}

// The value axis of a histogram. exponentformat "e": plotly's default writes huge values (an
// exploding network's 1e30) with <sup>, styled inline, which the pages' CSP refuses.
const VALUE_AXIS = { showgrid: false, zeroline: false, ticks: "outside", exponentformat: "e" };

/** The x and y axes of subplot k (1-based) of a histogram figure; returns their layout keys. */
function histogramAxes(layout, k, xDomain, yDomain, logY, title) {
  const suffix = k === 1 ? "" : k;
  layout[`xaxis${suffix}`] = { ...VALUE_AXIS, domain: xDomain, anchor: `y${k}` };
  layout[`yaxis${suffix}`] = {
    domain: yDomain,
    anchor: `x${k}`,
    exponentformat: "e",
    type: logY ? "log" : "linear",
    rangemode: "tozero",
    gridcolor: "#eef1f5",
    nticks: 4,
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

/** One column per run, one row per layer (layer 1 on top): histograms with their statistics. */
export function gridFigure(result, { kind = "post", logY = false, rows = null, compact = false, width = 1000 } = {}) {
  const runs = result.runs;
  const depth = Math.max(...runs.map((r) => r.layers.length));
  const shown = rows ?? layerRows(depth);
  const rowHeight = compact ? 90 : 150;
  const layout = baseLayout(shown.length * rowHeight + (compact ? 60 : 90));
  const xs = domains(runs.length, compact ? 24 : 40, 1000);
  const ys = domains(shown.length, compact ? 30 : 44, layout.height - layout.margin.t - layout.margin.b).reverse();
  const narrow = width / runs.length < 260; // phones: short statistics, labels on two lines
  if (narrow) layout.margin = { ...layout.margin, l: 48, r: 8, t: compact ? 64 : 84 };
  const data = [];
  shown.forEach((j, r) => {
    runs.forEach((run, c) => {
      const k = r * runs.length + c + 1;
      const [xa, ya] = histogramAxes(layout, k, xs[c], ys[r], logY, c === 0 ? `layer ${j + 1}` : null);
      layout[xa].nticks = 5;
      const layer = run.layers[j];
      if (!layer) {
        layout[xa].visible = false;
        layout[ya].visible = false;
        return;
      }
      const t = layer[kind];
      layout[xa].range = [t.edges[0], t.edges[t.edges.length - 1]];
      const trace = bars(t, COLORS[c % COLORS.length], run.label, false);
      trace.xaxis = `x${k}`;
      trace.yaxis = `y${k}`;
      if (logY) trace.y = trace.y.map((v) => (v > 0 ? v : null));
      data.push(trace);
      if (kind === "pre" && layer.theory?.q > 0 && Number.isFinite(layer.theory.q)) {
        const curve = predictedDensity(t, layer.theory.q);
        data.push({
          type: "scatter",
          mode: "lines",
          x: curve.x,
          y: logY ? curve.y.map((v) => (v >= 0.5 ? v : null)) : curve.y,
          line: { color: "#1d2330", width: 1.5, dash: "dash" },
          hovertemplate: `N(0, ${fmt(layer.theory.q)}): %{y:.0f}<extra>theory</extra>`,
          xaxis: `x${k}`,
          yaxis: `y${k}`,
          showlegend: false,
        });
      }
      const clip = logY ? null : spikeClip(t);
      if (clip) {
        layout[ya].range = [0, clip.top];
        layout.annotations.push({
          text: `▲ ${count(clip.count)}`,
          xref: `x${k}`,
          yref: `y${k} domain`,
          x: clip.x,
          y: 1,
          xanchor: "left",
          yanchor: "top",
          showarrow: false,
          font: { size: 10, color: "#5b6472" },
        });
      }
      if (!compact) {
        layout.annotations.push(
          titleOver(k, statsLine(layer, kind, narrow), "right", { size: narrow ? 9 : 11, color: "#5b6472" }),
        );
      }
    });
  });
  runs.forEach((run, c) => {
    layout.annotations.push({
      text: narrow || compact ? esc(run.label).replace(", ", "<br>") : esc(run.label),
      xref: "paper",
      yref: "paper",
      x: (xs[c][0] + xs[c][1]) / 2,
      y: 1,
      yshift: compact ? 28 : 40,
      xanchor: "center",
      yanchor: "bottom",
      showarrow: false,
      font: { size: compact ? 12 : 14, color: COLORS[c % COLORS.length], weight: 700 },
    });
  });
  return { data, layout };
}

/** All runs in one plot per layer (outlines), like TensorBoard's overlay mode. */
export function overlayFigure(result, { kind = "post", logY = false, rows = null } = {}) {
  const runs = result.runs;
  const depth = Math.max(...runs.map((r) => r.layers.length));
  const shown = rows ?? layerRows(depth);
  const cols = shown.length > 4 ? 2 : 1;
  const nrows = Math.ceil(shown.length / cols);
  const layout = baseLayout(nrows * 170 + 100);
  layout.showlegend = true;
  layout.legend = { orientation: "h", x: 0, y: 1, yanchor: "bottom", yref: "container" };
  layout.margin.t = 70;
  const xs = domains(cols, 70, 1000);
  const ys = domains(nrows, 44, layout.height - layout.margin.t - layout.margin.b).reverse();
  const data = [];
  shown.forEach((j, i) => {
    const k = i + 1;
    const [r, c] = [Math.floor(i / cols), i % cols];
    histogramAxes(layout, k, xs[c], ys[r], logY, c === 0 ? "count" : null);
    layout.annotations.push(titleOver(k, `layer ${j + 1}`, "left", { size: 12 }));
    runs.forEach((run, ri) => {
      const layer = run.layers[j];
      if (!layer) return;
      const { edges, counts } = layer[kind];
      data.push({
        type: "scatter",
        mode: "lines",
        line: { shape: "hv", color: COLORS[ri % COLORS.length], width: 2 },
        x: edges,
        y: [...counts, counts[counts.length - 1]].map((v) => (logY && v === 0 ? null : v)),
        name: esc(run.label),
        legendgroup: `run${ri}`,
        showlegend: i === 0,
        hovertemplate: "%{x:.4g}: %{y}<extra>" + esc(run.label) + "</extra>",
        xaxis: `x${k}`,
        yaxis: `y${k}`,
      });
    });
  });
  return { data, layout };
}

/** Layers stacked downwards per run (ridgeline / offset view): depth at a glance. */
export function ridgelineFigure(result, { kind = "post" } = {}) {
  const runs = result.runs;
  const depth = Math.max(...runs.map((r) => r.layers.length));
  const layout = baseLayout(Math.min(900, Math.max(320, depth * 34 + 120)));
  const xs = domains(runs.length, 40, 1000);
  const data = [];
  runs.forEach((run, c) => {
    const k = c + 1;
    const suffix = k === 1 ? "" : k;
    const color = COLORS[c % COLORS.length];
    run.layers.forEach((layer, j) => {
      const { edges, counts } = layer[kind];
      const peak = Math.max(...counts) || 1;
      const base = -j;
      const x = [edges[0]];
      const y = [base];
      counts.forEach((n, b) => {
        x.push(edges[b], edges[b + 1]);
        y.push(base + (1.6 * n) / peak, base + (1.6 * n) / peak);
      });
      x.push(edges[edges.length - 1]);
      y.push(base);
      data.push({
        type: "scatter",
        mode: "lines",
        x,
        y,
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
    });
    const step = Math.max(1, Math.ceil(depth / 12));
    const ticks = [...Array(depth).keys()].filter((j) => j % step === 0);
    layout[`xaxis${suffix}`] = { ...VALUE_AXIS, domain: xs[c], anchor: `y${k}` };
    layout[`yaxis${suffix}`] = {
      domain: [0, 1],
      anchor: `x${k}`,
      range: [-depth + 0.5, 2],
      tickvals: ticks.map((j) => -j),
      ticktext: ticks.map((j) => `layer ${j + 1}`),
      showticklabels: c === 0,
      showgrid: false,
      zeroline: false,
    };
    layout.annotations.push({
      text: esc(run.label),
      xref: `x${k} domain`,
      yref: "paper",
      x: 0.5,
      y: 1,
      yshift: 12,
      xanchor: "center",
      yanchor: "bottom",
      showarrow: false,
      font: { size: 14, color, weight: 700 },
    });
  });
  return { data, layout };
}

/** Std of the activations (solid) and of z (dotted) per layer for every run, log y. */
/** Std per layer for every run, log y: measured as markers (activations filled, z open), the
 * mean-field prediction as lines (solid, dotted) when the result carries it. */
export function signalFigure(result) {
  const data = [];
  const positive = (v) => (v > 0 && Number.isFinite(v) ? v : null); // log axis: gaps, not zeros
  result.runs.forEach((run, c) => {
    const color = COLORS[c % COLORS.length];
    const layers = run.layers.map((l) => l.layer);
    const hasTheory = run.layers.every((l) => l.theory);
    for (const [kind, symbol, dash] of [["post", "circle", "solid"], ["pre", "circle-open", "dot"]]) {
      const what = kind === "post" ? "activation" : "z";
      data.push({
        type: "scatter",
        mode: hasTheory ? "markers" : "lines+markers",
        x: layers,
        y: run.layers.map((l) => positive(l[kind].std)),
        name: `${esc(run.label)}: ${what}`,
        legendgroup: `run${c}`,
        line: { color, dash, width: 1.5 },
        marker: { size: 7, symbol, color, line: { color, width: 1.5 } },
        hovertemplate: `layer %{x}: σ %{y:.3g}<extra>${esc(run.label)} (${what})</extra>`,
      });
      if (!hasTheory) continue;
      data.push({
        type: "scatter",
        mode: "lines",
        x: layers,
        y: run.layers.map((l) => positive(kind === "post" ? l.theory.std : l.theory.z_std)),
        name: `${esc(run.label)}: ${what}, theory`,
        legendgroup: `run${c}`,
        showlegend: false,
        line: { color, dash, width: 2 },
        hovertemplate: `layer %{x}: predicted σ %{y:.3g}<extra>${esc(run.label)} (${what})</extra>`,
      });
    }
    if (run.layers.every((l) => l.grad)) {
      data.push({
        type: "scatter",
        mode: "markers",
        x: layers,
        y: run.layers.map((l) => positive(l.grad.std)),
        name: `${esc(run.label)}: gradient`,
        legendgroup: `run${c}`,
        marker: { size: 8, symbol: "triangle-up", color },
        hovertemplate: `layer %{x}: σ %{y:.3g}<extra>${esc(run.label)} (dL/dz)</extra>`,
      });
      if (hasTheory) {
        data.push({
          type: "scatter",
          mode: "lines",
          x: layers,
          y: run.layers.map((l) => positive(l.theory.gradient_scale)),
          name: `${esc(run.label)}: gradient, theory`,
          legendgroup: `run${c}`,
          showlegend: false,
          line: { color, dash: "dashdot", width: 2 },
          hovertemplate: `layer %{x}: predicted σ %{y:.3g}<extra>${esc(run.label)} (dL/dz)</extra>`,
        });
      }
    }
  });
  const layout = baseLayout(380);
  layout.showlegend = true;
  layout.legend = { orientation: "h", x: 0, y: -0.22 };
  layout.margin = { l: 64, r: 16, t: 24, b: 90 };
  layout.xaxis = { title: { text: "layer" }, dtick: Math.max(1, Math.ceil((data[0]?.x.length ?? 1) / 20)) };
  // One labelled tick per decade reads well over a few decades; vanishing signals span dozens.
  const stds = data.flatMap((t) => t.y).filter((v) => v > 0);
  const decades = stds.length ? Math.log10(Math.max(...stds)) - Math.log10(Math.min(...stds)) : 1;
  const dtick = Math.max(1, Math.ceil(decades / 8));
  layout.yaxis = { title: { text: "std" }, type: "log", dtick, gridcolor: "#eef1f5", exponentformat: "e" };
  return { data, layout };
}

/** The mean-field density of z, N(0, q), as expected counts per bin width: a smooth curve. */
export function predictedDensity(tensor, q) {
  const { edges, counts } = tensor;
  const total = counts.reduce((a, b) => a + b, 0);
  const width = (edges[edges.length - 1] - edges[0]) / counts.length;
  const sd = Math.sqrt(q);
  const n = 120;
  const x = [...Array(n + 1).keys()].map((i) => edges[0] + ((edges[edges.length - 1] - edges[0]) * i) / n);
  const y = x.map((v) => (total * width * Math.exp(-0.5 * (v / sd) ** 2)) / (sd * Math.sqrt(2 * Math.PI)));
  return { x, y };
}

/** The order-to-chaos phase diagram of one activation: log10 chi over (sigma_w, sigma_b), the
 * critical line chi = 1, a dotted outline of the points with two stable variances (their chi
 * depends on the start, diagram.q0), and the runs that use this activation as markers, each with
 * its own theory's phase. */
export function phaseFigure(diagram, runs) {
  const data = [
    {
      // Filled contours are SVG paths; a heatmap's image and a colour bar would need inline
      // styles, which the pages' CSP blocks. The caption explains the colours instead.
      type: "contour",
      x: diagram.sigma_w,
      y: diagram.sigma_b,
      z: diagram.log10_chi,
      // White at chi = 1, blue below (ordered: gradients vanish), red above (chaotic); plotly's
      // "RdBu" runs from blue at zmin to red at zmax. Beyond 100x either way the colour saturates.
      zmin: -2,
      zmax: 2,
      colorscale: "RdBu",
      showscale: false,
      contours: { start: -2, end: 2, size: 0.25, coloring: "fill", showlines: false },
      hovertemplate: "σw %{x:.3f}, σb %{y:.3f}: log₁₀ χ %{z:.2f}<extra></extra>",
      name: "log₁₀ χ",
      showlegend: false,
    },
    {
      type: "scatter",
      mode: "lines",
      x: diagram.critical_sigma_w,
      y: diagram.sigma_b,
      line: { color: "#1d2330", width: 2 },
      name: "critical: χ = 1",
      hoverinfo: "skip",
    },
  ];
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
  runs.forEach(({ run, index }) => {
    const hidden = run.theory.sigma_w2.length > 1 ? run.theory.sigma_w2[1] : run.theory.sigma_w2[0];
    if (hidden === null) return;
    data.push({
      type: "scatter",
      mode: "markers+text",
      x: [Math.sqrt(hidden)],
      y: [Math.sqrt(run.theory.sigma_b2)],
      text: [`${index + 1}`],
      textposition: "top center",
      marker: { size: 12, color: COLORS[index % COLORS.length], line: { color: "#fff", width: 2 } },
      name: esc(run.label),
      hovertemplate: `${esc(run.label)}: %{x:.3f}, %{y:.3f} (${run.phase})<extra></extra>`,
    });
  });
  const layout = baseLayout(360);
  layout.showlegend = true;
  layout.legend = { orientation: "h", x: 0, y: -0.25 };
  layout.margin = { l: 64, r: 16, t: 16, b: 90 };
  layout.xaxis = { title: { text: "σw (weight std × √fan_in)" }, range: [0, diagram.sigma_w.at(-1)] };
  layout.yaxis = { title: { text: "σb (bias std)" }, range: [0, diagram.sigma_b.at(-1)] };
  return { data, layout };
}

export const VIEWS = { grid: gridFigure, overlay: overlayFigure, ridgeline: ridgelineFigure, signal: signalFigure };
