"""Every state-changing POST, once per Idempotency-Key: the first answer (status and body) is replayed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalice.app import Request, Response

from ..services import idempotency
from ..services.hub import Hub
from . import wire

# Money moves: a retried request must be recognisable, so these need a key.
KEY_REQUIRED = frozenset({"pay", "refund", "direct_order"})


def once(request: Request, hub: Hub, command: str, target: dict[str, Any],
         run: Callable[[Any, str | None], tuple[int, dict[str, Any]]],
         headers: Callable[[dict[str, Any]], dict[str, str]] | None = None) -> Response:
    """Runs a state-changing request once per Idempotency-Key (optional but for money moves) and replays its
    first answer, status and body, with Idempotent-Replayed: true."""
    key = idempotency.resolve_key(wire.header(request, "idempotency-key"), required=command in KEY_REQUIRED,
                                  command=command)
    body = wire.body(request)

    def first() -> dict[str, Any]:
        status, answer = run(body, key)
        return {"status": status, "body": answer}

    done = idempotency.run_once(hub, key, command=command, target=target, body=_plain(body), run=first)
    extra = headers(done.result["body"]) if headers else {}
    if done.replayed:
        extra["Idempotent-Replayed"] = "true"
    return wire.respond(done.result["body"], done.result["status"], extra)


def _plain(body: Any) -> Any:
    # What the idempotency record hashes: JSON-plain (decimals as their text), the same for the same body.
    return json.loads(json.dumps(body, default=str, sort_keys=True))
