"""The pure domain, without AWS: ops, totals, pipeline, status flows, commit rules, registry."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.domain import commit_rules, pipeline
from chalicelib.domain.errors import Conflict, InvalidInput
from chalicelib.domain.models import Channel, ChannelConfig, Check, Issue, OrderFlow, Session
from chalicelib.domain.ops import OpContext, parse_ops
from chalicelib.domain.registry import Registry
from chalicelib.domain.status_flow import DEFAULT_FLOW, allowed_next, check_transition
from chalicelib.domain.totals import line_total_q

NOW = "2026-01-01T00:00:00.000Z"


def channel(**kw) -> Channel:
    return Channel(code="pos", name="POS", **kw)


def ctx(ch: Channel, prices=None) -> OpContext:
    return OpContext(channel=ch, actor="t", now=NOW, prices=prices or {"A": 333})


def modify(session: Session, ch: Channel, *ops, registry=None) -> Session:
    return pipeline.modify(session, parse_ops(list(ops)), ctx(ch), registry or Registry())


@pytest.mark.parametrize(("qty", "price", "total"), [
    (Decimal("1"), 333, 333), (Decimal("0.5"), 333, 167), (Decimal("0.333"), 100, 33), (Decimal("2.5"), 1, 3),
])
def test_line_totals_round_half_up_to_minor_units(qty, price, total):
    assert line_total_q(qty, price) == total


def test_modify_returns_a_new_version_and_leaves_the_input_untouched():
    ch = channel()
    s0 = Session(session_key="S", channel_code="pos", checks={"stock": Check(rev=0)},
                 issues=[Issue(code="x")])
    s1 = modify(s0, ch, {"op": "add_line", "sku": "A", "qty": "1.5"})
    assert (s0.rev, s0.items, s0.checks != {}) == (0, [], True)
    assert (s1.rev, s1.checks, s1.issues, s1.pricing.total_q) == (1, {}, [], 500)


def test_a_failing_op_changes_nothing():
    ch = channel()
    s0 = modify(Session(session_key="S", channel_code="pos"), ch, {"op": "add_line", "sku": "A", "qty": 1})
    snapshot = s0.model_dump()
    with pytest.raises(InvalidInput):
        modify(s0, ch, {"op": "set_qty", "line_id": "L1", "qty": 2}, {"op": "remove_line", "line_id": "L7"})
    assert s0.model_dump() == snapshot


def test_line_ids_are_never_reused():
    ch = channel()
    s = modify(Session(session_key="S", channel_code="pos"), ch, {"op": "add_line", "sku": "A", "qty": 1})
    s = modify(s, ch, {"op": "remove_line", "line_id": "L1"}, {"op": "add_line", "sku": "A", "qty": 1})
    assert [line.line_id for line in s.items] == ["L2"]


def test_parse_ops_never_lets_a_float_become_money():
    with pytest.raises(InvalidInput) as err:
        parse_ops([{"op": "add_line", "sku": "A", "qty": 1, "unit_price_q": Decimal("1.5")}])
    assert err.value.code == "invalid_unit_price_q"


@pytest.mark.parametrize("status", sorted(DEFAULT_FLOW.statuses()))
def test_default_flow_matches_the_anchor(status):
    expected = {
        "new": ["confirmed", "cancelled"],
        "confirmed": ["processing", "ready", "cancelled"],
        "processing": ["ready", "cancelled"],
        "ready": ["dispatched", "completed"],
        "dispatched": ["delivered", "returned"],
        "delivered": ["completed", "returned"],
        "returned": ["completed"],
        "completed": [],
        "cancelled": [],
    }
    assert allowed_next(DEFAULT_FLOW, status) == expected[status]


def test_the_default_flow_is_a_valid_order_flow():
    # It is built without validation (chalicelib/domain/status_flow.py): this is where it is validated.
    assert OrderFlow.model_validate(DEFAULT_FLOW.model_dump()) == DEFAULT_FLOW


def test_check_transition_lists_the_allowed_ones():
    with pytest.raises(Conflict) as err:
        check_transition(DEFAULT_FLOW, "new", "completed")
    assert err.value.details == {"from": "new", "to": "completed", "allowed": ["confirmed", "cancelled"]}


def test_order_flow_validation():
    with pytest.raises(ValueError, match="terminal"):
        OrderFlow(transitions={"a": ["b"], "b": ["a"]}, initial_status="a", terminal_statuses=["b"])
    with pytest.raises(ValueError, match="initial_status"):
        OrderFlow(transitions={"a": ["b"]}, initial_status="z")
    with pytest.raises(ValueError, match="required_checks_on_commit"):
        ChannelConfig(required_checks_on_commit=["stock"])


def test_commit_rules_only_require_fresh_required_checks():
    ch = channel(config=ChannelConfig(checks={"stock": {"directive_topic": "s"}, "fraud": {"directive_topic": "f"}},
                                      required_checks_on_commit=["stock"]))
    s = modify(Session(session_key="S", channel_code="pos"), ch, {"op": "add_line", "sku": "A", "qty": 1})
    s.checks = {"stock": Check(rev=1), "fraud": Check(rev=0)}
    commit_rules.check_committable(s, ch, NOW)  # a stale optional check does not block (I14)
    s.checks["stock"] = Check(rev=0)
    with pytest.raises(Conflict, match="stale"):
        commit_rules.check_committable(s, ch, NOW)


def test_build_order_snapshot_and_price_override_events():
    ch = channel()
    s = pipeline.modify(Session(session_key="S", channel_code="pos"),
                        parse_ops([{"op": "add_line", "sku": "A", "qty": 2, "unit_price_q": 100, "reason": "vip"},
                                   {"op": "add_line", "sku": "A", "qty": 1}]),
                        ctx(ch), Registry())
    order, events = commit_rules.build_order(s, ch, "O-1", "cashier", NOW)
    assert (order.status, order.total_q, order.snapshot.schema_version) == ("new", 533, 1)
    assert [(e.version, e.event_type) for e in events] == [(1, "OrderCreated"), (2, "PriceOverridden")]
    assert order.event_seq == 2
    assert order.model_dump(by_alias=True)["snapshot"]["_v"] == 1


def test_registry_orders_modifiers_and_accepts_classes():
    reg = Registry()

    @reg.register_modifier("second", order=20)
    class Second:
        def modify(self, session, channel, ctx):
            session.data["seen"] = [*session.data.get("seen", []), "second"]

    @reg.register_modifier("first", order=10)
    def first(session, channel, ctx):
        session.data["seen"] = [*session.data.get("seen", []), "first"]

    s = modify(Session(session_key="S", channel_code="pos"), channel(), {"op": "set_data", "path": "x", "value": 1},
               registry=reg)
    assert s.data["seen"] == ["first", "second"]
    with pytest.raises(ValueError, match="unknown hook"):
        reg.register_hook("order.exploded")
    with pytest.raises(LookupError):
        reg.backend("pricing")


def test_a_failing_hook_never_fails_the_caller():
    reg = Registry()
    reg.register_hook("order.created")(lambda *a: 1 / 0)
    reg.fire("order.created", object(), {})
