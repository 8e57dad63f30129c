// Directives: dead and failed first, with their last error, `retry` each and `redrive` the dead-letter queues.

import { act, get } from "./api.js";
import { actionButton, badge, flash, h, link, section, showError, table, tableRow, when } from "./ui.js";

const RETRYABLE = new Set(["dead", "failed"]);
const UNSETTLED = new Set(["queued", "running"]);
const FOLLOW_MS = 1000;
const FOLLOW_FOR_MS = 60000;

// `retried(directive)` gets the directive as the retry answered it (queued, usually).
export function directiveColumns(ctx, retried) {
  return [
    ["Id", (d) => d.id],
    ["Topic", (d) => d.topic],
    ["Status", (d) => badge(d.status)],
    ["Attempts", (d) => d.attempts],
    ["Order", (d) => (d.order_ref ? link(`#/orders/${encodeURIComponent(d.order_ref)}`, d.order_ref) : "")],
    ["Last error", (d) => h("span", { class: "error-text" }, d.last_error || "")],
    ["Updated", (d) => when(d.updated_at)],
    ["", (d) => (ctx.access.operator && RETRYABLE.has(d.status)
      ? actionButton("Retry", (key) => act(`/v1/directives/${encodeURIComponent(d.id)}/retry`, {}, key), {
        done: (answer) => {
          flash(answer.data.requeued ? `${d.id} requeued.` : `${d.id} was already queued or running.`, "info");
          return retried(answer.data);
        },
      })
      : "")],
  ];
}

// Reads a directive again until a worker has settled it (or a minute has passed), telling `update` each time.
export async function follow(id, update, signal) {
  const until = Date.now() + FOLLOW_FOR_MS;
  while (!signal.aborted && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_MS));
    if (signal.aborted) return;
    const directive = await get(`/v1/directives/${encodeURIComponent(id)}`);
    update(directive);
    if (!UNSETTLED.has(directive.status)) return;
  }
}

export async function render(view, ctx) {
  const content = h("div");
  const stop = new AbortController();
  const redrive = ctx.access.operator
    ? actionButton("Redrive dead letters", (key) => act("/v1/directives/redrive", {}, key), {
      done: async (answer) => {
        const { moved, dropped, kept } = answer.data;
        flash(`Redrive: ${moved} moved back, ${dropped} dropped (already done), ${kept} kept.`, "info");
        await load();
      },
    })
    : null;
  view.append(h("h1", {}, "Directives"), h("div", { class: "actions" }, redrive), content);

  const columns = directiveColumns(ctx, (directive) => {
    const replace = (d) => {
      const row = content.querySelector(`tr[data-directive="${CSS.escape(d.id)}"]`);
      if (row) row.replaceWith(tableRow(columns, d, rowAttrs(d)));
    };
    replace(directive);
    follow(directive.id, replace, stop.signal).catch(showError);
  });
  const rowAttrs = (d) => ({ "data-directive": d.id });

  async function load() {
    const [dead, failed, recent] = await Promise.all(["dead", "failed", null].map((status) =>
      get("/v1/directives", { status, limit: status ? 200 : 50 })));
    const first = [...dead.items, ...failed.items];
    const seen = new Set(first.map((d) => d.id));
    content.replaceChildren(
      section(`Dead and failed (${first.length})`, table(columns, first, rowAttrs)),
      section("Recent", table(columns, recent.items.filter((d) => !seen.has(d.id)), rowAttrs)));
  }
  await load();
  return () => stop.abort();
}
