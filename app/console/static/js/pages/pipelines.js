// Pipelines: each lead and the stage its pipeline is at, what that stage waits for and until when.

import * as api from "../api.js";
import { add, h } from "../dom.js";
import { dateTime, label, relative } from "../format.js";
import { link } from "../router.js";
import { badge, filters, heading, pagedTable } from "../ui.js";

const STATUSES = ["running", "succeeded", "stopped", "rejected", "failed", "cancelled"];
const PAGE_SIZE = 20;

export async function render(page, { query, signal }) {
  add(page,
    heading("Pipelines"),
    filters("/pipelines", query, [
      { name: "status", label: "Status", options: [["", "any"], ...STATUSES.map((s) => [s, label(s)])] },
    ]));
  const load = (cursor) => api.get("/pipelines", { status: query.get("status"), cursor, limit: PAGE_SIZE }, { signal });
  add(page, await pagedTable([
    { title: "Lead", cell: (p) => h("a", { href: link(`/pipelines/${p.id}`) }, leadName(p.lead)) },
    { title: "Status", cell: (p) => [badge(p.status), p.stopped_reason ? h("div", { class: "muted" }, p.stopped_reason) : null] },
    { title: "Stage", cell: (p) => (p.stage ? [stageStrip([p.stage]), h("div", { class: "muted" }, `${p.stage.position + 1} of ${p.stage_count}`)] : null) },
    { title: "Started", cell: (p) => dateTime(p.created_at) },
  ], load, { empty: "No pipelines match." }));
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
