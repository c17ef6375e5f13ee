"""local/dynamodb_queries.py: a Query that looks only at its candidates answers exactly
what moto answers when it walks the whole table, for table and index queries, forwards
and backwards, with key conditions, filters and paging."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

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
