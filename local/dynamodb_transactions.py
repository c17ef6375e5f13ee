"""TransactWriteItems in moto with an item-level rollback (dev emulation only).

moto (5.2.5 still) backs up a transaction by deep-copying every table it names, stream
records included, on every call, and puts the copies back if any operation fails. With
a few thousand items that is most of a request's time, and the copies grow the process
by megabytes a second under load. Everything else moto does for a transaction (the
conditions, the per-operation errors, TransactionCanceledException and its reasons) is
kept: only the backup changes.

What a transaction can change is exactly the items its operations name (one per
operation: Put's key comes from its Item, the others give Key) plus the stream records
those writes append. So before moto runs it we copy just those items and note each
table's stream end; on failure we put those items back (or remove the ones that did
not exist) and drop the stream records the transaction appended, as DynamoDB emits none
for a cancelled transaction. moto derives every GSI/LSI query from the table's items, so
restoring the items restores the indexes; the sorted partitions that local queries read
(local/dynamodb_partitions.py) are told of each item put back.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from unittest import mock

from local.dynamodb_partitions import replaced
from local.moto_lock import MOTO_LOCK


@dataclass
class _Touched:
    """One item a transaction names, as it was before: `item` is None if absent."""

    table: Any  # moto.dynamodb.models.table.Table
    hash_key: Any  # DynamoType
    range_key: Any  # DynamoType | None
    item: Any  # a deep copy of the moto Item, or None
    had_hash_key: bool  # table.items had an entry for hash_key (moto keeps empty ones)

    def restore(self) -> None:
        items = self.table.items
        group = items.get(self.hash_key)  # .get: table.items is a defaultdict
        if self.range_key is None:
            current = group
            if self.item is None:
                items.pop(self.hash_key, None)
            else:
                items[self.hash_key] = self.item
        else:
            current = group.get(self.range_key) if group is not None else None
            if self.item is not None:
                items[self.hash_key][self.range_key] = self.item
            elif group is not None:
                group.pop(self.range_key, None)
                if not group and not self.had_hash_key:
                    del items[self.hash_key]
        if current is not self.item:
            replaced(self.table, current, self.item)  # restored without a stream record


class Snapshot:
    """The items a transaction names and where the streams of their tables end."""

    def __init__(self, backend: Any, transact_items: list[dict[str, Any]]) -> None:
        self.touched: dict[tuple[str, Any, Any], _Touched] = {}
        # table -> (shard, sequence number of the next record): local/dynamodb_stream_tail.py
        # may drop a shard's oldest records meanwhile, never its newest
        self.stream_ends: dict[str, tuple[Any, int]] = {}
        for entry in transact_items:
            for op in entry.values():
                if isinstance(op, dict):
                    self._take(backend, op)

    def _take(self, backend: Any, op: dict[str, Any]) -> None:
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            return  # moto rejects the operation before writing anything
        attrs = op.get("Key") or op.get("Item") or {}
        try:
            hash_key = _dynamo_type(attrs[table.hash_key_attr])
            range_key = _dynamo_type(attrs[table.range_key_attr]) if table.range_key_attr else None
        except (KeyError, TypeError, ValueError):
            return  # a key moto will reject: nothing written for this operation
        ref = (table.name, hash_key, range_key)
        if ref in self.touched:
            return  # the same item twice: moto cancels the transaction anyway
        group = table.items.get(hash_key)  # .get: table.items is a defaultdict
        if range_key is None:
            current = group
        else:
            current = group.get(range_key) if group is not None else None
        self.touched[ref] = _Touched(
            table, hash_key, range_key, copy.deepcopy(current), group is not None
        )
        shard = table.stream_shard
        if shard is not None and table.name not in self.stream_ends:
            self.stream_ends[table.name] = (
                shard,
                shard.starting_sequence_number + len(shard.items),
            )

    def restore(self) -> None:
        for touched in self.touched.values():
            touched.restore()
        for shard, end in self.stream_ends.values():
            del shard.items[max(0, end - shard.starting_sequence_number) :]


def _dynamo_type(value: Any) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType(value)


def _deepcopy_except_tables(obj: Any, memo: dict[int, Any] | None = None) -> Any:
    """copy.deepcopy as moto's DynamoDB backend module sees it: a Table is returned as is.
    The only Table it copies is transact_write_items' whole-table backup, which the
    Snapshot replaces; its rollback then assigns each table back to itself."""
    from moto.dynamodb.models.table import Table

    return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)


@contextlib.contextmanager
def item_level_rollback() -> Iterator[None]:
    """Patch moto's DynamoDB transact_write_items for the duration (see the module doc).
    It holds local.moto_lock.MOTO_LOCK, so a snapshot cannot interleave with another
    write."""
    from moto.dynamodb import models

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        with MOTO_LOCK:
            snapshot = Snapshot(backend, transact_items)
            try:
                original(backend, transact_items)
            except Exception:
                snapshot.restore()
                raise

    with (
        mock.patch.object(models, "copy", SimpleNamespace(deepcopy=_deepcopy_except_tables)),
        mock.patch.object(models.DynamoDBBackend, "transact_write_items", transact_write_items),
    ):
        yield
