from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ..domain.errors import NotFound
from ..domain.models import Directive, DirectiveStatus
from . import codec, keys
from .db import ConditionFailed, Db, Page, _raise_condition_failed, strip_keys


class DirectiveStore:
    def __init__(self, db: Db):
        self.db = db

    def get(self, directive_id: str) -> Directive:
        stored = self.db.get(keys.directive(directive_id))
        if stored is None:
            raise NotFound(f"directive {directive_id!r} does not exist", code="directive_not_found")
        return Directive.model_validate(stored)

    def create_requests(self, directives: list[Directive]) -> list[dict[str, Any]]:
        """Written in the same transaction as what caused them (the outbox): a directive is never lost.

        It stays in the outbox until a delivery claims it, under the time it is due (created + its delay): the
        relay's `outbox_sk < now - grace` then never re-sends a delayed directive before SQS releases it.
        """
        return [
            {"Put": self.db.put_request(
                {**_item(d), **keys.outbox(d.id, due_at(d))}, condition="attribute_not_exists(pk)"
            )}
            for d in directives
        ]

    def pending_outbox(self, limit: int, older_than: str) -> list[Directive]:
        page = self.db.query("outbox_pk", "OUTBOX", index="outbox", limit=limit, sk_before=("outbox_sk", older_than))
        return [Directive.model_validate(i) for i in page.items]

    def postpone_outbox(self, directive_id: str, due_before: str, until: str) -> bool:
        """Moves a directive the relay just sent to `until` in the outbox, so later runs leave it alone while it
        waits in its queue. Only if it is still there and still due before `due_before` (what the relay's query
        saw): a claim that took it out meanwhile, or a requeue that put it back later, is never undone."""
        try:
            self.db.update(keys.directive(directive_id), {"outbox_sk": keys.outbox(directive_id, until)["outbox_sk"]},
                           condition="#opk = :outbox AND #osk < :due", names={"#opk": "outbox_pk", "#osk": "outbox_sk"},
                           values={":outbox": "OUTBOX", ":due": due_before})
        except ConditionFailed:
            return False
        return True

    def leave_outbox(self, directive: Directive) -> bool:
        """Takes a directive that is no longer queued out of the outbox: claimed by a worker that left it there (one
        still running the release before claims took directives out). Conditional on the status the relay saw, so
        a requeue meanwhile keeps its entry."""
        try:
            self.db.update(keys.directive(directive.id), {}, remove=("outbox_pk", "outbox_sk"),
                           condition="#st = :st", names={"#st": "status"}, values={":st": directive.status})
        except ConditionFailed:
            return False
        return True

    def claim(self, directive_id: str, now: str, lease_until: str) -> Directive:
        """queued/failed -> running with a lease, or takes over a running one whose lease ran out: one UpdateItem,
        no read before it, the claimed directive read back from the write (ALL_NEW).

        Of two deliveries racing for it exactly one wins: DynamoDB applies the writes one at a time, and the first
        leaves the directive `running` with a lease beyond `now`, which the second's condition refuses. `attempts`
        counts the claims (ADD), and the claim takes the directive out of the outbox: its message has arrived.
        Raises ConditionFailed with the stored item (ALL_OLD; None: no such directive) when it is done, dead, or
        running under a live lease.
        """
        request = self.db.update_request(
            keys.directive(directive_id),
            {"status": "running", "lease_until": lease_until, "updated_at": now, "gsi3pk": "DIRS#ST#running"},
            condition="attribute_exists(pk) AND (#st IN (:queued, :failed) OR (#st = :running AND #lease < :now))",
            names={"#st": "status", "#lease": "lease_until", "#a": "attempts"},
            values={":queued": "queued", ":failed": "failed", ":running": "running", ":now": now, ":one": 1},
            remove=("outbox_pk", "outbox_sk"),
        )
        request["UpdateExpression"] += " ADD #a :one"
        try:
            resp = self.db.client.update_item(**request, ReturnValues="ALL_NEW",
                                              ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as exc:
            _raise_condition_failed(exc)  # the same reading of a lost condition as every other write
            raise
        return Directive.model_validate(strip_keys(codec.from_item(resp["Attributes"])))

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

    def mark_dead(self, directive_id: str, topic: str, now: str, error: str) -> None:
        """For a directive no attempt can run (no handler for its topic): dead straight from queued or failed, and
        out of the outbox. The topic is part of the condition because the caller has it from the message, not from
        the directive: the decision holds only if it is the directive's own."""
        self.db.update(keys.directive(directive_id),
                       {"status": "dead", "updated_at": now, "gsi3pk": "DIRS#ST#dead", "last_error": error[:2000]},
                       condition="#st IN (:queued, :failed) AND #tp = :topic", names={"#st": "status", "#tp": "topic"},
                       values={":queued": "queued", ":failed": "failed", ":topic": topic},
                       remove=("outbox_pk", "outbox_sk"))

    def requeue(self, directive: Directive, now: str) -> Directive:
        """failed/dead -> queued, back in the outbox so the relay sends it even if the caller dies now."""
        self.db.update(
            keys.directive(directive.id),
            {"status": "queued", "updated_at": now, "gsi3pk": "DIRS#ST#queued",
             **keys.outbox(directive.id, max(now, due_at(directive)))},
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
    owner = keys.directive_owner(d.topic, d.order_ref, d.channel_code, d.session_key)
    return {
        **keys.directive(d.id),
        **keys.directive_indexes(d.id, d.topic, d.status, owner, d.created_at),
        **d.model_dump(mode="python", exclude_none=True),
    }


def due_at(directive: Directive) -> str:
    """When SQS releases a directive sent as it is written: its creation time plus its delay (same ISO format)."""
    if not directive.delay_seconds:
        return directive.created_at
    try:
        created = datetime.fromisoformat(directive.created_at)
    except ValueError:
        return directive.created_at
    due = created + timedelta(seconds=directive.delay_seconds)
    return due.isoformat(timespec="milliseconds").replace("+00:00", "Z")
