"""Query in moto reading only the page it answers (dev emulation only).

moto answers every Query by listing all of the table's items, sorted (`Table.all_items`),
keeping its partition's, sorting those, and then walking them: past ExclusiveStartKey,
through the key condition, up to Limit. So each list request costs O(n log n) in the
table's size, and `make run` grows the table with every request. DynamoDB reads only the
page. So for the duration of one Query, `all_items` hands moto just the items its walk
would reach (the "window"); moto's own key, range, filter, paging and projection logic all
still run on them, and answer as they would have on the whole table:

- every partition of the table and of its indexes is kept sorted as moto sorts a query's
  candidates (local/dynamodb_partitions.py);
- the sort key condition (=, <, <=, >, >=, BETWEEN, begins_with) holds for a run of
  consecutive items: found by bisection;
- ExclusiveStartKey: moto skips the items that its own `_item_comes_before_dct` says come
  before it, a prefix in the query's direction: found by bisection with that very test;
- from there, in the query's direction, the window is the matching items, Limit of them at
  most, and the item after them if any: moto stops at the item after the Limit-th match,
  and returns LastEvaluatedKey only if there is one (Limit counts items before the
  FilterExpression, as in DynamoDB);
- moto also stops at any item, matching or not, that would take the page over 1 MB. Past
  the matches only an item larger than 1 MB less the page could; when the page is larger
  than 1 MB less moto's largest item, the window runs to the end of the partition.

What this cannot bisect (a legacy QueryFilter, multi-attribute keys, Limit 0, key values
of mixed types) hands moto the partition's items, and a table without a stream all its
items, for moto to sort and walk as before.

moto then weighs each item of the page twice and deep-copies the page before answering.
Within a Query each item is weighed once (local/dynamodb_item_sizes.sizes_remembered). And
when the Query is part of a whole AWS call made in this process (local.moto_lock
.in_whole_call: no other thread touches moto until the response is built), the page is
handed on uncopied: from here on moto only reads it (an index's projection, a
FilterExpression and a ProjectionExpression make new items, and the response is built
from it into new dicts).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from unittest import mock

from local import dynamodb_partitions as partitions
from local.dynamodb_item_sizes import sizes_remembered
from local.moto_lock import MOTO_LOCK, in_whole_call

# moto's LimitedSizeDict refuses an item over 405,000 bytes (as moto's Item.size counts);
# moto.dynamodb.models.table.RESULT_SIZE_LIMIT is its 1 MB page.
MAX_ITEM_SIZE = 405_000


class _Above:
    """Sorts after any key value: (v, ABOVE) comes after every sort key that starts with v."""

    def __gt__(self, other: object) -> bool:
        return True

    def __lt__(self, other: object) -> bool:
        return False


ABOVE = _Above()
_page = threading.local()  # .shared: this thread's Query hands its page on uncopied


class _PageCopy:
    """The copy module as moto's table module sees it: a Query's page (a list) is not
    copied while this thread's page is shared; everything else is copied as ever."""

    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if getattr(_page, "shared", False) and type(value) is list:
            return list(value)
        return copy.deepcopy(value, memo)


@contextlib.contextmanager
def _shared_page(shared: bool) -> Iterator[None]:
    previous = getattr(_page, "shared", False)
    _page.shared = shared
    try:
        yield
    finally:
        _page.shared = previous


