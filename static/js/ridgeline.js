// The ridgeline view: the layers of each run stacked downwards, depth at a glance.

import { esc, fmt } from "./format.js";
import { hiddenValues, statsLine } from "./histograms.js";
import { rowCount, rowLabel, rowLabels, rowLayer, rowTable, sameRow } from "./layers.js";
import { COLORS, MUTED, NOTE_BG, VALUE_AXIS, baseLayout, domains, note, runName } from "./plot-base.js";

/** One ridge: the histogram as a filled outline from `base` up to `base + 1.6` at its tallest
 * (`top` counts), heights in counts or, with logY, in log10(1 + count). */
function ridge(edges, counts, base, top, logY) {
  const height = (n) => 1.6 * (logY ? Math.log10(1 + n) / Math.log10(1 + top) : n / top);
  // From the first bin holding values to the last: a range shared with another run's row (a
  // BatchNorm row's, reaching below 0) drew a ReLU's ridge as a long flat line left of its values
  const first = Math.max(0, counts.findIndex((n) => n > 0));
  const last = Math.max(first, counts.findLastIndex((n) => n > 0));
  const x = [edges[first]];
  const y = [base];
  for (let b = first; b <= last; b++) {
    x.push(edges[b], edges[b + 1]);
    y.push(base + height(counts[b]), base + height(counts[b]));
  }
  x.push(edges[last + 1]);
  y.push(base);
  return { x, y };
}

