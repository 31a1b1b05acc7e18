// Review deadlines (settings.reviews): hours a review waits (one number, or per type), the reminder, what
// happens at the deadline, and the four-eyes rule.

import { fill, h } from "../../dom.js";
import { label } from "../../format.js";
import { actionForm, field, notice } from "../../ui.js";
import { reviewKinds } from "../../vocabulary.js";
import { filled, loadSettings, numberOrText, saveSection } from "./tenant.js";

export async function render(body, { signal }) {
  const types = (await reviewKinds(signal)).map((kind) => kind.entity_type);
  show(body, types, await loadSettings(signal), signal);
}

function show(body, types, settings, signal, saved) {
  const current = settings.reviews ?? {};
  const perType = typeof current.deadline_hours === "object" && current.deadline_hours !== null ? current.deadline_hours : {};
  const defaultHours = typeof current.deadline_hours === "number" ? current.deadline_hours : perType.default;
  const hours = (name, value) => h("input", { name, class: "short", inputmode: "decimal", value: value ?? "" });
  const deadline = hours("default", defaultHours);
  const byType = Object.fromEntries(types.map((type) => [type, hours(type, perType[type])]));
  const reminder = hours("reminder_before_hours", current.reminder_before_hours);
  const onExpiry = h("select", { name: "on_expiry", value: current.on_expiry ?? "reject" },
    h("option", { value: "reject" }, "reject the item"), h("option", { value: "escalate" }, "escalate it to the admins"));
  const fourEyes = h("input", { name: "four_eyes", type: "checkbox", checked: Boolean(current.four_eyes) });
  const messages = h("div", {});

  const save = async () => {
    const perTypeHours = filled(Object.fromEntries(Object.entries(byType).map(([type, input]) => [type, numberOrText(input.value)])));
    const fallback = numberOrText(deadline.value);
    const deadlineHours = Object.keys(perTypeHours).length ? filled({ default: fallback, ...perTypeHours }) : fallback;
    const value = filled({ deadline_hours: deadlineHours, reminder_before_hours: numberOrText(reminder.value),
      on_expiry: onExpiry.value, four_eyes: fourEyes.checked });
    show(body, types, await saveSection("reviews", value, signal), signal, "Saved.");
  };
  fill(body,
    saved ? notice(saved) : null,
    actionForm("Save review settings", save, messages,
      h("fieldset", {}, h("legend", {}, "Hours a review waits for its decision"),
        field("Every type", deadline, "72 when left empty."),
        types.map((type) => field(label(type), byType[type], "Empty: as every type."))),
      field("Reminder, hours before the deadline", reminder, "24 when left empty."),
      field("At the deadline", onExpiry),
      field("Four eyes", fourEyes, "Whoever started the work may not decide it.")),
    messages);
}
