// Stock rows, low stock first (available at or under the reorder level), per store or all stores.

import { collect, get } from "./api.js";
import { field, h, section, select, showError, table } from "./ui.js";

const COLUMNS = [
  ["Store", (r) => r.store_code], ["SKU", (r) => r.sku], ["On hand", (r) => r.on_hand],
  ["Reserved", (r) => r.reserved], ["Available", (r) => r.available], ["Reorder at", (r) => r.reorder_level ?? ""],
];
const rowAttrs = (r) => ({ "data-stock": `${r.store_code}/${r.sku}` });

export async function render(view, { params, navigate }) {
  const store = params.get("store") || "";
  const stores = (await get("/v1/stores", { limit: 200 })).items;
  const form = h("form", { class: "filters" },
    field("Store", select("store", [["", "all"], ...stores.map((s) => [s.code, `${s.code} · ${s.name}`])], store)),
    h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate("/inventory", Object.fromEntries(new FormData(form)));
  });
  const low = await collect("/v1/inventory", { store, low_stock: "true", limit: 200 }, { maxPages: 5 });
  // The furthest under its reorder level first.
  const shortBy = (r) => Number(r.available) - Number(r.reorder_level ?? 0);
  low.items.sort((a, b) => shortBy(a) - shortBy(b) || a.sku.localeCompare(b.sku));
  const lowKeys = new Set(low.items.map((r) => `${r.store_code}/${r.sku}`));
  const rest = h("div");
  const more = h("div", { class: "more" });
  view.append(h("h1", {}, "Inventory"), form,
    section(`Low stock (${low.items.length}${low.next_cursor ? "+" : ""})`, table(COLUMNS, low.items, rowAttrs)),
    section("All stock", rest, more));

  const shown = [];
  async function loadRest(cursor) {
    const page = await get("/v1/inventory", { store, limit: 100, cursor });
    shown.push(...page.items.filter((r) => !lowKeys.has(`${r.store_code}/${r.sku}`)));
    rest.replaceChildren(table(COLUMNS, shown, rowAttrs));
    more.replaceChildren(page.next_cursor
      ? h("button", { type: "button", onclick: () => loadRest(page.next_cursor).catch(showError) }, "Load more")
      : "");
  }
  await loadRest(null);
}
