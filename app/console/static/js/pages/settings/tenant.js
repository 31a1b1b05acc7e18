// The tenant's settings (GET and PATCH /api/v1/tenant): each section is saved whole, and the API checks
// it against its schema (a 422 names each field at fault; nothing is changed then).

import * as api from "../../api.js";

export async function loadSettings(signal) {
  return (await api.get("/tenant", undefined, { signal })).settings;
}

/** Saves one section (`null` removes it: the defaults apply again); resolves with every setting as saved. */
export async function saveSection(name, value, signal) {
  return (await api.patch("/tenant", { settings: { [name]: value } }, { signal })).settings;
}

/** A number as typed, or the text itself when it is not one: the API's validation names the field. */
export function numberOrText(text) {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  return Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
}

/** `values` without the entries left empty. */
export function filled(values) {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined && value !== ""));
}
