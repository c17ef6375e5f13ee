"""local/dynamodb_transactions.py: moto's TransactWriteItems with an item-level rollback.

A cancelled transaction must leave every item it named, the table's indexes and its
stream exactly as before; a successful one applies every operation. Runs on the
template's own table (GSIs, NEW_AND_OLD_IMAGES stream) in the emulated stack."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stack import ACCOUNT, REGION, Stack


def _table(stack: Stack) -> tuple[Any, str]:
    return stack.client("dynamodb"), stack.table_names()["TenantryTable"]


def _moto_table(name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT][REGION].tables[name]


def _item(pk: str, sk: str, **attrs: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}, **{k: {"S": v} for k, v in attrs.items()}}


def _state(ddb: Any, name: str) -> dict[str, Any]:
    """Everything a reader can see: all items, each GSI's query order, the stream."""
    items = sorted(ddb.scan(TableName=name)["Items"], key=lambda i: (i["PK"]["S"], i["SK"]["S"]))
    indexes = {
        gsi: ddb.query(
            TableName=name,
            IndexName=gsi,
            KeyConditionExpression="#pk = :v",
            ExpressionAttributeNames={"#pk": f"{gsi}PK"},
            ExpressionAttributeValues={":v": {"S": "LIST"}},
        )["Items"]
        for gsi in ("GSI1", "GSI2")
    }
    stream = [r.to_json() for r in _moto_table(name).stream_shard.items]
    return {"items": items, "indexes": indexes, "stream": stream}


@pytest.fixture
def seeded(stack: Stack) -> tuple[Any, str]:
    ddb, name = _table(stack)
    for item in (
        _item("P#1", "META", GSI1PK="LIST", GSI1SK="1", n="a"),
        _item("P#2", "META", GSI1PK="LIST", GSI1SK="2", GSI2PK="LIST", GSI2SK="2"),
        _item("P#3", "META", n="c"),
    ):
        ddb.put_item(TableName=name, Item=item)
    return ddb, name


def _writes(name: str) -> list[dict[str, Any]]:
    """A new item, an update that moves an item between indexes, a delete."""
    return [
        {"Put": {"TableName": name, "Item": _item("P#9", "META", GSI1PK="LIST", GSI1SK="0")}},
        {
            "Update": {
                "TableName": name,
                "Key": _item("P#1", "META"),
                "UpdateExpression": "SET n = :n, GSI2PK = :l, GSI2SK = :s REMOVE GSI1PK",
                "ExpressionAttributeValues": {
                    ":n": {"S": "b"},
                    ":l": {"S": "LIST"},
                    ":s": {"S": "1"},
                },
            }
        },
        {"Delete": {"TableName": name, "Key": _item("P#2", "META")}},
    ]


@pytest.mark.parametrize("failing_position", [0, 3])
def test_a_cancelled_transaction_leaves_items_indexes_and_stream_as_before(
    seeded: tuple[Any, str], failing_position: int
) -> None:
    """moto applies the operations after a failed condition too, then rolls back: the
    failure first and last both leave nothing behind."""
    ddb, name = seeded
    table = _moto_table(name)
    before = _state(ddb, name)
    failing = {
        "ConditionCheck": {
            "TableName": name,
            "Key": _item("P#3", "META"),
            "ConditionExpression": "n = :x",
            "ExpressionAttributeValues": {":x": {"S": "not c"}},
        }
    }
    ops = _writes(name)
    ops.insert(failing_position, failing)

    with pytest.raises(ClientError) as err:
        ddb.transact_write_items(TransactItems=ops)

    assert err.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _state(ddb, name) == before
    assert _moto_table(name) is table  # rolled back in place, not replaced by a copy


def test_a_rejected_transaction_is_rolled_back_too(seeded: tuple[Any, str]) -> None:
    """Two operations on one item: moto raises mid-way (a ValidationException)."""
    ddb, name = seeded
    before = _state(ddb, name)
    ops = [*_writes(name), {"Delete": {"TableName": name, "Key": _item("P#1", "META")}}]

    with pytest.raises(ClientError) as err:
        ddb.transact_write_items(TransactItems=ops)

    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert _state(ddb, name) == before


def test_a_successful_transaction_applies_every_operation(seeded: tuple[Any, str]) -> None:
    ddb, name = seeded
    stream_before = len(_state(ddb, name)["stream"])

    ddb.transact_write_items(TransactItems=_writes(name))

    after = _state(ddb, name)
    assert {(i["PK"]["S"], i.get("n", {}).get("S")) for i in after["items"]} == {
        ("P#1", "b"),
        ("P#3", "c"),
        ("P#9", None),
    }
    assert [i["PK"]["S"] for i in after["indexes"]["GSI1"]] == ["P#9"]
    assert [i["PK"]["S"] for i in after["indexes"]["GSI2"]] == ["P#1"]
    events = [r["eventName"] for r in after["stream"][stream_before:]]
    assert events == ["INSERT", "MODIFY", "REMOVE"]
