// The price book (/api/v1/price-book): what the tenant sells. Prices in deals are copied from here by code.

import * as api from "../../api.js";
import { fill, h } from "../../dom.js";
import { actionButton, actionForm, field, notice, table } from "../../ui.js";

const PERIODS = ["one_time", "monthly", "quarterly", "yearly"];

export async function render(body, { signal }) {
  show(body, (await api.get("/price-book", { limit: 200 }, { signal })).items, signal);
}

function show(body, items, signal, saved) {
  const messages = h("div", {});
  const reload = async (note) => show(body, (await api.get("/price-book", { limit: 200 }, { signal })).items, signal, note);
  const editRow = (item) => {
    const name = h("input", { name: "name", value: item.name, "aria-label": `Name of ${item.code}` });
    const price = h("input", { name: "list_price", class: "short", inputmode: "decimal", value: item.list_price, "aria-label": `Price of ${item.code}` });
    const active = h("input", { name: "active", type: "checkbox", checked: item.active, "aria-label": `${item.code} is offered` });
    return { name, price, active, save: actionButton("Save", async () => {
      await api.patch(`/price-book/${item.id}`, { name: name.value, list_price: price.value.trim(), active: active.checked }, { signal });
      await reload(`Saved ${item.code}.`);
    }, messages, { kind: "secondary" }) };
  };
  const rows = items.map((item) => ({ item, edit: editRow(item) }));
  const period = h("select", { name: "billing_period" }, PERIODS.map((p) => h("option", { value: p }, p.replace("_", " "))));
  const create = actionForm("Add to the price book", async (form) => {
    const values = Object.fromEntries(new FormData(form));
    await api.post("/price-book", { ...values, active: true }, { signal });
    await reload(`Added ${values.code}.`);
  }, messages,
  field("Code", h("input", { name: "code", required: true })),
  field("Name", h("input", { name: "name", required: true })),
  field("Currency", h("input", { name: "currency", class: "short", value: "EUR", required: true })),
  field("List price", h("input", { name: "list_price", class: "short", inputmode: "decimal", required: true })),
  field("Billed", period),
  field("Description", h("textarea", { name: "description", rows: 2 })));
  fill(body,
    saved ? notice(saved) : null,
    table([
      { title: "Code", cell: (row) => h("code", {}, row.item.code) },
      { title: "Name", cell: (row) => row.edit.name },
      { title: "List price", cell: (row) => [row.edit.price, ` ${row.item.currency}`] },
      { title: "Billed", cell: (row) => row.item.billing_period.replace("_", " ") },
      { title: "Offered", cell: (row) => row.edit.active },
      { title: "", cell: (row) => row.edit.save },
    ], rows, { empty: "The price book is empty." }),
    h("h3", {}, "A new package"),
    create,
    messages);
}
