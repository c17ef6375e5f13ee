"""moto's item sizes without copying the item (dev emulation only).

moto weighs an item (`Item.size`) for every item a Query or BatchGetItem reads, twice
per item in a Query, to stop at DynamoDB's 1 MB page, and `DynamoType.size` weighs a map
by first copying each of its values (`DynamoType(v)`, recursively for nested maps and
lists). A project is a map of maps and lists, so weighing was a large share of every list
request. `size` here counts the same bytes in the same way (moto's rules: a number is the
length of its text, a string or binary its UTF-8 bytes, a boolean or null one, a map
adds its keys) without the copies. Values it does not expect (anything but a DynamoType
where one belongs) are left to moto's own methods, which decide what they come to.
Within `sizes_remembered` (a Query, local/dynamodb_queries.py, and a BatchGetItem, which
weighs each item it returns twice as well, to stop at 16 MB) each item is weighed once.

Within a call this process's boto3 makes (local.moto_lock.in_whole_call: MOTO_LOCK is
held, and the in-place updates below take it too) an item's size is also kept from one call to the
next, per item object: a page of 25 projects was weighed again on every read, the largest
emulation cost of a list after the items' conversion. An item object changes in place
only where moto updates it (UpdateItem and a transaction's Update: the update expression's
executor, or the legacy AttributeUpdates); every other write puts a new object. Both
drop the item's kept size before and after they run. The sizes are kept by weak
reference, so an item moto no longer holds is forgotten with it.
tests/integration/test_dynamodb_item_sizes.py compares both on generated values, and the
kept sizes with moto's after every kind of write.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from typing import Any
from unittest import mock

from local.moto_lock import MOTO_LOCK, in_whole_call

SETS = frozenset({"SS", "NS", "BS"})
_remembered = threading.local()  # .sizes: {id(item): (item, size)} within sizes_remembered
_kept: dict[int, tuple[weakref.ref[Any], int]] = {}  # id(item) -> (the item, its size)


def forget(item: Any) -> None:
    """Drop the kept size of `item` (it is about to change, or has)."""
    _kept.pop(id(item), None)


def _keep(item: Any, size: int) -> None:
    key = id(item)
    # the callback runs as the item dies, before its id can be another object's
    _kept[key] = (weakref.ref(item, lambda _, key=key: _kept.pop(key, None)), size)


class _Unexpected(Exception):
    """A value moto's own size methods must weigh."""


def _bytes(value: Any) -> int:
    if type(value) is str:
        return len(value) if value.isascii() else len(value.encode("utf-8"))
    if type(value) is bytes:
        return len(value)
    raise _Unexpected


def _scalar(kind: str, value: Any) -> int:
    """DynamoType({kind: value}).size() for a member of a set."""
    if kind == "N":
        return len(str(value))
    if isinstance(value, bool):
        return 1
    return _bytes(value)


def value_size(value: Any, dynamo_type: type) -> int:
    """moto's DynamoType.size of `value`, raising _Unexpected where it would differ."""
    if type(value) is not dynamo_type:
        raise _Unexpected
    kind, inner = value.type, value.value
    if kind == "S" or kind == "B":  # the common case first; moto's bytesize
        return _bytes(inner)
    if kind == "N":
        return len(str(inner))
    if kind in SETS:
        member = kind[0]
        return sum(_scalar(member, each) for each in inner)
    if kind == "L":
        return sum(value_size(each, dynamo_type) for each in inner)
    if kind == "M":
        return sum(_bytes(key) + value_size(each, dynamo_type) for key, each in inner.items())
    if isinstance(inner, bool):
        return 1
    return _bytes(inner)


@contextlib.contextmanager
def sizes_remembered() -> Iterator[None]:
    """Within, in this thread, each item is weighed once (moto's Query weighs every item
    of its page twice). For a caller that holds local.moto_lock.MOTO_LOCK throughout, so
    that no item changes meanwhile."""
    previous = getattr(_remembered, "sizes", None)
    _remembered.sizes = {} if previous is None else previous
    try:
        yield
    finally:
        _remembered.sizes = previous


@contextlib.contextmanager
def sizes_without_copies() -> Iterator[None]:
    """Patch moto's Item.size and DynamoType.size, its BatchGetItem to weigh within
    sizes_remembered, and its in-place updates to forget the item's kept size, for the
    duration (see the module doc)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.parsing.executors import UpdateExpressionExecutor
    from moto.dynamodb.responses import DynamoHandler

    item_size, dynamo_type_size = Item.size, DynamoType.size

    def weigh(self: Any) -> int:
        try:
            return sum(_bytes(key) + value_size(v, DynamoType) for key, v in self.attrs.items())
        except _Unexpected:
            return int(item_size(self))

    def item(self: Any) -> int:
        if in_whole_call():
            kept = _kept.get(id(self))
            if kept is not None and kept[0]() is self:
                return kept[1]
            size = weigh(self)
            _keep(self, size)
            return size
        sizes = getattr(_remembered, "sizes", None)
        if sizes is None:
            return weigh(self)
        found = sizes.get(id(self))
        if found is None:
            found = sizes[id(self)] = (self, weigh(self))  # the item: its id stays its own
        return found[1]

    def dynamo_type(self: Any) -> int:
        try:
            return value_size(self, DynamoType)
        except _Unexpected:
            return int(dynamo_type_size(self))

    batch_get_item = DynamoHandler.batch_get_item
    execute = UpdateExpressionExecutor.execute
    attribute_updates = Item.update_with_attribute_updates

    # Under the lock, like every read that keeps a size: an update reaching moto without
    # it (`make moto`'s server threads) cannot interleave with one (re-entrant lock).
    def executing(self: Any, node: Any = None) -> Any:  # recursive: forgets at every level
        with MOTO_LOCK:
            forget(self.item)
            try:
                return execute(self, node)
            finally:
                forget(self.item)

    def updating(self: Any, updates: Any) -> Any:
        with MOTO_LOCK:
            forget(self)
            try:
                return attribute_updates(self, updates)
            finally:
                forget(self)

    def batch_get_item_weighing_once(self: Any) -> Any:
        with MOTO_LOCK, sizes_remembered():
            return batch_get_item(self)

    batch_get_item_weighing_once.__wrapped__ = batch_get_item  # type: ignore[attr-defined]
    item.__wrapped__ = item_size  # type: ignore[attr-defined]  # moto's, for tests
    dynamo_type.__wrapped__ = dynamo_type_size  # type: ignore[attr-defined]
    _kept.clear()
    try:
        with (
            mock.patch.object(Item, "size", item),
            mock.patch.object(DynamoType, "size", dynamo_type),
            mock.patch.object(DynamoHandler, "batch_get_item", batch_get_item_weighing_once),
            mock.patch.object(UpdateExpressionExecutor, "execute", executing),
            mock.patch.object(Item, "update_with_attribute_updates", updating),
        ):
            yield
    finally:
        _kept.clear()
