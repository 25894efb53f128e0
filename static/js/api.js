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

/** A query part decoded where it decodes ("%E0" stays as written: the server refuses it). */
function decoded(part) {
  try {
    return decodeURIComponent(part.replaceAll("+", " "));
  } catch {
    return part;
  }
}

const keyOf = (part) => decoded(part.split("=")[0]);

/** `query` without the parts a refusal's `detail` names, so that the rest of the link can still be
 * shown: `rest`, and the parts left out as written (`dropped`, none when the refusal names nothing
 * the link has, or when leaving it out would leave no run). A run's field (runs.1.init) is the shared setting of that name where the link
 * has one, else that run of the link. */
export function withoutRefused(query, detail) {
  const parts = query.split("&").filter(Boolean);
  const drop = new Set();
  for (const { loc = [] } of Array.isArray(detail) ? detail : []) {
    if (loc[0] !== "query" || typeof loc[1] !== "string") continue;
    const key = loc[1] === "runs" ? loc[3] : loc[1];
    const named = parts.filter((part) => keyOf(part) === key);
    if (named.length) for (const part of named) drop.add(part);
    else if (loc[1] === "runs") {
      const run = parts.filter((part) => keyOf(part) === "run")[loc[2]];
      if (run !== undefined) drop.add(run);
    }
  }
  const rest = parts.filter((part) => !drop.has(part));
  const runs = (list) => list.some((part) => keyOf(part) === "run");
  if (runs(parts) && !runs(rest)) return { rest: query, dropped: [] }; // no experiment without runs
  return { rest: rest.join("&"), dropped: [...drop].map(decoded) };
}

/** What a page says of a link shown without the parts it was refused for (`refusals`, each a
 * refusal's message and the parts it left out), or shown as the default experiment (`instead`). */
export function refusedLinkMessage(refusals, instead = false) {
  const why = refusals.map((r) => r.message).join("; ");
  const dropped = refusals.flatMap((r) => r.dropped);
  const listed = dropped.length > 1 ? `${dropped.slice(0, -1).join(", ")} and ${dropped.at(-1)}` : dropped[0];
  const shown = instead
    ? "the default experiment instead"
    : `the link without ${listed} (a setting left out takes its default)`;
  return `Cannot show this link as it is: ${why}. The figures and controls show ${shown}.`;
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
