// One review item: the proposal beside its citations and the sources the run retrieved, the run that made
// it, and either the decision record (with the diff of an edit) or, for those who may decide, approve,
// edit or reject.

import * as api from "../api.js";
import { add, fill, h } from "../dom.js";
import { dateTime, label } from "../format.js";
import { proposalEditor } from "../editor.js";
import { link } from "../router.js";
import { can, isAdmin, userName } from "../session.js";
import { actionButton, badge, fields, heading, json, notice, panel, runLink, table } from "../ui.js";
import { reviewKinds } from "../vocabulary.js";
import { deadline } from "./reviews.js";

export async function render(page, { params, signal }) {
  const path = `/reviews/${encodeURIComponent(params.entityType)}/${encodeURIComponent(params.entityId)}`;
  await show(page, await api.get(path, undefined, { signal }), { path, signal });
}

async function show(page, review, context) {
  const run = review.run_id ? await api.get(`/runs/${review.run_id}`, undefined, { signal: context.signal }) : null;
  const sources = retrievedSources(run);
  fill(page,
    heading(review.summary || label(review.entity_type),
      h("p", { class: "meta" }, label(review.entity_type), " · ", review.agent, " · ", badge(review.status), " · ", deadline(review))),
    h("div", { class: "columns" },
      panel("Proposal", h("div", { class: "proposal" }, proposalView(review.proposal))),
      panel("Citations", citationsView(review.citations, sources))),
    sources.length ? panel("Sources the run retrieved", sourcesView(sources, review.citations)) : null,
    panel("Made by", madeBy(review, run)),
    review.decision ? await decisionView(review, context.signal) : await decideForm(page, review, context));
}

function proposalView(proposal) {
  return h("dl", { class: "fields wide" }, Object.entries(proposal).map(([name, value]) => [
    h("dt", {}, label(name)), h("dd", {}, valueView(value))]));
}

function valueView(value) {
  if (typeof value === "string") return h("div", { class: "text" }, value);
  if (Array.isArray(value) && value.every((item) => typeof item !== "object")) return h("ul", {}, value.map((item) => h("li", {}, String(item))));
  if (value !== null && typeof value === "object") return json(value);
  return String(value);
}

function citationsView(citations, sources) {
  if (!citations.length) return h("p", { class: "muted" }, "No citations.");
  const byChunk = new Map(sources.map((source) => [source.chunk_id, source]));
  return h("ol", { class: "citations" }, citations.map((citation) => h("li", {},
    citation.claim ? h("div", { class: "claim" }, citation.claim) : null,
    h("div", { class: "source" }, sourceOf(citation, byChunk)))));
}

function sourceOf(citation, byChunk) {
  const { source = "" } = citation;
  if (source.startsWith("lead.")) return [h("span", { class: "tag" }, "lead"), ` ${label(source.slice(5))}: `, String(citation.value ?? "")];
  if (source === "knowledge") {
    const chunk = byChunk.get(citation.chunk_id);
    return [h("span", { class: "tag" }, "knowledge"), ` ${citation.title ?? "document"}`,
      citation.score !== undefined ? h("span", { class: "muted" }, ` (score ${Number(citation.score).toFixed(3)})`) : null,
      chunk ? h("blockquote", {}, chunk.text) : null];
  }
  if (source === "price_book") return [h("span", { class: "tag" }, "price book"), ` ${citation.package_code}: ${citation.list_price} ${citation.currency}`];
  const { claim, ...rest } = citation;
  return json(rest);
}

/** The knowledge chunks the run retrieved: any object with a chunk_id and a text in its recorded steps. */
function retrievedSources(run) {
  const found = new Map();
  const visit = (value) => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === "object") {
      if (typeof value.chunk_id === "string" && typeof value.text === "string") found.set(value.chunk_id, value);
      else Object.values(value).forEach(visit);
    }
  };
  (run?.steps ?? []).forEach((step) => visit(step.result));
  return [...found.values()];
}

function sourcesView(sources, citations) {
  const cited = new Set(citations.map((citation) => citation.chunk_id).filter(Boolean));
  return h("ol", { class: "sources" }, sources.map((source) => h("li", { class: cited.has(source.chunk_id) ? "cited" : null },
    h("div", { class: "muted" }, source.metadata?.headings?.join(" › ") ?? source.title ?? "", cited.has(source.chunk_id) ? " · cited" : ""),
    h("div", { class: "text" }, source.text))));
}

