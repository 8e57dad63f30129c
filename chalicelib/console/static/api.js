// The console's only way to the API: the public HTTP API, with the key kept in this tab's sessionStorage.

const STORAGE = "omniman.key";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

// The API root is where the page is served from: "/console" at the root locally, "/api/console" under a stage.
const root = new URL(".", location.href);

export const credentials = {
  get key() { return sessionStorage.getItem(STORAGE); },
  set(key) { sessionStorage.setItem(STORAGE, key); },
  clear() { sessionStorage.removeItem(STORAGE); },
};

export async function request(method, path, { query, body, idempotencyKey, signal } = {}) {
  const url = new URL(path.replace(/^\//, ""), root);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Authorization: `Bearer ${credentials.key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  const resp = await fetch(url, {
    method, headers, signal, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!resp.ok) {
    const error = data && data.error ? data.error : { code: `http_${resp.status}`, message: `HTTP ${resp.status}` };
    if (resp.status === 401) window.dispatchEvent(new CustomEvent("omniman:unauthenticated", { detail: error }));
    throw new ApiError(resp.status, error.code, error.message, error.details);
  }
  return { status: resp.status, data, replayed: resp.headers.get("Idempotent-Replayed") === "true" };
}

export async function get(path, query, signal) {
  return (await request("GET", path, { query, signal })).data;
}

// Pages of a list until `enough(items)` says so, there are no more, or `maxPages` were read.
export async function collect(path, query, { maxPages = 5, enough = () => false } = {}) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page++) {
    const answer = await get(path, { ...query, cursor });
    items.push(...answer.items);
    cursor = answer.next_cursor;
    if (!cursor || enough(items)) break;
  }
  return { items, next_cursor: cursor };
}

// A state-changing POST: `key` is the intent's Idempotency-Key, so a repeat of the same intent acts once.
export async function act(path, body, key) {
  return request("POST", path, { body: body ?? {}, idempotencyKey: key });
}

// What the key may do, as the API decides it (chalicelib/domain/access.py); here only to hide what would be refused.
export function access(scopes) {
  const has = (scope) => scopes.includes("admin") || scopes.includes(scope);
  const operator = has("operator");
  return {
    scopes,
    operator,
    canWrite: (channel) => has(`channel:${channel}`),
    canCommand: (channel) => operator || has(`channel:${channel}`),
  };
}

let defaults = null;

// The status flow of a channel that names none, as the API defines it (served beside the page, from the domain).
export async function defaultFlow() {
  defaults ??= fetch(new URL("console/defaults.json", root)).then((resp) => resp.json());
  return (await defaults).order_flow;
}
