// Notices under the header, on every page, for as long as what they are about lasts. One kind today: a
// webhook endpoint the system disabled after it failed for a day (docs/webhooks.md), shown to admins and
// owners, the only ones who may read webhooks and enable them again (a lower role is never asked: the
// API would answer 403). They are read again at every page the person opens.

import * as api from "./api.js";
import { fill, h } from "./dom.js";
import { dateTime } from "./format.js";
import { link } from "./router.js";
import { isAdmin } from "./session.js";

let area = null;
let readings = 0;

/** The element the notices go in, for main.js to put under the header (one per console shown). */
export function noticeArea() {
  area = h("div", { class: "notices" });
  return area;
}

/** Reads again what the notices are about and shows them; only the newest reading is shown. */
export async function refreshNotices() {
  if (area === null || !isAdmin()) return;
  const target = area;
  const reading = ++readings;
  try {
    const endpoints = await allEndpoints();
    if (reading === readings) fill(target, endpoints.filter(disabledBySystem).map(webhookNotice));
  } catch {
    // What was shown stays: the page shows its own errors, and the next page reads again.
  }
}

/** An endpoint the system disabled (it failed for a day), not one an admin disabled. */
export function disabledBySystem(endpoint) {
  return !endpoint.enabled && endpoint.disabled_by === "system";
}

async function allEndpoints() {
  const endpoints = [];
  let cursor = null;
  do {
    const page = await api.get("/webhooks", { cursor, limit: 200 });
    endpoints.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return endpoints;
}

function webhookNotice(endpoint) {
  return h("aside", { class: "alert-card", "aria-label": "Webhook disabled" },
    h("strong", {}, "Webhook disabled"),
    h("p", {}, "Webhook ", h("code", {}, endpoint.url), ` was disabled on ${dateTime(endpoint.disabled_at)} after failing for a day: `,
      endpoint.disabled_reason ?? "no reason recorded", ". Fix the receiver, then re-enable it."),
    h("a", { href: link("/settings/webhooks", { endpoint: endpoint.id }) }, "Open the webhook settings"));
}
