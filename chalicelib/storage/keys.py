"""Key design of the main table (single-table; see docs/data-model.md for every access pattern)."""

from __future__ import annotations

KEY_ATTRS = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "gsi4pk", "gsi4sk",
             "gsi5pk", "gsi5sk", "outbox_pk", "outbox_sk")


def channel(code: str) -> dict[str, str]:
    return {"pk": f"CH#{code}", "sk": "CHANNEL"}


def channel_indexes(code: str) -> dict[str, str]:
    return {"gsi1pk": "CHANNELS", "gsi1sk": code}


def session(channel_code: str, session_key: str) -> dict[str, str]:
    return {"pk": f"SES#{channel_code}#{session_key}", "sk": "SESSION"}


def session_indexes(channel_code: str, session_key: str, state: str, created_at: str) -> dict[str, str]:
    sort = f"{created_at}#{session_key}"
    return {
        "gsi1pk": f"SES#{channel_code}", "gsi1sk": sort,
        "gsi2pk": f"SES#{channel_code}#ST#{state}", "gsi2sk": sort,
    }


def order(ref: str) -> dict[str, str]:
    return {"pk": f"ORD#{ref}", "sk": "ORDER"}


def order_indexes(ref: str, channel_code: str, status: str, created_at: str) -> dict[str, str]:
    sort = f"{created_at}#{ref}"
    return {
        "gsi1pk": "ORDERS", "gsi1sk": sort,
        "gsi2pk": f"ORDERS#CH#{channel_code}", "gsi2sk": sort,
        "gsi3sk": sort, "gsi4sk": sort,
        **order_status_indexes(channel_code, status),
    }


def order_status_indexes(channel_code: str, status: str) -> dict[str, str]:
    """The partition keys that move when an order's status changes (sort keys stay)."""
    return {"gsi3pk": f"ORDERS#ST#{status}", "gsi4pk": f"ORDERS#CH#{channel_code}#ST#{status}"}


def order_event(ref: str, seq: int) -> dict[str, str]:
    return {"pk": f"ORD#{ref}", "sk": f"EV#{seq:08d}"}


RECORD_PREFIXES = {"payment": "PAY#", "shipment": "SHP#"}


def order_record(ref: str, kind: str, record_id: str) -> dict[str, str]:
    """A payment or shipment of an order, in the order's partition (listed with one query, never a Scan)."""
    return {"pk": f"ORD#{ref}", "sk": f"{RECORD_PREFIXES[kind]}{record_id}"}


def webhook(kind: str, provider: str, event_id: str) -> dict[str, str]:
    return {"pk": f"WH#{kind}#{provider}#{event_id}", "sk": "WEBHOOK"}


def webhook_indexes(order_ref: str, received_at: str, event_id: str) -> dict[str, str]:
    return {"gsi1pk": f"WH#ORD#{order_ref}", "gsi1sk": f"{received_at}#{event_id}"}


def directive(directive_id: str) -> dict[str, str]:
    return {"pk": f"DIR#{directive_id}", "sk": "DIRECTIVE"}


def directive_owner(topic: str, order_ref: str | None, channel_code: str | None, session_key: str | None) -> str:
    """The gsi1 partition that lists a directive with the others of what it belongs to: its order, else its
    session, else (a directive about neither, such as `catalog.reindex`) its topic's domain, `DIRS#SYS#catalog`."""
    if order_ref:
        return f"DIRS#ORD#{order_ref}"
    if channel_code and session_key:
        return f"DIRS#SES#{channel_code}#{session_key}"
    return f"DIRS#SYS#{topic.split('.', 1)[0]}"


def directive_indexes(directive_id: str, topic: str, status: str, owner: str, created_at: str) -> dict[str, str]:
    sort = f"{created_at}#{directive_id}"
    return {
        "gsi1pk": owner, "gsi1sk": sort,
        "gsi2pk": f"DIRS#TOPIC#{topic}", "gsi2sk": sort,
        "gsi3pk": f"DIRS#ST#{status}", "gsi3sk": sort,
        "gsi4pk": "DIRS", "gsi4sk": sort,
    }


def outbox(directive_id: str, created_at: str) -> dict[str, str]:
    """Present only while a directive has not reached its queue: a sparse index the relay sweeps."""
    return {"outbox_pk": "OUTBOX", "outbox_sk": f"{created_at}#{directive_id}"}


# --- the change feed ---------------------------------------------------------------------------------------------

def feed_counter(channel_code: str) -> dict[str, str]:
    return {"pk": f"FEEDSEQ#{channel_code}", "sk": "FEEDSEQ"}


def feed_partition(channel_code: str) -> str:
    return f"FEED#{channel_code}"


def feed_sort(seq: int) -> str:
    """Zero-padded, so string order is number order (15 digits: a thousand changes a second for 30,000 years)."""
    return f"{seq:015d}"


def feed_entry(channel_code: str, seq: int) -> dict[str, str]:
    return {"pk": feed_partition(channel_code), "sk": feed_sort(seq)}


def delivery_position(channel_code: str, subscription: str, ref: str) -> dict[str, str]:
    return {"pk": f"SUBPOS#{channel_code}#{subscription}#{ref}", "sk": "SUBPOS"}
