"""Key design of the inventory items in the main table (see docs/data-model.md, "Inventory").

Codes and skus never contain `#` (their patterns forbid it), so every key below reads back unambiguously.
"""

from __future__ import annotations

import unicodedata

# What a hold carries only while it is live (`held`): removing them takes it out of both expiry indexes.
LIVE_HOLD_ATTRS = ("gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")
LIVE_HOLDS = "HOLDS#LIVE"
HOLD_SK_PREFIX = "H#"
OWNER_SK = "OWNER"


STORES = "STORES"
CATEGORIES = "CATEGORIES"
PRODUCTS = "PRODUCTS"
# Price sort keys are zero-padded to the widest price a product may have (MoneyQ: at most 10**15, 16 digits), so
# string order is numeric order and a price range is one BETWEEN on the sort key.
PRICE_DIGITS = 16
MAX_NAME_ORDER_BYTES = 900


def store(code: str) -> dict[str, str]:
    return {"pk": f"STORE#{code}", "sk": "STORE"}


def store_indexes(code: str) -> dict[str, str]:
    return {"gsi1pk": STORES, "gsi1sk": code}


def category(category_id: str) -> dict[str, str]:
    return {"pk": f"CAT#{category_id}", "sk": "CATEGORY"}


def category_indexes(category_id: str, name: str) -> dict[str, str]:
    # Listed by name as a reader sorts it (case and accents aside); the id breaks ties and keeps keys unique.
    return {"gsi1pk": CATEGORIES, "gsi1sk": f"{name_order(name)}#{category_id}"}


def name_order(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    # Folding can lengthen a name (ß -> ss) and a sort key holds 1024 bytes: the id after it must still fit.
    return folded.encode()[:MAX_NAME_ORDER_BYTES].decode(errors="ignore")


def product(sku: str) -> dict[str, str]:
    return {"pk": f"PRD#{sku}", "sk": "PRODUCT"}


def product_indexes(sku: str, price_q: int, category_id: str | None) -> dict[str, str]:
    """gsi1 lists every product by price, gsi2 one category's by price (absent without a category)."""
    sort = price_sort(price_q, sku)
    indexes = {"gsi1pk": PRODUCTS, "gsi1sk": sort}
    if category_id is not None:
        indexes.update(gsi2pk=category_products(category_id), gsi2sk=sort)
    return indexes


def category_products(category_id: str) -> str:
    return f"{PRODUCTS}#CAT#{category_id}"


def price_sort(price_q: int, sku: str) -> str:
    return f"{price_q:0{PRICE_DIGITS}d}#{sku}"


def price_range(min_price_q: int, max_price_q: int) -> tuple[str, str]:
    """BETWEEN bounds holding exactly the products priced min..max: `$` sorts right after `#`, below any sku."""
    return f"{min_price_q:0{PRICE_DIGITS}d}#", f"{max_price_q:0{PRICE_DIGITS}d}$"


def stock(store_code: str, sku: str) -> dict[str, str]:
    # One partition per (store, sku): a hot sku contends with itself only, never with the rest of its store.
    return {"pk": f"STK#{store_code}#{sku}", "sk": "STOCK"}


def stock_indexes(store_code: str, sku: str) -> dict[str, str]:
    """gsi5 is KEYS_ONLY: written when a row is created, never again when only its counts change."""
    return {"gsi5pk": store_stock(store_code), "gsi5sk": sku}


def store_stock(store_code: str) -> str:
    return f"STOCK#{store_code}"


def stock_index_key(store_code: str, sku: str) -> dict[str, str]:
    """A gsi5 position (table key + index key), to resume a store's listing after `sku`."""
    return {**stock(store_code, sku), **stock_indexes(store_code, sku)}


def store_index_key(code: str) -> dict[str, str]:
    """A gsi1 position in the stores listing, to resume after store `code`."""
    return {**store(code), **store_indexes(code)}


def catalog_meta() -> dict[str, str]:
    """One item whose `version` every catalog write adds 1 to, in the same transaction as the write."""
    return {"pk": "CATALOG", "sk": "META"}


def restock(order_ref: str) -> dict[str, str]:
    """The record that an order's directly deducted stock went back: created with the put-back, so it is once."""
    return {"pk": f"RESTOCK#{order_ref}", "sk": "RESTOCK"}


def hold_owner(owner: str) -> dict[str, str]:
    """The owner's record: every owner-level write is conditional on its `ver`, which serialises them."""
    return {"pk": f"HOLD#{owner}", "sk": OWNER_SK}


def hold(owner: str, store_code: str, sku: str) -> dict[str, str]:
    return {"pk": f"HOLD#{owner}", "sk": f"{HOLD_SK_PREFIX}{store_code}#{sku}"}


def holds_partition(owner: str) -> str:
    return f"HOLD#{owner}"


def sku_holds_partition(store_code: str, sku: str) -> str:
    return f"HOLDS#{store_code}#{sku}"


def live_hold_indexes(owner: str, store_code: str, sku: str, expires_at: str) -> dict[str, str]:
    """Sparse: present only while the hold is `held`, sorted by expiry (ISO strings sort in time order)."""
    return {
        "gsi1pk": sku_holds_partition(store_code, sku), "gsi1sk": f"{expires_at}#{owner}",
        "gsi2pk": LIVE_HOLDS, "gsi2sk": f"{expires_at}#{owner}#{store_code}#{sku}",
    }


def expired_bound(now: str) -> str:
    """Sort keys below this bound belong to holds whose expiry is at or before `now`.

    Every expiry sort key is `{expires_at}#...` with a fixed-width timestamp, and `$` is the character right after
    `#`: a hold expiring exactly at `now` sorts below the bound, one expiring a millisecond later above it.
    """
    return f"{now}$"
