// Slider scales: pure functions, no DOM. A slider's positions index a sorted list of round values,
// so every position means a value a person would type (0.01, 0.012, 1.4), never 0.011748.
// Fields that span decades (a weight's std, a gain, widths) get values evenly spaced in log,
// the others evenly spaced steps.

/** Mantissas of one decade, about 10% apart (1.4 for He's sqrt(2), 2.5 and 5 for round numbers). */
const MANTISSAS = [1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8, 2, 2.2, 2.5, 2.8, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9];

/** The sliders of the dashboard, by field: what a person scrubs, in the range they scrub it.
 * A typed value outside the range stays as typed; the slider then rests at its end. */
export const SLIDERS = {
  std: { scale: "log", min: 0.001, max: 10 },
  gain: { scale: "log", min: 0.1, max: 10 },
  bias_std: { scale: "linear", min: 0, max: 3, step: 0.01 },
  depth: { scale: "log", min: 1, max: 100, integer: true, every: 20 },
  width: { scale: "log", min: 1, max: 2000, integer: true },
  // alpha's range is its activation's (the catalog's bounds): sliderSpec() fills it in
  alpha: { scale: "linear", divisions: 100 },
};

/** Rounded to `digits` significant digits, without binary noise (0.1 * 3 -> 0.3). */
const round = (x, digits = 6) => Number(x.toPrecision(digits));

/** Round values from `min` to `max` (both > 0), about 21 per decade; `integer` keeps whole
 * numbers only (each once), and every whole number up to `every`. */
export function logValues(min, max, { integer = false, every = 0 } = {}) {
  const out = new Set();
  for (let n = 1; n <= every; n++) if (n >= min && n <= max) out.add(n);
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of MANTISSAS) {
      let v = round(m * 10 ** e);
      if (integer) v = Math.round(v);
      if (v >= min && v <= max) out.add(v);
    }
  }
  return [...out].sort((a, b) => a - b);
}

/** `min`, `min + step`, ... up to `max`, each rounded to the step's own precision. */
export function linearValues(min, max, step) {
  const n = Math.round((max - min) / step);
  return Array.from({ length: n + 1 }, (_, i) => round(min + i * step, 12));
}

/** The slider of `name`, or null when it has none; `bounds` ({min, max}) are the catalog's for
 * the selected component (alpha's range depends on the activation). */
export function sliderSpec(name, bounds = {}) {
  const spec = SLIDERS[name];
  if (!spec) return null;
  const key = spec.divisions ? `${name}:${bounds.min}:${bounds.max}` : name;
  if (!specs.has(key)) specs.set(key, buildSpec(name, spec, bounds));
  return specs.get(key);
}

const specs = new Map(); // each scale built once: fills and visibility ask for them often

function buildSpec(name, spec, bounds) {
  if (spec.divisions) {
    const { min, max } = bounds;
    if (!Number.isFinite(min) || !Number.isFinite(max) || max <= min) return null;
    return { name, log: false, values: linearValues(min, max, round((max - min) / spec.divisions)) };
  }
  const values = spec.scale === "log"
    ? logValues(spec.min, spec.max, spec)
    : linearValues(spec.min, spec.max, spec.step);
  return { name, log: spec.scale === "log", values };
}

/** The position of the value in `values` exactly equal to `value`, or -1. */
export function exactPosition(values, value) {
  return values.findIndex((v) => v === value || Math.abs(v - value) <= 1e-12 * Math.abs(v));
}

/** Where the slider rests for `value`: its own position, else the nearest one (in log distance on
 * a log scale), the ends for values beyond them; null for text that is no number (or a widths
 * list's first width: "100-50" rests at 100). */
export function positionOf(values, log, text) {
  const trimmed = String(text).trim();
  const value = Number(/^\d+(-\d+)+$/.test(trimmed) ? trimmed.split("-")[0] : trimmed);
  if (trimmed === "" || !Number.isFinite(value)) return null;
  const exact = exactPosition(values, value);
  if (exact >= 0) return exact;
  if (value <= values[0]) return 0;
  if (value >= values.at(-1)) return values.length - 1;
  const distance = (v) => (log ? Math.abs(Math.log(v / value)) : Math.abs(v - value));
  let best = 0;
  for (let i = 1; i < values.length; i++) if (distance(values[i]) < distance(values[best])) best = i;
  return best;
}

/** Whether the slider can show `text` as it is: a number that is one of its values. A value it
 * cannot show stays as typed in its text field; the slider rests nearby. */
export function representable(values, text) {
  const value = Number(text);
  return String(text).trim() !== "" && Number.isFinite(value) && exactPosition(values, value) >= 0;
}

/** The text a slider's position writes into its field (and reads to a screen reader). */
export const valueText = (values, position) => String(values[Math.max(0, Math.min(values.length - 1, position))]);
