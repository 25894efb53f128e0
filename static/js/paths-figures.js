// Plotly figure specs of an optimizer-paths answer: pure functions, no DOM, no fetching.
// No <b>/<sup> in plotly text, and no "power" exponents (superscripts): plotly.js styles them with
// style attributes, which the pages' CSP blocks.

import { esc } from "./figures.js";

const FONT = { family: "system-ui, sans-serif", size: 12, color: "#1d2330" };
// One colour per optimizer, so ticking one on or off never repaints the others.
export const COLOR = { sgd: "#2456a6", momentum: "#c77c02", nesterov: "#6b4c9a", adagrad: "#2e933c", rmsprop: "#00798c", adam: "#d1495b" };
const DASHES = ["solid", "dot", "dash", "dashdot"];

// The contour plot's area: at least MIN_HEIGHT px tall (below that a phone shows the paths as a
// strip), at most MAX_HEIGHT; when the surface's window would be flatter than MIN_HEIGHT at this
// width, the plot shows the part of it the paths use, at least MIN_ASPECT as tall as wide.
export const PLOT_LIMITS = { minHeight: 240, maxHeight: 760, minAspect: 0.75 };
const PATHS_MARGIN = { l: 52, r: 16, b: 48 };
const LEGEND_ROW = 19; // px per row of plotly's horizontal legend at 12 px
const LEGEND_PAD = 26; // px around the rows: plotly keeps the legend 12 px off the top, 10 px inside its box

/** Marker size for paths of `points` points: big where steps are few, small where they pile up. */
export function markerSize(points) {
  if (points <= 40) return 6;
  if (points <= 120) return 4;
  if (points <= 400) return 3;
  return 2;
}

/** The name a path has in the legend: its label, and where it diverged. */
export function pathName(p) {
  return p.diverged_at === null ? p.label : `${p.label}: diverged at step ${p.diverged_at}`;
}

/**
 * Rows plotly's horizontal legend takes for `names` in `width` px. An entry is about `itemPx` (line
 * sample and gaps) plus `charPx` per character wide; entries that fit go on one row, and otherwise
 * plotly gives every entry the widest one's width, so as many of those as fit make a row.
 */
export function legendRows(names, width, { charPx = 6.2, itemPx = 60 } = {}) {
  if (!names.length) return 0;
  const widths = names.map((name) => itemPx + charPx * name.length);
  if (widths.reduce((a, b) => a + b, 0) <= width) return 1;
  const perRow = Math.max(1, Math.floor(width / Math.max(...widths)));
  return Math.ceil(names.length / perRow);
}

/**
 * The axis ranges and plot-area size of the contour plot, equal scales on both axes (an ellipse stays
 * an ellipse). The surface's window when its shape gives a plot at least `minHeight` tall at
 * `plotWidth`; otherwise (a phone, a flat window) the box of the start, the minima and every path
 * point inside the window, with a margin, grown to `minAspect` and kept inside the window.
 * Returns { x: [x0, x1], y: [y0, y1], height, zoomed }.
 */
export function pathsView(result, plotWidth, limits = PLOT_LIMITS) {
  const [wx0, wx1, wy0, wy1] = result.surface.window;
  const fit = (x, y) => ({ x, y, height: Math.round(Math.min(limits.maxHeight, (plotWidth * (y[1] - y[0])) / (x[1] - x[0]))) });
  const full = { ...fit([wx0, wx1], [wy0, wy1]), zoomed: false };
  if (full.height >= limits.minHeight) return full;
  const xs = [result.config.start[0], ...result.surface.minima.map((m) => m[0])];
  const ys = [result.config.start[1], ...result.surface.minima.map((m) => m[1])];
  for (const p of result.paths) {
    p.x.forEach((x, i) => {
      const y = p.y[i];
      if (x >= wx0 && x <= wx1 && y >= wy0 && y <= wy1) {
        xs.push(x);
        ys.push(y);
      }
    });
  }
  const padX = 0.06 * (wx1 - wx0);
  const padY = 0.06 * (wy1 - wy0);
  let x = [Math.max(wx0, Math.min(...xs) - padX), Math.min(wx1, Math.max(...xs) + padX)];
  let y = [Math.max(wy0, Math.min(...ys) - padY), Math.min(wy1, Math.max(...ys) + padY)];
  // Grow the shorter side about its middle (shifted back inside the window) to the least aspect.
  const grow = (range, size, lo, hi) => {
    const want = Math.min(size, hi - lo);
    if (range[1] - range[0] >= want) return range;
    let a = (range[0] + range[1] - want) / 2;
    a = Math.min(Math.max(a, lo), hi - want);
    return [a, a + want];
  };
  y = grow(y, limits.minAspect * (x[1] - x[0]), wy0, wy1);
  x = grow(x, ((y[1] - y[0]) * plotWidth) / limits.maxHeight, wx0, wx1); // never taller than maxHeight
  return { ...fit(x, y), zoomed: true };
}

