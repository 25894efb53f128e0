// Which layers a figure draws: all of a shallow network, a window or every k-th layer of a deep
// one, always with each run's last layer.

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

// A layer network's rows (norms, residual blocks) carry their layer type and where they sit; a
// plain stack's row is its hidden layer.
const TYPE_NAMES = { batch_norm: "BatchNorm", layer_norm: "LayerNorm", rms_norm: "RMSNorm" };

/** Row j's label: "layer 3" for a plain stack's; a layer network's says where the row sits and
 * what layer it is ("block 3" over "LayerNorm (pre)", or on one line with `oneLine`; `short`, for
 * a phone's narrow columns, is one line with "B3" for "block 3" and "L1" for "layer 1"). */
export function rowLabel(layer, j, { oneLine = false, short = false } = {}) {
  if (!layer?.layer_type || !layer.name) return `layer ${j + 1}`;
  const named = layer.name.replace(/batch_norm|layer_norm|rms_norm/g, (t) => TYPE_NAMES[t]);
  const [where, what] = named.split(" · ");
  if (what === undefined) return where; // the stem
  if (short) return `${where.replace(/^block /, "B").replace(/^layer /, "L")} · ${what}`;
  return oneLine ? `${where} · ${what}` : `${where}<br>${what}`;
}

/** Row j's label in each run that has it (null where a run is shallower). */
export function rowLabels(result, j, options = {}) {
  return result.runs.map((run) => (run.layers[j] ? rowLabel(run.layers[j], j, options) : null));
}

/** Whether every run that has row j gives it the same label (one label then names the row). */
export function sameRow(labels) {
  return new Set(labels.filter((l) => l !== null)).size <= 1;
}
