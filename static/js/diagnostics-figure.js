// Figures, tables and sentences of the diagnostics page (GET /api/v1/diagnostics): pure functions,
// no DOM, no fetching. One figure per run for the correlation map (measured c as markers with their
// sd across pairs, the C-map's prediction as lines, c* dashed), and for the Jacobian its mean
// squared singular value over depth (log axis) and its spectra at a few layers (log10 sigma).

import { fmt } from "./format.js";
import { COLORS, MUTED, baseLayout, note } from "./plot-base.js";

/** The page's own query: the share query and the diagnostics' keys given (canonical from the API). */
export function diagnosticsQuery(share, { c0 = "", pairs = "", jacobian = "", seeds = "" } = {}) {
  const parts = share ? [share] : [];
  if (String(c0).trim()) parts.push(`c0=${String(c0).replace(/\s+/g, "")}`);
  if (String(pairs).trim()) parts.push(`pairs=${String(pairs).trim()}`);
  if (String(seeds).trim()) parts.push(`seeds=${String(seeds).trim()}`);
  if (String(jacobian).trim()) parts.push(`jacobian=${String(jacobian).trim()}`);
  return parts.join("&");
}

/** A run's colour, as on the dashboard. */
export const runColor = (index) => COLORS[index % COLORS.length];

// One colour per starting correlation, from light to dark blue-green (ordered, readable in grey).
const C0_COLORS = ["#7fc97f", "#41ab5d", "#238b45", "#006d2c", "#00441b", "#1b7837", "#5aae61", "#a6dba0"];
export const c0Color = (i) => C0_COLORS[i % C0_COLORS.length];

/** "chi1 0.94 · c* 1 · xi_q 1.34 · xi_c 16.1": the fixed point in numbers (– where there is none). */
export function fixedPointText(fp) {
  const xi = (x) => (x === null ? "∞" : fmt(x));
  if (fp.q_star === null || fp.chi1 === null) return "no fixed point of the variance map to describe (q* is 0 or infinite)";
  return `q* ${fmt(fp.q_star)} · χ₁ ${fmt(fp.chi1)} · c* ${fmt(fp.c_star)} · ξq ${xi(fp.xi_q)} · ξc ${xi(fp.xi_c)}`;
}

/** One sentence on the run's phase, from χ₁ and c*. */
export function phaseText(fp) {
  if (fp.chi1 === null) return "";
  if (Math.abs(fp.chi1 - 1) <= 0.05) return "Critical (χ₁ ≈ 1): correlations change slowly over depth, ξc is long.";
  if (fp.chi1 < 1) return "Ordered (χ₁ < 1): every pair of inputs converges to c = 1, they become indistinguishable.";
  return `Chaotic (χ₁ > 1): pairs decorrelate to c* = ${fmt(fp.c_star)} < 1, even inputs that start almost equal.`;
}

/** A row's name: a layer network's row as /simulate names it ("block 3 · layer_norm (pre)"), a
 * plain stack's layer by its number. */
const rowName = (l) => l.name ?? `layer ${l.layer}`;

