"""local/dynamodb_queries.py: a Query that hands moto only its window of the sorted
partition (local/dynamodb_partitions.py) answers exactly what moto answers when it walks
the whole table: table, GSI and LSI queries, string, number and binary sort keys, every
sort key condition, both directions, with and without Limit, ExclusiveStartKey,
FilterExpression and a projection, with items written, deleted, moved between index
partitions and put back by a cancelled transaction between pages, and at moto's 1 MB page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from local.moto_lock import whole_call
from local.stack import Stack

QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "P#1"}}},
    {
        "KeyConditionExpression": "PK = :p AND begins_with(SK, :s)",
        "ExpressionAttributeValues": {":p": {"S": "P#2"}, ":s": {"S": "M#1"}},
        "ScanIndexForward": False,
    },
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "none"}}},
    {
        "IndexName": "GSI1",
        "KeyConditionExpression": "GSI1PK = :g",
        "ExpressionAttributeValues": {":g": {"S": "LIST"}},
    },
    {
        "IndexName": "GSI1",
        "KeyConditionExpression": "GSI1PK = :g AND GSI1SK > :k",
        "FilterExpression": "n > :n",
        "ExpressionAttributeValues": {":g": {"S": "LIST"}, ":k": {"S": "05"}, ":n": {"N": "3"}},
        "ScanIndexForward": False,
    },
]


@pytest.fixture
def table(stack: Stack) -> tuple[Any, str]:
    ddb, name = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    for p in range(1, 4):
        for m in range(12):
            item = {"PK": {"S": f"P#{p}"}, "SK": {"S": f"M#{m:02d}"}, "n": {"N": str(m)}}
            if m % 2:  # half of them in the index, some in another index partition
                item |= {"GSI1PK": {"S": "LIST" if p < 3 else "OTHER"}, "GSI1SK": {"S": f"{m:02d}"}}
            ddb.put_item(TableName=name, Item=item)
    return ddb, name


def _pages(ddb: Any, name: str, query: dict[str, Any]) -> list[Any]:
    pages, start = [], None
    while True:
        kwargs = {"TableName": name, "Limit": 4, **query}
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = ddb.query(**kwargs)
        pages.append((resp["Items"], resp.get("LastEvaluatedKey")))
        start = resp.get("LastEvaluatedKey")
        if not start:
            return pages


@pytest.mark.parametrize("query", QUERIES)
def test_candidates_only_answers_as_the_whole_table_does(
    table: tuple[Any, str], query: dict[str, Any]
) -> None:
    from moto.dynamodb.models.table import Table

    ddb, name = table
    fast = _pages(ddb, name, query)
    with mock.patch.object(Table, "query", Table.query.__wrapped__):  # moto's own walk
        walked = _pages(ddb, name, query)
    assert fast == walked
    assert sum(len(items) for items, _ in fast) > 0 or "none" in str(query)


def test_index_partitions_follow_every_kind_of_write(table: tuple[Any, str]) -> None:
    """Build the kept partitions, then move items between index partitions by update, put,
    delete and a transaction that fails half way: every query still answers as moto's own
    walk of the whole table."""
    from moto.dynamodb.models.table import Table

    ddb, name = table
    index_query = QUERIES[3]
    _pages(ddb, name, index_query)  # builds the partitions of GSI1PK
    key = {"PK": {"S": "P#1"}, "SK": {"S": "M#01"}}
    ddb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET GSI1PK = :o",
        ExpressionAttributeValues={":o": {"S": "OTHER"}},
    )
    ddb.update_item(
        TableName=name,
        Key={"PK": {"S": "P#1"}, "SK": {"S": "M#02"}},
        UpdateExpression="SET GSI1PK = :l, GSI1SK = :k",
        ExpressionAttributeValues={":l": {"S": "LIST"}, ":k": {"S": "02"}},
    )
    ddb.put_item(TableName=name, Item={"PK": {"S": "P#1"}, "SK": {"S": "M#03"}})  # leaves
    ddb.delete_item(TableName=name, Key={"PK": {"S": "P#2"}, "SK": {"S": "M#05"}})
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": name,
                        "Item": {
                            "PK": {"S": "P#9"},
                            "SK": {"S": "M#00"},
                            "GSI1PK": {"S": "LIST"},
                            "GSI1SK": {"S": "00"},
                        },
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": key,
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
            ]
        )
    for query in QUERIES:
        fast = _pages(ddb, name, query)
        with mock.patch.object(Table, "query", Table.query.__wrapped__):
            walked = _pages(ddb, name, query)
        assert fast == walked, query


# --- every key condition, both directions, paging with writes in between ---------------------
# Tables of their own (string, number and binary sort keys, each with a GSI and an LSI of
# the same sort key type) in a plain moto mock with the emulation's patches.

SORT_VALUES: dict[str, list[Any]] = {
    "S": ["", "a", "ab", "abc", "abd", "ac", "b", "ba", "bab", "c", "ca", "é", "z"],
    "N": ["-10", "-2.5", "0", "0.5", "1", "2", "2.50001", "10", "11", "100", "1e3"],
    "B": [b"\x00", b"\x00\x01", b"\x01", b"a", b"ab", b"abc", b"b", b"\xfe", b"\xff", b"\xff\x00"],
}
OPERATORS = ["", "=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"]
TARGETS = ["table", "GSI", "LSI"]


def _typed(kind: str, value: Any) -> dict[str, Any]:
    return {kind: value}


@pytest.fixture(scope="module")
def typed_tables() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    from local.dynamodb_queries import partition_queries
    from local.dynamodb_transactions import item_level_rollback

    with mock_aws(), item_level_rollback(), partition_queries():
        ddb = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for kind in SORT_VALUES:
            ddb.create_table(
                TableName=f"t{kind}",
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": kind},
                    {"AttributeName": "g", "AttributeType": "S"},
                    {"AttributeName": "r", "AttributeType": kind},
                    {"AttributeName": "l", "AttributeType": kind},
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": "GSI",
                        "KeySchema": [
                            {"AttributeName": "g", "KeyType": "HASH"},
                            {"AttributeName": "r", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
                LocalSecondaryIndexes=[
                    {
                        "IndexName": "LSI",
                        "KeySchema": [
                            {"AttributeName": "pk", "KeyType": "HASH"},
                            {"AttributeName": "l", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    }
                ],
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )
            values = SORT_VALUES[kind]
            for p in range(3):
                for i, value in enumerate(values):
                    if kind == "S" and value == "":
                        continue  # an empty string is no key value
                    item = {"pk": {"S": f"p{p}"}, "sk": _typed(kind, value), "n": {"N": str(i)}}
                    if i % 4:  # in the GSI, with ties on r across partitions and within
                        item["g"] = {"S": f"g{i % 2}"}
                        item["r"] = _typed(kind, values[(i * 7 + p) % len(values)] or "x")
                    if i % 3:  # in the LSI, ties too
                        item["l"] = _typed(kind, values[(i * 5) % len(values)] or "x")
                    ddb.put_item(TableName=f"t{kind}", Item=item)
        yield ddb


def _query(kind: str, target: str, operator: str, forward: bool) -> dict[str, Any]:
    """A Query of table t<kind> or its index with that sort key condition."""
    hash_attr, hash_value = ("g", "g1") if target == "GSI" else ("pk", "p1")
    sort_attr = {"table": "sk", "GSI": "r", "LSI": "l"}[target]
    values = SORT_VALUES[kind]
    low, high = values[3], values[-3]
    condition = "#h = :h"
    names = {"#h": hash_attr}
    attr_values: dict[str, Any] = {":h": {"S": hash_value}}
    if operator == "BETWEEN":
        condition += " AND #s BETWEEN :a AND :b"
        attr_values |= {":a": _typed(kind, low), ":b": _typed(kind, high)}
    elif operator == "begins_with":
        condition += " AND begins_with(#s, :a)"
        attr_values[":a"] = _typed(kind, values[1])
    elif operator:
        condition += f" AND #s {operator} :a"
        attr_values[":a"] = _typed(kind, low)
    if operator:
        names["#s"] = sort_attr
    query = {
        "TableName": f"t{kind}",
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": attr_values,
        "ScanIndexForward": forward,
    }
    if target != "table":
        query["IndexName"] = target
    return query


def _both(ddb: Any, query: dict[str, Any]) -> tuple[Any, Any]:
    """The patched answer and moto's own (its walk of the whole table), or their errors."""
    from moto.dynamodb.models.table import Table

    def answer() -> Any:
        try:
            resp = ddb.query(**query)
        except ddb.exceptions.ClientError as exc:
            return ("error", exc.response["Error"])
        except AttributeError as exc:  # moto's begins_with on a number, raised in process
            return ("error", str(exc))
        return {k: v for k, v in resp.items() if k != "ResponseMetadata"}

    with whole_call():  # as the emulated stack calls moto: the page is handed on uncopied
        fast = answer()
    with mock.patch.object(Table, "query", Table.query.__wrapped__):
        walked = answer()
    return fast, walked


