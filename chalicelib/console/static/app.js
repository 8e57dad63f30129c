// The console's shell: sign-in, the hash router and the live feed shared by the pages.

import { access, credentials, get } from "./api.js";
import { ChangeFeed } from "./live.js";
import * as directives from "./directives.js";
import * as inventory from "./inventory.js";
import * as order from "./order.js";
import * as orders from "./orders.js";
import * as sessions from "./sessions.js";
import * as stats from "./stats.js";
import { clearFlash, flash, h, showError } from "./ui.js";

const ROUTES = [
  [/^\/orders\/([^/]+)$/, order],
  [/^\/orders$/, orders],
  [/^\/sessions$/, sessions],
  [/^\/directives$/, directives],
  [/^\/inventory$/, inventory],
  [/^\/stats$/, stats],
];
const LIVE_TEXT = {
  connecting: "connecting…", live: "live", reconnecting: "reconnecting…", unavailable: "live updates unavailable",
};

const $ = (id) => document.getElementById(id);
const feed = new ChangeFeed((state) => {
  $("live").textContent = LIVE_TEXT[state];
  $("live").dataset.state = state;
  $("live").hidden = false;
});
let ctx = null;
let leave = null;
let shown = 0; // which render is current: a slow page must not draw over the one that replaced it

function parseHash() {
  const [path, query] = (location.hash.replace(/^#/, "") || "/orders").split("?");
  return { path, params: new URLSearchParams(query || "") };
}

export function navigate(path, params) {
  const query = new URLSearchParams(Object.entries(params || {}).filter(([, v]) => v)).toString();
  location.hash = query ? `${path}?${query}` : path;
}

async function route() {
  if (!ctx) return;
  if (leave) leave();
  leave = null;
  const { path, params } = parseHash();
  const match = ROUTES.find(([pattern]) => pattern.test(path));
  const page = $("page");
  const view = h("div", { class: "view" });
  page.replaceChildren(view);
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("current", path.startsWith(a.getAttribute("href").slice(1)));
  }
  if (!match) {
    view.append(h("p", { class: "empty" }, "No such page."));
    return;
  }
  const current = ++shown;
  const args = path.match(match[0]).slice(1).map(decodeURIComponent);
  try {
    const cleanup = await match[1].render(view, { ...ctx, params, navigate }, ...args);
    if (current === shown) leave = cleanup || null;
    else if (cleanup) cleanup();
  } catch (error) {
    if (current === shown) view.append(h("p", { class: "error" }, error.message));
    showError(error);
  }
}

async function signIn(key) {
  credentials.set(key);
  let me;
  try {
    me = await get("/v1/me");
  } catch (error) {
    credentials.clear();
    showError(error);
    return showSignIn();
  }
  ctx = { me, access: access(me.scopes), feed };
  $("sign-in").hidden = true;
  $("nav").hidden = false;
  $("sign-out").hidden = false;
  $("who").textContent = `${me.name} · ${me.scopes.join(", ")}`;
  feed.start();
  clearFlash();
  route();
}

function showSignIn() {
  ctx = null;
  feed.stop();
  if (leave) leave();
  leave = null;
  $("sign-in").hidden = false;
  $("nav").hidden = true;
  $("sign-out").hidden = true;
  $("live").hidden = true;
  $("who").textContent = "";
  $("page").replaceChildren();
  $("sign-in").elements.key.focus();
}

function signOut() {
  credentials.clear();
  showSignIn();
}

window.addEventListener("hashchange", route);
window.addEventListener("omniman:unauthenticated", (event) => {
  if (!ctx) return;
  credentials.clear();
  showSignIn();
  flash(`Signed out: ${event.detail.message}`);
});
$("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = event.target.elements.key.value.trim();
  event.target.reset();
  if (key) signIn(key);
});
$("sign-out").addEventListener("click", signOut);

if (credentials.key) signIn(credentials.key);
else showSignIn();