/** The correlation figure of a run: per c0, markers (measured, ± sd) and a line (predicted). */
export function correlationFigure(run, height = 300) {
  const corr = run.correlation;
  const layers = corr.layers.map((l) => l.layer);
  const data = [];
  corr.c0.forEach((c0, i) => {
    const color = c0Color(i);
    if (corr.layers[0]?.low) data.push(...band(layers, corr.layers.map((l) => l.low[i]), corr.layers.map((l) => l.high[i]), color, `c0-${i}`));
    const predicted = corr.layers.map((l) => l.predicted[i]);
    if (predicted.some((v) => v !== null)) {
      data.push({
        type: "scatter",
        mode: "lines",
        x: layers,
        y: predicted,
        name: `c0 ${fmt(c0)} predicted`,
        legendgroup: `c0-${i}`,
        showlegend: false,
        line: { color, width: 2 },
        text: corr.layers.map(rowName),
        hovertemplate: `c0 ${fmt(c0)}, %{text}: predicted %{y:.3f}<extra></extra>`,
      });
    }
    data.push({
      type: "scatter",
      mode: "markers",
      x: layers,
      y: corr.layers.map((l) => l.measured[i]),
      error_y: { type: "data", array: corr.layers.map((l) => l.sd[i] ?? 0), color, thickness: 1, width: 2 },
      name: `c0 ${fmt(c0)}`,
      legendgroup: `c0-${i}`,
      marker: { color, size: 6, symbol: "circle" },
      text: corr.layers.map(rowName),
      hovertemplate: `c0 ${fmt(c0)}, %{text}: measured %{y:.3f}<extra></extra>`,
    });
  });
  const layout = baseLayout(height);
  layout.margin = { l: 52, r: 12, t: 12, b: 74 };
  layout.showlegend = true;
  layout.legend = { orientation: "h", y: -0.3, yanchor: "top", x: 0, font: { size: 11 } };
  layout.xaxis = { title: { text: "layer" }, zeroline: false, gridcolor: "#eef1f5" };
  layout.yaxis = { title: { text: "correlation c of z" }, range: [Math.min(-0.05, ...minMeasured(corr)), 1.05], gridcolor: "#eef1f5", zeroline: false };
  const cStar = corr.fixed_point.c_star;
  layout.shapes = [];
  if (cStar !== null) {
    layout.shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: cStar, y1: cStar, line: { color: MUTED, dash: "dash", width: 1 } });
    layout.annotations.push(note(`c* ${fmt(cStar)}`, { xref: "paper", x: 1, y: cStar, xanchor: "right", yanchor: "bottom", font: { size: 11, color: MUTED } }));
  }
  return { data, layout };
}

/** A band between `low` and `high` (seed ensembles): an invisible lower edge, the upper filled down to it. */
export function band(x, low, high, color, group) {
  const edge = { type: "scatter", mode: "lines", x, line: { width: 0, color }, hoverinfo: "skip", showlegend: false, legendgroup: group };
  return [
    { ...edge, y: low, name: "lowest seed" },
    { ...edge, y: high, name: "highest seed", fill: "tonexty", fillcolor: `${color}33` },
  ];
}

const minMeasured = (corr) => corr.layers.flatMap((l) => l.measured.filter((v) => v !== null).map((v) => v - 0.05));

/** The mean squared singular value over depth: measured markers, mean field's prod chi as a line. */
export function meanSquareFigure(run, index, height = 260) {
  const jac = run.jacobian;
  const layers = jac.layers.map((l) => l.layer);
  const positive = (v) => (v !== null && v > 0 ? v : null); // a log axis cannot show 0
  const bands = jac.layers[0]?.low === undefined ? [] : band(layers, jac.layers.map((l) => positive(l.low)), jac.layers.map((l) => positive(l.high)), runColor(index), "seeds");
  const data = [
    ...bands,
    {
      type: "scatter",
      mode: "lines",
      x: layers,
      y: jac.layers.map((l) => positive(l.predicted_mean_sq)),
      name: "mean field ∏χ",
      line: { color: MUTED, width: 2, dash: "dot" },
      text: jac.layers.map(rowName),
      hovertemplate: "%{text}: predicted %{y:.3g}<extra></extra>",
    },
    {
      type: "scatter",
      mode: "markers",
      x: layers,
      y: jac.layers.map((l) => positive(l.mean_sq)),
      name: "measured",
      marker: { color: runColor(index), size: 6 },
      text: jac.layers.map(rowName),
      hovertemplate: "%{text}: mean σ² %{y:.3g}<extra></extra>",
    },
  ];
  const layout = baseLayout(height);
  layout.margin = { l: 58, r: 12, t: 12, b: 74 };
  layout.showlegend = true;
  layout.legend = { orientation: "h", y: -0.3, yanchor: "top", x: 0, font: { size: 11 } };
  layout.xaxis = { title: { text: "layer" }, zeroline: false, gridcolor: "#eef1f5" };
  layout.yaxis = { title: { text: "mean σ² of J" }, type: "log", exponentformat: "e", gridcolor: "#eef1f5" };
  return { data, layout };
}

