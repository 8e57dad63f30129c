from __future__ import annotations

import contextlib
from typing import Any

from ..domain.errors import NotFound
from ..domain.models import Directive
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
        page = self.db.query("outbox_pk", "OUTBOX", index="outbox", limit=limit,
                             filter_expression="#c < :t", filter_names={"#c": "created_at"},
                             filter_values={":t": older_than})
        return [Directive.model_validate(i) for i in page.items]

    def set_status(self, directive: Directive, status: str, now: str, *, attempts: int | None = None,
                   result: dict[str, Any] | None = None, error: str | None = None) -> None:
        values: dict[str, Any] = {
            "status": status,
            "updated_at": now,
            "gsi3pk": f"DIRS#ST#{status}",
        }
        if attempts is not None:
            values["attempts"] = attempts
        if result is not None:
            values["result"] = result
        if error is not None:
            values["last_error"] = error[:2000]
        # A directive that is done stays done, whatever a late duplicate delivery reports.
        self.db.update(keys.directive(directive.id), values,
                       condition="attribute_exists(pk) AND #cur <> :done",
                       names={"#cur": "status"}, values={":done": "done"})

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
        **d.model_dump(mode="python"),
    }
