// A structured editor for a review's proposal: one control per field the API says a reviewer may edit
// (`GET /reviews/kinds`), shaped by the field's value (text, a number, a yes/no, a list of lines; anything
// else as JSON); the locked fields are shown as they are. It validates nothing itself: the API does, and its
// answer is shown as it comes.

import { add, h } from "./dom.js";
import { label } from "./format.js";

/** Returns {element, changes()}: changes() gives the editable fields whose value differs from `proposal`. */
export function proposalEditor(proposal, editableFields) {
  const editors = Object.entries(proposal).filter(([name]) => editableFields.includes(name))
    .map(([name, value]) => [name, editorFor(name, value)]);
  const controls = new Map(editors.map(([name, editor]) => [name, editor.element]));
  const element = h("div", { class: "editor" }, Object.entries(proposal).map(([name, value]) =>
    h("div", { class: "field" }, h("span", {}, label(name)), controls.get(name) ?? lockedView(name, value))));
  const changes = () => {
    const changed = {};
    for (const [name, editor] of editors) {
      const value = editor.read();
      if (JSON.stringify(value) !== JSON.stringify(proposal[name])) changed[name] = value;
    }
    return changed;
  };
  return { element, changes };
}

function lockedView(name, value) {
  return h("output", { name, class: "locked", title: "Computed: a reviewer may not change it" },
    typeof value === "string" ? value : JSON.stringify(value));
}

function editorFor(name, value) {
  if (typeof value === "string") return textEditor(name, value);
  if (typeof value === "number") return numberEditor(name, value);
  if (typeof value === "boolean") return booleanEditor(name, value);
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return linesEditor(name, value);
  return jsonEditor(name, value);
}

function textEditor(name, value) {
  const long = value.length > 80 || value.includes("\n");
  const input = long
    ? h("textarea", { name, rows: Math.min(16, value.split("\n").length + 2), value })
    : h("input", { name, value });
  return { element: input, read: () => input.value };
}

function numberEditor(name, value) {
  const input = h("input", { name, inputmode: "decimal", value: String(value) });
  // What is not a number goes to the API as typed: its validation names the field.
  return { element: input, read: () => (input.value.trim() !== "" && Number.isFinite(Number(input.value)) ? Number(input.value) : input.value) };
}

function booleanEditor(name, value) {
  const input = h("input", { name, type: "checkbox", checked: value });
  return { element: input, read: () => input.checked };
}

function linesEditor(name, value) {
  const list = h("ol", { class: "lines" });
  const addLine = (text) => {
    const input = h("input", { name: `${name}[]`, value: text });
    const remove = h("button", { type: "button", class: "link", title: "Remove this line" }, "Remove");
    const item = h("li", {}, input, remove);
    remove.addEventListener("click", () => item.remove());
    add(list, item);
  };
  value.forEach(addLine);
  const addButton = h("button", { type: "button", class: "secondary" }, "Add a line");
  addButton.addEventListener("click", () => addLine(""));
  return {
    element: h("div", {}, list, addButton),
    read: () => [...list.querySelectorAll("input")].map((input) => input.value),
  };
}

function jsonEditor(name, value) {
  const input = h("textarea", { name, class: "mono", rows: 8, value: JSON.stringify(value, null, 2) });
  return {
    element: input,
    read: () => {
      try {
        return JSON.parse(input.value);
      } catch {
        throw new Error(`${label(name)} is not valid JSON.`);
      }
    },
  };
}
