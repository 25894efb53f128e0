// Numbers and text as the pages print them: every measured value goes through fmt, count or pct,
// rounded, never truncated, so a page shows the API's number to the precision it prints.

/** Escapes text for Plotly's HTML-like labels: user labels must never become markup. */
export function esc(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** "1.50" -> "1.5", "2.00" -> "2"; an integer part keeps its zeros ("120" stays "120"). */
const trimZeros = (s) => (s.includes(".") ? s.replace(/\.?0+$/, "") : s);

/** A measured value to 3 significant digits: 100.33 -> "100", 0.8219 -> "0.822", 1234.5 -> "1235",
 * 3.97e-41 -> "3.97e-41". Rounded first, so 999.7 reads "1000", never "1.00e+3". */
export function fmt(x) {
  if (x === null || x === undefined) return "–";
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "∞" : "−∞";
  if (x === 0) return "0";
  const r = Number(x.toPrecision(3));
  const a = Math.abs(r);
  if (a >= 1e4 || a < 1e-3) {
    const [mantissa, exponent] = x.toExponential(2).split("e");
    return `${trimZeros(mantissa)}e${exponent}`;
  }
  return a >= 1e3 ? String(Math.round(x)) : String(r); // String(r): no trailing zeros, no exponent here
}

/** A count with an SI suffix from 1000 up, 3 significant digits: 5000 -> "5k", 51234 -> "51.2k",
 * 1.2e6 -> "1.2M" (plotly's "SI" axis ticks read the same). */
export function count(n) {
  if (n === null || n === undefined) return "–";
  if (Math.abs(n) < 1000) return String(n);
  const units = [[1e3, "k"], [1e6, "M"], [1e9, "G"], [1e12, "T"]];
  let u = units.findLastIndex(([scale]) => Math.abs(n) >= scale);
  let v = Number((n / units[u][0]).toPrecision(3));
  if (Math.abs(v) >= 1000 && u < units.length - 1) v = Number((n / units[++u][0]).toPrecision(3)); // 999,999 -> 1M
  return `${v}${units[u][1]}`;
}

/** A fraction as a percentage that never rounds to a lie: "0%" and "100%" only when exact. */
export function pct(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (x === 0 || x === 1) return `${100 * x}%`;
  if (x > 0 && x < 0.001) return "<0.1%";
  if (x >= 0.9995 && x < 1) return ">99.9%";
  return `${(100 * x).toFixed(x < 0.1 || x > 0.9 ? 1 : 0)}%`;
}
