// The API's names that pages offer as choices: agents, run statuses, review types. The API validates
// whatever is sent; these only fill the filters.

// The product's agents, offered as suggestions; any name may be typed (the API lists no agents).
export const AGENTS = ["sdr", "sales", "negotiation", "finance", "coaching"];
export const RUN_STATUSES = ["queued", "running", "retry_scheduled", "awaiting_review", "succeeded", "failed",
  "dead_lettered", "cancelled", "rejected"];
export const TERMINAL = new Set(["succeeded", "failed", "dead_lettered", "cancelled", "rejected"]);
export const REVIEW_TYPES = ["email", "proposal", "offer", "invoice", "plan_change"];
// The events a webhook endpoint may take: app/webhooks/schemas.py's EventType, in its order.
export const WEBHOOK_EVENTS = ["run.succeeded", "run.failed", "run.dead_lettered", "review.requested", "review.decided",
  "review.expired", "pipeline.completed", "pipeline.stopped", "invoice.issued", "coaching_card.created"];
