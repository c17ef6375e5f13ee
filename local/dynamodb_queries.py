"""Query in moto without walking and sorting the whole table (dev emulation only).

moto answers every Query by listing all of the table's items, sorted (`Table.all_items`),
then filtering them by the key condition: each list request costs O(n log n) in the
table's size, and `make run` grows a table with every request. DynamoDB reads only the
partition asked for. So for the duration of one Query, `all_items` hands moto only the
candidates: the partition's items for a table query, the items whose index hash key
matches for an index query, unsorted (moto sorts the results itself, as DynamoDB orders
them). moto's own key, range, filter, paging and projection logic all still run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock


def _candidates(table: Any, hash_key: Any, index_name: str | None, conditions: Any) -> list[Any]:
    if index_name is None:
        partition = table.items.get(hash_key) if hash_key is not None else None
        if partition is None:
            return []
        return list(partition.values()) if table.range_key_attr else [partition]
    wanted = dict(conditions or [])
    if not wanted:
        index = next((i for i in table.all_indexes() if i.name == index_name), None)
        hashes = (
            [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"] if index else []
        )
        if len(hashes) != 1 or hash_key is None:
            return _every_item(table)  # moto will say what is wrong with the query
        wanted = {hashes[0]: hash_key}
    return [item for item in _every_item(table) if _matches(item.attrs, wanted)]


def _matches(attrs: dict[str, Any], wanted: dict[str, Any]) -> bool:
    for name, value in wanted.items():
        found = attrs.get(name)
        if found is None or found != value:  # DynamoType cannot compare itself with None
            return False
    return True


def _every_item(table: Any) -> list[Any]:
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())


@contextlib.contextmanager
def partition_queries() -> Iterator[None]:
    """Patch moto's Table.query to look only at the candidates (see the module doc)."""
    from moto.dynamodb.models.table import Table

    original = Table.query

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        conditions = kwargs.get("hash_key_conditions")
        candidates = _candidates(self, hash_key, index_name, conditions)
        self.all_items = lambda: candidates  # calls are serialized: see serial_aws_calls
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    query.__wrapped__ = original  # type: ignore[attr-defined]  # tests compare with moto's own
    with mock.patch.object(Table, "query", query):
        yield
