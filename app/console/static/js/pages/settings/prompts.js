// Prompts (/api/v1/prompts): every agent prompt with its versions, the shipped defaults and the tenant's.
// Activating a version rolls back or forward; saving makes a new tenant version and activates it.

import * as api from "../../api.js";
import { fill, h } from "../../dom.js";
import { dateTime } from "../../format.js";
import { link } from "../../router.js";
import { actionButton, actionForm, field, fields, notice, table } from "../../ui.js";

export async function render(body, { query, signal }) {
  const key = query.get("key");
  if (key) return showPrompt(body, await api.get(`/prompts/${encodeURIComponent(key)}`, undefined, { signal }), signal);
  const prompts = await api.get("/prompts", undefined, { signal });
  fill(body, table([
    { title: "Prompt", cell: (p) => h("a", { href: link("/settings/prompts", { key: p.key }) }, p.key) },
    { title: "What it is for", cell: (p) => p.description },
    { title: "Active", cell: active },
    { title: "Versions", class: "num", cell: (p) => `${p.default_versions} shipped, ${p.tenant_versions} yours` },
  ], prompts));
}

function active(prompt) {
  const { source, version, follows_latest_default: follows } = prompt.active;
  return `${source === "tenant" ? "yours" : "shipped"} v${version}${follows ? " (follows the newest shipped)" : ""}`;
}

function showPrompt(body, prompt, signal, saved) {
  const messages = h("div", {});
  const path = `/prompts/${encodeURIComponent(prompt.key)}`;
  const activate = (target) => async () => showPrompt(body, await api.post(`${path}/activate`, target, { signal }), signal, "Activated.");
  const current = prompt.versions.find((version) => version.active) ?? prompt.versions.at(-1);
  const system = h("textarea", { name: "system", class: "mono", rows: 10, value: current?.system ?? "" });
  const user = h("textarea", { name: "user", class: "mono", rows: 10, value: current?.user ?? "" });
  const description = h("input", { name: "description", class: "wide", placeholder: "What changed" });
  fill(body,
    saved ? notice(saved) : null,
    h("p", {}, h("a", { href: link("/settings/prompts") }, "All prompts")),
    h("h2", {}, prompt.key),
    fields([
      ["What it is for", prompt.description],
      ["Variables", prompt.variables.map((name) => `{{ ${name} }}`).join(" ")],
      ["Active", active(prompt)],
    ]),
    table([
      { title: "Version", cell: (v) => `${v.source === "tenant" ? "yours" : "shipped"} v${v.version}` },
      { title: "Description", cell: (v) => v.description },
      { title: "Saved", cell: (v) => dateTime(v.created_at) },
      { title: "Text", cell: (v) => h("details", {}, h("summary", {}, "show"), h("pre", { class: "prompt" }, v.system), h("pre", { class: "prompt" }, v.user)) },
      { title: "", cell: (v) => (v.active ? h("strong", {}, "active") : actionButton("Activate", activate({ source: v.source, version: v.version }), messages, { kind: "secondary" })) },
    ], prompt.versions),
    prompt.active.follows_latest_default ? null : h("div", { class: "buttons" },
      actionButton("Follow the newest shipped version", activate({ source: "default" }), messages, { kind: "secondary" })),
    h("h3", {}, "A new version"),
    actionForm("Save and activate", async () => {
      showPrompt(body, await api.put(path, { system: system.value, user: user.value, description: description.value }, { signal }), signal, "Saved as a new version and activated.");
    }, messages, field("System", system), field("User", user, `Placeholders: ${prompt.variables.map((n) => `{{ ${n} }}`).join(" ")} and nothing else.`), field("Description", description)),
    messages);
}
