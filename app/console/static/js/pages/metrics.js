// Cost and quality per agent and per day (GET /api/v1/metrics/agents): runs by status, latency, tokens,
// cost, and how often reviewers had to edit or reject the agent's output.

import * as api from "../api.js";
import { add, h } from "../dom.js";
import { count, duration, label, percent, usd } from "../format.js";
import { barChart, lineChart, shareBar } from "../charts.js";
import { datalist, filters, heading, panel, table } from "../ui.js";
import { agentNames } from "../vocabulary.js";

const PERIODS = [["7", "last 7 days"], ["30", "last 30 days"], ["90", "last 90 days"]];
// Stacked bottom to top: what went well first.
const STATUS_ORDER = ["succeeded", "awaiting_review", "running", "queued", "retry_scheduled", "failed", "dead_lettered",
  "rejected", "cancelled"];
const DAY_MS = 86_400_000;

export async function render(page, { query, signal }) {
  const days = Number(query.get("days")) || 30;
  const since = new Date(Date.now() - (days - 1) * DAY_MS).toISOString().slice(0, 10);
  const metrics = await api.get("/metrics/agents", { since, agent: query.get("agent") }, { signal });
  const period = dayRange(metrics.since, metrics.until);
  add(page,
    heading("Cost and quality"),
    filters("/metrics", query, [
      { name: "days", label: "Period", options: PERIODS, default: "30" },
      { name: "agent", label: "Agent", list: "agents", placeholder: "every agent" },
    ]),
    datalist("agents", await agentNames(signal)),
    panel(`Per agent, ${metrics.since} to ${metrics.until} (UTC days)`, summaryTable(metrics.agents)),
    metrics.agents.map((agent) => agentPanel(agent, period)));
}

function summaryTable(agents) {
  return table([
    { title: "Agent", cell: (a) => a.agent },
    { title: "Runs", class: "num", cell: (a) => count(a.runs_total) },
    { title: "Success", class: "num", cell: (a) => percent(a.success_rate) },
    { title: "p50", class: "num", cell: (a) => duration(a.latency.p50_ms) },
    { title: "p95", class: "num", cell: (a) => duration(a.latency.p95_ms) },
    { title: "Model calls", class: "num", cell: (a) => count(a.model_calls) },
    { title: "Tokens in / out", class: "num", cell: (a) => `${count(a.tokens.input)} / ${count(a.tokens.output)}` },
    { title: "Cost", class: "num", cell: (a) => usd(a.cost_usd) },
    { title: "Edited", class: "num", cell: (a) => percent(a.reviews?.edited_share) },
    { title: "Rejected", class: "num", cell: (a) => percent(a.reviews?.rejected_share) },
  ], agents, { empty: "No runs in this period." });
}

function agentPanel(agent, period) {
  const byDay = new Map(agent.days.map((day) => [day.day, day]));
  const series = (pick) => period.map((day) => (byDay.has(day) ? pick(byDay.get(day)) : null));
  const statuses = STATUS_ORDER.filter((status) => agent.runs[status]);
  return panel(agent.agent,
    h("div", { class: "tiles" },
      tile("Runs", count(agent.runs_total)),
      tile("Success rate", percent(agent.success_rate)),
      tile("p95 latency", duration(agent.latency.p95_ms) || "–"),
      tile("Cost", usd(agent.cost_usd)),
      tile("Edited by reviewers", percent(agent.reviews?.edited_share)),
      tile("Rejected by reviewers", percent(agent.reviews?.rejected_share))),
    h("div", { class: "charts" },
      barChart({ title: "Runs by status", days: period, format: count,
        series: statuses.map((status) => ({ name: label(status), className: `series-${status}`, values: series((d) => d.runs[status] ?? 0) })) }),
      lineChart({ title: "Latency (p50, p95)", days: period, format: duration,
        series: [
          { name: "p50", className: "series-p50", values: series((d) => d.latency.p50_ms) },
          { name: "p95", className: "series-p95", values: series((d) => d.latency.p95_ms) },
        ] }),
      barChart({ title: "Tokens", days: period, format: count,
        series: [
          { name: "input", className: "series-input", values: series((d) => d.tokens.input) },
          { name: "output", className: "series-output", values: series((d) => d.tokens.output) },
        ] }),
      barChart({ title: "Cost (USD)", days: period, format: usd,
        series: [{ name: "cost", className: "series-cost", values: series((d) => Number(d.cost_usd)) }] }),
      agent.reviews ? shareBar({ title: `Review decisions (${agent.reviews.decided})`, parts: [
        { name: "approved as proposed", className: "series-succeeded", value: agent.reviews.approved_unchanged },
        { name: "edited", className: "series-edited", value: agent.reviews.edited },
        { name: "rejected", className: "series-rejected", value: agent.reviews.rejected },
        { name: "expired", className: "series-expired", value: agent.reviews.expired },
      ] }) : null));
}

function tile(name, value) {
  return h("div", { class: "tile" }, h("div", { class: "value" }, value), h("div", { class: "name" }, name));
}

/** Every UTC day from `since` to `until`, both included, as YYYY-MM-DD. */
function dayRange(since, until) {
  const days = [];
  for (let t = Date.parse(`${since}T00:00:00Z`); t <= Date.parse(`${until}T00:00:00Z`); t += DAY_MS) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}
