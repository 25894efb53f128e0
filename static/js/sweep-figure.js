// The sweep page's pure functions (no DOM): the grid of one metric over the sweep's axes, and
// its figure — a heatmap for two axes, a line for one — with the theory's critical line
// (chi_star = 1) over it. Unit-tested in tests/js/sweep-figure.test.mjs.

import { baseLayout, COLORS, MUTED, VALUE_AXIS } from "./plot-base.js";
import { fmt } from "./format.js";

/** Whether an axis was given as a log range (its canonical text `low:high:log:n`). */
export const isLog = (axis) => /:log:\d+$/.test(axis.text);

/** How a value reads in a title, a hover or a link's label. */
export const valueText = (v) => (typeof v === "number" ? fmt(v) : String(v));

/** A metric that is a log10 reads as diverging around 0 (ordered below, chaotic above). */
export const diverging = (metric) => metric.startsWith("log10_");

/** Scalar metrics only: a cell holds one number. */
export const scalarMetrics = (metrics) => metrics.filter((m) => !m.per_layer);

/** Number of runs of a sweep's points (the first finished point's). */
export function runCount(points) {
  for (const p of points.values()) if (p.runs) return p.runs.length;
  return 1;
}

/**
 * The grid of `metric` for `run` (0-based): x is the first axis, y the second (if any); other
 * axes are held at `fixed` (their name -> value). Cells not finished yet, failed, or null are
 * null; `why` says, for a finished cell without a value, why ("diverged", "failed" or "no value"),
 * so that it is not drawn as if it were still running. `points` maps a point's index to its event
 * ({index, link, values, runs, error}).
 */
export function gridOf(axes, points, metric, run = 0, fixed = {}) {
  const [ax, ay] = axes;
  const xs = ax.values;
  const ys = ay ? ay.values : [null];
  const z = ys.map(() => xs.map(() => null));
  const links = ys.map(() => xs.map(() => null));
  const theory = ys.map(() => xs.map(() => null));
  const why = ys.map(() => xs.map(() => null));
  for (const p of points.values()) {
    if (axes.slice(2).some((a) => p.values[a.name] !== fixed[a.name])) continue;
    const i = xs.indexOf(p.values[ax.name]);
    const j = ay ? ys.indexOf(p.values[ay.name]) : 0;
    if (i < 0 || j < 0) continue;
    links[j][i] = p.link;
    const r = p.runs?.[run];
    if (!r) {
      why[j][i] = p.error ? "failed" : "no value";
      continue;
    }
    z[j][i] = r[metric] ?? null;
    theory[j][i] = r.log10_chi_star ?? null;
    if (z[j][i] === null || !Number.isFinite(z[j][i])) why[j][i] = r.diverged ? "diverged" : "no value";
  }
  return { x: xs, y: ys, z, links, theory, why };
}

/** Whether the theory's log10 chi_star changes sign over the grid: then chi = 1 crosses it. */
export function crossesCritical(theory) {
  let below = false;
  let above = false;
  for (const row of theory) for (const v of row) {
    if (v === null) continue;
    if (v < 0) below = true;
    if (v > 0) above = true;
  }
  return below && above;
}

/**
 * The theory's chi = 1 line over a grid of log10 chi_star (rows: y, columns: x), in cell-index
 * coordinates: in each row, where the values change sign between two neighbouring cells, the
 * crossing interpolated linearly between them (the first crossing of the row; cells without a
 * value are stepped over); rows without one
 * break the line. Null when the grid has no crossing at all.
 */
export function criticalLine(theory) {
  const x = [];
  const y = [];
  let found = false;
  theory.forEach((row, j) => {
    // between neighbouring cells that have a value (a cell not done yet is stepped over)
    const known = row.flatMap((v, i) => (v === null ? [] : [[i, v]]));
    let at = null;
    for (let k = 0; k + 1 < known.length && at === null; k++) {
      const [[i0, a], [i1, b]] = [known[k], known[k + 1]];
      if (a === 0) at = i0;
      else if (a < 0 !== b < 0 || b === 0) at = i0 + (a / (a - b)) * (i1 - i0);
    }
    x.push(at);
    y.push(at === null ? null : j);
    if (at !== null) found = true;
  });
  return found ? { x, y } : null;
}

/** A colour range for diverging metrics: symmetric about 0, at most +-limit (so that one cell
 * exploding to 1e30 does not wash the rest out). */