def _first(lo: int, hi: int, test: Callable[[int], bool]) -> int:
    """The first i in [lo, hi) for which test(i) holds, test being False then True."""
    while lo < hi:
        mid = (lo + hi) // 2
        if test(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _matching(keys: Sequence[Any], comparison: str, values: list[Any]) -> tuple[int, int] | None:
    """[lo, hi): the positions whose first sort key value meets the condition."""
    n = len(keys)
    low = values[0]
    if comparison == "=":
        return bisect_left(keys, (low,)), bisect_left(keys, (low, ABOVE))
    if comparison == "<":
        return 0, bisect_left(keys, (low,))
    if comparison == "<=":
        return 0, bisect_left(keys, (low, ABOVE))
    if comparison == ">":
        return bisect_left(keys, (low, ABOVE)), n
    if comparison == ">=":
        return bisect_left(keys, (low,)), n
    if comparison == "BETWEEN" and len(values) == 2:
        lo = bisect_left(keys, (low,))
        return lo, max(lo, bisect_left(keys, (values[1], ABOVE)))
    if comparison == "BEGINS_WITH" and isinstance(low, str | bytes):
        lo = bisect_left(keys, (low,))
        return lo, _first(lo, n, lambda i: not keys[i][0].startswith(low))
    return None


def _too_big(run: list[Any]) -> bool:
    """Could an item after this page's matches take it over moto's 1 MB?"""
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    room = RESULT_SIZE_LIMIT - MAX_ITEM_SIZE
    return len(run) * MAX_ITEM_SIZE > room and sum(item.size() for item in run) > room


def window(
    table: Any, view: partitions.View, partition: partitions.Partition, query: dict[str, Any]
) -> list[Any] | None:
    """The items of the partition that moto's walk for this query reaches (see the module
    doc); None if it cannot tell."""
    limit, forward = query["limit"], query["scan_index_forward"]
    ranges = query["range_key_conditions"] or []
    if query["filter_kwargs"] or len(ranges) > 1 or not isinstance(forward, bool):
        return None
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        return None
    keys, items = partition.keys, partition.items
    n = len(keys)
    lo, hi = 0, n
    if query["range_comparison"]:
        if ranges and ranges[0][0] != view.sort_attrs[0]:
            return None
        values = [value.cast_value for value in query["range_objs"]]
        found = _matching(keys, query["range_comparison"], values)
        if found is None:
            return None
        lo, hi = found
    start_key = query["exclusive_start_key"]

    def before(i: int) -> bool:
        return bool(
            table._item_comes_before_dct(
                items[i], start_key, view.moto_hash_attrs, view.moto_range_attrs, forward
            )
        )

    if forward:
        start = lo if start_key is None else max(lo, _first(0, n, lambda i: not before(i)))
        count = hi - start
        if count <= 0:
            return []
        stop = min(n, start + (count if limit is None else min(count, limit)) + 1)
        if (limit is None or count < limit) and hi + 1 < n and _too_big(items[start:hi]):
            stop = n
        return items[start:stop]
    top = hi if start_key is None else min(hi, _first(0, n, before))
    count = top - lo
    if count <= 0:
        return []
    begin = max(0, top - (count if limit is None else min(count, limit)) - 1)
    if (limit is None or count < limit) and lo > 1 and _too_big(items[lo:top]):
        begin = 0
    return items[begin:top]


def _every_item(table: Any) -> list[Any]:
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())


def _hash_value(table: Any, view: partitions.View, query: dict[str, Any]) -> Any:
    """The queried hash key value of the view's hash attribute, or None."""
    conditions = dict(query["hash_key_conditions"] or [])
    if query["index_name"] is None or not conditions:
        return query["hash_key"]
    if list(conditions) != [view.hash_attr]:
        return None
    return conditions[view.hash_attr]


def candidates(table: Any, query: dict[str, Any]) -> list[Any]:
    """What `all_items` hands moto for this query: its window, or else the partition, or
    else (no view to read) every item of the table."""
    index_name = query["index_name"]
    if index_name is None and not table.range_key_attr:
        item = table.items.get(query["hash_key"]) if query["hash_key"] is not None else None
        return [item] if item is not None else []
    view = partitions.view(table, index_name)
    if view is None:
        return _every_item(table)
    hash_value = _hash_value(table, view, query)
    if hash_value is None:
        return _every_item(table)  # moto says what is wrong with the key condition
    partition = view.partitions.get(partitions.partition_key(hash_value))
    if partition is None:
        return []
    try:
        found = window(table, view, partition, query)
    except Exception:  # moto's walk raises its own error for what cannot be compared
        found = None
    return list(partition.items) if found is None else found


@contextlib.contextmanager
def partition_queries() -> Iterator[None]:
    """Patch moto's Table.query to look only at its window, and keep the sorted partitions
    current from the stream (see the module doc)."""
    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.models.table import StreamShard, Table

    original_query, original_add = Table.query, StreamShard.add
    signature = inspect.signature(original_query)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        with MOTO_LOCK:  # self.all_items is this call's alone
            found = candidates(self, bound.arguments)
            self.all_items = lambda: found
            try:
                with sizes_remembered(), _shared_page(in_whole_call()):
                    return original_query(self, *args, **kwargs)
            finally:
                del self.all_items

    def add(self: Any, old: Any, new: Any) -> None:
        with MOTO_LOCK:
            partitions.replaced(self.table, old, new)
            original_add(self, old, new)

    query.__wrapped__ = original_query  # type: ignore[attr-defined]  # tests compare with moto's own
    with (
        mock.patch.object(Table, "query", query),
        mock.patch.object(StreamShard, "add", add),
        mock.patch.object(table_module, "copy", _PageCopy),
    ):
        yield
