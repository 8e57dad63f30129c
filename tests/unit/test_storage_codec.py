from __future__ import annotations

import base64
import re
from decimal import Decimal

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.storage import codec
from chalicelib.storage.db import clamp_limit, decode_cursor, encode_cursor


def test_numbers_round_trip_without_floats():
    item = codec.to_item({"q": 5, "qty": Decimal("2.500"), "nested": {"n": Decimal("3")}, "skip": None})
    assert "skip" not in item
    back = codec.from_item(item)
    assert back == {"q": 5, "qty": Decimal("2.500"), "nested": {"n": 3}}
    assert isinstance(back["q"], int) and isinstance(back["qty"], Decimal)


SECRET = b"unit-test-cursor-key"


def test_cursor_round_trip_and_scope():
    key = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    cursor = encode_cursor(key, "scope-1", SECRET)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor), "cursors travel in query strings unescaped"
    assert decode_cursor(cursor, "scope-1", SECRET) == key
    for scope, secret in (("scope-2", SECRET), ("scope-1", b"another-key")):
        with pytest.raises(InvalidInput):
            decode_cursor(cursor, scope, secret)
    for bad in ("", "!!!", "e30", "A" * 5000, encode_cursor({"pk": {"N": "1"}}, "scope-1", SECRET)):
        with pytest.raises(InvalidInput):
            decode_cursor(bad, "scope-1", SECRET)


def test_any_change_to_a_cursor_is_refused():
    key = {"pk": {"S": "ORD#O-1"}, "gsi2pk": {"S": "ORDERS#CH#pos"}, "gsi2sk": {"S": "2026#O-1"}}
    cursor = encode_cursor(key, "scope", SECRET)
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for at in range(len(raw)):
        flipped = bytearray(raw)
        flipped[at] ^= 0x01
        edited = base64.urlsafe_b64encode(bytes(flipped)).decode().rstrip("=")
        with pytest.raises(InvalidInput):
            decode_cursor(edited, "scope", SECRET)
    for cut in (cursor[:-1], cursor[1:], cursor + "A"):
        with pytest.raises(InvalidInput):
            decode_cursor(cut, "scope", SECRET)


@pytest.mark.parametrize("raw", ["0", "201", "-1", " 5", "1_0", "\u0665", "5" * 5000, "1e2", "abc"])
def test_bad_limits_are_400(raw):
    with pytest.raises(InvalidInput) as caught:
        clamp_limit(raw)
    assert caught.value.code == "invalid_limit"


@pytest.mark.parametrize(("raw", "expected"), [(None, 50), ("", 50), ("1", 1), ("200", 200)])
def test_limits(raw, expected):
    assert clamp_limit(raw) == expected
