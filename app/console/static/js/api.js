// The public JSON API, as any client uses it: bearer tokens, refresh on 401, problem+json errors, and
// server-sent events read through fetch().
//
// Tokens: the access token lives only in this module's memory; the refresh token in sessionStorage (this
// origin and this tab only, gone when the tab closes), so a reload keeps the session. Neither is ever in a
// cookie or a URL. Each refresh token works once (the API rotates them), so one refresh at a time: requests
// that meet a 401 together wait for the same one.

const BASE = "/api/v1";
const REFRESH_KEY = "agentline.refresh_token";

let accessToken = null;
let refreshing = null;
const signedOutListeners = new Set();

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem.title || `HTTP ${status}`;
    this.detail = problem.detail || "";
    this.errors = problem.errors || [];
    this.requestId = problem.request_id || null;
  }
}

/** The session could not be renewed: the person signs in again. */
export class SignedOut extends Error {}

export function hasSession() {
  return accessToken !== null || sessionStorage.getItem(REFRESH_KEY) !== null;
}

export function onSignedOut(listener) {
  signedOutListeners.add(listener);
}

export async function signIn({ email, password, tenant }) {
  const response = await fetch(`${BASE}/auth/token`, json("POST", { email, password, ...(tenant ? { tenant } : {}) }));
  keep(await parse(response));
}

/** Forgets both tokens and has the API revoke the login they came from (every refresh token renewed from
 * it), even when the request fails: the person is signed out here either way. The access token stays valid
 * until it expires (minutes), but nothing here holds it any more. */
export async function signOut() {
  const token = sessionStorage.getItem(REFRESH_KEY);
  forgetTokens();
  if (token !== null) await fetch(`${BASE}/auth/logout`, json("POST", { refresh_token: token })).catch(() => {});
}

function forgetTokens() {
  accessToken = null;
  sessionStorage.removeItem(REFRESH_KEY);
}

export const get = (path, query, options) => request("GET", path, { query, ...options });
export const post = (path, body, options) => request("POST", path, { body, ...options });
export const put = (path, body, options) => request("PUT", path, { body, ...options });
export const patch = (path, body, options) => request("PATCH", path, { body, ...options });
export const del = (path, options) => request("DELETE", path, options);

/** One API call; resolves with the JSON body (null for 204), rejects with an ApiError. */
async function request(method, path, { body, query, signal } = {}) {
  const response = await authorized(url(path, query), { ...json(method, body), signal });
  return parse(response);
}

/**
 * Follows a server-sent event stream until the server ends it (resolves) or `signal` aborts it (rejects).
 * EventSource cannot send the Authorization header the API needs, so the stream is read with fetch().
 * `onEvent({id, event, data})` gets each event, `data` parsed as JSON. A dropped connection is resumed from
 * the last event id (Last-Event-ID), after a pause that grows to 15 s.
 */
export async function followEvents(path, { signal, onEvent, lastEventId = null }) {
  let pause = 1000;
  for (;;) {
    try {
      const headers = { Accept: "text/event-stream", ...(lastEventId ? { "Last-Event-ID": String(lastEventId) } : {}) };
      const response = await authorized(url(path), { headers, signal });
      if (!response.ok) await parse(response);
      for await (const event of readEvents(response.body)) {
        lastEventId = event.id ?? lastEventId;
        pause = 1000;
        onEvent(event);
      }
      return;
    } catch (error) {
      if (signal.aborted || error instanceof ApiError || error instanceof SignedOut) throw error;
      await sleep(pause, signal);
      pause = Math.min(pause * 2, 15_000);
    }
  }
}

async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = { id: null, event: "message", data: [] };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === "") {
          if (event.data.length) yield { id: event.id, event: event.event, data: JSON.parse(event.data.join("\n")) };
          event = { id: event.id, event: "message", data: [] };
        } else if (!line.startsWith(":")) {  // a comment line keeps the connection open
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "data") event.data.push(text);
          else if (field === "id") event.id = text;
          else if (field === "event") event.event = text;
        }
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

async function authorized(target, init) {
  if (accessToken === null) await refresh();
  const used = accessToken;
  let response = await fetch(target, withToken(init, used));
  if (response.status === 401) {
    if (accessToken === used) await refresh();  // unless another request renewed it meanwhile
    response = await fetch(target, withToken(init, accessToken));
    if (response.status === 401) endSession("Your access has ended; sign in again.");
  }
  return response;
}

function refresh() {
  refreshing ??= renew().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function renew() {
  const token = sessionStorage.getItem(REFRESH_KEY);
  if (token === null) endSession("Sign in to continue.");
  // A network error leaves the session as it is: the refresh token was not spent.
  const response = await fetch(`${BASE}/auth/refresh`, json("POST", { refresh_token: token }));
  if (!response.ok) endSession("Your session has ended; sign in again.");
  keep(await response.json());
}

function endSession(message) {
  forgetTokens();  // the API refused the tokens: nothing to revoke
  const ended = new SignedOut(message);
  for (const listener of signedOutListeners) listener(ended);
  throw ended;
}

function keep(tokens) {
  accessToken = tokens.access_token;
  sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token);
}

function withToken(init, token) {
  return { ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` } };
}

function json(method, body) {
  if (body === undefined) return { method, headers: {} };
  return { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}

function url(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== null && value !== undefined && value !== "") params.set(name, value);
  }
  const search = params.toString();
  return `${BASE}${path}${search ? `?${search}` : ""}`;
}

async function parse(response) {
  if (response.status === 204) return null;
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const problem = { ...body };
    const retryAfter = response.headers.get("Retry-After");
    if (retryAfter && response.status === 429) problem.detail = `${problem.detail ?? ""} Retry in ${retryAfter} s.`.trim();
    throw new ApiError(response.status, problem);
  }
  return body;
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
