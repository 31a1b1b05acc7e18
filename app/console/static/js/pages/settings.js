// Settings, for admins and owners: the tenant's settings sections, its price policy and price book, its
// prompts and its webhooks. Each section is a module of its own under settings/.

import { add, h } from "../dom.js";
import { link } from "../router.js";
import { isAdmin } from "../session.js";
import { heading, notice } from "../ui.js";
import * as icp from "./settings/icp.js";
import * as model from "./settings/model.js";
import * as negotiation from "./settings/negotiation.js";
import * as priceBook from "./settings/price-book.js";
import * as prompts from "./settings/prompts.js";
import * as reviews from "./settings/reviews.js";
import * as webhooks from "./settings/webhooks.js";

const SECTIONS = [
  ["icp", "ICP criteria", icp],
  ["reviews", "Review deadlines", reviews],
  ["model", "Model and budgets", model],
  ["negotiation", "Negotiation policy", negotiation],
  ["price-book", "Price book", priceBook],
  ["prompts", "Prompts", prompts],
  ["webhooks", "Webhooks", webhooks],
];

export async function render(page, { params, query, signal }) {
  add(page, heading("Settings"));
  if (!isAdmin()) {
    add(page, notice("Settings are for admins and owners."));
    return;
  }
  const name = params.section ?? SECTIONS[0][0];
  const section = SECTIONS.find(([key]) => key === name);
  add(page, h("nav", { class: "tabs" }, SECTIONS.map(([key, title]) =>
    h("a", { href: link(`/settings/${key}`), class: key === name ? "active" : null }, title))));
  const body = h("div", { class: "section" });
  add(page, body);
  if (!section) {
    add(body, notice("There is no such settings section."));
    return;
  }
  await section[2].render(body, { query, signal });
}
