// The dead-letter queue: runs that spent their attempts. Operators select some and retry or discard them
// (all or nothing, as the API does it).

import * as api from "../api.js";
import { add, h } from "../dom.js";
import { dateTime } from "../format.js";
import { can } from "../session.js";
import { actionButton, datalist, filters, heading, notice, pagedTable, runLink } from "../ui.js";
import { agentNames } from "../vocabulary.js";
import { attempts } from "./runs.js";

export async function render(page, { query, signal }) {
  const operator = can("operate_runs");
  const messages = h("div", {});
  const selected = new Set();
  const boxes = new Map();
  const selectAll = h("input", { type: "checkbox", title: "Select every run shown", "aria-label": "Select all" });
  selectAll.addEventListener("change", () => {
    for (const [id, box] of boxes) {
      box.checked = selectAll.checked;
      toggle(id, box.checked);
    }
  });
  const toggle = (id, on) => (on ? selected.add(id) : selected.delete(id));
  const checkbox = (run) => {
    const box = h("input", { type: "checkbox", "aria-label": `Select run ${run.id}`, value: run.id });
    box.addEventListener("change", () => toggle(run.id, box.checked));
    boxes.set(run.id, box);
    return box;
  };
  const removeRows = (ids) => {
    for (const id of ids) {
      boxes.get(id)?.closest("tr").remove();
      boxes.delete(id);
      selected.delete(id);
    }
    selectAll.checked = false;
  };
  const chosen = () => {
    if (!selected.size) throw new Error("Select the runs first.");
    return [...selected];
  };

  const retry = async () => {
    const { retried } = await api.post("/dlq/retry", { run_ids: chosen() }, { signal });
    removeRows(retried);
    add(messages, notice(`Retried ${retried.length} run${retried.length === 1 ? "" : "s"}: `), h("p", {}, retried.map((id) => [runLink(id), " "])));
  };
  const discard = async () => {
    const { discarded } = await api.post("/dlq/discard", { run_ids: chosen() }, { signal });
    removeRows(discarded);
    add(messages, notice(`Discarded ${discarded.length} run${discarded.length === 1 ? "" : "s"}: they are failed now, marked discarded.`));
  };

  add(page,
    heading("Dead letters"),
    h("p", { class: "muted" }, "Runs that failed on every attempt. Retrying gives a run a fresh set of attempts; its completed steps are not done again."),
    filters("/dead-letters", query, [{ name: "agent", label: "Agent", list: "agents", placeholder: "any" }]),
    datalist("agents", await agentNames(signal)),
    operator ? h("div", { class: "buttons" },
      actionButton("Retry selected", retry, messages),
      actionButton("Discard selected", discard, messages, { kind: "danger" })) : null,
    messages);
  add(page, await pagedTable([
    ...(operator ? [{ title: selectAll, cell: checkbox }] : []),
    { title: "Run", cell: (run) => runLink(run.id) },
    { title: "Agent", cell: (run) => run.agent },
    { title: "Error", cell: (run) => run.error?.message ?? "" },
    { title: "Attempts", cell: attempts },
    { title: "Dead-lettered", cell: (run) => dateTime(run.finished_at) },
  ], (cursor) => api.get("/dlq", { agent: query.get("agent"), cursor, limit: 50 }, { signal }), { empty: "The dead-letter queue is empty." }));
}
