// Seed ensembles (seeds=N): an answer's values are the mean over N weight draws, and `band`
// beside them holds the lowest and highest draw's. These turn a band into what plotly draws
// (asymmetric error bars) and what the statistics lines print.

import { fmt } from "./format.js";

/** The band of `key` in a tensor or layer of an ensemble's answer: {low, high}, or null (a
 * single draw's answer, or a statistic some draw has no value for). */
export function bandOf(item, key) {
  const low = item?.band?.low?.[key];
  const high = item?.band?.high?.[key];
  return low == null || high == null ? null : { low, high };
}

/** The draws' spread of a histogram's bins as plotly error bars on the mean bars (null without a
 * band). On a log count axis a band reaching 0 stops at `floor` (log has no 0). */
export function countErrorBars(t, { logY = false, floor = 0.7, color = "#1d2330" } = {}) {
  const low = t?.band?.low?.counts;
  const high = t?.band?.high?.counts;
  if (!low || !high) return null;
  const bottom = (v) => (logY ? Math.max(v, floor) : v);
  return {
    type: "data",
    symmetric: false,
    array: t.counts.map((m, i) => Math.max(0, high[i] - m)),
    arrayminus: t.counts.map((m, i) => Math.max(0, m - bottom(low[i]))),
    color,
    thickness: 1,
    width: 2,
  };
}

/** Error bars from per-point bands on a log axis: y (the placed values), lows and highs; a low
 * that is 0 or missing stops the bar at `floor`, and a point without a band gets none. */
export function logErrorBars(ys, lows, highs, floor, color) {
  const plus = ys.map((y, i) => (y != null && highs[i] != null && Number.isFinite(highs[i]) ? Math.max(0, highs[i] - y) : 0));
  const minus = ys.map((y, i) => {
    if (y == null || lows[i] == null) return 0;
    return Math.max(0, y - Math.max(lows[i], floor));
  });
  return { type: "data", symmetric: false, array: plus, arrayminus: minus, color, thickness: 1.2, width: 3 };
}

/** " (0.42–0.45)" after a statistic: its lowest and highest draw's, or "" without a band. */
export function bandText(item, key, format = fmt) {
  const band = bandOf(item, key);
  return band ? ` (${format(band.low)}–${format(band.high)})` : "";
}

/** The caption of an ensemble's answer, or "" for a single draw. */
export function ensembleCaption(result) {
  const seeds = result?.ensemble?.seeds;
  if (!seeds) return "";
  return `mean of ${seeds} weight draws (the link's inputs); bars and brackets: lowest to highest draw`;
}

/** A count as a statistics line prints it: a whole number as it is, an ensemble's mean (3.25
 * dead units over 4 draws) to fmt's 3 digits. */
export function wholeOrMean(x) {
  return Number.isInteger(x) ? String(x) : fmt(x);
}
