"""Query in moto without walking and sorting the whole table (dev emulation only).

moto answers every Query by listing all of the table's items, sorted (`Table.all_items`),
then filtering them by the key condition: each list request costs O(n log n) in the
table's size, and `make run` grows a table with every request. DynamoDB reads only the
partition asked for. So for the duration of one Query, `all_items` hands moto only the
candidates, unsorted (moto sorts the results itself, as DynamoDB orders them); moto's own
key, range, filter, paging and projection logic all still run:

- a table query: the items of its partition, straight from `table.items`;
- an index query: the items whose index hash key has the asked value, from a map kept
  per table and attribute. It is built on the first query of that attribute and then
  kept current from the table's stream: every write moto makes (put, delete, update, in
  or out of a transaction) adds a stream record with the old and the new item. A table
  without a stream, or one whose items were restored behind moto's back (a rolled-back
  transaction, see local/dynamodb_transactions.py), is walked instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock

from local.moto_lock import MOTO_LOCK

_PARTITIONS = "_local_index_partitions"  # table attribute: {attr: {value key: {item key: item}}}


def forget_partitions(table: Any) -> None:
    """The table's items changed without stream records: rebuild on the next query."""
    table.__dict__.pop(_PARTITIONS, None)


def _value_key(value: Any) -> tuple[str, str]:
    return (value.type, str(value.value))


def _item_key(item: Any) -> tuple[Any, ...]:
    range_key = item.range_key
    return (_value_key(item.hash_key), _value_key(range_key) if range_key is not None else None)


def _every_item(table: Any) -> list[Any]:
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())


def _partition(table: Any, attr: str, value: Any) -> list[Any]:
    if table.stream_shard is None:
        return [i for i in _every_item(table) if _has(i.attrs, attr, value)]
    maps = table.__dict__.setdefault(_PARTITIONS, {})
    by_value = maps.get(attr)
    if by_value is None:
        by_value = maps[attr] = {}
        for item in _every_item(table):
            _add(by_value, attr, item)
    return list(by_value.get(_value_key(value), {}).values())


def _has(attrs: dict[str, Any], attr: str, value: Any) -> bool:
    found = attrs.get(attr)
    return found is not None and found == value  # DynamoType cannot compare itself with None


def _add(by_value: dict[Any, dict[Any, Any]], attr: str, item: Any) -> None:
    found = item.attrs.get(attr)
    if found is not None:
        by_value.setdefault(_value_key(found), {})[_item_key(item)] = item


def _written(table: Any, old: Any, new: Any) -> None:
    """A stream record: move the item between the kept partitions."""
    for attr, by_value in table.__dict__.get(_PARTITIONS, {}).items():
        if old is not None and (found := old.attrs.get(attr)) is not None:
            members = by_value.get(_value_key(found))
            if members is not None:
                members.pop(_item_key(old), None)
        if new is not None:
            _add(by_value, attr, new)


def _candidates(table: Any, hash_key: Any, index_name: str | None, conditions: Any) -> list[Any]:
    if index_name is None:
        partition = table.items.get(hash_key) if hash_key is not None else None
        if partition is None:
            return []
        return list(partition.values()) if table.range_key_attr else [partition]
    wanted = dict(conditions or [])
    if not wanted and hash_key is not None:
        index = next((i for i in table.all_indexes() if i.name == index_name), None)
        hashes = (
            [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"] if index else []
        )
        if len(hashes) == 1:
            wanted = {hashes[0]: hash_key}
    if len(wanted) != 1:
        return _every_item(table)  # moto says what is wrong, or filters several keys itself
    ((attr, value),) = wanted.items()
    return _partition(table, attr, value)


@contextlib.contextmanager
def partition_queries() -> Iterator[None]:
    """Patch moto's Table.query to look only at the candidates, and keep the index
    partitions current from the stream (see the module doc)."""
    from moto.dynamodb.models.table import StreamShard, Table

    original_query, original_add = Table.query, StreamShard.add

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        conditions = kwargs.get("hash_key_conditions")
        with MOTO_LOCK:  # self.all_items is this call's alone
            candidates = _candidates(self, hash_key, index_name, conditions)
            self.all_items = lambda: candidates
            try:
                return original_query(self, hash_key, *args, **kwargs)
            finally:
                del self.all_items

    def add(self: Any, old: Any, new: Any) -> None:
        with MOTO_LOCK:
            _written(self.table, old, new)
            original_add(self, old, new)

    query.__wrapped__ = original_query  # type: ignore[attr-defined]  # tests compare with moto's own
    with mock.patch.object(Table, "query", query), mock.patch.object(StreamShard, "add", add):
        yield
