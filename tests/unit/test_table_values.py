"""tenantry.dal.table.plain: what DynamoDB returns, as the domain uses it."""

from __future__ import annotations


def test_plain_turns_what_dynamodb_returns_into_what_the_domain_uses() -> None:
    from decimal import Decimal

    from boto3.dynamodb.types import Binary

    from tenantry.dal.table import plain

    blob = Binary(b"\x00")
    item = {
        "s": "x",
        "t": True,
        "none": None,
        "int": Decimal("12"),
        "big": Decimal("1E+3"),
        "float": Decimal("12.5"),
        "neg": Decimal("-0.25"),
        "list": [Decimal("1"), "a", {"deep": [Decimal("2.5")]}],
        "set": {Decimal("3")},
        "tuple": (Decimal("4"), "b"),
        "blob": blob,
    }
    out = plain(item)
    assert out == {
        "s": "x",
        "t": True,
        "none": None,
        "int": 12,
        "big": 1000,
        "float": 12.5,
        "neg": -0.25,
        "list": [1, "a", {"deep": [2.5]}],
        "set": [3],
        "tuple": [4, "b"],
        "blob": blob,
    }
    assert type(out["int"]) is int and type(out["big"]) is int and type(out["float"]) is float
    assert type(out["t"]) is bool