/** One line with markers per path: the optimizer's colour, a dash for a repeated optimizer. */
function pathTraces(result) {
  const seen = {};
  return result.paths.map((p) => {
    const k = (seen[p.optimizer] = (seen[p.optimizer] ?? -1) + 1);
    const color = COLOR[p.optimizer];
    return {
      type: "scatter",
      mode: "lines+markers",
      x: p.x,
      y: p.y,
      name: esc(pathName(p)),
      line: { color, width: 2, dash: DASHES[k % DASHES.length] },
      marker: { color, size: markerSize(p.x.length) },
      customdata: p.f.map((f, step) => [step, f]),
      hovertemplate: `${esc(p.label)}<br>step %{customdata[0]}: (%{x:.4g}, %{y:.4g}), f = %{customdata[1]:.4g}<extra></extra>`,
    };
  });
}

/**
 * Contours of the surface, its minima, and every path, equal scales on both axes, in `width` px: the
 * legend above the plot gets the rows it needs (so it never covers the plot, and the plot keeps the
 * height its ranges ask for).
 */
export function pathsFigure(result, width) {
  const { surface, contour } = result;
  const plotWidth = Math.max(200, width - PATHS_MARGIN.l - PATHS_MARGIN.r);
  const view = pathsView(result, plotWidth);
  const names = ["minimum", ...result.paths.map(pathName)];
  const margin = { ...PATHS_MARGIN, t: LEGEND_PAD + LEGEND_ROW * legendRows(names, plotWidth) };
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
    height: view.height + margin.t + margin.b,
    font: FONT,
    margin,
    paper_bgcolor: "#fff",
    plot_bgcolor: "#fff",
    hovermode: "closest",
    showlegend: true,
    legend: { orientation: "h", x: 0, xanchor: "left", y: 1.005, yanchor: "bottom", font: { size: 12 } },
    xaxis: { range: view.x, title: { text: "x" }, zeroline: false, constrain: "domain", ticks: "outside" },
    yaxis: { range: view.y, title: { text: "y" }, zeroline: false, constrain: "domain", ticks: "outside", scaleanchor: "x", scaleratio: 1 },
  };
  return { data, layout, zoomed: view.zoomed };
}

/** Decades per labelled tick of the gap chart's log axis: 1 while at most `most` decades are labelled. */
export function decadeStep(gaps, most = 7) {
  const positive = gaps.flat().filter((g) => g > 0 && Number.isFinite(g));
  if (!positive.length) return 1;
  const lo = Math.floor(Math.log10(Math.min(...positive)));
  const hi = Math.ceil(Math.log10(Math.max(...positive)));
  return Math.max(1, Math.ceil((hi - lo) / most));
}

/** f − f_min after each step, log y labelled by decades: which path gets close, and how fast. */
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
    margin: { l: 56, r: 16, t: 12, b: 44 },
    paper_bgcolor: "#fff",
    plot_bgcolor: "#fff",
    hovermode: "closest",
    xaxis: { title: { text: "step" }, zeroline: false, ticks: "outside" },
    // automargin with a standoff: the title sits beside the widest tick label (1e−12), never on it
    yaxis: {
      type: "log",
      title: { text: "f − f_min", standoff: 10 },
      automargin: true,
      dtick: decadeStep(result.paths.map((p) => p.gap)),
      exponentformat: "e",
      ticks: "outside",
    },
  };
  return { data, layout };
}

// ---- The zig-zag: one unit's two weights (GET /api/v1/unit-paths) ------------------------------

// A step's sign pattern: both weights up, both down, or one up and one down (what the text's
// staircase is made of: on all-positive inputs the last never happens).
export const SIGN_PATTERNS = [
  { key: "up", name: "both up (+, +)", color: "#2e933c", symbol: "triangle-ne" },
  { key: "down", name: "both down (−, −)", color: "#6b4c9a", symbol: "triangle-sw" },
  { key: "mixed", name: "one up, one down", color: "#c77c02", symbol: "circle" },
];
export const INPUT_COLOR = { positive: "#2456a6", centred: "#d1495b" };
const INPUT_TITLE = { positive: "all-positive inputs", centred: "zero-centred inputs" };

/** Each step's pattern ("up", "down", "mixed"; "none" when a component did not move). */
export function stepPatterns(path) {
  const out = [];
  for (let k = 1; k < path.w0.length; k++) {
    const d0 = path.w0[k] - path.w0[k - 1];
    const d1 = path.w1[k] - path.w1[k - 1];
    if (d0 === 0 || d1 === 0) out.push("none");
    else if (d0 > 0 && d1 > 0) out.push("up");
    else if (d0 < 0 && d1 < 0) out.push("down");
    else out.push("mixed");
  }
  return out;
}

