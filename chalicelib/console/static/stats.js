// Statistics as charts: orders and revenue per day, orders per status, from GET /v1/orders/stats.

import { get } from "./api.js";
import { barList, columnChart } from "./charts.js";
import { field, h, money, section, select } from "./ui.js";

const DAY_MS = 86400000;
const isoDay = (date) => date.toISOString().slice(0, 10);

export async function render(view, { params, navigate, access }) {
  const today = new Date();
  const filters = {
    channel: params.get("channel") || "",
    from: params.get("from") || isoDay(new Date(today.getTime() - 13 * DAY_MS)),
    to: params.get("to") || isoDay(today),
  };
  const channels = (await get("/v1/channels", { limit: 200 })).items;
  // All channels together need the operator scope; a channel key sees its own channel by default.
  const choices = access.operator ? [["", "all"]] : [["", "mine"]];
  const form = h("form", { class: "filters" },
    field("Channel", select("channel", [...choices, ...channels.map((c) => [c.code, c.code])], filters.channel)),
    field("From (UTC)", h("input", { type: "date", name: "from", value: filters.from })),
    field("To (UTC)", h("input", { type: "date", name: "to", value: filters.to })),
    h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate("/stats", Object.fromEntries(new FormData(form)));
  });
  view.append(h("h1", {}, "Statistics"), form);

  const stats = await get("/v1/orders/stats", filters);
  const byDay = new Map(stats.days.map((d) => [d.day, d]));
  const days = everyDay(stats.from, stats.to).map((day) => byDay.get(day) || { day, orders: 0, revenue_q: 0 });
  const totals = stats.totals;
  view.append(
    h("div", { class: "tiles" },
      tile("Orders", totals.orders), tile("Revenue", money(totals.revenue_q)),
      tile("Average order", money(totals.average_order_value_q))),
    section("Orders per day", h("div", { id: "chart-orders" },
      columnChart(days.map((d) => ({ label: d.day, value: d.orders })), { label: "orders per day" }))),
    section("Revenue per day", h("div", { id: "chart-revenue" },
      columnChart(days.map((d) => ({ label: d.day, value: d.revenue_q })), { label: "revenue per day", format: money }))),
    section("Orders per status", h("div", { id: "chart-status" }, Object.keys(totals.by_status).length
      ? barList(Object.entries(totals.by_status).map(([label, value]) => ({ label, value })), {
        label: "orders per status" })
      : h("p", { class: "empty" }, "No orders in these days."))));
}

function tile(label, value) {
  return h("div", { class: "tile" }, h("span", {}, label), h("strong", {}, value));
}

function everyDay(from, to) {
  const days = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += DAY_MS) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}
