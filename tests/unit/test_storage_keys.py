"""Key design details that no request may get wrong: a directive's owner partition never reads `None`."""

from __future__ import annotations

import pytest

from chalicelib.storage.keys import directive_owner


@pytest.mark.parametrize(("topic", "order_ref", "channel_code", "session_key", "owner"), [
    ("notification.send", "O-1", "pos", "T-7", "DIRS#ORD#O-1"),  # an order's, whatever session it came from
    ("stock.hold", None, "shop", "CART-1", "DIRS#SES#shop#CART-1"),
    ("catalog.reindex", None, None, None, "DIRS#SYS#catalog"),
    ("catalog.reindex", None, None, "", "DIRS#SYS#catalog"),
    ("sweep", None, None, "K", "DIRS#SYS#sweep"),  # a session key without its channel names no session
    ("sweep", None, "pos", None, "DIRS#SYS#sweep"),
])
def test_a_directive_is_listed_with_its_order_else_its_session_else_its_topics_domain(
        topic, order_ref, channel_code, session_key, owner):
    assert directive_owner(topic, order_ref, channel_code, session_key) == owner
    assert "None" not in owner
