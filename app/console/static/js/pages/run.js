// One run: its state, input and output, steps, model calls (tokens, cost, latency, prompt version) and
// events, which follow the run's event stream live; and the operator's actions (retry, cancel, discard,
// override with a reason), whose refusals by the API are shown as they come.

import * as api from "../api.js";
import { add, fill, h } from "../dom.js";
import { between, count, dateTime, duration, label, shortId, usd } from "../format.js";
import { link } from "../router.js";
import { can, userName } from "../session.js";
import { actionButton, actionForm, badge, field, fields, heading, json, panel, problem, rereader, runLink, table } from "../ui.js";
import { TERMINAL } from "../vocabulary.js";
import { attempts } from "./runs.js";

const RETRYABLE = new Set(["failed", "dead_lettered", "cancelled"]);
const OVERRIDE_TARGETS = ["succeeded", "failed", "cancelled"];

export async function render(page, { params, signal }) {
  const path = `/runs/${encodeURIComponent(params.id)}`;
  let run = await api.get(path, undefined, { signal });
  const requester = run.requested_by_id ? await userName(run.requested_by_id, signal) : run.requested_by_type;
  let lastEventId = Math.max(0, ...run.events.map((event) => event.id));
  let following = false;

  const status = h("span", { class: "live-status" });
  const liveness = h("span", { class: "liveness" });
  const sections = Object.fromEntries(["summary", "actions", "io", "steps", "calls", "events"].map((name) => [name, h("div", {})]));
  const streamMessages = h("div", {});
  add(page,
    heading(`Run ${shortId(run.id)}`, h("p", { class: "meta" }, run.agent, " · ", status, " ", liveness)),
    streamMessages,
    ...Object.values(sections));

  const paint = () => {
    fill(status, badge(run.status));
    fill(liveness, following ? h("span", { class: "live" }, "live") : "");
    fill(sections.summary, panel(null, summary(run, requester)));
    fill(sections.io, h("div", { class: "columns" },
      panel("Input", json(run.input)),
      panel(run.error ? "Error" : "Output", run.error ? errorView(run.error) : run.output ? json(run.output) : h("p", { class: "muted" }, "No output yet."))));
    fill(sections.steps, panel("Steps", stepsTable(run.steps)));
    fill(sections.calls, panel("Model calls", callsTable(run.model_calls)));
    fill(sections.events, panel("Events", eventsTable(run.events)));
  };

  let shownActionsFor = null;
  const paintActions = () => {
    if (!can("operate_runs") || shownActionsFor === run.status) return;
    shownActionsFor = run.status;
    fill(sections.actions, actionsPanel(run, { path, signal, changed }));
  };

  // A new state of the run from an action's answer: shown at once, then followed live.
  function changed(updated) {
    run = { ...run, ...updated };
    paint();
    paintActions();
    reload();
    follow();
  }

  // The run read again after an event, for its steps, model calls and output; what was read never takes the
  // run back to an older state than the newest event seen.
  const reload = rereader(async () => {
    run = withEvents(await api.get(path, undefined, { signal }), run.events);
    paint();
    paintActions();
  }, (error) => fill(streamMessages, problem(error)), signal);

  const onEvent = ({ data }) => {
    lastEventId = Math.max(lastEventId, data.id);
    run = withEvents(run, [data]);
    paint();
    paintActions();
    reload();
  };

  function follow() {
    if (following || TERMINAL.has(run.status)) return;
    following = true;
    paint();
    (async () => {
      try {
        while (!TERMINAL.has(run.status)) {
          await api.followEvents(`${path}/events`, { signal, lastEventId, onEvent });
        }
      } catch (error) {
        if (!signal.aborted && !(error instanceof api.SignedOut)) fill(streamMessages, problem(error));
      } finally {
        following = false;
        if (!signal.aborted) paint();
      }
    })();
  }

  paint();
  paintActions();
  follow();
}

/** `run` with `events` added (each once, in order), its status that of the newest event. */
function withEvents(run, events) {
  const byId = new Map([...run.events, ...events].map((event) => [event.id, event]));
  const all = [...byId.values()].sort((a, b) => a.id - b.id);
  return { ...run, events: all, status: all.at(-1)?.to_status ?? run.status };
}

function summary(run, requester) {
  return fields([
    ["Status", badge(run.status)],
    ["Attempts", attempts(run)],
    ["Queued", dateTime(run.queued_at)],
    ["Started", dateTime(run.started_at)],
    ["Finished", dateTime(run.finished_at)],
    ["Took", between(run.started_at, run.finished_at)],
    ["Next attempt", dateTime(run.next_attempt_at)],
    ["Worker", run.worker],
    ["Requested by", requester],
    ["Pipeline", run.pipeline_id ? h("a", { href: link(`/pipelines/${run.pipeline_id}`) }, run.pipeline_id) : null],
    ["Parent run", run.parent_run_id ? runLink(run.parent_run_id, run.parent_run_id) : null],
    ["Idempotency key", run.idempotency_key],
    ["Overridden", run.overridden ? `yes: ${run.override_reason ?? ""}` : null],
    ["Cancel asked", run.cancel_requested ? "yes, at its next step" : null],
  ]);
}

