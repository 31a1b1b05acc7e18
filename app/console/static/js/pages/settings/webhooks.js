// Webhooks (/api/v1/webhooks): the endpoints the tenant's events are pushed to, the events each takes, and
// what became of every delivery (each attempt's status code, latency and response), which can be sent
// again. The signing secret comes in the answer to the creation only: it is shown then, once.

import * as api from "../../api.js";
import { fill, h } from "../../dom.js";
import { dateTime, duration, relative } from "../../format.js";
import { disabledBySystem, refreshNotices } from "../../notices.js";
import { link, navigate } from "../../router.js";
import { actionButton, actionForm, badge, field, fields, notice, pagedTable, table } from "../../ui.js";
import { WEBHOOK_EVENTS } from "../../vocabulary.js";

export async function render(body, { query, signal }) {
  const id = query.get("endpoint");
  if (id) return showEndpoint(body, await api.get(`/webhooks/${encodeURIComponent(id)}`, undefined, { signal }), signal);
  return showList(body, signal);
}

async function showList(body, signal, created) {
  const messages = h("div", {});
  const url = h("input", { name: "url", class: "wide", required: true, placeholder: "https://…" });
  const events = eventBoxes([]);
  const create = actionForm("Add the endpoint", async () => {
    await showList(body, signal, await api.post("/webhooks", { url: url.value.trim(), events: checked(events) }, { signal }));
  }, messages,
  field("URL", url, "https in production. A host that resolves to a private, loopback or link-local address is refused."),
  eventsField(events));
  const endpoints = await pagedTable([
    { title: "URL", cell: (e) => h("a", { href: link("/settings/webhooks", { endpoint: e.id }), class: "mono" }, e.url) },
    { title: "Events", cell: (e) => e.events.join(", ") },
    { title: "State", cell: state },
    { title: "Added", cell: (e) => dateTime(e.created_at) },
  ], (cursor) => api.get("/webhooks", { cursor, limit: 50 }, { signal }), {
    empty: "No endpoints: the tenant's events go nowhere.",
    rowClass: (e) => (disabledBySystem(e) ? "attention" : null),
  });
  fill(body,
    created ? secretBox(created) : null,
    h("p", { class: "muted" }, "Each endpoint receives the events it takes as signed POSTs (Standard Webhooks), retried for about a day; one that accepts nothing for a day is disabled. Receivers verify each request with the endpoint's secret."),
    endpoints,
    h("h3", {}, "A new endpoint"),
    create,
    messages);
}

/** The secret of the endpoint just created: this answer is the only one that carries it. */
function secretBox(endpoint) {
  const secret = h("code", { class: "secret" }, endpoint.secret);
  const copied = h("span", { class: "muted" });
  const copy = h("button", { type: "button", class: "secondary" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(endpoint.secret);
      fill(copied, "Copied.");
    } catch {
      getSelection().selectAllChildren(secret);  // no clipboard (a page not served over https): selected instead
      fill(copied, "Selected: copy it with Ctrl+C or ⌘C.");
    }
  });
  return h("div", { class: "secret-box", role: "status" },
    h("p", {}, "Added ", h("code", {}, endpoint.url), ". Its signing secret:"),
    h("p", {}, secret, " ", copy, " ", copied),
    h("p", {}, h("strong", {}, "Copy it now: it will not be shown again."),
      " Your receiver verifies every request with it. Lost, it cannot be read back: add a new endpoint and delete this one."));
}

