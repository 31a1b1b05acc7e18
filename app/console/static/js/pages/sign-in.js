// Sign in with email and password (POST /api/v1/auth/token). The tenant is asked for only when the API
// says the email has accounts in several.

import * as api from "../api.js";
import { add, fill, h } from "../dom.js";
import { field, problem } from "../ui.js";

export function render({ message, onSignedIn }) {
  document.title = "Sign in · Agentline console";
  const email = h("input", { name: "email", type: "email", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const tenant = h("input", { name: "tenant", autocomplete: "organization" });
  const tenantField = field("Tenant", tenant, "Its short name: you have accounts in several tenants.");
  tenantField.hidden = true;
  const messages = h("div", {}, message ? h("p", { class: "notice" }, message) : null);
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "sign-in" },
    h("h1", {}, "Agentline console"),
    messages,
    field("Email", email),
    field("Password", password),
    tenantField,
    submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    fill(messages);
    try {
      await api.signIn({ email: email.value, password: password.value, tenant: tenant.value.trim() });
      await onSignedIn();
    } catch (error) {
      if (error instanceof api.ApiError && error.status === 400) tenantField.hidden = false;
      add(messages, problem(error));
      submit.disabled = false;
    }
  });
  return h("div", { class: "sign-in-page" }, form);
}
