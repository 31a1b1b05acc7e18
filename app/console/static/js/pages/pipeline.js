// One pipeline: every stage with its run or review, what it waits for and until when; read again at each
// event of the pipeline's event stream (a stage started or ended) until it ends. Operators may cancel it.

import * as api from "../api.js";
import { add, fill, h } from "../dom.js";
import { dateTime, label } from "../format.js";
import { link } from "../router.js";
import { can } from "../session.js";
import { actionButton, badge, fields, heading, panel, problem, rereader, runLink, table } from "../ui.js";
import { leadName, stageStrip, waiting } from "./pipelines.js";

/** A pipeline with its stages (GET /pipelines/{id}) and its lead. */
async function withLead(id, signal) {
  const pipeline = await api.get(`/pipelines/${id}`, undefined, { signal });
  const lead = await api.get(`/leads/${pipeline.lead_id}`, undefined, { signal }).catch(() => null);
  return { ...pipeline, lead };
}

export async function render(page, { params, signal }) {
  const path = `/pipelines/${encodeURIComponent(params.id)}`;
  let pipeline = await withLead(encodeURIComponent(params.id), signal);
  let reviews = await reviewsOf(pipeline, signal);
  let following = false;
  const liveness = h("span", { class: "liveness" });
  const body = h("div", {});
  const messages = h("div", {});
  add(page, heading(`Pipeline for ${leadName(pipeline.lead)}`, h("p", { class: "meta" }, liveness)), messages, body);

  const paint = () => {
    fill(liveness, following ? h("span", { class: "live" }, "live") : "");
    fill(body,
      panel(null, fields([
        ["Status", badge(pipeline.status)],
        ["Why it stopped", pipeline.stopped_reason],
        ["Lead", pipeline.lead ? `${leadName(pipeline.lead)} <${pipeline.lead.email}>` : null],
        ["Current stage", pipeline.current_stage ? label(pipeline.current_stage) : null],
        ["Started", dateTime(pipeline.created_at)],
        ["Finished", dateTime(pipeline.finished_at)],
      ]), stageStrip(pipeline.stages)),
      panel("Stages", stagesTable(pipeline.stages, reviews)),
      pipeline.status === "running" && can("operate_runs")
        ? panel("Actions", h("div", { class: "buttons" }, actionButton("Cancel pipeline", async () => {
          pipeline = { ...(await api.post(`${path}/cancel`, undefined, { signal })), lead: pipeline.lead };
          paint();
        }, messages, { kind: "danger", confirm: "Cancel this pipeline, its runs, its open reviews and its unsent email?" })),
        h("p", { class: "muted" }, "Cancels its queued and running runs, its open reviews and its unsent email. It cannot be undone."))
        : null);
  };

  // The pipeline and its reviews, read again after an event.
  const reload = rereader(async () => {
    const fresh = { ...(await api.get(path, undefined, { signal })), lead: pipeline.lead };
    reviews = await reviewsOf(fresh, signal);
    pipeline = fresh;
    paint();
  }, (error) => fill(messages, problem(error)), signal);

  following = pipeline.status === "running";
  paint();
  if (!following) return;
  // The stream ends after the pipeline's own end; api.followEvents resumes it after a dropped connection.
  (async () => {
    try {
      await api.followEvents(`${path}/events`, { signal, onEvent: reload });
    } catch (error) {
      if (!signal.aborted && !(error instanceof api.SignedOut)) fill(messages, problem(error));
    } finally {
      following = false;
      if (!signal.aborted) paint();
    }
  })();
}

/** The pipeline's review items by id: a stage names its review, the item's page needs its entity. */
async function reviewsOf(pipeline, signal) {
  const { items } = await api.get("/reviews", { pipeline_id: pipeline.id, limit: 200 }, { signal });
  return new Map(items.map((review) => [review.id, review]));
}

function stagesTable(stages, reviews) {
  return table([
    { title: "#", cell: (stage) => String(stage.position + 1) },
    { title: "Stage", cell: (stage) => label(stage.name) },
    { title: "Status", cell: (stage) => (stage.status === "pending" ? h("span", { class: "muted" }, "not yet") : badge(stage.status)) },
    { title: "Run or review", cell: (stage) => stageLink(stage, reviews.get(stage.review_id)) },
    { title: "Waiting for", cell: waiting },
    { title: "Started", cell: (stage) => dateTime(stage.started_at) },
    { title: "Finished", cell: (stage) => dateTime(stage.finished_at) },
    { title: "Why", cell: (stage) => stage.detail?.reason ?? "" },
  ], stages);
}

function stageLink(stage, review) {
  if (stage.run_id) return [runLink(stage.run_id), " ", badge(stage.run_status)];
  if (review) return [h("a", { href: link(`/reviews/${review.entity_type}/${review.entity_id}`) }, "review"), " ", badge(review.status)];
  return "";
}
