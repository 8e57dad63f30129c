// One order: items, totals, status with its next steps as buttons, events, payments, shipments, directives, refs.

import { act, defaultFlow, get } from "./api.js";
import { actionButton, badge, flash, h, money, section, showError, table, when } from "./ui.js";
import { directiveColumns, follow } from "./directives.js";

export async function render(view, ctx, ref) {
  const path = `/v1/orders/${encodeURIComponent(ref)}`;
  const content = h("div");
  const stop = new AbortController();
  // A retried directive: shown queued at once, and the order read again once a worker has settled it.
  const retried = (directive) => {
    load()
      .then(() => follow(directive.id, () => {}, stop.signal))
      .then(() => !stop.signal.aborted && load())
      .catch(showError);
  };
  view.append(h("p", {}, h("a", { href: "#/orders" }, "← Orders")), content);

  async function load() {
    const order = await get(path);
    const [channel, events, payments, shipments, directives] = await Promise.all([
      get(`/v1/channels/${encodeURIComponent(order.channel_code)}`),
      get(`${path}/events`, { limit: 200 }),
      get(`${path}/payments`, { limit: 200 }),
      get(`${path}/shipments`, { limit: 200 }),
      ctx.access.operator ? get("/v1/directives", { order_ref: ref, limit: 200 }) : null,
    ]);
    const flow = channel.config.order_flow || (await defaultFlow());
    content.replaceChildren(
      h("h1", {}, `Order ${order.ref}`),
      summary(order),
      statusCard(order, flow, ctx, load),
      section("Items", itemsTable(order)),
      section("Timeline", timeline(events.items)),
      section("Payments", table(PAYMENT_COLUMNS, payments.items)),
      section("Shipments", table(SHIPMENT_COLUMNS, shipments.items)),
      section("Directives", directives
        ? table(directiveColumns(ctx, retried), directives.items, (d) => ({ "data-directive": d.id }))
        : h("p", { class: "empty" }, "Directives need the operator scope.")),
      section("Refs", refsTable(order.refs)),
    );
  }
  await load();

  let applying = Promise.resolve();
  const unsubscribe = ctx.feed.subscribe((changes) => {
    if (changes !== null && !changes.some((c) => c.order_ref === ref)) return;
    applying = applying.then(load).catch(showError);
  });
  return () => { stop.abort(); unsubscribe(); };
}

function summary(order) {
  const pricing = order.snapshot?.pricing || {};
  return h("dl", { class: "summary" },
    h("dt", {}, "Channel"), h("dd", {}, order.channel_code),
    h("dt", {}, "Status"), h("dd", { id: "order-status" }, badge(order.status)),
    h("dt", {}, "Subtotal"), h("dd", {}, money(pricing.subtotal_q ?? order.total_q)),
    h("dt", {}, "Total"), h("dd", {}, money(order.total_q)),
    h("dt", {}, "Captured"), h("dd", {}, money(order.captured_q)),
    h("dt", {}, "Refunded"), h("dd", {}, money(order.refunded_q)),
    h("dt", {}, "Session"), h("dd", {}, order.session_key || "—"),
    h("dt", {}, "Created"), h("dd", {}, when(order.created_at)),
    h("dt", {}, "Updated"), h("dd", {}, when(order.updated_at)));
}

// The channel's flow says where the order may go next; cancelling goes through the cancel command, which also
// gives captured money back, every other step through transition.
function statusCard(order, flow, ctx, reload) {
  const next = flow.terminal_statuses.includes(order.status) ? [] : flow.transitions[order.status] || [];
  const path = `/v1/orders/${encodeURIComponent(order.ref)}`;
  const done = async (answer) => {
    await reload();
    if (answer.replayed) flash("Already done: the API answered with the first result.", "info");
  };
  const buttons = ctx.access.canCommand(order.channel_code)
    ? next.map((status) => actionButton(`→ ${status}`, (key) => (status === "cancelled"
      ? act(`${path}/cancel`, {}, key)
      : act(`${path}/transition`, { status }, key)), { done, kind: status === "cancelled" ? "danger" : "" }))
    : [];
  return section("Status", h("p", {}, badge(order.status), " ",
    next.length ? `next: ${next.join(", ")}` : "no next step (terminal)"),
  h("div", { class: "actions", id: "order-actions" }, buttons));
}

function itemsTable(order) {
  return table([
    ["Line", (l) => l.line_id], ["SKU", (l) => l.sku], ["Name", (l) => l.name || ""], ["Qty", (l) => l.qty],
    ["Unit price", (l) => money(l.unit_price_q)], ["Total", (l) => money(l.line_total_q)],
  ], order.items || []);
}

function timeline(events) {
  if (!events.length) return h("p", { class: "empty" }, "No events.");
  return h("ol", { class: "timeline" }, events.map((e) => h("li", { "data-event": e.event_type },
    h("time", {}, when(e.occurred_at)), " ", h("strong", {}, e.event_type),
    detail(e.payload || {}),
    ` · ${e.metadata?.actor || ""}`)));
}

// What an event changed, in a few words: a status move, or a reference set or removed.
function detail(payload) {
  if (payload.to) return ` ${payload.from || "∅"} → ${payload.to}`;
  if (payload.namespace) return ` ${payload.namespace} = ${payload.value ?? "∅"}`;
  return "";
}

const PAYMENT_COLUMNS = [
  ["Id", (p) => p.id], ["Kind", (p) => p.kind], ["Status", (p) => badge(p.status)],
  ["Amount", (p) => money(p.amount_q)], ["Backend", (p) => p.backend], ["At", (p) => when(p.created_at)],
];
const SHIPMENT_COLUMNS = [
  ["Id", (s) => s.id], ["Status", (s) => badge(s.status)], ["Carrier", (s) => s.carrier || ""],
  ["Tracking", (s) => s.tracking_number || ""], ["Updated", (s) => when(s.updated_at)],
];

function refsTable(refs) {
  const entries = Object.entries(refs || {});
  if (!entries.length) return h("p", { class: "empty" }, "No external references.");
  return table([["Namespace", ([ns]) => ns], ["Value", ([, value]) => value]], entries);
}
