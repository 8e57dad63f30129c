// Open sessions of every channel the key reads, those with blocking issues first, each issue's actions as buttons.

import { act, get } from "./api.js";
import { actionButton, badge, flash, h, money, section, showError, when } from "./ui.js";

export async function render(view, ctx) {
  const content = h("div");
  const refresh = h("button", { type: "button", onclick: () => load().catch(showError) }, "Refresh");
  view.append(h("h1", {}, "Open sessions"), h("div", { class: "actions" }, refresh), content);

  async function load() {
    const channels = (await get("/v1/channels", { limit: 200 })).items;
    const lists = await Promise.all(channels.map((c) =>
      get(`/v1/channels/${encodeURIComponent(c.code)}/sessions`, { state: "open", limit: 200 })));
    const open = lists.flatMap((list) => list.items);
    const blocked = (s) => (s.issues || []).some((i) => i.blocking);
    open.sort((a, b) => Number(blocked(b)) - Number(blocked(a)) || b.updated_at.localeCompare(a.updated_at));
    content.replaceChildren(open.length
      ? h("div", { class: "cards" }, open.map((s) => sessionCard(s, ctx, load)))
      : h("p", { class: "empty" }, "No open sessions."));
  }
  await load();

  // A commit or an abandon closes a session: it leaves this page.
  let applying = Promise.resolve();
  return ctx.feed.subscribe((changes) => {
    if (changes !== null && !changes.some((c) => c.type === "SessionCommitted" || c.type === "SessionAbandoned")) {
      return;
    }
    applying = applying.then(load).catch(showError);
  });
}

function sessionCard(session, ctx, reload) {
  const lines = (session.items || []).map((l) => `${l.qty} × ${l.sku}`).join(", ") || "empty";
  const refs = Object.entries(session.refs || {}).map(([ns, value]) => ` · ${ns} ${value}`).join("");
  const card = section(`${session.channel_code} / ${session.session_key}`,
    h("p", { class: "meta" }, `rev ${session.rev} · ${lines} · ${money(session.pricing?.total_q)} · `
      + `updated ${when(session.updated_at)}${refs}`),
    h("ul", { class: "issues" }, (session.issues || []).map((issue) => issueItem(session, issue, ctx, reload))));
  card.dataset.session = `${session.channel_code}/${session.session_key}`;
  return card;
}

function issueItem(session, issue, ctx, reload) {
  const path = `/v1/channels/${encodeURIComponent(session.channel_code)}/sessions/`
    + `${encodeURIComponent(session.session_key)}/resolve`;
  const resolve = (action) => actionButton(action.label || action.id, (key) =>
    // expected_rev: the action is for the session as shown; one changed since is a 409, not a surprise.
    act(path, { issue_id: issue.id, action_id: action.id, expected_rev: session.rev }, key), {
    done: async () => {
      flash(`${issue.id}: ${action.label || action.id} applied.`, "info");
      await reload();
    },
  });
  return h("li", { "data-issue": issue.id, class: issue.blocking ? "blocking" : null },
    h("div", {}, badge(issue.blocking ? "blocking" : "warning"), " ", h("strong", {}, issue.code), ` ${issue.message}`),
    h("div", { class: "actions" }, ctx.access.canWrite(session.channel_code) ? (issue.actions || []).map(resolve) : []));
}
