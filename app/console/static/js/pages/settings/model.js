// The model provider and budgets (settings.llm): which provider and model the agents call, the fallback
// chain, and the monthly token and cost budgets. Keys and endpoints are the deployment's, never a tenant's.

import * as api from "../../api.js";
import { fill, h } from "../../dom.js";
import { count, usd } from "../../format.js";
import { actionForm, field, notice } from "../../ui.js";
import { filled, loadSettings, numberOrText, saveSection } from "./tenant.js";

const PROVIDERS = ["offline", "openai", "anthropic", "ollama", "langchain"];

export async function render(body, { signal }) {
  const [settings, usage] = await Promise.all([loadSettings(signal), monthUsage(signal)]);
  show(body, settings, usage, signal);
}

/** This calendar month's (UTC) tokens and cost, as the budgets count them: input and output tokens. */
async function monthUsage(signal) {
  const since = `${new Date().toISOString().slice(0, 8)}01`;
  const { agents } = await api.get("/metrics/agents", { since }, { signal });
  return {
    tokens: agents.reduce((sum, agent) => sum + agent.tokens.input + agent.tokens.output, 0),
    cost: agents.reduce((sum, agent) => sum + Number(agent.cost_usd), 0),
  };
}

function show(body, settings, usage, signal, saved) {
  const llm = settings.llm ?? {};
  const input = (name, value, attrs = {}) => h("input", { name, value: value ?? "", ...attrs });
  const provider = h("select", { name: "provider", value: llm.provider ?? "" },
    h("option", { value: "" }, "the deployment's default"), PROVIDERS.map((p) => h("option", { value: p }, p)));
  const model = input("model", llm.model);
  const temperature = input("temperature", llm.temperature, { class: "short", inputmode: "decimal" });
  const maxTokens = input("max_output_tokens", llm.max_output_tokens, { class: "short", inputmode: "numeric" });
  const fallback = input("fallback", (llm.fallback ?? []).map(reference).join(", "), { class: "wide" });
  const monthlyTokens = input("monthly_tokens", llm.budgets?.monthly_tokens, { inputmode: "numeric" });
  const monthlyCost = input("monthly_cost_usd", llm.budgets?.monthly_cost_usd, { inputmode: "decimal" });
  const messages = h("div", {});

  const save = async () => {
    const budgets = filled({ monthly_tokens: numberOrText(monthlyTokens.value), monthly_cost_usd: monthlyCost.value.trim() });
    const chain = fallback.value.split(",").map((entry) => entry.trim()).filter(Boolean);
    const value = filled({ provider: provider.value, model: model.value.trim(), temperature: numberOrText(temperature.value),
      max_output_tokens: numberOrText(maxTokens.value), fallback: chain.length ? chain : undefined,
      budgets: Object.keys(budgets).length ? budgets : undefined });
    show(body, await saveSection("llm", Object.keys(value).length ? value : null, signal), usage, signal, "Saved.");
  };
  fill(body,
    saved ? notice(saved) : null,
    h("p", { class: "muted" }, "Empty fields take the deployment's defaults. A provider the deployment has no key for is refused when a run would use it."),
    actionForm("Save model settings", save, messages,
      field("Provider", provider),
      field("Model", model, "Empty: the provider's default model."),
      field("Temperature", temperature),
      field("Most output tokens a call", maxTokens),
      field("Fallback chain", fallback, "In order, comma-separated, each provider or provider:model (anthropic:claude-haiku-4-5, offline)."),
      h("fieldset", {}, h("legend", {}, "Monthly budgets (checked before every run and model call)"),
        field("Tokens", monthlyTokens, `Used this month: ${count(usage.tokens)}`),
        field("Cost in US dollars", monthlyCost, `Used this month: ${usd(usage.cost)}`))),
    messages);
}

function reference(entry) {
  return typeof entry === "string" ? entry : [entry.provider, entry.model].filter(Boolean).join(":");
}