export function symmetricRange(z, limit = 2) {
  let m = 0;
  for (const row of z) for (const v of row) if (v !== null && Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  m = Math.min(Math.max(m, 1e-3), limit);
  return [-m, m];
}

/** The finite range of a grid's values ([0, 1] when it has none, widened when it is one value). */
export function valueRange(z) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of z) for (const v of row) {
    if (v === null || !Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (lo > hi) return [0, 1];
  if (lo === hi) return [lo - 0.5, hi + 0.5];
  return [lo, hi];
}

// Blue below 0 (ordered), white at 0, red above (chaotic), as the dashboard's phase diagram.
export const DIVERGING = [[0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"], [1, "#b2182b"]];
// Viridis: ordered in lightness, readable in grey and by most colour-blind readers.
export const SEQUENTIAL = [[0, "#440154"], [0.25, "#3b528b"], [0.5, "#21918c"], [0.75, "#5ec962"], [1, "#fde725"]];

/** The colour at fraction t of a colour scale, linear in RGB between its stops (as plotly's). */
export function colorAt(scale, t) {
  const u = Math.min(1, Math.max(0, t));
  const i = Math.max(1, scale.findIndex(([stop]) => stop >= u));
  const [[s0, c0], [s1, c1]] = [scale[i - 1], scale[i]];
  const rgb = (hex) => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
  const [a, b] = [rgb(c0), rgb(c1)];
  return `rgb(${a.map((x, k) => Math.round(x + ((u - s0) / (s1 - s0)) * (b[k] - x))).join(",")})`;
}

const KEY_BANDS = 24;
const KEY_TICKS = 5;

/** A colour key right of the plot, drawn with layout shapes and annotations: plotly's colour bar
 * gives its rects style attributes, which the pages' CSP refuses. */
export function colorKey(layout, scale, [lo, hi], title) {
  const key = { xref: "paper", yref: "paper", showarrow: false };
  const shapes = [...Array(KEY_BANDS).keys()].map((i) => ({
    xref: "paper", yref: "paper", type: "rect", xsizemode: "pixel", xanchor: 1, x0: 12, x1: 26,
    y0: i / KEY_BANDS, y1: (i + 1) / KEY_BANDS, fillcolor: colorAt(scale, (i + 0.5) / KEY_BANDS), line: { width: 0 },
  }));
  layout.shapes = [...(layout.shapes ?? []), ...shapes];
  const ticks = [...Array(KEY_TICKS).keys()].map((i) => {
    const t = i / (KEY_TICKS - 1);
    const v = lo + t * (hi - lo);
    return { ...key, x: 1, xanchor: "left", xshift: 28, y: t, yanchor: "middle", text: valueText(Number(v.toPrecision(3))), font: { size: 10 } };
  });
  const heading = { ...key, x: 1, xanchor: "right", xshift: 84, y: 1.01, yanchor: "bottom", text: title, font: { size: 11 } };
  layout.annotations = [...(layout.annotations ?? []), ...ticks, heading];
  layout.margin = { ...layout.margin, r: 84 };
}

function axisLayout(axis) {
  return { ...VALUE_AXIS, title: { text: axis.name }, type: isLog(axis) && axis.values.every((v) => v > 0) ? "log" : undefined };
}

const MAX_TICKS = 8;

/** An axis over cell indices 0..n-1, labelled with the axis's values (at most MAX_TICKS of them). */
function indexAxis(axis, title) {
  const n = axis.values.length;
  const step = Math.max(1, Math.ceil(n / MAX_TICKS));
  const ticks = [...Array(n).keys()].filter((i) => i % step === 0 || i === n - 1);
  return {
    ...VALUE_AXIS,
    title: { text: title },
    range: [-0.5, n - 0.5],
    tickvals: ticks,
    ticktext: ticks.map((i) => valueText(axis.values[i])),
    fixedrange: true,
  };
}

export const HEATMAP_MARGIN = { l: 64, r: 84, t: 40, b: 56 };

/**
 * The grid of two axes as square cells, one per point, coloured by the metric; the theory's
 * chi = 1 contour over it when `critical` and the grid has both sides. Cells sit at their indices
 * (a log range is even in log, a list of names in order), labelled with the axes' values.
 * Why squares of a scatter and not a heatmap: plotly's heatmap is an image whose crisp rendering
 * is a style attribute, refused by the pages' CSP (it came out blurred), as is its colour bar.
 */
export function heatmapFigure(grid, axes, metric, { critical = true, width = 900, maxHeight = 560 } = {}) {
  const [ax, ay] = axes;
  const nx = grid.x.length;
  const ny = grid.y.length;
  // room for the longest y label (an initializer's name, like he_normal, was cut to e_normal)
  const longest = Math.max(...indexAxis(ay, "").ticktext.map((t) => t.length));
  const margin = { ...HEATMAP_MARGIN, l: Math.max(HEATMAP_MARGIN.l, Math.ceil(30 + 7 * longest)) };
  const cell = Math.max(4, Math.min((width - margin.l - margin.r) / nx, maxHeight / ny));
  const divergent = diverging(metric.name);
  const scale = divergent ? DIVERGING : SEQUENTIAL;
  const range = divergent ? symmetricRange(grid.z) : valueRange(grid.z);
  const x = [];
  const y = [];
  const color = [];
  const custom = [];
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const v = grid.z[j][i];
      if (v === null || !Number.isFinite(v)) continue; // not done yet, failed, or null: blank
      x.push(i);
      y.push(j);
      color.push(v);
      custom.push([grid.links[j][i], valueText(grid.x[i]), valueText(grid.y[j])]);
    }
  }
  const data = [
    {
      type: "scatter",
      mode: "markers",
      x,
      y,
      customdata: custom,
      marker: {
        symbol: "square",
        size: cell + 1, // a pixel larger: no white seams between the squares
        color,
        colorscale: scale,
        cmin: range[0],
        cmax: range[1],
        showscale: false, // colorKey draws the key
        line: { width: 0 },
      },
      hovertemplate: `${ax.name} %{customdata[1]}<br>${ay.name} %{customdata[2]}<br>${metric.name} %{marker.color:.4g}<extra></extra>`,
      name: metric.name,
      showlegend: false,
    },
  ];
  // finished cells without a value (a training that overflowed, a failed point): a cross, not a
  // blank that reads as "still running"
  const missing = { x: [], y: [], customdata: [] };
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const reason = grid.why?.[j][i];
      if (!reason) continue;
      missing.x.push(i);
      missing.y.push(j);
      missing.customdata.push([grid.links[j][i], valueText(grid.x[i]), valueText(grid.y[j]), reason]);
    }
  }
  if (missing.x.length) {
    data.push({
      type: "scatter",
      mode: "markers",
      ...missing,
      marker: { symbol: "x-thin-open", size: Math.max(6, Math.round(cell * 0.6)), color: "#555", line: { width: 2, color: "#555" } },
      hovertemplate: `${ax.name} %{customdata[1]}<br>${ay.name} %{customdata[2]}<br>${metric.name}: %{customdata[3]}<extra></extra>`,
      name: "no value: diverged or failed",
      showlegend: true,
    });
  }
  const line = critical ? criticalLine(grid.theory) : null;
  if (line) {
    data.push({
      type: "scatter",
      mode: "lines",
      ...line,
      line: { color: "#111", width: 2.5, dash: "dash" },
      hoverinfo: "skip",
      name: "theory: chi = 1",
      showlegend: true,
      connectgaps: false,
    });
  }
  const layout = {
    ...baseLayout(Math.round(cell * ny + margin.t + margin.b)),
    width: Math.round(cell * nx + margin.l + margin.r),
    margin,
    hovermode: "closest",
    hoverdistance: Math.ceil(cell), // anywhere in a cell hovers (and clicks) it
    xaxis: indexAxis(ax, ax.name),
    yaxis: indexAxis(ay, ay.name),
    showlegend: data.length > 1,
    legend: { orientation: "h", x: 0, y: 1.01, yanchor: "bottom" },
  };
  colorKey(layout, scale, range, metric.name);
  return { data, layout };
}

