// Agent runs with the API's filters (agent, status, pipeline, created between) and cursor paging.

import * as api from "../api.js";
import { add, h } from "../dom.js";
import { between, dateTime, label, shortId } from "../format.js";
import { link } from "../router.js";
import { badge, datalist, filters, heading, pagedTable, runLink } from "../ui.js";
import { agentNames, RUN_STATUSES } from "../vocabulary.js";

const FILTERS = ["agent", "status", "pipeline_id", "created_from", "created_to"];

export async function render(page, { query, signal }) {
  add(page,
    heading("Runs"),
    filters("/runs", query, [
      { name: "agent", label: "Agent", list: "agents", placeholder: "any" },
      { name: "status", label: "Status", options: [["", "any"], ...RUN_STATUSES.map((s) => [s, label(s)])] },
      { name: "pipeline_id", label: "Pipeline", placeholder: "id" },
      { name: "created_from", label: "Created from", type: "datetime-local" },
      { name: "created_to", label: "Created to", type: "datetime-local" },
    ]),
    datalist("agents", await agentNames(signal)));
  const wanted = Object.fromEntries(FILTERS.map((name) => [name, query.get(name)]));
  for (const name of ["created_from", "created_to"]) {
    if (wanted[name]) wanted[name] = new Date(wanted[name]).toISOString();  // the reader's local time
  }
  add(page, await pagedTable(RUN_COLUMNS, (cursor) => api.get("/runs", { ...wanted, cursor, limit: 50 }, { signal }),
    { empty: "No runs match." }));
}

export function attempts(run) {
  return `${run.attempt - run.attempt_base} of ${run.max_attempts}${run.attempt_base ? ` (${run.attempt} in all)` : ""}`;
}

const RUN_COLUMNS = [
  { title: "Run", cell: (run) => runLink(run.id) },
  { title: "Agent", cell: (run) => run.agent },
  { title: "Status", cell: (run) => badge(run.status) },
  { title: "Attempts", cell: attempts },
  { title: "Queued", cell: (run) => dateTime(run.queued_at) },
  { title: "Took", cell: (run) => between(run.started_at, run.finished_at) },
  { title: "Pipeline", cell: (run) => (run.pipeline_id ? h("a", { href: link(`/pipelines/${run.pipeline_id}`), class: "mono" }, shortId(run.pipeline_id)) : "") },
];
