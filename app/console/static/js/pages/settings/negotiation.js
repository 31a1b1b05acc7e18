// The negotiation agent's price policy (GET/PUT/DELETE /api/v1/policies/negotiation): the tenant's default
// and each package's own, which overrides it. Code enforces it whatever the model proposes.

import * as api from "../../api.js";
import { fill, h } from "../../dom.js";
import { label } from "../../format.js";
import { navigate } from "../../router.js";
import { actionButton, actionForm, field, fields, notice } from "../../ui.js";

const CONCESSIONS = ["longer_term", "upfront_payment", "smaller_scope"];

export async function render(body, { query, signal }) {
  const packageCode = query.get("package") || null;
  const [policy, book] = await Promise.all([
    api.get("/policies/negotiation", { package_code: packageCode }, { signal }),
    api.get("/price-book", { limit: 200 }, { signal }),
  ]);
  show(body, { policy, packages: book.items, packageCode, signal });
}

function show(body, { policy, packages, packageCode, signal }, saved) {
  const pick = h("select", { name: "package", value: packageCode ?? "" },
    h("option", { value: "" }, "Default (every package)"),
    packages.map((item) => h("option", { value: item.code }, `${item.code}: ${item.name}`)));
  pick.addEventListener("change", () => navigate("/settings/negotiation", { query: { package: pick.value } }));
  const input = (name, value, attrs = {}) => h("input", { name, class: "short", value: value ?? "", ...attrs });
  const maxDiscount = input("max_discount_pct", policy.max_discount_pct, { inputmode: "decimal" });
  const threshold = input("approval_threshold_pct", policy.approval_threshold_pct, { inputmode: "decimal" });
  const rounds = input("max_rounds", policy.max_rounds, { inputmode: "numeric" });
  const floor = input("floor_price", policy.floor_price, { inputmode: "decimal" });
  const concessions = CONCESSIONS.map((name) => h("input", { type: "checkbox", name, checked: policy.allowed_concessions.includes(name) }));
  const messages = h("div", {});
  const own = packageCode ? policy.source === "package" : policy.source === "tenant";
  const reload = async (note) => show(body, {
    policy: await api.get("/policies/negotiation", { package_code: packageCode }, { signal }), packages, packageCode, signal }, note);

  const save = async () => {
    const value = {
      max_discount_pct: maxDiscount.value.trim(),
      approval_threshold_pct: threshold.value.trim(),
      max_rounds: Number(rounds.value) || rounds.value,
      allowed_concessions: concessions.filter((box) => box.checked).map((box) => box.name),
    };
    if (packageCode && floor.value.trim()) value.floor_price = floor.value.trim();
    await api.put("/policies/negotiation", value, { query: { package_code: packageCode }, signal });
    await reload("Saved.");
  };
  fill(body,
    saved ? notice(saved) : null,
    field("Policy of", pick),
    fields([
      ["In force", policy.source === "built_in" ? "the built-in policy" : policy.source === "tenant" ? "the tenant's default" : "this package's own"],
      ["Packages with their own", policy.overrides.join(", ")],
    ]),
    actionForm("Save policy", save, messages,
      field("Largest discount off list (%)", maxDiscount),
      field("Reviewer needed past (%)", threshold),
      field("Most offers of ours", rounds),
      packageCode ? field(`Floor price (${policy.currency ?? "the package's currency"})`, floor, "No offer goes below it.") : null,
      h("fieldset", {}, h("legend", {}, "Concessions the agent may offer"),
        concessions.map((box) => h("label", { class: "check" }, box, label(box.name))))),
    own ? h("div", { class: "buttons" }, actionButton(packageCode ? "Follow the default again" : "Use the built-in policy", async () => {
      await api.del("/policies/negotiation", { query: { package_code: packageCode }, signal });
      await reload("Removed.");
    }, messages, { kind: "secondary" })) : null,
    messages);
}
