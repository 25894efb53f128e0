// What every abbreviation and mark on the figures means, in a first course's words, and what to
// look for in each view. One place: the figures' hover texts and the pages' notes read it.

/** One line per term of a statistics line or mark. */
export const GLOSSARY = {
  "σ": "σ: the standard deviation of this layer's values (every sample, every unit)",
  mean: "mean: the average of this layer's values",
  sat: "sat: the share of activations within 3% of the activation's bounds (0 or 1 for sigmoid, ±1 for tanh), where its slope is nearly 0 and little gradient passes",
  dead: "dead: units whose output is 0 for every sample; for ReLU that means no gradient passes through, so the unit never learns. A maxout unit is never dead (one of its pieces passes the gradient on every sample), but a piece that wins on no sample gets none",
  distinct: "distinct: how many units compute different functions of the input; 1 means every unit is a copy of the others",
  "dW:W": "dW:W: std(dL/dW) / std(W), the weight gradient beside the weights. The backward signal's size is arbitrary (N(0, 1) per sample, summed over the samples, so it grows with their number): compare it between layers and runs of one experiment, not with 1",
  "▲": "▲ n: this pale bar is cut off so the others stay visible; it holds n values, most of them exactly 0 (a ReLU's zeros)",
  "▸": "x% > b ▸: values beyond the histogram's fixed range, which no bar shows",
  "not finite": "not finite: values that overflowed to infinity or became NaN",
};

/** The glossary lines for the terms that occur in `text` (a statistics line, say), in order. */
export function explainTerms(text) {
  const found = [];
  for (const [term, line] of Object.entries(GLOSSARY)) {
    const at = term === "▸" ? text.search(/[<>] /) : text.indexOf(term);
    if (at >= 0) found.push([at, line]);
  }
  return found.sort((a, b) => a[0] - b[0]).map(([, line]) => line);
}

const SIGNAL = {
  normal: "the output sends back dL/da ~ N(0, 1), a random signal that isolates what the network does to a gradient",
  mse: "the output sends back a − y, the error of a mean squared loss against targets y ~ N(0, 1)",
};

/** "What am I looking at?" for the main figure in `view` showing `kind` (post, pre, grad). */
export function viewNote(view, kind, loss = "normal") {
  const values = {
    post: "the activations a = f(z), what each layer passes on",
    pre: "z = a·W + b, what goes into each activation (for maxout, every piece's z: k values per unit and sample, the largest of which is its activation); the dashed line is the mean-field prediction N(0, q) of the counts, drawn where the theory's assumptions hold",
    grad: `the gradient dL/dz, how much the loss changes when a unit's z changes (for maxout, per piece: the winning piece's carries the unit's gradient, the others' are exactly 0). Backward from the last layer, ${SIGNAL[loss] ?? SIGNAL.normal}. Vanishing looks like σ shrinking from the last layer back to layer 1; exploding, σ growing`,
  }[kind];
  const layout = {
    grid: "One column per run, one row per layer (layer 1 on top). A bar counts the values (every sample, every unit) that fall in its range; the line above each plot gives its statistics (hover it for what each means).",
    overlay: "All runs in one plot per layer, as outlines in their run's colour, so their shapes compare directly.",
    distribution: "One plot per run: layer across, value up, every layer at once (as TensorBoard draws distributions). The line is the median; the bands hold the middle 38%, 68% and 87% of the values, and the faintest band runs from the smallest to the largest.",
    ridgeline: "Each run's layers stacked downwards, layer 1 on top: how the distribution changes with depth. Each ridge is scaled to its own peak unless One scale is ticked, so read its size from the σ at its right end.",
  }[view];
  const lookFor = {
    post: "Look for values piling up at the bounds (saturation), collapsing towards 0 layer by layer (the signal dies), or keeping the same spread in every layer (a healthy initialization).",
    pre: "Look for z spreading far beyond ±2 (a sigmoid or tanh saturates there) or shrinking towards 0, and for where the bars leave the prediction.",
    grad: "Compare σ in the first and the last layer: the ratio is how much the gradient shrinks or grows on its way back.",
  }[kind];
  if (view === "distribution") {
    return `${layout} Values: ${values}. Look for bands that narrow to a line (the signal dies) or widen layer by layer (it explodes).`;
  }
  return `${layout} Values: ${values}. ${lookFor}`;
}

export const SIGNAL_NOTE =
  "Each run's std per layer on a log scale: filled dots are the activations, open dots z, triangles the gradient dL/dz; lines are the mean-field prediction. A straight falling line means the signal shrinks by the same factor in every layer: over 20 layers a factor of 2 per layer is a million.";

export const PHASE_NOTE =
  "Mean field predicts from two numbers whether a deep network of this activation keeps its signal: σw, the weights' spread (std × √fan_in), and σb, the biases'. χ is the factor by which a small change grows (χ > 1, chaotic: gradients explode) or shrinks (χ < 1, ordered: gradients vanish) per layer once the variance settles at its fixed point q*; on the critical line χ = 1 a signal survives many layers. Coloured by ξc instead, the map shows how many layers two different inputs stay distinguishable: their correlation approaches its fixed point over about ξc layers, which is longest at χ = 1.";
