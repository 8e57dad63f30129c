from __future__ import annotations

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


def test_cursor_round_trip_and_scope():
    key = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    cursor = encode_cursor(key, "scope-1")
    assert decode_cursor(cursor, "scope-1") == key
    with pytest.raises(InvalidInput):
        decode_cursor(cursor, "scope-2")
    for bad in ("", "!!!", "e30", encode_cursor({"pk": {"N": "1"}}, "scope-1")):
        with pytest.raises(InvalidInput):
            decode_cursor(bad, "scope-1")


@pytest.mark.parametrize(("raw", "expected"), [(None, 50), ("", 50), ("1", 1), ("200", 200)])
def test_limits(raw, expected):
    assert clamp_limit(raw) == expected
