from __future__ import annotations

import contextlib
from typing import Any

from ..domain.errors import NotFound
from ..domain.models import Directive, DirectiveStatus
from . import keys
from .db import ConditionFailed, Db, Page


class DirectiveStore:
    def __init__(self, db: Db):
        self.db = db

    def get(self, directive_id: str) -> Directive:
        stored = self.db.get(keys.directive(directive_id))
        if stored is None:
            raise NotFound(f"directive {directive_id!r} does not exist", code="directive_not_found")
        return Directive.model_validate(stored)

    def create_requests(self, directives: list[Directive]) -> list[dict[str, Any]]:
        """Written in the same transaction as what caused them (the outbox): a directive is never lost."""
        return [
            {"Put": self.db.put_request(
                {**_item(d), **keys.outbox(d.id, d.created_at)}, condition="attribute_not_exists(pk)"
            )}
            for d in directives
        ]

    def mark_enqueued(self, directive_id: str) -> None:
        with contextlib.suppress(ConditionFailed):
            self.db.update(keys.directive(directive_id), {}, remove=("outbox_pk", "outbox_sk"),
                           condition="attribute_exists(pk)")

    def pending_outbox(self, limit: int, older_than: str) -> list[Directive]:
        page = self.db.query("outbox_pk", "OUTBOX", index="outbox", limit=limit, sk_before=("outbox_sk", older_than))
        return [Directive.model_validate(i) for i in page.items]

    def claim(self, directive: Directive, now: str, lease_until: str) -> Directive:
        """queued/failed -> running, or takes over a running one whose lease ran out.

        Conditional on the attempts count read: of two deliveries racing for it, exactly one wins.
        Raises ConditionFailed (with the current item) when someone else owns or finished it.
        """
        claimed = directive.model_copy(update={"status": "running", "attempts": directive.attempts + 1,
                                               "lease_until": lease_until, "updated_at": now})
        self.db.update(
            keys.directive(directive.id),
            {"status": "running", "attempts": claimed.attempts, "lease_until": lease_until, "updated_at": now,
             "gsi3pk": "DIRS#ST#running"},
            condition="#a = :a AND (#st IN (:queued, :failed) OR (#st = :running AND #lease < :now))",
            names={"#a": "attempts", "#st": "status", "#lease": "lease_until"},
            values={":a": directive.attempts, ":queued": "queued", ":failed": "failed", ":running": "running",
                    ":now": now},
        )
        return claimed

    def finish(self, directive: Directive, status: DirectiveStatus, now: str, *,
               result: dict[str, Any] | None = None, error: str | None = None) -> None:
        """Ends the attempt `directive` holds. Done stays done whatever a late duplicate reports, and a failure
        is only recorded by the attempt that still owns the directive."""
        values: dict[str, Any] = {"status": status, "updated_at": now, "gsi3pk": f"DIRS#ST#{status}"}
        if result is not None:
            values["result"] = result
        if error is not None:
            values["last_error"] = error[:2000]
        if status == "done":
            condition, cond_values = "#st <> :done", {":done": "done"}
        else:
            condition, cond_values = "#st = :running AND #a = :a", {":running": "running", ":a": directive.attempts}
        names = {"#st": "status", **({"#a": "attempts"} if "#a" in condition else {})}
        self.db.update(keys.directive(directive.id), values, condition=condition, names=names, values=cond_values,
                       remove=("lease_until",))

    def mark_dead(self, directive: Directive, now: str, error: str) -> None:
        """For a directive no attempt can run (unknown topic): dead straight from queued or failed."""
        self.db.update(keys.directive(directive.id),
                       {"status": "dead", "updated_at": now, "gsi3pk": "DIRS#ST#dead", "last_error": error[:2000]},
                       condition="#st IN (:queued, :failed) AND #a = :a", names={"#st": "status", "#a": "attempts"},
                       values={":queued": "queued", ":failed": "failed", ":a": directive.attempts})

    def requeue(self, directive: Directive, now: str) -> Directive:
        """failed/dead -> queued, back in the outbox so the relay sends it even if the caller dies now."""
        self.db.update(
            keys.directive(directive.id),
            {"status": "queued", "updated_at": now, "gsi3pk": "DIRS#ST#queued", **keys.outbox(directive.id, now)},
            condition="#st = :st AND #a = :a", names={"#st": "status", "#a": "attempts"},
            values={":st": directive.status, ":a": directive.attempts}, remove=("lease_until",),
        )
        return directive.model_copy(update={"status": "queued", "updated_at": now, "lease_until": None})

    def list(self, *, topic: str | None, status: str | None, order_ref: str | None,
             limit: int, cursor: str | None) -> Page:
        # The most selective index serves the listing; remaining filters narrow it inside the query.
        filters: dict[str, str] = {}
        if order_ref:
            pk_attr, pk, index = "gsi1pk", f"DIRS#ORD#{order_ref}", "gsi1"
            if topic:
                filters["topic"] = topic
            if status:
                filters["status"] = status
        elif topic:
            pk_attr, pk, index = "gsi2pk", f"DIRS#TOPIC#{topic}", "gsi2"
            if status:
                filters["status"] = status
        elif status:
            pk_attr, pk, index = "gsi3pk", f"DIRS#ST#{status}", "gsi3"
        else:
            pk_attr, pk, index = "gsi4pk", "DIRS", "gsi4"
        expression = " AND ".join(f"#f{i} = :f{i}" for i in range(len(filters))) or None
        page = self.db.query(
            pk_attr, pk, index=index, limit=limit, cursor=cursor, newest_first=True,
            filter_expression=expression,
            filter_names={f"#f{i}": k for i, k in enumerate(filters)} or None,
            filter_values={f":f{i}": v for i, v in enumerate(filters.values())} or None,
        )
        page.items = [Directive.model_validate(i).model_dump(mode="json") for i in page.items]
        return page


def _item(d: Directive) -> dict[str, Any]:
    scope = f"{d.channel_code}#{d.session_key}" if d.session_key else None
    return {
        **keys.directive(d.id),
        **keys.directive_indexes(d.id, d.topic, d.status, d.order_ref, scope, d.created_at),
        **d.model_dump(mode="python", exclude_none=True),
    }
