"""Each partition of a moto table and of its indexes, kept in sort-key order (dev emulation
only).

moto keeps a table's items in one dict per hash key and orders nothing: every Query takes
all the candidates of its partition, sorts them, and only then skips to ExclusiveStartKey
and stops at Limit, so one page costs O(n log n) in the partition's size. DynamoDB reads a
page in key order from where the last one stopped. So for a table and for each of its
indexes (a "view") this module keeps every partition as a list sorted exactly as moto's
Query sorts it, and local/dynamodb_queries.py bisects it for the few items a page needs.

A view is built by walking the table on its first query, then kept current from the
table's stream: every write moto makes (put, delete, update, in or out of a transaction)
adds a stream record with the item as it was and as it is (`replaced`); a transaction
that rolls back restores its items without stream records and calls `replaced` itself. A
table without a stream has no views (its queries walk it, as moto does); if a view ever
misses an item it should hold, the table's views are dropped and built again.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

_VIEWS = "_local_sorted_views"  # table attribute: {index name, or None for the table: View}
SortKey = tuple[Any, ...]  # cast values of the view's sort attributes, in moto's order
PartitionKey = tuple[str, Any]  # (type, cast value) of the partition's hash key


class Partition:
    """The items of one partition, sorted by key; `keys[i]` is the sort key of `items[i]`."""

    __slots__ = ("items", "keys")

    def __init__(self) -> None:
        self.keys: list[SortKey] = []
        self.items: list[Any] = []

    def put(self, key: SortKey, item: Any) -> None:
        i = bisect_left(self.keys, key)
        if i < len(self.keys) and self.keys[i] == key:
            self.items[i] = item
        else:
            self.keys.insert(i, key)
            self.items.insert(i, item)

    def remove(self, key: SortKey) -> bool:
        i = bisect_left(self.keys, key)
        if i < len(self.keys) and self.keys[i] == key:
            del self.keys[i], self.items[i]
            return True
        return False


@dataclass
class View:
    """A table or one of its indexes: which items it holds, in which partition and order.

    `moto_hash_attrs` and `moto_range_attrs` are what moto's Table.query builds for it (it
    hands them to its own ExclusiveStartKey test); `sort_attrs` are the attributes moto
    sorts a query's candidates by, less the index's hash key (the same in a partition)."""

    hash_attr: str
    sort_attrs: tuple[str, ...]
    moto_hash_attrs: list[str]
    moto_range_attrs: list[str | None]
    partitions: dict[PartitionKey, Partition] = field(default_factory=dict)

    def place(self, item: Any) -> tuple[PartitionKey, SortKey] | None:
        """Where the item sits in this view; None if the view does not hold it (an index
        holds only the items that have all of its key attributes)."""
        attrs = item.attrs
        hash_value = attrs.get(self.hash_attr)
        if hash_value is None:
            return None
        try:
            key = tuple([attrs[attr].cast_value for attr in self.sort_attrs])
        except KeyError:
            return None
        return (hash_value.type, hash_value.cast_value), key

    def add(self, item: Any) -> None:
        placed = self.place(item)
        if placed is not None:
            partition_key, key = placed
            partition = self.partitions.get(partition_key)
            if partition is None:
                partition = self.partitions[partition_key] = Partition()
            partition.put(key, item)

    def remove(self, item: Any) -> bool:
        """False if the view should have held the item and did not."""
        placed = self.place(item)
        if placed is None:
            return True
        partition_key, key = placed
        partition = self.partitions.get(partition_key)
        if partition is None or not partition.remove(key):
            return False
        if not partition.keys:
            del self.partitions[partition_key]
        return True


def partition_key(value: Any) -> PartitionKey:
    """The key of the partition whose hash key is this DynamoType."""
    return (value.type, value.cast_value)


def view(table: Any, index_name: str | None) -> View | None:
    """The table's view (index_name None) or an index's, built on first use; None when
    there is none to keep: no stream, no sort key, an unknown index, or several hash or
    range attributes (multi-attribute keys)."""
    if table.stream_shard is None:
        return None
    views: dict[str | None, View | None] = table.__dict__.setdefault(_VIEWS, {})
    if index_name not in views:
        found = _describe(table, index_name)
        if found is not None and not _fill(table, found):
            found = None
        views[index_name] = found
    return views[index_name]


def replaced(table: Any, old: Any, new: Any) -> None:
    """The item at one key of the table was `old` and is `new` (either may be None)."""
    views: dict[str | None, View | None] = table.__dict__.get(_VIEWS, {})
    if old is not None and new is not None and not _same_key(old, new):
        forget(table)  # moto's legacy Expected can name another item than the one replaced
        return
    try:
        for each in views.values():
            if each is None:
                continue
            if old is not None and not each.remove(old):
                raise LookupError("a view lacked an item it should hold")
            if new is not None:
                each.add(new)
    except (LookupError, TypeError):  # TypeError: key values of different types
        forget(table)


def _same_key(old: Any, new: Any) -> bool:
    if old.hash_key != new.hash_key:
        return False
    if old.range_key is None or new.range_key is None:
        return old.range_key is new.range_key
    return bool(old.range_key == new.range_key)


def forget(table: Any) -> None:
    """Drop the table's views: they are built again on the next query."""
    table.__dict__.pop(_VIEWS, None)


def _describe(table: Any, index_name: str | None) -> View | None:
    """The view's attributes, built as moto's Table.query builds them."""
    if index_name is None:
        if not table.range_key_attr:
            return None  # a partition is one item
        return View(
            hash_attr=table.hash_key_attr,
            sort_attrs=(table.range_key_attr,),
            moto_hash_attrs=[table.hash_key_attr],
            moto_range_attrs=[table.range_key_attr],
        )
    from moto.dynamodb.models.table import GlobalSecondaryIndex

    index = next((i for i in table.all_indexes() if i.name == index_name), None)
    if index is None:
        return None
    hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
    if len(hashes) != 1 or len(ranges) > 1:
        return None
    if ranges:
        range_attrs: list[str | None] = [ranges[0], table.range_key_attr]
    elif isinstance(index, GlobalSecondaryIndex) and table.range_key_attr:
        range_attrs = [table.range_key_attr, table.range_key_attr]
    else:
        range_attrs = [table.hash_key_attr, table.range_key_attr]
    hash_attrs = [hashes[0], table.hash_key_attr]
    sort_attrs = table._generate_attr_to_sort_by(hash_attrs, range_attrs)
    if sort_attrs[:1] != hashes:
        return None
    return View(
        hash_attr=hashes[0],
        sort_attrs=tuple(sort_attrs[1:]),
        moto_hash_attrs=hash_attrs,
        moto_range_attrs=range_attrs,
    )


def _fill(table: Any, empty: View) -> bool:
    """Put every item of the table in the view; False if their keys cannot be ordered."""
    placed: dict[PartitionKey, list[tuple[SortKey, Any]]] = {}
    for group in table.items.values():
        for item in group.values() if table.range_key_attr else [group]:
            where = empty.place(item)
            if where is not None:
                placed.setdefault(where[0], []).append((where[1], item))
    try:
        for partition_key_, entries in placed.items():
            entries.sort(key=lambda entry: entry[0])
            partition = empty.partitions[partition_key_] = Partition()
            partition.keys = [key for key, _ in entries]
            partition.items = [item for _, item in entries]
    except TypeError:
        return False
    return True