/** `text` broken at spaces into lines of at most `chars` characters (a word longer stays whole). */
export function wrapWords(text, chars) {
  const lines = [];
  for (const word of text.split(" ")) {
    const last = lines.at(-1);
    if (last !== undefined && last.length + 1 + word.length <= chars) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines;
}

/** The rows (0-based, of rowTable) whose ridges get a σ label or a tick: every row while the rows
 * are `minPx` apart or more; else the rows that carry a unit's output (a residual block's sum, or
 * an activation), every k-th of them counted from the last so that they are `minPx` apart. */
export function labelledRows(table, rowPx, minPx) {
  const all = table.map((_, i) => i);
  if (rowPx >= minPx) return all;
  const sums = all.filter((i) => table[i].key.endsWith("|residual"));
  const acts = all.filter((i) => /\|act$/.test(table[i].key));
  const outputs = sums.length ? sums : acts.length ? acts : all;
  const every = Math.ceil(minPx / (rowPx * (table.length / outputs.length)));
  return outputs.filter((_, m) => (outputs.length - 1 - m) % every === 0);
}

/** Layers stacked downwards per run (ridgeline / offset view): depth at a glance. Each ridge is
 * labelled with its σ at its right end: with scale "ridge" every ridge fills its own height, so a
 * collapsed run (σ 1e-41, every value in the first bin) has the same shape as a healthy ReLU's
 * zero spike; scale "common" draws all ridges against the largest count of the figure. Rows pair
 * the runs' comparable layers (rowTable): a BatchNorm run's norm rows leave a gap in a plain run's
 * column. Where the ridges are too close for a label each, the rows carrying a block's or a layer's
 * output are labelled (a hover gives every ridge's statistics). */
export function ridgelineFigure(
  result,
  { kind = "post", logY = false, scale = "ridge", width = 1000, height = null, large = false } = {},
) {
  const runs = result.runs;
  const table = rowTable(result);
  const depth = rowCount(result);
  const layout = baseLayout(height ?? Math.min(900, Math.max(320, depth * 34 + 120)));
  if (large) layout.font = { ...layout.font, size: 15 };
  const narrow = width / runs.length < 260; // phones: run labels on several lines
  // A layer network's row labels ("B12 · x + s F(x)") are longer than "layer 12": room for them
  const typed = runs.some((run) => run.layers.some((l) => l.layer_type));
  const tickSize = narrow && typed ? 10 : 12;
  const plotPx = () => layout.height - layout.margin.t - layout.margin.b;
  const rowPx = () => plotPx() / (depth + 1.5); // the y range spans depth + 1.5 rows
  const size = depth > 24 ? 8 : 9; // ridges 16 px apart at depth 50
  // A plain stack's ticks: every k-th layer from the first, a dozen at most; a layer network's: the
  // rows of its blocks' (or layers') outputs, about 30 px apart (its other rows between them)
  const step = Math.max(1, Math.ceil(depth / 12));
  const tickRows = typed ? labelledRows(table, rowPx(), 28) : table.map((_, i) => i).filter((i) => i % step === 0);
  const same = table.every((_, i) => sameRow(rowLabels(result, i)));
  const tickText = (i, c) => {
    const labels = rowLabels(result, i, { short: true });
    return (same ? labels.find((l) => l !== null) : labels[c]) ?? "";
  };
  if (typed) {
    const longest = Math.max(...tickRows.flatMap((i) => runs.map((_, c) => tickText(i, c).length)));
    layout.margin = { ...layout.margin, l: Math.max(layout.margin.l, Math.min(128, Math.ceil(12 + longest * tickSize * 0.58))) };
  }
  if (narrow) layout.margin = { ...layout.margin, r: 8 };
  const xs = domains(runs.length, narrow ? 24 : 40, width - layout.margin.l - layout.margin.r);
  // Each run's name over its column, its words wrapped to the column (a phone's three columns are
  // 70 px wide: "res init depth" ran into the next column's title); the scale's note above them.
  const titleSize = narrow ? 12 : 14;
  const columnPx = (xs[0][1] - xs[0][0]) * (width - layout.margin.l - layout.margin.r);
  const chars = Math.max(4, Math.floor(columnPx / (titleSize * 0.62)));
  const titles = runs.map((run) => {
    const parts = narrow ? runName(run).replace(", ", "\n").split(/\n| · /) : [runName(run)];
    return parts.flatMap((part) => wrapWords(part, chars));
  });
  const titleLines = Math.max(...titles.map((t) => t.length));
  const titlePx = titleLines * (titleSize + 3);
  // (and a phone's note on the σ labels a second line: "σ of the x + s F(x) rows (strong)")
  layout.margin = { ...layout.margin, t: Math.max(layout.margin.t, titlePx + (narrow && typed ? 54 : 40)) };
  const labelled = new Set(labelledRows(table, rowPx(), size + 4));
  // Too close for a label each: the labelled rows (blocks' or layers' outputs) drawn strong, the
  // rows between them faint, so the rows a σ belongs to stand out
  const faint = (i) => labelled.size < depth && !labelled.has(i);
  const common = Math.max(1, ...runs.flatMap((run) => run.layers.flatMap((l) => l[kind]?.counts ?? [])));
  const data = [];
  runs.forEach((run, c) => {
    const k = c + 1;
    const color = COLORS[c % COLORS.length];
    table.forEach((row, i) => {
      const j = row.cells[c];
      const layer = rowLayer(result, i, c);
      const t = layer?.[kind];
      if (!t) return;
      const top = scale === "common" ? common : Math.max(...t.counts) || 1;
      const name = rowLabels(result, i, { oneLine: true })[c] ?? rowLabel(layer, j, { oneLine: true });
      data.push({
        type: "scatter",
        mode: "lines",
        ...ridge(t.edges, t.counts, -i, top, logY),
        fill: "toself",
        fillcolor: color + (faint(i) ? "22" : "55"),
        line: { color: faint(i) ? color + "66" : color, width: 1 },
        name,
        hoverinfo: "text",
        text: `${esc(run.label)}<br>${esc(name)}: ${statsLine(layer, kind)}`,
        hoveron: "fills",
        xaxis: `x${k}`,
        yaxis: `y${k}`,
      });
      if (!labelled.has(i)) return;
      // The ridge's scale, which its height does not show, at its right end
      const text = [`σ ${fmt(t.std)}`, ...hiddenValues(t).map((h) => h.text)].join(" · ");
      const at = { xref: `x${k} domain`, yref: `y${k}`, x: 1, y: -i, xanchor: "right", yanchor: "bottom" };
      layout.annotations.push(note(text, { ...at, bgcolor: NOTE_BG, borderpad: 0, font: { size, color } }));
    });
    ridgeAxes(layout, k, xs[c], depth, tickRows, (i) => tickText(i, c), c === 0 || !same, tickSize);
    const x = (xs[c][0] + xs[c][1]) / 2; // paper: a column without a ridge keeps its title in place
    const font = { size: titleSize, color, weight: 700 };
    layout.annotations.push(note(esc(titles[c].join("\n")).replaceAll("\n", "<br>"), { xref: "paper", yref: "paper", x, y: 1, yshift: 12, xanchor: "center", yanchor: "bottom", font }));
  });
  const how = (scale === "common" ? "one scale for all ridges" : "each ridge to its own peak") + (logY ? ", log counts" : "");
  // which rows carry the σ labels, when not all do: "σ of the x + s F(x) rows (strong); hover any ridge"
  const first = [...labelled][0];
  const kindOf = first === undefined ? "" : (rowLabels(result, first, { oneLine: true }).find((l) => l !== null) ?? "").split(" · ").at(-1);
  const thinned = labelled.size < depth ? `${narrow ? "<br>" : "; "}σ of the ${kindOf} rows (strong); hover any ridge for its own` : "";
  const corner = { xref: "paper", yref: "paper", x: 1, y: 1, yshift: titlePx + 18 };
  layout.annotations.push(note(how + thinned, { ...corner, xanchor: "right", yanchor: "bottom", font: { size: 10, color: MUTED } }));
  return { data, layout };
}

/** Column k's axes of the ridgeline: values across, rows downwards, ticks at `ticks` named by
 * `text` where `labelled` (column 1, or every column when the runs' rows differ in type). */
function ridgeAxes(layout, k, domain, depth, ticks, text, labelled, tickSize) {
  const suffix = k === 1 ? "" : k;
  layout[`xaxis${suffix}`] = { ...VALUE_AXIS, domain, anchor: `y${k}` };
  layout[`yaxis${suffix}`] = {
    domain: [0, 1],
    anchor: `x${k}`,
    range: [-depth + 0.5, 2],
    tickvals: ticks.map((i) => -i),
    ticktext: ticks.map(text),
    tickfont: { size: tickSize },
    showticklabels: labelled,
    showgrid: false,
    zeroline: false,
  };
}
