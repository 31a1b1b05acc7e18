// Pipelines: each lead's stages in order, what the current one waits for and until when.

import * as api from "../api.js";
import { add, h } from "../dom.js";
import { dateTime, label, relative } from "../format.js";
import { link } from "../router.js";
import { badge, filters, heading, mapLimited, pagedTable } from "../ui.js";

const STATUSES = ["running", "succeeded", "stopped", "rejected", "failed", "cancelled"];
const PAGE_SIZE = 20;

export async function render(page, { query, signal }) {
  add(page,
    heading("Pipelines"),
    filters("/pipelines", query, [
      { name: "status", label: "Status", options: [["", "any"], ...STATUSES.map((s) => [s, label(s)])] },
    ]));
  // The list has neither the stages nor the lead: each pipeline and its lead are read one by one.
  const load = async (cursor) => {
    const listed = await api.get("/pipelines", { status: query.get("status"), cursor, limit: PAGE_SIZE }, { signal });
    const items = await mapLimited(listed.items, 4, (pipeline) => withLead(pipeline.id, signal));
    return { items, next_cursor: listed.next_cursor };
  };
  add(page, await pagedTable([
    { title: "Lead", cell: (p) => h("a", { href: link(`/pipelines/${p.id}`) }, leadName(p.lead)) },
    { title: "Status", cell: (p) => [badge(p.status), p.stopped_reason ? h("div", { class: "muted" }, p.stopped_reason) : null] },
    { title: "Stages", cell: (p) => stageStrip(p.stages) },
    { title: "Started", cell: (p) => dateTime(p.created_at) },
  ], load, { empty: "No pipelines match." }));
}

/** A pipeline with its stages (GET /pipelines/{id}) and its lead. */
export async function withLead(id, signal) {
  const pipeline = await api.get(`/pipelines/${id}`, undefined, { signal });
  const lead = await api.get(`/leads/${pipeline.lead_id}`, undefined, { signal }).catch(() => null);
  return { ...pipeline, lead };
}

export function leadName(lead) {
  if (!lead) return "(lead removed)";
  return `${lead.name}${lead.company ? `, ${lead.company}` : ""}`;
}

export function stageStrip(stages) {
  return h("ol", { class: "stages" }, stages.map((stage) => h("li", { class: `stage status-${stage.status}`, title: label(stage.status) },
    h("span", { class: "name" }, label(stage.name)),
    stage.status === "active" ? h("span", { class: "waiting" }, waiting(stage)) : null)));
}

export function waiting(stage) {
  if (!stage.waiting_for) return "";
  return stage.waiting_until ? `${stage.waiting_for}, until ${dateTime(stage.waiting_until)} (${relative(stage.waiting_until)})` : stage.waiting_for;
}