def _write_between_pages(ddb: Any, kind: str, step: int) -> None:
    """Put a new item, delete another and move one between index partitions."""
    values = SORT_VALUES[kind]
    value = values[(step * 5) % len(values)] or "y"
    ddb.put_item(
        TableName=f"t{kind}",
        Item={
            "pk": {"S": "p1"},
            "sk": _typed(kind, value),
            "g": {"S": "g1"},
            "r": _typed(kind, values[step % len(values)] or "y"),
            "l": _typed(kind, value),
            "n": {"N": "99"},
        },
    )
    gone = values[(step * 3 + 1) % len(values)] or "q"
    ddb.delete_item(TableName=f"t{kind}", Key={"pk": {"S": "p1"}, "sk": _typed(kind, gone)})
    moved = values[(step * 7 + 2) % len(values)] or "w"
    ddb.update_item(
        TableName=f"t{kind}",
        Key={"pk": {"S": "p1"}, "sk": _typed(kind, moved)},
        UpdateExpression="SET g = :g, r = :r",
        ExpressionAttributeValues={":g": {"S": f"g{step % 2}"}, ":r": _typed(kind, value)},
    )


@pytest.mark.parametrize("kind", list(SORT_VALUES))
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("operator", OPERATORS)
def test_every_page_is_what_moto_walking_the_whole_table_answers(
    typed_tables: Any, kind: str, target: str, operator: str
) -> None:
    """Page by page, with and without Limit, FilterExpression and a projection, both
    directions: the same Items, Count, ScannedCount and LastEvaluatedKey (or the same
    error: begins_with on a number). Items are written and deleted between pages."""
    ddb = typed_tables
    variants: list[dict[str, Any]] = [
        {},
        {"Limit": 1},
        {"Limit": 3, "FilterExpression": "n > :n"},
        {"Limit": 4, "ProjectionExpression": "pk, sk, n"},
    ]
    step = 0
    for forward in (True, False):
        for variant in variants:
            query = _query(kind, target, operator, forward) | variant
            if "FilterExpression" in variant:
                query["ExpressionAttributeValues"] = {
                    **query["ExpressionAttributeValues"],
                    ":n": {"N": "4"},
                }
            pages = 0
            while True:
                fast, walked = _both(ddb, query)
                assert fast == walked, (query, pages)
                last = None if isinstance(fast, tuple) else fast.get("LastEvaluatedKey")
                if last is None or pages > 40:
                    break
                query = {**query, "ExclusiveStartKey": last}
                pages += 1
                step += 1
                _write_between_pages(ddb, kind, step)


