// Which layers a figure draws: all of a shallow network, a window or every k-th layer of a deep
// one, always with each run's last layer.

/** The row (0-based, of the runs side by side: rowTable) of each run's last layer, ascending: a
 * shallow run's output must be among the rows. */
export function lastLayers(result) {
  const table = rowTable(result);
  const last = result.runs.map((_, c) => table.findLastIndex((row) => row.cells[c] !== null));
  return [...new Set(last.filter((i) => i >= 0))].sort((a, b) => a - b);
}

/** Which layers (0-based) to draw: all up to `max`, else a window or every k-th layer, always
 * with the last layer and every layer in `lastLayers` (the shallower runs' last layers). With
 * `result`, a choice "rows-<role>" draws the rows of one role in every block or layer ("rows-dense
 * projection": each block's projection), every k-th from the first (and the last) when they are
 * many more than `max`; a deep layer network's "auto" is its blocks' sums (or its layers'
 * activations, the rows a plain stack beside it has), and "every" every k-th row of any type. */
export function layerRows(depth, choice = "auto", max = 10, lastLayers = [], result = null) {
  const all = [...Array(depth).keys()];
  if (choice === "auto" && result && depth > max && typedRows(result)) {
    if (outputRole(result) === "residual") choice = "rows-residual";
    else return layersRows(result, max);
  }
  if (choice.startsWith("rows-") && result) {
    const table = rowTable(result);
    const of = all.filter((i) => table[i] && roleOf(table[i].key) === choice.slice(5));
    if (of.length) {
      // all of them up to half as many again as `max` (a claim about each of 12 blocks needs all
      // 12), else every k-th from the first, and the last: a claim compares layer 1 with the last
      const every = of.length <= 1.5 * max ? 1 : Math.ceil(of.length / max);
      return of.filter((_, m) => m % every === 0 || m === of.length - 1);
    }
  }
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

/** A row key's role in its block or layer: "act", "norm before", "dense projection", "residual". */
const roleOf = (key) => key.split("|")[1] ?? key;

/** Every row of every k-th layer (its norm and its activation side by side, beside a plain run's
 * layer), from the first layer to the last, within `max` rows. */
function layersRows(result, max) {
  const table = rowTable(result);
  const places = [...new Set(table.map((row) => row.key.split("|")[0]))];
  const per = Math.max(...places.map((p) => table.filter((row) => row.key.split("|")[0] === p).length));
  const fit = Math.max(2, Math.floor(max / per));
  const every = Math.ceil((places.length - 1) / (fit - 1));
  const chosen = new Set(places.filter((_, m) => m % every === 0 || m === places.length - 1));
  return table.map((_, i) => i).filter((i) => chosen.has(table[i].key.split("|")[0]));
}

/** The first row (of rowTable) carrying a layer's or block's output: row 0 of a plain stack; a
 * layer network's first activation row or block sum (not its stem, or a norm before it). */
export function firstOutputRow(result) {
  const role = outputRole(result);
  return Math.max(0, rowTable(result).findIndex((row) => roleOf(row.key) === role));
}

/** A step between numbered ticks of 1..`count` giving at most `max` of them: 1, 2, 5, 10, 20,
 * 25, 50... (a phone's four ticks of 50 layers read 20, 40, not 13, 26, 39). */
export function tickStep(count, max) {
  const least = Math.max(1, Math.ceil(count / Math.max(1, max)));
  for (let decade = 1; ; decade *= 10) {
    const step = [1, 2, 2.5, 5].map((m) => m * decade).find((s) => s >= least && Number.isInteger(s));
    if (step) return step;
  }
}

/** Where a figure drawn over a layer network's rows (the table's, 0-based) marks its layers or
 * blocks: at their output rows (a layer's activation, a block's sum), named by their number, every
 * k-th number within `max` ticks as a plain stack's axis steps (5, 10, ... of 50 layers). `word`
 * names the places: "layer" or "block". */
export function placeTicks(result, max = 10) {
  const role = outputRole(result);
  const table = rowTable(result);
  const places = table.map((row, i) => ({ i, place: Number(row.key.split("|")[0]) }));
  const rows = places.filter(({ i, place }) => roleOf(table[i].key) === role && Number.isInteger(place));
  const step = tickStep(Math.max(0, ...rows.map((r) => r.place)), max);
  const shown = rows.filter(({ place }) => place % step === 0 || step === 1);
  return { rows: shown.map((r) => r.i), text: shown.map((r) => String(r.place)), word: role === "residual" ? "block" : "layer" };
}

/** The x axis's title of a figure drawn over the runs' output rows (outputRows): a plain stack's
 * layers, a layer network's activations or blocks' sums (short enough for a phone). */
export function outputAxisTitle(result) {
  if (!typedRows(result)) return "layer";
  const residual = result.runs.map((run) => outputRows(run).some((row) => row.residual));
  return residual.every(Boolean) ? "block (its sum x + s F(x))" : residual.some(Boolean) ? "layer or block" : "layer (its activation)";
}

/** The role of the rows that carry a block's or a layer's output: a residual block's sum, else
 * the activation (a plain stack's rows). A mixed stem, norm and projection sample of a deep
 * network's rows told a student nothing; these rows are what a claim about depth is read from. */
function outputRole(result) {
  return rowTable(result).some((row) => roleOf(row.key) === "residual") ? "residual" : "act";
}

/** The layer menu of a deep figure: every k-th row, windows of `max`, and, for layer networks
 * (`result`), the rows of each role that recurs ("projection rows (every block)"), which a claim
 * about one kind of row needs side by side. Plain stacks' menu names layers, layer networks' rows. */
export function layerChoices(depth, max = 10, result = null) {
  if (depth <= max) return [];
  const typed = result !== null && typedRows(result);
  const word = typed ? "row" : "layer";
  const stride = { value: typed ? "every" : "auto", text: `one ${word} in ${Math.ceil((depth - 1) / (max - 1))}` };
  const choices = [stride];
  if (typed) {
    const table = rowTable(result);
    const roles = new Map(); // role -> its first row, in the table's order
    table.forEach((row, i) => roles.has(roleOf(row.key)) || roles.set(roleOf(row.key), i));
    const output = outputRole(result);
    if (output === "act") {
      // the default of a plain stack with norms: every k-th layer with its norm (layersRows)
      const shown = layersRows(result, max);
      const layers = new Set(shown.map((i) => table[i].key.split("|")[0])).size;
      const all = new Set(table.map((row) => row.key.split("|")[0])).size;
      choices.unshift({ value: "auto", text: `${layers} of ${all} layers, all their rows` });
    }
    for (const [role, first] of roles) {
      const count = table.filter((row) => roleOf(row.key) === role).length;
      if (count < 2) continue; // the stem, a final norm
      const name = rowLabels(result, first, { oneLine: true }).find((l) => l !== null).split(" · ").at(-1);
      const every = count <= 1.5 * max ? 1 : Math.ceil(count / max);
      const choice = { value: `rows-${role}`, text: `${name} rows${every > 1 ? ` (1 in ${every})` : ""}` };
      if (role === output && output === "residual") choices.unshift({ ...choice, value: "auto" }); // the default: the blocks' outputs
      else choices.push(choice);
    }
  }
  for (let start = 1; start <= depth; start += max) {
    choices.push({ value: `from-${start}`, text: `${word}s ${start}–${Math.min(start + max - 1, depth)}` });
  }
  return choices;
}

// A layer network's rows (norms, residual blocks) carry their layer type and where they sit; a
// plain stack's row is its hidden layer.
const TYPE_NAMES = { batch_norm: "BatchNorm", layer_norm: "LayerNorm", rms_norm: "RMSNorm" };

/** Row j's label: "layer 3" for a plain stack's; a layer network's says where the row sits and
 * what layer it is ("block 3" over "LayerNorm (pre)", or on one line with `oneLine`; `short`, for
 * a phone's narrow columns, is one line with "B3" for "block 3" and "L1" for "layer 1").
 * `activation` names a plain stack's row by its activation too ("layer 3 · tanh"), as a layer
 * network's row beside it is named. */
export function rowLabel(layer, j, { oneLine = false, short = false, activation = null } = {}) {
  let name = layer?.layer_type && layer.name ? layer.name : null;
  if (!name && activation && !layer?.output) name = `layer ${j + 1} · ${activation}`;
  if (!name) return `layer ${j + 1}`;
  const named = name.replace(/batch_norm|layer_norm|rms_norm/g, (t) => TYPE_NAMES[t]);
  const [where, what] = named.split(" · ");
  if (what === undefined) return where; // the stem
  if (short) return `${where.replace(/^block /, "B").replace(/^layer /, "L")} · ${what}`;
  return oneLine ? `${where} · ${what}` : `${where}<br>${what}`;
}

// ---- rows of runs side by side ------------------------------------------------------------------
// Runs of different architectures have different rows: a BatchNorm network has a norm row before
// each activation, a residual one a stem, projections and sums. Rows are paired by what they
// follow: the index of the layer or block and the role in it (its activation, a norm before or
// after it, the projection, the sum). A plain stack's row j is layer j + 1's activation (its z is
// what the activation receives), so it pairs with the activation row of a layer network's layer
// (or block) j + 1; a row that only some runs have is a row of its own, empty in the others.
// app/engine/network/rows.py is the same merge in the engine, which gives /simulate's answers their
// table; both must give the same rows (tests/engine/network/test_rows.py runs this one on them).

const PLACE = /^(?:layer|block) (\d+)$/;

/** Each row's key: "3|act" (layer or block 3's activation), "3|act 2" (a two-layer branch's
 * second), "3|norm before", "3|norm (pre)", "3|dense projection", "3|residual", "stem|dense stem". */
/** The rows of a run the signal chart draws: the rows carrying each layer's or block's output (a
 * residual block's sum, else the activation; every row of a plain stack), each with its place,
 * the layer's or block's number (x). Other rows (norms, projections) are in the grid. */
export function outputRows(run) {
  const keys = rowKeys(run);
  const role = keys.some((key) => roleOf(key) === "residual") ? "residual" : "act";
  return keys
    .map((key, j) => ({ j, place: Number(key.split("|")[0]), role: roleOf(key) }))
    .filter((row) => row.role === role && Number.isInteger(row.place))
    .map(({ j, place }) => ({ j, place, residual: role === "residual" }));
}

export function rowKeys(run) {
  const active = new Set(); // places whose activation came already: a norm there is "after" it
  return run.layers.map((layer, j) => {
    if (layer?.output) return "output";
    if (!layer?.layer_type || !layer.name) return `${j + 1}|act`;
    const [where, what = ""] = layer.name.split(" · ");
    const place = where.match(PLACE)?.[1] ?? where;
    const type = layer.layer_type;
    if (type === "activation") {
      active.add(place);
      const n = what.match(/ (\d+)$/)?.[1];
      return `${place}|act${n && n !== "1" ? ` ${n}` : ""}`;
    }
    if (type in TYPE_NAMES) return `${place}|norm ${what.match(/\((\w+)\)$/)?.[0] ?? (active.has(place) ? "after" : "before")}`;
    return `${place}|${type}${type === "dense" ? ` ${what || where}` : ""}`;
  });
}

/** Where a key sits among places: the stem first, layers and blocks by number, a final norm and
 * the output last. */
function placeRank(key) {
  const place = key.split("|")[0];
  if (place === "stem") return -1;
  return /^\d+$/.test(place) ? Number(place) : Infinity;
}

/** Whether the merge takes the table's row next: it keeps the longest pairing (`skipTable` and
 * `skipRun` are what is left to pair after skipping either's row), and where both keep it, the row
 * of the earlier layer or block ("L1 · norm after" before "L2 · norm before"), else the table's. */
function tableFirst(skipTable, skipRun, tableKey, runKey) {
  if (skipTable !== skipRun) return skipTable > skipRun;
  return placeRank(tableKey) <= placeRank(runKey);
}

/** Merge `keys` (run `c`'s) into `table` by their longest common subsequence: shared keys pair,
 * the others keep their order, the earlier layer's first where both have rows between two pairs. */
function merge(table, keys, c) {
  const m = table.length;
  const n = keys.length;
  const w = n + 1;
  const lcs = new Int32Array((m + 1) * w); // lcs[i * w + j]: of table[i:] and keys[j:]
  for (let i = m - 1; i >= 0; i--) {
    for (let j = n - 1; j >= 0; j--) {
      lcs[i * w + j] = table[i].key === keys[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    }
  }
  const out = [];
  let [i, j] = [0, 0];
  while (i < m || j < n) {
    if (i < m && j < n && table[i].key === keys[j] && lcs[i * w + j] === lcs[(i + 1) * w + j + 1] + 1) {
      out.push({ key: keys[j], cells: [...table[i].cells, j] });
      i++;
      j++;
    } else if (j >= n || (i < m && tableFirst(lcs[(i + 1) * w + j], lcs[i * w + j + 1], table[i].key, keys[j]))) {
      out.push({ key: table[i].key, cells: [...table[i].cells, null] });
      i++;
    } else {
      out.push({ key: keys[j], cells: [...Array(c).fill(null), j] });
      j++;
    }
  }
  return out;
}

const tables = new WeakMap();

/** The rows of the runs side by side: [{ key, cells }], cells[c] being run c's layer index in that
 * row or null. Plain stacks alone: row j is every run's layer j, as always. A layer network's
 * answer from /simulate carries its table (`rows`, the engine's: app/engine/network/rows.py,
 * whose rows also share their histograms' ranges); other results (a training's captured rows)
 * are merged here, as the engine merges them. */
export function rowTable(result) {
  if (result.rows) return result.rows;
  const cached = tables.get(result.runs);
  if (cached) return cached;
  const table = mergedTable(result.runs);
  tables.set(result.runs, table);
  return table;
}

/** The table of `runs` merged from their rows' keys (rowKeys), the answer's `rows` aside. */
export function mergedTable(runs) {
  let table = [];
  runs.forEach((run, c) => {
    const keys = rowKeys(run);
    table = c === 0 ? keys.map((key, j) => ({ key, cells: [j] })) : merge(table, keys, c);
  });
  return table;
}

/** How many rows the runs side by side have. */
export const rowCount = (result) => rowTable(result).length;

/** Run `c`'s layer in row `i` (undefined where it has none). */
export function rowLayer(result, i, c) {
  const j = rowTable(result)[i]?.cells[c];
  return j === null || j === undefined ? undefined : result.runs[c].layers[j];
}

/** Whether any run is a layer network (its rows typed): plain rows beside them say their activation. */
export const typedRows = (result) => result.runs.some((run) => run.layers.some((l) => l?.layer_type));

/** Row i's label in each run that has it (null where a run has no such row). */
export function rowLabels(result, i, options = {}) {
  const typed = typedRows(result);
  const row = rowTable(result)[i];
  return result.runs.map((run, c) => {
    const j = row?.cells[c];
    const layer = j === null || j === undefined ? undefined : run.layers[j];
    if (!layer) return null;
    const activation = typed ? (layer.activation ?? run.config?.activation ?? null) : null;
    return rowLabel(layer, j, { ...options, activation });
  });
}

/** Whether every run that has row j gives it the same label (one label then names the row). */
export function sameRow(labels) {
  return new Set(labels.filter((l) => l !== null)).size <= 1;
}

/** What a run lacks in row i where another run has a layer there and the run goes on below it
 * ("BatchNorm", "LayerNorm (pre)"): its empty cell says so. Null where it has the row, or ends
 * above it (a shallower run). */
export function missingRow(result, i, c) {
  const table = rowTable(result);
  if (table[i]?.cells[c] !== null) return null;
  if (!table.slice(i + 1).some((row) => row.cells[c] !== null)) return null;
  const label = rowLabels(result, i, { oneLine: true }).find((l) => l !== null);
  if (!label) return null;
  return label.split(" · ").at(-1);
}
