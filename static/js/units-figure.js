// Figures and sentences of the units page (GET /api/v1/units): pure functions, no DOM, no fetching.
// The units x samples matrix is a scatter of square markers, not a heatmap: plotly's heatmap draws
// an image from a data: URL and its colour bar sets style attributes, both refused by the pages' CSP.

import { count, fmt } from "./format.js";
import { COLORS, baseLayout } from "./plot-base.js";

// Viridis (dark purple = low, yellow = high): ordered in lightness, readable in grey and by most
// colour-blind readers. The key under each matrix names its two ends.
export const COLORSCALE = [
  [0, "#440154"],
  [0.25, "#3b528b"],
  [0.5, "#21918c"],
  [0.75, "#5ec962"],
  [1, "#fde725"],
];
export const LOW_COLOR = COLORSCALE[0][1];
export const HIGH_COLOR = COLORSCALE[COLORSCALE.length - 1][1];
export const MID_COLOR = COLORSCALE[2][1]; // a matrix of one value is drawn in it (see matrixFigure)
const STRIP_MARKERS_UP_TO = 128; // units drawn as dots on the line; more are a line only

/** The page's own query: the share query and the layer. */
export const unitsQuery = (share, layer) => (share ? `${share}&layer=${layer}` : `layer=${layer}`);

/** The layers one may pick: 1 to the experiment's depth. */
export const layerChoices = (depth) => Array.from({ length: Math.max(0, depth) }, (_, i) => i + 1);

/** A run's colour, as on the dashboard. */
export const runColor = (index) => COLORS[index % COLORS.length];

/** "spread of unit means 0.0132 against spread within a unit 3.85e-7": the claim in numbers. */
export function spreadText(profile) {
  return `spread of unit means ${fmt(profile.between)} against spread within a unit ${fmt(profile.within)}`;
}

/** "1 distinct unit of 100 · 100 dead · 1000 samples". */
export function countsText(profile) {
  const distinct =
    profile.distinct_units === null
      ? "distinct units unknown (NaN or ∞ values)"
      : `${count(profile.distinct_units)} distinct ${profile.distinct_units === 1 ? "unit" : "units"} of ${count(profile.units)}`;
  return `${distinct} · ${count(profile.dead_units)} dead · ${count(profile.samples)} samples`;
}

/** One sentence saying what the numbers mean, in a first course's words. */
export function reading(profile) {
  const { between, within, units } = profile;
  if (between === null || within === null) {
    return "Some outputs are NaN or infinite (the signal overflowed): the spreads are not defined.";
  }
  if (units === 1) return "This layer has a single unit.";
  if (profile.distinct_units === 1 || between === 0) {
    const same = `All ${count(units)} units are identical: they compute one and the same function`;
    if (within === 0) return `${same}, and give the same value, ${fmt(profile.mean[0])}, for every input.`;
    return `${same}, so the line is flat and every row of the grid is the same.`;
  }
  if (within * 100 < between) {
    return "The units differ, but each one barely answers its input: its output moves far less from one input to the next than the units differ from each other (every row of the grid is nearly one colour).";
  }
  return "The units differ from each other, and each one answers its input.";
}

/** The finite values of a matrix: their lowest and highest, and how many are not finite (null). */
export function matrixRange(values) {
  let low = Infinity;
  let high = -Infinity;
  let nonFinite = 0;
  for (const row of values) {
    for (const v of row) {
      if (v === null || !Number.isFinite(v)) nonFinite += 1;
      else {
        low = Math.min(low, v);
        high = Math.max(high, v);
      }
    }
  }
  return low > high ? { low: null, high: null, nonFinite } : { low, high, nonFinite };
}

/** The colour key under a matrix: the colours its squares take (lowest first, or the one colour of a
 * matrix holding one value) and what they stand for. */
export function colorKey(profile) {
  const { low, high, nonFinite } = matrixRange(profile.matrix.values);
  const missing = nonFinite ? ` · ${count(nonFinite)} NaN or ∞ values left blank` : "";
  if (low === null) return { colors: [], text: `no finite value to colour${missing}` };
  if (low === high) return { colors: [MID_COLOR], text: `every value is ${fmt(low)}: one colour${missing}` };
  return { colors: [LOW_COLOR, HIGH_COLOR], text: `dark purple ${fmt(low)} (lowest) to yellow ${fmt(high)} (highest)${missing}` };
}

