// The ridgeline view: the layers of each run stacked downwards, depth at a glance.

import { esc, fmt } from "./format.js";
import { hiddenValues, statsLine } from "./histograms.js";
import { rowLabel, rowLabels, sameRow } from "./layers.js";
import { COLORS, MUTED, NOTE_BG, VALUE_AXIS, baseLayout, depthOf, domains, note, runTitle } from "./plot-base.js";

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
export function ridgelineFigure(
  result,
  { kind = "post", logY = false, scale = "ridge", width = 1000, height = null, large = false } = {},
) {
  const runs = result.runs;
  const depth = depthOf(result);
  const layout = baseLayout(height ?? Math.min(900, Math.max(320, depth * 34 + 120)));
  if (large) layout.font = { ...layout.font, size: 15 };
  const narrow = width / runs.length < 260; // phones: run labels on two lines
  if (narrow) layout.margin = { ...layout.margin, r: 8, t: 84 };
  // A layer network's row labels ("B12 · x + s F(x)") are longer than "layer 12": room for them
  const typed = runs.some((run) => run.layers.some((l) => l.layer_type));
  if (typed) layout.margin = { ...layout.margin, l: Math.max(layout.margin.l, narrow ? 84 : 104) };
  const xs = domains(runs.length, 40, width - layout.margin.l - layout.margin.r);
  const common = Math.max(1, ...runs.flatMap((run) => run.layers.flatMap((l) => l[kind]?.counts ?? [])));
  const size = depth > 24 ? 8 : 9; // ridges 16 px apart at depth 50
  const data = [];
  const same = [...Array(depth).keys()].every((j) => sameRow(rowLabels(result, j)));
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
        name: rowLabel(layer, j, { oneLine: true }),
        hoverinfo: "text",
        text: `${esc(run.label)}<br>${esc(rowLabel(layer, j, { oneLine: true }))}: ${statsLine(layer, kind)}`,
        hoveron: "fills",
        xaxis: `x${k}`,
        yaxis: `y${k}`,
      });
      // The ridge's scale, which its height does not show, at its right end
      const text = [`σ ${fmt(t.std)}`, ...hiddenValues(t).map((h) => h.text)].join(" · ");
      const at = { xref: `x${k} domain`, yref: `y${k}`, x: 1, y: -j, xanchor: "right", yanchor: "bottom" };
      layout.annotations.push(note(text, { ...at, bgcolor: NOTE_BG, borderpad: 0, font: { size, color } }));
    });
    ridgeAxes(layout, k, xs[c], depth, run, c === 0 || !same);
    layout.annotations.push(runTitle(run, c, narrow, { xref: `x${k} domain`, x: 0.5, yshift: 12 }));
  });
  const how = (scale === "common" ? "one scale for all ridges" : "each ridge to its own peak") + (logY ? ", log counts" : "");
  const corner = { xref: "paper", yref: "paper", x: 1, y: 1, yshift: narrow ? 54 : 34 };
  layout.annotations.push(note(how, { ...corner, xanchor: "right", yanchor: "bottom", font: { size: 10, color: MUTED } }));
  return { data, layout };
}

/** Column k's axes of the ridgeline: values across, layers downwards, labelled by `run`'s rows
 * where `labelled` (column 1, or every column when the runs' rows differ in type). */
function ridgeAxes(layout, k, domain, depth, run, labelled) {
  const suffix = k === 1 ? "" : k;
  const step = Math.max(1, Math.ceil(depth / 12));
  const ticks = [...Array(depth).keys()].filter((j) => j % step === 0);
  layout[`xaxis${suffix}`] = { ...VALUE_AXIS, domain, anchor: `y${k}` };
  layout[`yaxis${suffix}`] = {
    domain: [0, 1],
    anchor: `x${k}`,
    range: [-depth + 0.5, 2],
    tickvals: ticks.map((j) => -j),
    ticktext: ticks.map((j) => rowLabel(run.layers[j], j, { short: true })),
    showticklabels: labelled,
    showgrid: false,
    zeroline: false,
  };
}
