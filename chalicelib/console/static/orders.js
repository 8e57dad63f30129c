// Orders, newest first, filtered by channel, status and day; new orders and status changes arrive live.

import { collect, defaultFlow, get } from "./api.js";
import { badge, field, h, link, money, section, select, showError, tableRow, when } from "./ui.js";

const COLUMNS = [
  ["Order", (o) => link(`#/orders/${encodeURIComponent(o.ref)}`, o.ref)],
  ["Channel", (o) => o.channel_code],
  ["Status", (o) => badge(o.status)],
  ["Total", (o) => money(o.total_q)],
  ["Created", (o) => when(o.created_at)],
];
// Date filters are the API's creation times read newest first: stop paging once past the oldest day asked for.
const MAX_PAGES = 10;

export async function render(view, { params, navigate, feed }) {
  const filters = { channel: params.get("channel") || "", status: params.get("status") || "",
    from: params.get("from") || "", to: params.get("to") || "" };
  const channels = (await get("/v1/channels", { limit: 200 })).items;
  const statuses = await knownStatuses(channels);

  const form = h("form", { class: "filters" },
    field("Channel", select("channel", [["", "all"], ...channels.map((c) => [c.code, c.code])], filters.channel)),
    field("Status", h("input", { name: "status", list: "statuses", value: filters.status, placeholder: "any" })),
    h("datalist", { id: "statuses" }, statuses.map((s) => h("option", { value: s }))),
    field("From (UTC)", h("input", { type: "date", name: "from", value: filters.from })),
    field("To (UTC)", h("input", { type: "date", name: "to", value: filters.to })),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate("/orders", Object.fromEntries(new FormData(form)));
  });

  const body = h("tbody");
  const more = h("div", { class: "more" });
  const count = h("span", { class: "count" });
  view.append(h("h1", {}, "Orders"), form,
    section("Orders", count, h("table", { id: "orders" },
      h("thead", {}, h("tr", {}, COLUMNS.map(([label]) => h("th", {}, label)))), body), more));

  const matches = (o) => (!filters.channel || o.channel_code === filters.channel)
    && (!filters.status || o.status === filters.status)
    && (!filters.from || o.created_at.slice(0, 10) >= filters.from)
    && (!filters.to || o.created_at.slice(0, 10) <= filters.to);
  const rows = new Map();
  const rowFor = (o, fresh) => tableRow(COLUMNS, o, { "data-ref": o.ref, class: fresh ? "fresh" : null });
  const recount = () => { count.textContent = `${rows.size} shown`; };

  async function loadPage(cursor) {
    const query = { channel: filters.channel, status: filters.status, limit: 200, cursor };
    const page = await collect("/v1/orders", query, {
      maxPages: filters.from ? MAX_PAGES : 1,
      enough: (items) => filters.from && items.length && items.at(-1).created_at.slice(0, 10) < filters.from,
    });
    for (const o of page.items.filter(matches)) {
      if (rows.has(o.ref)) continue;
      const row = rowFor(o, false);
      rows.set(o.ref, row);
      body.append(row);
    }
    const past = filters.from && page.items.length && page.items.at(-1).created_at.slice(0, 10) < filters.from;
    more.replaceChildren(page.next_cursor && !past
      ? h("button", { type: "button", onclick: () => loadPage(page.next_cursor).catch(showError) }, "Load more")
      : "");
    recount();
  }
  await loadPage(null);

  // Live: each changed order is read again and put where the filters want it (top if new, gone if filtered out).
  // One batch at a time, so two batches naming one new order cannot both add it.
  let applying = Promise.resolve();
  return feed.subscribe((changes) => {
    applying = applying.then(() => (changes === null ? reload() : apply(changes))).catch(showError);
  });

  async function reload() { // changes were missed: read the list again
    rows.clear();
    body.replaceChildren();
    await loadPage(null).catch(showError);
  }

  async function apply(changes) {
    const refs = [...new Set(changes.filter((c) => c.order_ref && (!filters.channel || c.channel === filters.channel))
      .map((c) => c.order_ref))];
    for (const ref of refs) {
      let o;
      try { o = await get(`/v1/orders/${encodeURIComponent(ref)}`); } catch (error) { showError(error); continue; }
      const old = rows.get(ref);
      if (!matches(o)) {
        if (old) old.remove();
        rows.delete(ref);
      } else if (old) {
        const row = rowFor(o, true);
        old.replaceWith(row);
        rows.set(ref, row);
      } else {
        const row = rowFor(o, true);
        body.prepend(row);
        rows.set(ref, row);
      }
    }
    recount();
  }
}

// Every status any channel's flow names, for the filter.
async function knownStatuses(channels) {
  const fallback = await defaultFlow();
  const all = new Set();
  for (const channel of channels) {
    const flow = channel.config.order_flow || fallback;
    all.add(flow.initial_status);
    for (const [from, tos] of Object.entries(flow.transitions)) [from, ...tos].forEach((s) => all.add(s));
    flow.terminal_statuses.forEach((s) => all.add(s));
  }
  return [...all].sort();
}
