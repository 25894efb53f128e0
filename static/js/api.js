// The REST API as the pages use it. The server's codec is the only parser of share links:
// pages send the query string as it is and receive the canonical experiment back.

export class ApiError extends Error {
  constructor(status, detail) {
    super(describe(detail) || `the server answered ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

function describe(detail) {
  if (typeof detail === "string") return detail;
  if (!Array.isArray(detail)) return "";
  return detail
    .map((d) => (d.msg?.includes(":") ? d.msg : `${(d.loc ?? []).slice(1).join(".")}: ${d.msg}`))
    .join("; ");
}

let inFlight = null;

/** Fetch JSON. A simulate call without its own `signal` aborts the previous one, so answers never
 * arrive out of order; with one, the caller decides (the dashboard's LatestOnly). */
async function call(url, init = {}, abortable = false, signal = null) {
  let controller = null;
  if (abortable && !signal) {
    inFlight?.abort();
    controller = inFlight = new AbortController();
  }
  const response = await fetch(url, { ...init, signal: signal ?? controller?.signal });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body?.detail);
  return body;
}

export const getCatalog = () => call("/api/v1/catalog");

const latest = new Map();
/** GET `url` as JSON, aborting the previous request made under the same `key` (a page's own
 * endpoint), so that an older answer never lands after a newer one. */
export function getLatest(key, url) {
  latest.get(key)?.abort();
  const controller = new AbortController();
  latest.set(key, controller);
  return call(url, {}, false, controller.signal);
}
export const simulateQuery = (query, signal = null) => call(`/api/v1/simulate?${query}`, {}, true, signal);
export const simulateBody = (body, signal = null) =>
  call(
    "/api/v1/simulate",
    { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
    true,
    signal,
  );
export const exportUrl = (kind, share) => `/api/v1/export/${kind}?${share}`;
