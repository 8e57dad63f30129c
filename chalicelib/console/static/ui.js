// DOM helpers. Everything the API sends is put into the page as text, never parsed as HTML.

import { ApiError } from "./api.js";

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const amounts = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

// Money is integer minor units in the API.
export const money = (q) => amounts.format((Number(q) || 0) / 100);

export const when = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") : "");

export const badge = (status) => h("span", { class: `badge badge-${status}`, "data-status": status }, status);

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

export function table(columns, rows, rowAttrs = () => ({})) {
  if (!rows.length) return h("p", { class: "empty" }, "Nothing here.");
  return h("table", {},
    h("thead", {}, h("tr", {}, columns.map(([label]) => h("th", {}, label)))),
    h("tbody", {}, rows.map((row) => tableRow(columns, row, rowAttrs(row)))));
}

export function tableRow(columns, row, attrs = {}) {
  return h("tr", attrs, columns.map(([, cell]) => h("td", {}, cell(row))));
}

let flashTimer = null;

export function flash(message, kind = "error") {
  const el = document.getElementById("flash");
  el.textContent = message;
  el.className = `flash flash-${kind}`;
  el.hidden = false;
  clearTimeout(flashTimer);
  if (kind !== "error") flashTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

export function clearFlash() {
  document.getElementById("flash").hidden = true;
}

export function showError(error) {
  flash(error instanceof ApiError ? error.message : `The API could not be reached: ${error.message}`);
}

// 128 random bits as hex: crypto.randomUUID exists only on https and localhost, this works everywhere.
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "console-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// A button for one state change. One click is one intent with one Idempotency-Key, kept until the API answers:
// the button is disabled while its request is in flight, and a request repeated without an answer (the network
// dropped it, or the API still runs the first) goes with the same key, so the API acts once and replays the answer.
export function actionButton(label, perform, { done, title, kind = "" } = {}) {
  let intent = null;
  const button = h("button", { type: "button", class: `action ${kind}`, title }, label);
  button.addEventListener("click", async () => {
    if (button.disabled) return;
    intent ??= newKey();
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      const answer = await perform(intent);
      intent = null;
      clearFlash();
      if (done) await done(answer);
    } catch (error) {
      // An answer ends the intent; no answer (or "still in flight") keeps it for the next click.
      if (error instanceof ApiError && error.code !== "idempotency_in_progress") intent = null;
      showError(error);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  });
  return button;
}

export function link(href, text) {
  return h("a", { href }, text);
}

export function field(label, input) {
  return h("label", { class: "field" }, h("span", {}, label), input);
}

export function select(name, options, value) {
  return h("select", { name }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
}
