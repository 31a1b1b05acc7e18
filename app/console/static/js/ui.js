// The pieces every page is made of: status badges, error boxes, tables with cursor paging, filter forms,
// action buttons. All of it built with h(): data is text.

import * as api from "./api.js";
import { add, fill, h } from "./dom.js";
import { label, shortId } from "./format.js";
import { link, navigate } from "./router.js";

export function badge(status) {
  return status ? h("span", { class: `badge status-${status}` }, label(status)) : "";
}

export function panel(title, ...children) {
  return h("section", { class: "panel" }, title ? h("h2", {}, title) : null, ...children);
}

export function heading(title, ...extra) {
  document.title = `${title} · Agentline console`;
  return h("header", { class: "page-head" }, h("h1", {}, title), ...extra);
}

/** An API error (problem+json: title, detail, the fields at fault, the request id) or any other failure. */
export function problem(error) {
  if (!(error instanceof api.ApiError)) {
    return h("div", { class: "problem", role: "alert" }, h("strong", {}, "Something went wrong"), h("p", {}, String(error.message ?? error)));
  }
  return h("div", { class: "problem", role: "alert" },
    h("strong", {}, `${error.title} (${error.status})`),
    error.detail ? h("p", {}, error.detail) : null,
    error.errors.length ? h("ul", {}, error.errors.map((e) => h("li", {}, h("code", {}, e.field), `: ${e.message}`))) : null,
    error.requestId ? h("p", { class: "muted" }, `Request ${error.requestId}`) : null);
}

/** JSON as indented text. */
export function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

/** A definition list of [label, value] pairs; pairs without a value are left out. */
export function fields(pairs) {
  return h("dl", { class: "fields" }, pairs
    .filter(([, value]) => value !== null && value !== undefined && value !== "")
    .map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
}

/** A table of `rows`, one column per {title, cell(row), class?}. */
export function table(columns, rows, { empty = "Nothing here.", rowClass } = {}) {
  const body = h("tbody", {});
  const element = h("table", { class: "data" },
    h("thead", {}, h("tr", {}, columns.map((column) => h("th", { class: column.class }, column.title)))), body);
  appendRows(body, columns, rows, rowClass);
  if (!rows.length) add(body, h("tr", { class: "empty" }, h("td", { colspan: columns.length }, empty)));
  return element;
}

function appendRows(body, columns, rows, rowClass) {
  for (const row of rows) {
    add(body, h("tr", { class: rowClass?.(row) }, columns.map((column) => h("td", { class: column.class }, column.cell(row)))));
  }
}

/**
 * A table fed by a cursor-paginated endpoint ({items, next_cursor}): the first page now, the next ones by
 * "Load more". `load(cursor)` fetches a page.
 */
export async function pagedTable(columns, load, options = {}) {
  const first = await load(null);
  const element = table(columns, first.items, options);
  const body = element.querySelector("tbody");
  const more = h("button", { type: "button", class: "secondary" }, "Load more");
  const status = h("div", {});
  let cursor = first.next_cursor;
  more.addEventListener("click", async () => {
    more.disabled = true;
    fill(status);
    try {
      const page = await load(cursor);
      appendRows(body, columns, page.items, options.rowClass);
      cursor = page.next_cursor;
    } catch (error) {
      add(status, problem(error));
    } finally {
      more.disabled = false;
      more.hidden = !cursor;
    }
  });
  more.hidden = !cursor;
  return h("div", { class: "paged" }, element, h("div", { class: "pager" }, more), status);
}

/**
 * Filters as a form whose values live in the URL: applying them navigates to `path` with the new query, so
 * a filtered list can be bookmarked and the back button undoes a filter. `controls` are
 * {name, label, options?: [[value, text]], default?, type?, list?, placeholder?}.
 */
export function filters(path, query, controls) {
  const inputs = controls.map((control) => {
    const value = query.get(control.name) ?? control.default ?? "";
    const input = control.options
      ? h("select", { name: control.name, value }, control.options.map(([option, text]) => h("option", { value: option }, text)))
      : h("input", { name: control.name, type: control.type ?? "text", value, list: control.list, placeholder: control.placeholder });
    return h("label", {}, h("span", {}, control.label), input);
  });
  const form = h("form", { class: "filters" }, inputs, h("button", { type: "submit" }, "Apply"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate(path, { query: Object.fromEntries(new FormData(form)) });
  });
  return form;
}

export function datalist(id, values) {
  return h("datalist", { id }, values.map((value) => h("option", { value })));
}

/**
 * A button that does something to the tenant's data: `data-action` marks it (a viewer's pages have none).
 * While `act()` runs the button is disabled; its error, if any, is shown in `messages`. With `confirm`,
 * the person is asked that question first (for what cannot be undone).
 */
export function actionButton(text, act, messages, { kind = "primary", confirm } = {}) {
  const button = h("button", { type: "button", class: kind, "data-action": text }, text);
  button.addEventListener("click", () => {
    if (!confirm || window.confirm(confirm)) run(button, act, messages);
  });
  return button;
}

/** A form that does something: submitting it runs `act(form)` as an action button would. */
export function actionForm(submitText, act, messages, ...children) {
  const button = h("button", { type: "submit", class: "primary", "data-action": submitText }, submitText);
  const form = h("form", { class: "action-form" }, ...children, h("div", { class: "buttons" }, button));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(button, () => act(form), messages);
  });
  return form;
}

/** Runs `act` with `button` disabled, showing its error in `messages`. */
async function run(button, act, messages) {
  button.disabled = true;
  fill(messages);
  try {
    await act();
  } catch (error) {
    if (!(error instanceof api.SignedOut)) add(messages, problem(error));
  } finally {
    button.disabled = false;
  }
}

export function notice(text) {
  return h("p", { class: "notice", role: "status" }, text);
}

export function runLink(id, text) {
  return id ? h("a", { href: link(`/runs/${id}`), class: "mono" }, text ?? shortId(id)) : "";
}

/** A labelled form control, with an optional hint under it. */
export function field(text, control, hint) {
  return h("label", { class: "field" }, h("span", {}, text), control, hint ? h("small", {}, hint) : null);
}

/**
 * A reading to do again after each event: `read()` runs one at a time, and an event that arrives while it
 * runs asks for one more, so what is shown is never older than the newest event. `failed(error)` shows what
 * went wrong; nothing runs once `signal` is aborted.
 */
export function rereader(read, failed, signal) {
  let reading = null;
  let again = false;
  const reread = () => {
    if (reading) {
      again = true;
      return;
    }
    reading = read().catch((error) => {
      if (!signal.aborted) failed(error);
    }).finally(() => {
      reading = null;
      if (again && !signal.aborted) {
        again = false;
        reread();
      }
    });
  };
  return reread;
}
