// Presentation mode, kept in the link's # part (present=1, and order=a,b,c for the presets the
// arrow keys step through): controls hidden, large fonts, the figure fitted to the screen.

/** The presets the arrow keys step through: the link's `order` (known names only, as given), or
 * every preset in the catalog's order. */
export function presentationOrder(orderParam, names) {
  const chosen = (orderParam ?? "").split(",").filter((name) => names.includes(name));
  return chosen.length ? chosen : names;
}

/** The preset `delta` steps from `current` in `order`, wrapping around; from a custom experiment
 * (not in the order) forward is the first preset and back the last. */
export function stepPreset(order, current, delta) {
  const at = order.indexOf(current);
  if (at < 0) return delta > 0 ? order[0] : order.at(-1);
  return order[(at + delta + order.length) % order.length];
}

/** The figure's height in presentation: what is left of the window below its top edge. */
export function fittedHeight(windowHeight, figureTop, least = 320) {
  return Math.max(least, Math.floor(windowHeight - figureTop - 12));
}
