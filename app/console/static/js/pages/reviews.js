// The reviews inbox: open items first (the API's order), each with its deadline, overdue ones marked;
// filters by type, agent and status.

import * as api from "../api.js";
import { add, h } from "../dom.js";
import { dateTime, isPast, label, relative } from "../format.js";
import { link } from "../router.js";
import { badge, datalist, filters, heading, pagedTable } from "../ui.js";
import { agentNames, reviewKinds } from "../vocabulary.js";

const STATUSES = ["pending", "escalated", "approved", "edited", "rejected", "expired", "cancelled"];
const OPEN = new Set(["pending", "escalated"]);

export async function render(page, { query, signal }) {
  const kinds = await reviewKinds(signal);
  add(page,
    heading("Reviews"),
    filters("/reviews", query, [
      { name: "entity_type", label: "Type", options: [["", "any"], ...kinds.map(({ entity_type: t }) => [t, label(t)])] },
      { name: "agent", label: "Agent", list: "agents", placeholder: "any" },
      { name: "status", label: "Status", options: [["", "any"], ...STATUSES.map((s) => [s, label(s)])] },
    ]),
    datalist("agents", await agentNames(signal, { reviewed: true })));
  const wanted = Object.fromEntries(["entity_type", "agent", "status"].map((name) => [name, query.get(name)]));
  add(page, await pagedTable(COLUMNS, (cursor) => api.get("/reviews", { ...wanted, cursor, limit: 50 }, { signal }), {
    empty: "No reviews match.",
    rowClass: (review) => (isOverdue(review) ? "overdue" : null),
  }));
}

function isOverdue(review) {
  return OPEN.has(review.status) && isPast(review.deadline_at);
}

export function deadline(review) {
  if (!OPEN.has(review.status)) return h("span", { class: "muted" }, dateTime(review.deadline_at));
  return h("span", { class: isOverdue(review) ? "deadline overdue" : "deadline", title: dateTime(review.deadline_at) },
    isOverdue(review) ? `overdue, due ${relative(review.deadline_at)}` : `due ${relative(review.deadline_at)}`);
}

const COLUMNS = [
  { title: "Item", cell: (r) => h("a", { href: link(`/reviews/${r.entity_type}/${r.entity_id}`) }, r.summary || label(r.entity_type)) },
  { title: "Type", cell: (r) => label(r.entity_type) },
  { title: "Agent", cell: (r) => r.agent },
  { title: "Status", cell: (r) => badge(r.status) },
  { title: "Deadline", cell: deadline },
  { title: "Created", cell: (r) => dateTime(r.created_at) },
];
