"""Route adapters: request -> service call -> response. No domain rules live here."""

from __future__ import annotations

from typing import Any

from chalice.app import Request, Response

from ..services import channels, checks, commit, directives, modify, orders, resolve, sessions
from ..services.hub import Hub
from ..storage.db import clamp_limit
from . import wire
from .endpoint import endpoint
from .guard import principal
from .replay import once


def _actor(request: Request) -> str:
    """X-Actor names the person at the terminal; without it, the key's name."""
    return wire.actor(request, principal(request).name)


def _session(session_json: dict, rev: int, status: int = 200) -> Response:
    return wire.respond(session_json, status, {"ETag": f'"{rev}"'})


def _etag(session_json: dict[str, Any]) -> dict[str, str]:
    return {"ETag": f'"{session_json["rev"]}"'}


@endpoint
def health(request: Request, hub: Hub) -> Response:
    return wire.respond({"status": "ok", "stage": hub.settings.stage})


# --- channels ---------------------------------------------------------------

@endpoint
def create_channel(request: Request, hub: Hub) -> Response:
    channel = channels.create(hub, wire.body(request))
    return wire.respond(channel.model_dump(mode="json"), 201, {"ETag": f'"{channel.version}"'})


@endpoint
def list_channels(request: Request, hub: Hub) -> Response:
    result = channels.list_channels(hub, clamp_limit(wire.query(request, "limit")), wire.query(request, "cursor"),
                                    principal(request))
    return wire.page(result.items, result.next_cursor)


@endpoint
def get_channel(request: Request, hub: Hub, code: str) -> Response:
    channel = channels.get(hub, code)
    return wire.respond(channel.model_dump(mode="json"), headers={"ETag": f'"{channel.version}"'})


@endpoint
def put_channel(request: Request, hub: Hub, code: str) -> Response:
    channel = channels.replace(hub, code, wire.body(request), wire.if_match(request))
    return wire.respond(channel.model_dump(mode="json"), headers={"ETag": f'"{channel.version}"'})


# --- sessions ---------------------------------------------------------------

@endpoint
def create_session(request: Request, hub: Hub, code: str) -> Response:
    session = sessions.create(hub, code, wire.body(request), _actor(request))
    return _session(session.model_dump(mode="json"), session.rev, 201)


@endpoint
def list_sessions(request: Request, hub: Hub, code: str) -> Response:
    result = sessions.list_sessions(hub, code, wire.query(request, "state"),
                                    clamp_limit(wire.query(request, "limit")), wire.query(request, "cursor"))
    return wire.page(result.items, result.next_cursor)


@endpoint
def get_session(request: Request, hub: Hub, code: str, key: str) -> Response:
    session = sessions.get(hub, code, key)
    return _session(session.model_dump(mode="json"), session.rev)


@endpoint
def modify_session(request: Request, hub: Hub, code: str, key: str) -> Response:
    session = modify.modify_from_body(hub, code, key, wire.body(request), if_match=wire.if_match(request),
                                      actor=_actor(request), caller=principal(request))
    return _session(session.model_dump(mode="json"), session.rev)


@endpoint
def commit_session(request: Request, hub: Hub, code: str, key: str, lambda_context: object) -> Response:
    outcome = commit.commit(hub, code, key, wire.body(request), header_key=wire.header(request, "idempotency-key"),
                            actor=_actor(request), lambda_context=lambda_context)
    if outcome.replayed:
        return wire.respond(outcome.result, 200, {"Idempotent-Replayed": "true"})
    return wire.respond(outcome.result, 201)


@endpoint
def abandon_session(request: Request, hub: Hub, code: str, key: str) -> Response:
    actor = _actor(request)

    def run(body: Any, _: str | None) -> tuple[int, dict[str, Any]]:
        return 200, sessions.abandon(hub, code, key, actor).model_dump(mode="json")

    return once(request, hub, "abandon", {"channel_code": code, "session_key": key}, run, _etag)


@endpoint
def resolve_issue(request: Request, hub: Hub, code: str, key: str) -> Response:
    if_match, actor = wire.if_match(request), _actor(request)

    def run(body: Any, _: str | None) -> tuple[int, dict[str, Any]]:
        return 200, resolve.resolve(hub, code, key, body, if_match=if_match, actor=actor).model_dump(mode="json")

    return once(request, hub, "resolve", {"channel_code": code, "session_key": key, "if_match": if_match}, run,
                _etag)


@endpoint
def write_check(request: Request, hub: Hub, code: str, key: str, check_code: str) -> Response:
    outcome = checks.apply_check_result_from_body(hub, code, key, check_code, wire.body(request))
    return wire.respond({"applied": outcome == "applied"})


@endpoint
def recheck_session(request: Request, hub: Hub, code: str, key: str) -> Response:
    session, sent = checks.recheck(hub, code, key)
    return wire.respond({"rev": session.rev, "directives": [d.id for d in sent]}, 202)


# --- orders -----------------------------------------------------------------

@endpoint
def list_orders(request: Request, hub: Hub) -> Response:
    result = orders.list_orders(hub, wire.query(request, "channel"), wire.query(request, "status"),
                                clamp_limit(wire.query(request, "limit")), wire.query(request, "cursor"),
                                principal(request))
    return wire.page(result.items, result.next_cursor)


@endpoint
def get_order(request: Request, hub: Hub, ref: str) -> Response:
    return wire.respond(orders.get(hub, ref, principal(request)).model_dump(mode="json", by_alias=True))


@endpoint
def order_events(request: Request, hub: Hub, ref: str) -> Response:
    result = orders.events(hub, ref, clamp_limit(wire.query(request, "limit")), wire.query(request, "cursor"),
                           principal(request))
    return wire.page(result.items, result.next_cursor)


@endpoint
def transition_order(request: Request, hub: Hub, ref: str) -> Response:
    actor, caller = _actor(request), principal(request)

    def run(body: Any, key: str | None) -> tuple[int, dict[str, Any]]:
        order, event = orders.transition(hub, ref, body, actor, caller, idempotency_key=key)
        return 200, {"order": order.model_dump(mode="json", by_alias=True), "event": event.model_dump(mode="json")}

    return once(request, hub, "transition", {"order_ref": ref}, run)


# --- directives -------------------------------------------------------------

@endpoint
def list_directives(request: Request, hub: Hub) -> Response:
    result = directives.list_directives(
        hub, topic=wire.query(request, "topic"), status=wire.query(request, "status"),
        order_ref=wire.query(request, "order_ref"), limit=clamp_limit(wire.query(request, "limit")),
        cursor=wire.query(request, "cursor"),
    )
    return wire.page(result.items, result.next_cursor)


@endpoint
def get_directive(request: Request, hub: Hub, directive_id: str) -> Response:
    return wire.respond(directives.get(hub, directive_id).model_dump(mode="json"))


@endpoint
def retry_directive(request: Request, hub: Hub, directive_id: str) -> Response:
    def run(body: Any, _: str | None) -> tuple[int, dict[str, Any]]:
        directive, requeued = directives.retry(hub, directive_id)
        return 202 if requeued else 200, {**directive.model_dump(mode="json"), "requeued": requeued}

    return once(request, hub, "retry", {"directive_id": directive_id}, run)


@endpoint
def redrive_directives(request: Request, hub: Hub) -> Response:
    return wire.respond(directives.redrive_from_body(hub, wire.body(request)))
