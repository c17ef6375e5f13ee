"""moto's deep copies of items without copy.deepcopy's detour per value (dev emulation
only).

moto deep-copies every item a Query returns, and every item an update changes (its old
image). Its own `__deepcopy__` methods copy each attribute value through
`copy.deepcopy(value, memo)`, which looks the value up in the memo, finds its
`__deepcopy__`, calls it, stores the copy and keeps the original alive, once for every
value of every nested map and list: most of the copy's time for an item of maps and
lists. `copy_value` makes the same copy (a new DynamoType of the same type; lists and maps
copied value by value, sets as a new list, scalars shared; each value copied once per
memo, so shared values stay shared) calling itself directly for the DynamoTypes it
meets, and `copy.deepcopy` for anything else, as moto does.
tests/integration/test_dynamodb_item_copies.py compares both on generated items.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any
from unittest import mock

SETS = frozenset({"SS", "NS", "BS"})


def copy_value(value: Any, memo: dict[int, Any], dynamo_type: type) -> Any:
    """copy.deepcopy(value, memo) for moto's DynamoType.__deepcopy__ (see the module doc)."""
    if type(value) is not dynamo_type:
        return copy.deepcopy(value, memo)
    found = memo.get(id(value))
    if found is not None:
        return found
    result = dynamo_type.__new__(dynamo_type)
    memo[id(value)] = result
    kind, inner = value.type, value.value
    result.type = kind
    if kind == "L":
        result.value = [copy_value(each, memo, dynamo_type) for each in inner]
    elif kind == "M":
        result.value = {key: copy_value(each, memo, dynamo_type) for key, each in inner.items()}
    elif kind in SETS:
        result.value = list(inner)
    else:
        result.value = inner
    return result


@contextlib.contextmanager
def copies_without_detours() -> Iterator[None]:
    """Patch moto's Item.__deepcopy__ and DynamoType.__deepcopy__ for the duration."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    def dynamo_type_copy(self: Any, memo: dict[int, Any]) -> Any:
        if type(self) is not DynamoType:
            return original_dynamo_type_copy(self, memo)
        return copy_value(self, memo, DynamoType)

    def item_copy(self: Any, memo: dict[int, Any]) -> Any:
        found = memo.get(id(self))
        if found is not None:
            return found
        result = Item.__new__(type(self))
        memo[id(self)] = result
        result.hash_key = copy_value(self.hash_key, memo, DynamoType)
        result.range_key = copy_value(self.range_key, memo, DynamoType)
        # as moto's: the copy skips LimitedSizeDict's size check, the item passed it
        attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.__init__(attrs)
        for key, value in self.attrs.items():
            dict.__setitem__(attrs, key, copy_value(value, memo, DynamoType))
        result.attrs = attrs
        return result

    original_dynamo_type_copy, original_item_copy = DynamoType.__deepcopy__, Item.__deepcopy__
    dynamo_type_copy.__wrapped__ = original_dynamo_type_copy  # type: ignore[attr-defined]
    item_copy.__wrapped__ = original_item_copy  # type: ignore[attr-defined]  # for tests
    with (
        mock.patch.object(DynamoType, "__deepcopy__", dynamo_type_copy),
        mock.patch.object(Item, "__deepcopy__", item_copy),
    ):
        yield
