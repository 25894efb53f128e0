// The histogram grid as one plot per run column (issue 14). Plotly redraws a whole plot whenever
// any of its data changes (every axis, tick label and annotation of all 15 subplots of
// saito-compare's grid); a slider moves one run, so only that run's column needs drawing. The
// columns keep the grid's subplot numbers, domains and size, and the page lays them on top of each
// other: the same pixels as the one figure. Pure: no DOM.

const AXIS = /^([xy])axis(\d*)$/;

/** Subplot number of an axis reference: "x4" and "x4 domain" -> 4, "x" -> 1; null for "paper". */
export function subplotOf(ref) {
  const m = /^[xy](\d*)(?: domain)?$/.exec(ref ?? "");
  return m ? Number(m[1] || 1) : null;
}

/** Which column (0-based) paper-placed annotation `a` belongs to: the one whose first subplot's x
 * domain holds it (a run's title, a missing row's note). */
function columnAt(layout, runs, x) {
  for (let c = 0; c < runs; c++) {
    const domain = layout[c === 0 ? "xaxis" : `xaxis${c + 1}`]?.domain;
    if (domain && x >= domain[0] - 1e-9 && x <= domain[1] + 1e-9) return c;
  }
  return 0;
}

/** Split grid figure `figure` ({ data, layout } of gridFigure, `runs` columns) into one figure per
 * column: its traces, its axes, its annotations, and the layout's shared settings. Every column
 * but the first has a transparent paper, so the columns laid on top of each other show the grid. */
export function gridColumns({ data, layout }, runs) {
  const column = (k) => (k - 1) % runs;
  const shared = {};
  const axes = [];
  for (const [key, value] of Object.entries(layout)) {
    const m = AXIS.exec(key);
    if (m) axes.push([key, value, column(Number(m[2] || 1))]);
    else shared[key] = value;
  }
  const columns = [...Array(runs).keys()].map((c) => ({
    data: [],
    layout: { ...shared, ...(c > 0 ? { paper_bgcolor: "rgba(0,0,0,0)" } : {}), annotations: [] },
  }));
  for (const [key, value, c] of axes) columns[c].layout[key] = value;
  for (const trace of data) columns[column(subplotOf(trace.xaxis) ?? 1)].data.push(trace);
  for (const a of layout.annotations ?? []) {
    const k = subplotOf(a.xref);
    columns[k === null ? columnAt(layout, runs, a.x) : column(k)].layout.annotations.push(a);
  }
  return columns;
}

/** The grid again from its columns (as drawn, plotly's filled-in values included): traces in the
 * grid's order (row by row, each row's runs left to right), every axis, every annotation. */
export function mergeColumns(columns) {
  if (columns.length === 1) return { data: columns[0].data, layout: columns[0].layout };
  const layout = {};
  for (const [key, value] of Object.entries(columns[0].layout)) if (!AXIS.test(key)) layout[key] = value;
  layout.annotations = columns.flatMap((c) => c.layout.annotations ?? []); // in its place: a key kept
  // the axes in the grid's order: subplot by subplot, its x axis before its y axis
  const axes = columns.flatMap((c) => Object.entries(c.layout).filter(([key]) => AXIS.test(key)));
  const order = ([key]) => 2 * Number(AXIS.exec(key)[2] || 1) + (key[0] === "y");
  for (const [key, value] of axes.sort((a, b) => order(a) - order(b))) layout[key] = value;
  const k = (t) => subplotOf(t.xaxis) ?? 1;
  const data = columns.flatMap((c) => c.data).map((t, i) => [t, i]);
  data.sort(([a, i], [b, j]) => k(a) - k(b) || i - j); // stable: a subplot's bars before its curve
  return { data: data.map(([t]) => t), layout };
}

/** How to draw `next` (each column's figure as JSON) over what is shown (`shown`: the columns'
 * JSON last drawn, `whole`: whether they were drawn as one plot). One plot when every column
 * changed (a seed, a shared setting, a common range that moved): plotly's fixed cost per plot made
 * three columns cost 1.15-1.25x one plot of the grid. Else a plot per column, and only the changed
 * ones drawn (all, when coming back from one plot). Returns { whole, draw: the parts to react }. */
export function planParts(shown, whole, next) {
  const changed = next.map((json, c) => shown?.[c] !== json || shown.length !== next.length);
  if (next.length > 1 && changed.every(Boolean)) return { whole: true, draw: [0] };
  if (whole) return { whole: false, draw: next.map((_, c) => c) };
  return { whole: false, draw: changed.flatMap((yes, c) => (yes ? [c] : [])) };
}
