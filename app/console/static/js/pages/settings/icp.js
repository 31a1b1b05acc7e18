// The SDR agent's ideal-customer criteria (settings.icp): weighted criteria, some required, and the
// lowest score of each bucket.

import { add, fill, h } from "../../dom.js";
import { actionButton, actionForm, field, notice } from "../../ui.js";
import { filled, loadSettings, numberOrText, saveSection } from "./tenant.js";

export async function render(body, { signal }) {
  show(body, await loadSettings(signal), signal);
}

function show(body, settings, signal, saved) {
  const icp = settings.icp ?? null;
  const messages = h("div", {});
  const rows = h("tbody", {});
  const addRow = (criterion = {}) => {
    const remove = h("button", { type: "button", class: "link" }, "Remove");
    const row = h("tr", {},
      h("td", {}, h("input", { name: "name", value: criterion.name ?? "", "aria-label": "Criterion" })),
      h("td", {}, h("input", { name: "description", class: "wide", value: criterion.description ?? "", "aria-label": "Description" })),
      h("td", {}, h("input", { name: "weight", class: "short", inputmode: "decimal", value: criterion.weight ?? "", "aria-label": "Weight" })),
      h("td", {}, h("input", { name: "required", type: "checkbox", checked: Boolean(criterion.required), "aria-label": "Required" })),
      h("td", {}, remove));
    remove.addEventListener("click", () => row.remove());
    add(rows, row);
  };
  (icp?.criteria ?? []).forEach(addRow);
  const addButton = h("button", { type: "button", class: "secondary" }, "Add a criterion");
  addButton.addEventListener("click", () => addRow());
  const threshold = (name) => h("input", { name, class: "short", inputmode: "numeric", value: icp?.thresholds?.[name] ?? "" });
  const thresholds = { hot: threshold("hot"), warm: threshold("warm"), cold: threshold("cold") };

  const save = async () => {
    const criteria = [...rows.children].map((row) => {
      const input = (name) => row.querySelector(`[name=${name}]`);
      return { name: input("name").value, description: input("description").value, weight: input("weight").value.trim(), required: input("required").checked };
    });
    const levels = filled(Object.fromEntries(Object.entries(thresholds).map(([name, input]) => [name, numberOrText(input.value)])));
    show(body, await saveSection("icp", { criteria, ...(Object.keys(levels).length ? { thresholds: levels } : {}) }, signal), signal, "Saved.");
  };
  fill(body,
    saved ? notice(saved) : null,
    h("p", { class: "muted" }, "The SDR agent judges each lead on these criteria; code turns the judgements into a 0–100 score (weights are relative) and a bucket. A lead that misses a required criterion is disqualified."),
    icp ? null : notice("No criteria of your own: the SDR agent's built-in ones apply."),
    actionForm("Save ICP", save, messages,
      h("table", { class: "data editable" },
        h("thead", {}, h("tr", {}, ["Criterion", "Description", "Weight", "Required", ""].map((title) => h("th", {}, title)))),
        rows),
      h("div", {}, addButton),
      h("fieldset", {}, h("legend", {}, "Lowest score of each bucket (below cold: disqualified)"),
        field("Hot", thresholds.hot), field("Warm", thresholds.warm), field("Cold", thresholds.cold))),
    icp ? h("div", { class: "buttons" }, actionButton("Use the built-in criteria", async () => {
      show(body, await saveSection("icp", null, signal), signal, "The built-in criteria apply again.");
    }, messages, { kind: "secondary" })) : null,
    messages);
}
