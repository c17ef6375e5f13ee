"""local/dynamodb_item_copies.py: a deep copy of a moto item, or of any attribute value,
is what moto's own __deepcopy__ methods make: equal, of the same types, sharing nothing
with the original but what moto shares (strings, numbers), and keeping shared values
shared, for generated items of every DynamoDB type."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings

from local.dynamodb_item_copies import copies_without_detours
from tests.integration.test_dynamodb_item_sizes import items


def _item(attrs: dict[str, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    return Item(DynamoType({"S": "h"}), DynamoType({"N": "1"}), {"PK": {"S": "h"}, **attrs})


def _shape(value: Any, seen: dict[int, int]) -> Any:
    """A value's structure with types, and which objects are shared (by first sight)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    if isinstance(value, Item):
        return (
            "Item",
            _shape(value.hash_key, seen),
            _shape(value.range_key, seen),
            type(value.attrs).__name__,
            _shape(dict(value.attrs), seen),
        )
    if isinstance(value, DynamoType):
        mark = seen.setdefault(id(value), len(seen))
        return ("DynamoType", mark, value.type, _shape(value.value, seen))
    if isinstance(value, dict):
        return {k: _shape(v, seen) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v, seen) for v in value]
    return (type(value).__name__, value)


def _objects(value: Any, out: set[int]) -> set[int]:
    """ids of the containers in a value (what a deep copy must not share)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    if isinstance(value, Item):
        out.add(id(value))
        out.add(id(value.attrs))
        for v in (value.hash_key, value.range_key, *value.attrs.values()):
            _objects(v, out)
    elif isinstance(value, DynamoType):
        out.add(id(value))
        _objects(value.value, out)
    elif isinstance(value, dict | list):
        out.add(id(value))
        for v in value.values() if isinstance(value, dict) else value:
            _objects(v, out)
    return out


@settings(max_examples=300, deadline=None)
@given(items)
def test_copies_are_motos(attrs: dict[str, Any]) -> None:
    original = _item(attrs)
    first = next(iter(original.attrs.values()))
    original.attrs["shared"] = first  # one value under two names stays one value
    pair = [original, first]
    moto_copy = copy.deepcopy(pair)
    with copies_without_detours():
        fast_copy = copy.deepcopy(pair)
    assert _shape(fast_copy, {}) == _shape(moto_copy, {})
    assert fast_copy[0] == original
    assert not _objects(fast_copy, set()) & _objects(pair, set())
