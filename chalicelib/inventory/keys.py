"""Key design of the inventory items in the main table (see docs/data-model.md, "Inventory").

Codes and skus never contain `#` (their patterns forbid it), so every key below reads back unambiguously.
"""

from __future__ import annotations

# What a hold carries only while it is live (`held`): removing them takes it out of both expiry indexes.
LIVE_HOLD_ATTRS = ("gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")
LIVE_HOLDS = "HOLDS#LIVE"
HOLD_SK_PREFIX = "H#"
OWNER_SK = "OWNER"


def store(code: str) -> dict[str, str]:
    return {"pk": f"STORE#{code}", "sk": "STORE"}


def product(sku: str) -> dict[str, str]:
    return {"pk": f"PRD#{sku}", "sk": "PRODUCT"}


def stock(store_code: str, sku: str) -> dict[str, str]:
    # One partition per (store, sku): a hot sku contends with itself only, never with the rest of its store.
    return {"pk": f"STK#{store_code}#{sku}", "sk": "STOCK"}


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