function madeBy(review, run) {
  if (!run) return h("p", { class: "muted" }, "No run: this item was opened by hand.");
  return fields([
    ["Run", runLink(run.id, run.id)],
    ["Agent", run.agent],
    ["Status", badge(run.status)],
    ["Finished", dateTime(run.finished_at)],
    ["Model calls", String(run.model_calls.length)],
    ["Pipeline", review.pipeline_id ? h("a", { href: link(`/pipelines/${review.pipeline_id}`) }, review.pipeline_id) : null],
  ]);
}

async function decisionView(review, signal) {
  const { decision } = review;
  const reviewer = decision.reviewer_id ? await userName(decision.reviewer_id, signal) : decision.reviewer_type;
  return panel("Decision",
    fields([
      ["Decision", badge(review.status)],
      ["By", reviewer],
      ["When", dateTime(decision.created_at)],
      ["Comment", decision.comment ? h("div", { class: "text" }, decision.comment) : null],
      ["Digest", decision.approved_digest ? h("code", {}, decision.approved_digest) : null],
    ]),
    decision.diff?.length
      ? [h("h3", {}, "What the reviewer changed"), table([
          { title: "Change", cell: (op) => op.op },
          { title: "Field", cell: (op) => h("code", {}, op.path) },
          { title: "Before", cell: (op) => valueView(at(review.proposal, op.path) ?? "") },
          { title: "After", cell: (op) => valueView(op.value ?? "") },
        ], decision.diff)]
      : h("p", { class: "muted" }, decision.decision === "approve" ? "Approved as proposed." : ""),
    review.pipeline_id ? h("p", {}, h("a", { href: link(`/pipelines/${review.pipeline_id}`) }, "Follow its pipeline")) : null);
}

/** The value at a JSON Pointer (RFC 6901) in `document`. */
function at(document, pointer) {
  return pointer.split("/").slice(1).map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((value, key) => (value === null || value === undefined ? undefined : value[key]), document);
}

async function editableFields(entityType, signal) {
  const kinds = await reviewKinds(signal);
  return kinds.find((kind) => kind.entity_type === entityType)?.editable_fields ?? [];
}

async function decideForm(page, review, { path, signal }) {
  const open = review.status === "pending" || review.status === "escalated";
  if (!open) return panel("Decision", h("p", { class: "muted" }, `This item is ${label(review.status)}; nobody decided it.`));
  if (!can("decide_reviews")) return null;
  if (review.status === "escalated" && !isAdmin()) return panel("Decision", notice("Escalated past its deadline: an admin decides it."));
  const messages = h("div", {});
  const comment = h("textarea", { name: "comment", rows: 3, placeholder: "Why (kept with the decision)" });
  const editor = proposalEditor(review.proposal, await editableFields(review.entity_type, signal));
  const editing = h("div", { class: "editing", hidden: true }, h("h3", {}, "Edit the proposal"), editor.element);
  const decide = async (decision, extra = {}) => {
    const body = { decision, ...(comment.value.trim() ? { comment: comment.value.trim() } : {}), ...extra };
    await show(page, await api.post(`${path}/decision`, body, { signal }), { path, signal });
  };
  const submitEdit = actionButton("Approve with edits", async () => {
    const changes = editor.changes();
    if (!Object.keys(changes).length) throw new Error("Nothing was changed; approve it as it is instead.");
    await decide("edit", { edited_output: changes });
  }, messages);
  const startEdit = actionButton("Edit", async () => {
    editing.hidden = false;
    startEdit.hidden = true;
  }, messages, { kind: "secondary" });
  add(editing, h("div", { class: "buttons" }, submitEdit));
  return panel("Decide",
    h("label", { class: "field" }, h("span", {}, "Comment"), comment),
    h("div", { class: "buttons" },
      actionButton("Approve", () => decide("approve"), messages),
      startEdit,
      actionButton("Reject", () => decide("reject"), messages, { kind: "danger" })),
    editing,
    messages);
}