function errorView(error) {
  return fields([
    ["Message", h("div", { class: "text" }, error.message ?? "")],
    ["Type", error.type],
    ["Code", error.code],
    ["Retryable", error.retryable === undefined ? null : error.retryable ? "yes" : "no"],
    ["Discarded", error.discarded ? "yes" : null],
  ]);
}

function stepsTable(steps) {
  return table([
    { title: "Step", cell: (step) => step.name },
    { title: "Attempt", cell: (step) => String(step.attempt) },
    { title: "Finished", cell: (step) => dateTime(step.finished_at) },
    { title: "Took", cell: (step) => between(step.started_at, step.finished_at) },
    { title: "Result", cell: (step) => h("details", {}, h("summary", {}, "show"), json(step.result)) },
  ], steps, { empty: "No step recorded yet." });
}

function callsTable(calls) {
  const total = (pick) => calls.reduce((sum, call) => sum + Number(pick(call)), 0);
  const element = table([
    { title: "Step", cell: (call) => call.step ?? "" },
    { title: "Model", cell: (call) => `${call.provider} · ${call.model}` },
    { title: "Prompt", cell: (call) => `${call.prompt_key} v${call.prompt_version} (${call.prompt_source})` },
    { title: "Tokens in / out / cached", class: "num", cell: (call) => `${count(call.input_tokens)} / ${count(call.output_tokens)} / ${count(call.cached_tokens)}` },
    { title: "Cost", class: "num", cell: (call) => usd(call.cost_usd) },
    { title: "Latency", class: "num", cell: (call) => duration(call.latency_ms) },
    { title: "Status", cell: (call) => [badge(call.status === "ok" ? "succeeded" : "failed"), call.error ? ` ${call.error}` : ""] },
    { title: "Attempt", cell: (call) => `${call.attempt}${call.is_retry ? " (retry)" : ""}${call.purpose === "repair" ? " (repair)" : ""}` },
  ], calls, { empty: "No model calls." });
  if (calls.length) {
    add(element, h("tfoot", {}, h("tr", {},
      h("td", { colspan: 3 }, `${calls.length} call${calls.length === 1 ? "" : "s"}`),
      h("td", { class: "num" }, `${count(total((c) => c.input_tokens))} / ${count(total((c) => c.output_tokens))} / ${count(total((c) => c.cached_tokens))}`),
      h("td", { class: "num" }, usd(total((c) => c.cost_usd))),
      h("td", { colspan: 3 }))));
  }
  return element;
}

function eventsTable(events) {
  return table([
    { title: "When", cell: (event) => dateTime(event.created_at) },
    { title: "Change", cell: (event) => [event.from_status ? [badge(event.from_status), " → "] : "", badge(event.to_status)] },
    { title: "Attempt", cell: (event) => String(event.attempt) },
    { title: "Detail", cell: (event) => (event.detail ? h("code", { class: "detail" }, JSON.stringify(event.detail)) : "") },
  ], events, { rowClass: () => "event" });
}

function actionsPanel(run, { path, signal, changed }) {
  const messages = h("div", {});
  const buttons = [];
  if (RETRYABLE.has(run.status)) {
    buttons.push(actionButton("Retry", async () => changed(await api.post(`${path}/retry`, undefined, { signal })), messages));
  }
  if (!TERMINAL.has(run.status)) {
    buttons.push(actionButton("Cancel run", async () => changed(await api.post(`${path}/cancel`, undefined, { signal })), messages, { kind: "danger" }));
  }
  if (run.status === "dead_lettered") {
    buttons.push(actionButton("Discard", async () => changed(await api.post(`/dlq/${run.id}/discard`, undefined, { signal })), messages, { kind: "danger" }));
  }
  return panel("Actions", buttons.length ? h("div", { class: "buttons" }, buttons) : null, overrideForm(run, { path, signal, changed, messages }), messages);
}

function overrideForm(run, { path, signal, changed, messages }) {
  const target = h("select", { name: "status" }, OVERRIDE_TARGETS.filter((s) => s !== run.status).map((s) => h("option", { value: s }, label(s))));
  const output = h("textarea", { name: "output", class: "mono", rows: 6, value: JSON.stringify(run.output ?? {}, null, 2) });
  const outputField = field("Output (for succeeded)", output, "Checked against the agent's output schema by the API.");
  const reason = h("textarea", { name: "reason", rows: 2, required: true, placeholder: "Why, for the record" });
  const showOutput = () => {
    outputField.hidden = target.value !== "succeeded";
  };
  target.addEventListener("change", showOutput);
  showOutput();
  const form = actionForm("Override", async () => {
    const body = { status: target.value, reason: reason.value };
    if (target.value === "succeeded") {
      try {
        body.output = JSON.parse(output.value);
      } catch {
        throw new Error("The output is not valid JSON.");
      }
    }
    changed(await api.post(`${path}/manual-override`, body, { signal }));
  }, messages, field("Set the run to", target), outputField, field("Reason", reason));
  return h("details", { class: "override" }, h("summary", {}, "Override by hand"), form);
}