/** The zig-zag's paths, one plot per kind of inputs (side by side when `width` allows, else one
 * above the other), each step's end marked by its sign pattern, with the straight line from the
 * start to the target. Equal scales on both axes. */
export function zigzagFigure(doc, width) {
  const stacked = width < 640;
  const gap = 0.08;
  const all0 = doc.paths.flatMap((p) => p.w0).concat(doc.start[0], doc.target[0]);
  const all1 = doc.paths.flatMap((p) => p.w1).concat(doc.start[1], doc.target[1]);
  const pad = 0.15;
  const xRange = [Math.min(...all0) - pad, Math.max(...all0) + pad];
  const yRange = [Math.min(...all1) - pad, Math.max(...all1) + pad];
  const margin = { l: 48, r: 12, t: 30, b: 44 };
  const plotWidth = stacked ? width - margin.l - margin.r : (width - margin.l - margin.r) * (1 - gap) / 2;
  const plotHeight = Math.max(200, Math.min(520, plotWidth * (yRange[1] - yRange[0]) / (xRange[1] - xRange[0])));
  const data = [];
  const layout = {
    font: FONT,
    margin,
    height: stacked ? 2 * plotHeight + 70 + margin.t + margin.b : plotHeight + margin.t + margin.b,
    paper_bgcolor: "#fff",
    plot_bgcolor: "#fff",
    hovermode: "closest",
    showlegend: false,
    annotations: [],
  };
  doc.paths.forEach((path, i) => {
    const n = i + 1;
    const suffix = i === 0 ? "" : n;
    const domain = stacked
      ? { x: [0, 1], y: i === 0 ? [0.55, 1] : [0, 0.45] }
      : { x: i === 0 ? [0, (1 - gap) / 2] : [(1 + gap) / 2, 1], y: [0, 1] };
    layout[`xaxis${suffix}`] = { domain: domain.x, range: xRange, anchor: `y${n}`, title: { text: "w0", standoff: 2 }, zeroline: true, zerolinecolor: "#dde3ec", ticks: "outside" };
    layout[`yaxis${suffix}`] = { domain: domain.y, range: yRange, anchor: `x${n}`, title: { text: "w1", standoff: 2 }, zeroline: true, zerolinecolor: "#dde3ec", ticks: "outside", scaleanchor: `x${n}`, scaleratio: 1 };
    layout.annotations.push({
      text: esc(INPUT_TITLE[path.inputs]),
      xref: `x${n} domain`,
      yref: `y${n} domain`,
      x: 0,
      y: 1,
      xanchor: "left",
      yanchor: "bottom",
      showarrow: false,
      font: { size: 13, color: INPUT_COLOR[path.inputs] },
    });
    const axes = { xaxis: `x${n}`, yaxis: `y${n}` };
    data.push({
      ...axes,
      type: "scatter",
      mode: "lines",
      x: [doc.start[0], doc.target[0]],
      y: [doc.start[1], doc.target[1]],
      line: { color: "#9aa5b5", dash: "dot", width: 1.5 },
      hoverinfo: "skip",
      name: "straight line",
    });
    data.push({
      ...axes,
      type: "scatter",
      mode: "lines",
      x: path.w0,
      y: path.w1,
      line: { color: INPUT_COLOR[path.inputs], width: 1 },
      hoverinfo: "skip",
      name: path.label,
    });
    const patterns = stepPatterns(path);
    // mixed steps first, so the same-sign steps among them are drawn on top, not hidden
    for (const p of [...SIGN_PATTERNS].reverse()) {
      const steps = patterns.flatMap((q, k) => (q === p.key ? [k + 1] : []));
      data.push({
        ...axes,
        type: "scatter",
        mode: "markers",
        x: steps.map((k) => path.w0[k]),
        y: steps.map((k) => path.w1[k]),
        customdata: steps,
        marker: { color: p.color, symbol: p.symbol, size: markerSize(path.w0.length) + 3 },
        name: `${INPUT_TITLE[path.inputs]}: ${p.name}`,
        hovertemplate: `step %{customdata}: ${esc(p.name)}<br>w = (%{x:.3f}, %{y:.3f})<extra></extra>`,
      });
    }
    data.push({
      ...axes,
      type: "scatter",
      mode: "markers",
      x: [doc.target[0], doc.start[0]],
      y: [doc.target[1], doc.start[1]],
      marker: { symbol: ["star", "circle-open"], size: [15, 10], color: "#1d2330" },
      hovertemplate: "%{text} (%{x}, %{y})<extra></extra>",
      text: ["target w*", "start"],
      name: "start and target",
    });
  });
  return { data, layout };
}
