// The console's only door to the API: same origin, the bearer token from sessionStorage,
// problem+json turned into a Problem (title, detail, field errors, request id).

const TOKEN_KEY = "tenantry.token";

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// Called with the Problem when the API answers 401 (the token was revoked, expired, or its
// user deactivated): the app signs out.
let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

export class Problem extends Error {
  constructor(status, body) {
    const b = body && typeof body === "object" ? body : {};
    // API Gateway's own answers (no route) are {"message": ...}, not problem+json.
    const title = b.title || b.message || `HTTP ${status}`;
    super(title);
    this.status = status;
    this.type = b.type || null;
    this.title = title;
    this.detail = b.detail || null;
    this.errors = Array.isArray(b.errors) ? b.errors : [];
    this.requestId = b.request_id || null;
    this.body = b;
  }

  // "name: Field required" lines, one per field error, with the location's last parts.
  fieldMessages() {
    return this.errors.map((e) => {
      const loc = (e.loc || []).filter((p) => p !== "body" && p !== "query");
      return loc.length ? `${loc.join(".")}: ${e.msg}` : String(e.msg);
    });
  }
}

// A fresh Idempotency-Key: one per intended creation, reused when it is retried.
export function newIdempotencyKey() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

function queryString(query) {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") params.append(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}

// One request. Resolves {status, data, etag, location}; rejects with a Problem for any
// status >= 400, or a Problem of status 0 when the network fails.
export async function request(method, path, opts = {}) {
  const headers = { Accept: "application/json" };
  const token = opts.token ?? getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
  if (opts.ifMatch !== undefined && opts.ifMatch !== null) headers["If-Match"] = `"${opts.ifMatch}"`;
  let resp;
  try {
    resp = await fetch(path + queryString(opts.query), {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (err) {
    throw new Problem(0, { title: "The API cannot be reached", detail: String(err.message || err) });
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text.slice(0, 200) };
    }
  }
  if (resp.status >= 400) {
    const problem = new Problem(resp.status, data);
    if (resp.status === 401 && !opts.token) onUnauthorized(problem);
    throw problem;
  }
  const etag = resp.headers.get("ETag");
  return {
    status: resp.status,
    data,
    etag: etag ? etag.replace(/"/g, "") : null,
    location: resp.headers.get("Location"),
  };
}

export const get = (path, query) => request("GET", path, { query }).then((r) => r.data);
export const post = (path, body, opts = {}) => request("POST", path, { ...opts, body }).then((r) => r.data);
export const patch = (path, body, opts = {}) => request("PATCH", path, { ...opts, body }).then((r) => r.data);
export const put = (path, body, opts = {}) => request("PUT", path, { ...opts, body }).then((r) => r.data);
export const del = (path, opts = {}) => request("DELETE", path, opts).then((r) => r.data);

// Every page of a list, up to `max` items (the console's small lists: environments, members).
export async function all(path, query = {}, max = 500) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(path, { ...query, limit: 100, cursor });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

export const enc = encodeURIComponent;
