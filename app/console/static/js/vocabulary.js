// The API's names that pages offer as choices: agents and review types as the API lists them, run statuses,
// webhook events. The API validates whatever is sent; these only fill the filters.

import * as api from "./api.js";

/** The installed agents' names (`GET /agents`); `reviewed`: only those whose output may wait for a reviewer. */
export async function agentNames(signal, { reviewed = false } = {}) {
  const agents = await api.get("/agents", undefined, { signal });
  return agents.filter((agent) => !reviewed || agent.may_need_review).map((agent) => agent.name);
}

/** The review types with what a reviewer may edit in each (`GET /reviews/kinds`). */
export function reviewKinds(signal) {
  return api.get("/reviews/kinds", undefined, { signal });
}

export const RUN_STATUSES = ["queued", "running", "retry_scheduled", "awaiting_review", "succeeded", "failed",
  "dead_lettered", "cancelled", "rejected"];
export const TERMINAL = new Set(["succeeded", "failed", "dead_lettered", "cancelled", "rejected"]);
// The events a webhook endpoint may take: app/webhooks/schemas.py's EventType, in its order.
export const WEBHOOK_EVENTS = ["run.succeeded", "run.failed", "run.dead_lettered", "review.requested", "review.decided",
  "review.expired", "pipeline.completed", "pipeline.stopped", "invoice.issued", "coaching_card.created"];