/** Shade k of n of a run's colour: light for the first spectrum layer, full for the last. */
export function shade(hex, k, n) {
  const t = n <= 1 ? 1 : 0.3 + (0.7 * k) / (n - 1);
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const mixed = c.map((v) => Math.round(255 - t * (255 - v)));
  return `#${mixed.map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

/** The spectra of a run's spectrum layers: one step line per layer over log10 sigma, as fractions
 * of the singular values (zeros left out, counted in the table). */
export function spectrumFigure(run, index, height = 280) {
  const shown = run.jacobian.layers.filter((l) => l.spectrum !== null);
  const data = shown.map((l, k) => {
    const s = l.spectrum;
    const centres = s.counts.map((_, i) => (s.log10_edges[i] + s.log10_edges[i + 1]) / 2);
    return {
      type: "scatter",
      mode: "lines",
      line: { shape: "hvh", color: shade(runColor(index), k, shown.length), width: 1.6 },
      x: centres,
      y: s.counts.map((c) => c / s.count),
      name: rowName(l),
      hovertemplate: `${rowName(l)}: log10 σ %{x:.2f}, %{y:.1%}<extra></extra>`,
    };
  });
  const layout = baseLayout(height);
  layout.margin = { l: 52, r: 12, t: 12, b: 74 };
  layout.showlegend = true;
  layout.legend = { orientation: "h", y: -0.3, yanchor: "top", x: 0, font: { size: 11 } };
  layout.xaxis = { title: { text: "log10 σ (singular values of J)" }, zeroline: true, zerolinecolor: "#c8ced8", gridcolor: "#eef1f5" };
  layout.yaxis = { title: { text: "share of σ" }, tickformat: ".0%", rangemode: "tozero", gridcolor: "#eef1f5" };
  return { data, layout };
}

/** The table of a run's spectrum layers: text cells as the page prints them. */
export function spectrumRows(run) {
  return run.jacobian.layers
    .filter((l) => l.spectrum !== null)
    .map((l) => {
      const s = l.spectrum;
      return {
        layer: l.name ?? String(l.layer),
        mean_sq: fmt(l.mean_sq),
        predicted: fmt(l.predicted_mean_sq),
        var_sq: fmt(s.var_sq),
        min: fmt(s.min),
        max: fmt(s.max),
        spread: fmt(s.spread),
        zeros: `${s.zeros} of ${s.count}`,
      };
    });
}

/** "exact SVD, every one of 256 input directions, at 2 sample inputs" or the randomized method. */
export function methodText(jacobian) {
  const at = `at ${jacobian.samples} sample input${jacobian.samples === 1 ? "" : "s"}`;
  if (jacobian.method === "exact") return `Exact SVD of J (all ${jacobian.directions} input directions), ${at}.`;
  return `J restricted to ${jacobian.directions} random input directions (its singular values lie within J's; the mean σ² is an unbiased estimate), ${at}.`;
}

// Width scaling (GET /api/v1/coord-check): one panel per step (columns) and parametrization (rows).
const LAYER_COLORS = ["#2456a6", "#2e933c", "#c77c02", "#6b4c9a", "#00798c", "#8c564b", "#5b6472", "#d1495b"];
const PARAM_NAMES = { sp: "standard (SP)", mup: "μP" };

/** The coordinate check's figure: mean |activation| against width on log-log axes, a line per layer;
 * a row per parametrization and a column per step, or (narrow: a phone) a row per step and a column
 * per parametrization. */
export function coordFigure(check, narrow = false) {
  const steps = check.steps.length;
  const params = check.curves.length;
  const [rows, cols] = narrow ? [steps, params] : [params, steps];
  const data = [];
  const layout = baseLayout(narrow ? 190 * steps + 130 : 460);
  layout.margin = { l: 60, r: 12, t: 36, b: narrow ? 100 : 80 };
  layout.showlegend = true;
  layout.legend = { orientation: "h", y: narrow ? -0.085 : -0.16, yanchor: "top", x: 0, font: { size: 11 } };
  layout.grid = { rows, columns: cols, pattern: "independent", xgap: 0.12, ygap: narrow ? 0.22 : 0.28 };
  check.curves.forEach((curve, p) => {
    const pname = PARAM_NAMES[curve.parametrization] ?? curve.parametrization;
    check.steps.forEach((step, s) => {
      const [r, c] = narrow ? [s, p] : [p, s];
      const k = r * cols + c + 1;
      const axis = k === 1 ? "" : String(k);
      const sname = step === 0 ? "initialization" : `step ${step}`;
      check.layers.forEach((name, layer) => {
        data.push({
          type: "scatter",
          mode: "lines+markers",
          x: check.widths,
          y: curve.values[s][layer],
          xaxis: `x${axis}`,
          yaxis: `y${axis}`,
          name,
          legendgroup: name,
          showlegend: k === 1,
          line: { color: LAYER_COLORS[layer % LAYER_COLORS.length], width: 1.6 },
          marker: { size: 4 },
          hovertemplate: `${pname}, ${sname}, ${name}: width %{x}, mean |x| %{y:.3g}<extra></extra>`,
        });
      });
      const ticks = { tickvals: check.widths, ticktext: check.widths.map(String) };
      const xTitle = r === rows - 1 ? { text: "width" } : undefined;
      layout[`xaxis${axis}`] = { type: "log", ...ticks, title: xTitle, gridcolor: "#eef1f5", tickfont: { size: 10 } };
      const yTitle = c === 0 ? { text: narrow ? sname : pname } : undefined;
      layout[`yaxis${axis}`] = { type: "log", exponentformat: "e", gridcolor: "#eef1f5", tickfont: { size: 10 }, title: yTitle };
      if (r === 0) {
        const at = { xref: `x${axis} domain`, yref: `y${axis} domain`, x: 0.5, y: 1.04, xanchor: "center", yanchor: "bottom" };
        layout.annotations.push(note(narrow ? pname : sname, { ...at, font: { size: 12, color: MUTED } }));
      }
    });
  });
  return { data, layout };
}

/** Widest / narrowest after training, per parametrization: the hidden layers' range, then the output's
 * largest (under μP the output starts 1/m smaller by design: its read-out multiplier). */
export function coordSummary(check) {
  const last = check.layers.length - 1;
  return check.curves
    .map((curve) => {
      const trained = curve.ratios.slice(1);
      const hidden = trained.flatMap((row) => row.slice(0, last)).filter((v) => v !== null);
      const output = trained.map((row) => row[last]).filter((v) => v !== null);
      const name = PARAM_NAMES[curve.parametrization] ?? curve.parametrization;
      return `${name}: hidden layers ${fmt(Math.min(...hidden))} to ${fmt(Math.max(...hidden))}, output up to ${fmt(Math.max(...output))}`;
    })
    .join(" · ");
}

const FORM_KEYS = ["c0", "pairs", "seeds", "jacobian"];

/** The form's fields for a diagnostics query as typed, when the server refused it: each key the
 * link gives, as its text (what the visitor wrote stays readable, to be fixed), else its preset's,
 * else its default (`defaults`: key -> text). The page parses no link beyond these four keys. */
export function formFields(query, defaults, presets = []) {
  const given = new URLSearchParams(query);
  const preset = presets.find((p) => p.name === given.get("preset"));
  const base = new URLSearchParams(preset?.query ?? "");
  return Object.fromEntries(FORM_KEYS.map((key) => [key, given.get(key) ?? base.get(key) ?? defaults[key] ?? ""]));
}

/** The form key a refusal names (its detail's loc: ["query", "pairs"]), or null for another key. */
export function refusedKey(detail) {
  const key = Array.isArray(detail) ? detail[0]?.loc?.[1] : null;
  return FORM_KEYS.includes(key) ? key : null;
}

/** The catalog's diagnostics keys as the form's default texts: c0 as "0.1,0.5,0.9". */
export function formDefaults(keys) {
  return Object.fromEntries(keys.map((k) => [k.name, Array.isArray(k.default) ? k.default.join(",") : String(k.default)]));
}

/** A diagnostics query without the form's four keys: the share link (or preset) it measures. */
export function shareOf(query) {
  const drop = (part) => FORM_KEYS.includes(decodeURIComponent(part.split("=")[0]));
  return query.split("&").filter((part) => part && !drop(part)).join("&");
}