def test_a_cancelled_transaction_between_pages(typed_tables: Any) -> None:
    """A transaction that writes an item, then fails, leaves the pages as moto's walk."""
    ddb = typed_tables
    query = _query("S", "GSI", "", True) | {"Limit": 2}
    fast, walked = _both(ddb, query)
    assert fast == walked
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": "tS",
                        "Item": {
                            "pk": {"S": "p1"},
                            "sk": {"S": "aa"},
                            "g": {"S": "g1"},
                            "r": {"S": "a"},
                        },
                    }
                },
                {
                    "Update": {
                        "TableName": "tS",
                        "Key": {"pk": {"S": "p1"}, "sk": {"S": "ab"}},
                        "UpdateExpression": "SET g = :g",
                        "ExpressionAttributeValues": {":g": {"S": "g1"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "tS",
                        "Key": {"pk": {"S": "p0"}, "sk": {"S": "a"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    query["ExclusiveStartKey"] = fast["LastEvaluatedKey"]
    while True:
        fast, walked = _both(ddb, query)
        assert fast == walked
        if "LastEvaluatedKey" not in fast:
            break
        query["ExclusiveStartKey"] = fast["LastEvaluatedKey"]


@pytest.mark.parametrize("forward", [True, False])
@pytest.mark.parametrize("limit", [None, 5])
def test_the_one_megabyte_page(typed_tables: Any, forward: bool, limit: int | None) -> None:
    """moto stops at any item that would take a page over 1 MB, even one the key condition
    leaves out: three 250 KB matches, then a small item and a 250 KB one that do not
    match (in the query's direction), so the page stops at the latter."""
    ddb = typed_tables
    for name in ("m1", "m2", "m3", "n0", "x1", "x2", "x3"):
        item = {"pk": {"S": "big"}, "sk": {"S": name}}
        if name != "n0":
            item["blob"] = {"S": "z" * 250_000}
        ddb.put_item(TableName="tS", Item=item)
    query: dict[str, Any] = {
        "TableName": "tS",
        "KeyConditionExpression": "pk = :p AND begins_with(sk, :m)",
        "ExpressionAttributeValues": {":p": {"S": "big"}, ":m": {"S": "m" if forward else "x"}},
        "ScanIndexForward": forward,
        "ProjectionExpression": "sk",
    }
    if limit:
        query["Limit"] = limit
    fast, walked = _both(ddb, query)
    assert fast == walked
    assert fast["Count"] == 3
    assert fast["LastEvaluatedKey"]  # moto's walk stopped at the second large item