/** The matrix's title: how much of the layer it shows. */
export function matrixTitle(profile) {
  const { matrix, units, samples } = profile;
  const unitsPart = matrix.units < units ? `first ${count(matrix.units)} of ${count(units)} units` : `all ${count(units)} units`;
  const samplesPart = matrix.samples < samples ? `first ${count(matrix.samples)} of ${count(samples)} samples` : `all ${count(samples)} samples`;
  return `${unitsPart} × ${samplesPart}`;
}

const AXIS = { showgrid: false, zeroline: false, ticks: "outside", exponentformat: "e" };

/** Each unit's mean across the samples (a line over the units, in unit order) with a band of ± one
 * std: identical units draw one flat line; units that ignore their input, a line with no band. */
export function stripFigure(profile, runIndex, height = 260) {
  const color = runColor(runIndex);
  const x = profile.mean.map((_, u) => u + 1);
  const finite = (v) => v !== null && Number.isFinite(v);
  const lower = profile.mean.map((m, u) => (finite(m) && finite(profile.std[u]) ? m - profile.std[u] : null));
  const upper = profile.mean.map((m, u) => (finite(m) && finite(profile.std[u]) ? m + profile.std[u] : null));
  const dots = profile.units <= STRIP_MARKERS_UP_TO;
  const band = { type: "scatter", mode: "lines", x, line: { width: 0, color }, hoverinfo: "skip", showlegend: false };
  const data = [
    { ...band, y: lower, name: "mean − std" },
    { ...band, y: upper, name: "mean + std", fill: "tonexty", fillcolor: hexAlpha(color, 0.25) },
    {
      type: "scatter",
      mode: dots ? "lines+markers" : "lines",
      x,
      y: profile.mean,
      name: "mean",
      line: { color, width: 1.5 },
      marker: { color, size: 5 },
      customdata: profile.std,
      hovertemplate: "unit %{x}: mean %{y:.6g}, std %{customdata:.3g}<extra></extra>",
      showlegend: false,
    },
  ];
  const layout = {
    ...baseLayout(height),
    margin: { l: 64, r: 12, t: 12, b: 44 },
    hovermode: "closest",
    xaxis: { ...AXIS, title: { text: "unit" }, range: [0.5, profile.units + 0.5] },
    yaxis: { ...AXIS, title: { text: "activation" }, gridcolor: "#eef1f5", showgrid: true },
  };
  return { data, layout };
}

/** The units x samples matrix: one square per value, coloured from the lowest (dark purple) to the
 * highest (yellow) value of this matrix; unit 1 at the top. `width` in pixels sets the squares'
 * size so they tile the plot. */
export function matrixFigure(profile, width) {
  const { values, units: rows, samples: cols } = profile.matrix;
  const margin = { l: 52, r: 12, t: 12, b: 44 };
  const plotWidth = Math.max(120, width - margin.l - margin.r);
  const cell = plotWidth / Math.max(1, cols);
  const plotHeight = Math.max(40, cell * rows);
  const x = [];
  const y = [];
  const color = [];
  for (let u = 0; u < rows; u += 1) {
    for (let s = 0; s < cols; s += 1) {
      const v = values[u][s];
      if (v === null || !Number.isFinite(v)) continue; // blank, and counted in the key
      x.push(s + 1);
      y.push(u + 1);
      color.push(v);
    }
  }
  const { low, high } = matrixRange(values);
  // One value everywhere: the middle colour (plotly needs cmin < cmax).
  const [cmin, cmax] = low === null ? [0, 1] : low === high ? [low - 1, high + 1] : [low, high];
  const data = [
    {
      type: "scatter",
      mode: "markers",
      x,
      y,
      marker: {
        symbol: "square",
        size: Math.max(1, cell + 1), // a pixel larger: no white seams between the squares
        color,
        colorscale: COLORSCALE,
        cmin,
        cmax,
        showscale: false, // a colour bar sets style attributes, refused by the CSP: the key is text
        line: { width: 0 },
      },
      hovertemplate: "unit %{y}, sample %{x}: %{marker.color:.6g}<extra></extra>",
      showlegend: false,
    },
  ];
  const layout = {
    ...baseLayout(Math.round(plotHeight + margin.t + margin.b)),
    margin,
    hovermode: "closest",
    xaxis: { ...AXIS, title: { text: "input sample" }, range: [0.5, cols + 0.5], fixedrange: true },
    yaxis: { ...AXIS, title: { text: "unit" }, range: [rows + 0.5, 0.5], fixedrange: true },
  };
  return { data, layout };
}

/** "#2456a6", 0.25 -> "rgba(36,86,166,0.25)": an SVG fill, allowed by the CSP. */
export function hexAlpha(hex, alpha) {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}
