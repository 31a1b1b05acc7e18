// Pages by path under /console, in the browser's history: links within the console are followed here
// without a reload, and the back button works. The server answers every /console path with the same page.

const BASE = "/console";
let onChange = null;

export function link(path, query) {
  const search = new URLSearchParams(
    Object.entries(query ?? {}).filter(([, value]) => value !== null && value !== undefined && value !== "")).toString();
  return `${BASE}${path}${search ? `?${search}` : ""}`;
}

export function navigate(path, { replace = false, query } = {}) {
  history[replace ? "replaceState" : "pushState"](null, "", link(path, query));
  onChange?.(here());
}

/** Calls `handler({path, query})` now and on every navigation, until stop(). */
export function follow(handler) {
  onChange = handler;
  handler(here());
}

export function stop() {
  onChange = null;
}

/** The route among `routes` ([pattern, page], patterns like "/runs/:id") that matches `path`, with its parameters. */
export function match(routes, path) {
  const parts = path.split("/").filter(Boolean);
  for (const [pattern, page] of routes) {
    const names = pattern.split("/").filter(Boolean);
    if (names.length !== parts.length) continue;
    const params = {};
    const matches = names.every((name, i) => {
      if (!name.startsWith(":")) return name === parts[i];
      params[name.slice(1)] = decodeURIComponent(parts[i]);
      return true;
    });
    if (matches) return { page, params };
  }
  return null;
}

function here() {
  return { path: location.pathname.slice(BASE.length) || "/", query: new URLSearchParams(location.search) };
}

window.addEventListener("popstate", () => onChange?.(here()));
document.addEventListener("click", (event) => {
  const anchor = event.target.closest("a[href]");
  if (!anchor || !onChange || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || anchor.target) return;
  if (anchor.origin !== location.origin || !(anchor.pathname === BASE || anchor.pathname.startsWith(`${BASE}/`))) return;
  if (anchor.pathname.startsWith(`${BASE}/static/`)) return;
  event.preventDefault();
  history.pushState(null, "", anchor.pathname + anchor.search);
  onChange(here());
});