async function showEndpoint(body, endpoint, signal, saved) {
  const path = `/webhooks/${encodeURIComponent(endpoint.id)}`;
  const messages = h("div", {});
  const deliveryMessages = h("div", {});
  const reload = async (note) => {
    await showEndpoint(body, await api.get(path, undefined, { signal }), signal, note);
    refreshNotices();
  };
  const url = h("input", { name: "url", class: "wide", required: true, value: endpoint.url });
  const events = eventBoxes(endpoint.events);
  const change = actionForm("Save changes", async () => {
    const changes = { events: checked(events) };
    if (url.value.trim() !== endpoint.url) changes.url = url.value.trim();
    await api.patch(path, changes, { signal });
    await reload("Saved.");
  }, messages, field("URL", url), eventsField(events));
  const toggle = endpoint.enabled
    ? actionButton("Disable", async () => {
      await api.patch(path, { enabled: false }, { signal });
      await reload("Disabled: it takes no deliveries until it is enabled again.");
    }, messages, { kind: "secondary", confirm: "Disable this endpoint? Its pending deliveries are dropped; each can be resent once it is enabled again." })
    : actionButton("Enable", async () => {
      await api.patch(path, { enabled: true }, { signal });
      await reload("Enabled: new events are delivered again. Resend below what it missed.");
    }, messages);
  const remove = actionButton("Delete", async () => {
    await api.del(path, { signal });
    navigate("/settings/webhooks");
  }, messages, { kind: "danger", confirm: `Delete the endpoint ${endpoint.url}? Its deliveries go with it; this cannot be undone.` });
  const resend = (delivery) => actionButton("Resend", async () => {
    const sent = await api.post(`${path}/deliveries/${encodeURIComponent(delivery.id)}/resend`, undefined, { signal });
    await reload(`Sent again: ${sent.event_type} ${sent.message_id} is pending, with the same webhook-id.`);
  }, deliveryMessages, { kind: "secondary" });
  const deliveries = await pagedTable([
    { title: "Event", cell: (d) => h("span", { title: d.message_id }, d.event_type) },
    { title: "Status", cell: deliveryStatus },
    { title: "Attempts", cell: attempts },
    { title: "Last code", class: "num", cell: (d) => d.last_status_code ?? "" },
    { title: "Latency", class: "num", cell: (d) => duration(d.last_latency_ms) },
    { title: "Response", class: "response", cell: (d) => response(d.last_response_excerpt, d.last_error) },
    { title: "Time", cell: (d) => [dateTime(d.created_at), d.delivered_at ? h("div", { class: "muted" }, `delivered ${dateTime(d.delivered_at)}`) : null] },
    ...(endpoint.enabled ? [{ title: "", cell: resend }] : []),
  ], (cursor) => api.get(`${path}/deliveries`, { cursor, limit: 50 }, { signal }), { empty: "Nothing was sent to this endpoint yet." });
  fill(body,
    saved ? notice(saved) : null,
    h("p", {}, h("a", { href: link("/settings/webhooks") }, "All endpoints")),
    h("h2", {}, endpoint.url),
    fields([
      ["State", state(endpoint)],
      ["Events", endpoint.events.join(", ")],
      ["Added", dateTime(endpoint.created_at)],
      ["Changed", dateTime(endpoint.updated_at)],
    ]),
    h("div", { class: "buttons" }, toggle, remove),
    h("h3", {}, "Change it"),
    change,
    messages,
    h("h3", {}, "Deliveries"),
    endpoint.enabled ? null : h("p", { class: "muted" }, "Enable the endpoint to resend its deliveries."),
    deliveryMessages,
    deliveries);
}

function state(endpoint) {
  if (!endpoint.enabled) {
    return [badge("disabled"), h("div", { class: "muted" },
      `since ${dateTime(endpoint.disabled_at)}: ${endpoint.disabled_reason ?? "no reason recorded"}`)];
  }
  return [badge("enabled"), endpoint.failing_since ? h("div", { class: "failing" }, `failing since ${dateTime(endpoint.failing_since)}`) : null];
}

function deliveryStatus(delivery) {
  const next = delivery.status === "pending" && delivery.next_attempt_at;
  return [badge(delivery.status), next ? h("div", { class: "muted" }, `next attempt ${relative(delivery.next_attempt_at)}`) : null];
}

function attempts(delivery) {
  if (!delivery.attempt_log.length) return String(delivery.attempts);
  return h("details", {}, h("summary", {}, String(delivery.attempts)), table([
    { title: "#", cell: (a) => String(a.attempt) },
    { title: "Code", cell: (a) => a.status_code ?? "" },
    { title: "Latency", cell: (a) => duration(a.latency_ms) },
    { title: "Response", cell: (a) => response(a.response_excerpt, a.error) },
    { title: "When", cell: (a) => dateTime(a.created_at) },
  ], delivery.attempt_log));
}

function response(excerpt, error) {
  if (excerpt) return h("code", { class: "detail" }, excerpt);
  return error ? h("span", { class: "detail" }, error) : "";
}

/** A checkbox for every event the API accepts, and for any other the endpoint has (kept when saved). */
function eventBoxes(chosen) {
  return [...new Set([...WEBHOOK_EVENTS, ...chosen])].map((name) =>
    h("input", { type: "checkbox", name: "events", value: name, checked: chosen.includes(name) }));
}

function eventsField(boxes) {
  return h("fieldset", {}, h("legend", {}, "Events it takes"), boxes.map((box) => h("label", { class: "check" }, box, box.value)));
}

function checked(boxes) {
  return boxes.filter((box) => box.checked).map((box) => box.value);
}