/** The line of a one-axis grid (one line per run), with y on a log scale for positive spreads. */
export function lineFigure(axes, points, metric, runs, { height = 420 } = {}) {
  const [ax] = axes;
  const data = [];
  for (let r = 0; r < runs; r++) {
    const grid = gridOf(axes, points, metric.name, r);
    data.push({
      type: "scatter",
      mode: "lines+markers",
      x: grid.x,
      y: grid.z[0],
      customdata: grid.links[0].map((link) => link ?? ""),
      name: `run ${r + 1}`,
      line: { color: COLORS[r % COLORS.length] },
      connectgaps: false,
      hovertemplate: `${ax.name} %{x}<br>${metric.name} %{y:.4g}<extra>run ${r + 1}</extra>`,
    });
  }
  const positive = data.every((t) => t.y.every((v) => v === null || v > 0));
  const layout = {
    ...baseLayout(height),
    margin: { l: 72, r: 24, t: 40, b: 56 },
    xaxis: axisLayout(ax),
    yaxis: { ...VALUE_AXIS, title: { text: metric.name }, type: positive && !diverging(metric.name) ? "log" : undefined, gridcolor: "#eef1f5", showgrid: true },
    showlegend: runs > 1,
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
  };
  if (diverging(metric.name)) {
    layout.shapes = [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 0, y1: 0, line: { color: MUTED, dash: "dot", width: 1 } }];
  }
  return { data, layout };
}

/** "12 of 165 points (3 from the cache)" and the like. */
export function progressText(done, size, cached, failed, state) {
  const parts = [`${done} of ${size} points`];
  if (cached) parts.push(`${cached} from the cache`);
  if (failed) parts.push(`${failed} failed`);
  const tail = state === "cancelled" ? ", cancelled" : state === "done" ? ", done" : "";
  return `${parts[0]}${parts.length > 1 ? ` (${parts.slice(1).join(", ")})` : ""}${tail}`;
}

/** The dashboard's address of a point's link. */
export const dashboardHref = (link) => `/?${link}`;

/** Where a point opens as it was computed: a training's link on /train, an experiment's on the dashboard. */
export const pointHref = (link, kind) => (kind === "train" ? `/train?${link}` : dashboardHref(link));
