"""local/dynamodb_responses.py: DynamoDB item responses as plain JSON must be what moto's
own serializer writes. Every item operation is answered both ways (the serializer by
turning the patch off for the call) and the wire responses compared."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest

from local.dynamodb_handoff import as_text
from local.dynamodb_responses import ITEM_OPERATIONS
from local.stack import Stack

ITEM = {
    "PK": {"S": "P#1"},
    "SK": {"S": "META"},
    "GSI1PK": {"S": "LIST"},
    "GSI1SK": {"S": "1"},
    "n": {"N": "12.50"},
    "b": {"B": b"\x00\xffbytes"},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": [b"x", b"y"]},
    "flag": {"BOOL": True},
    "none": {"NULL": True},
    "list": {"L": [{"S": "x"}, {"M": {"deep": {"N": "1"}, "bin": {"B": b"z"}}}]},
    "map": {"M": {"k": {"S": "v"}, "empty": {"L": []}}},
}


def _wire(calls: list[tuple[str, int, dict[str, str], str]], fn: Callable[[], Any]) -> Any:
    calls.clear()
    out = fn()
    op, status, headers, body = calls[0]  # the operation's (DeleteItem puts its item back)
    varying = {"x-amzn-requestid", "date"}  # per response either way
    headers = {k.lower(): v for k, v in headers.items() if k.lower() not in varying}
    return op, status, headers, json.loads(body), out


@pytest.fixture
def table(stack: Stack) -> tuple[Any, str]:
    ddb, name = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    ddb.put_item(TableName=name, Item=ITEM)
    ddb.put_item(TableName=name, Item={**ITEM, "SK": {"S": "OTHER"}, "GSI1SK": {"S": "2"}})
    return ddb, name


def test_plain_json_item_responses_are_what_moto_serializes(table: tuple[Any, str]) -> None:
    from moto.dynamodb import responses
    from moto.dynamodb.models.utilities import dynamo_to_dict
    from moto.dynamodb.responses import DynamoResult

    ddb, name = table
    key = {"PK": ITEM["PK"], "SK": ITEM["SK"]}
    operations: dict[str, Callable[[], Any]] = {
        "GetItem": lambda: ddb.get_item(TableName=name, Key=key),
        "BatchGetItem": lambda: ddb.batch_get_item(RequestItems={name: {"Keys": [key]}}),
        "TransactGetItems": lambda: ddb.transact_get_items(
            TransactItems=[{"Get": {"TableName": name, "Key": key}}]
        ),
        "Query": lambda: ddb.query(
            TableName=name,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :v",
            ExpressionAttributeValues={":v": {"S": "LIST"}},
            Limit=1,
        ),
        "Scan": lambda: ddb.scan(TableName=name),
        "PutItem": lambda: ddb.put_item(TableName=name, Item=ITEM, ReturnValues="ALL_OLD"),
        "UpdateItem": lambda: ddb.update_item(
            TableName=name,
            Key=key,
            UpdateExpression="SET flag = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
            ReturnValues="ALL_NEW",
        ),
        "DeleteItem": lambda: (
            ddb.delete_item(TableName=name, Key=key, ReturnValues="ALL_OLD"),
            ddb.put_item(TableName=name, Item=ITEM),
        )[0],
    }
    assert set(operations) == ITEM_OPERATIONS

    calls: list[tuple[str, int, dict[str, str], str]] = []
    patched = DynamoResult.execute_result  # the plain-JSON one, under the emulation

    def recording(original: Callable[..., Any]) -> Callable[..., Any]:
        def execute_result(self: Any, context: Any) -> Any:
            status, headers, body = original(self, context)
            if context.operation_model.name in ITEM_OPERATIONS:
                calls.append((context.operation_model.name, status, headers, body))
            return status, headers, body

        return execute_result

    original = patched.__wrapped__  # moto's serializer

    for op, call in operations.items():
        with as_text(), mock.patch.object(DynamoResult, "execute_result", recording(patched)):
            fast = _wire(calls, call)
        with (
            mock.patch.object(DynamoResult, "execute_result", recording(original)),
            mock.patch.object(responses, "dynamo_to_dict", dynamo_to_dict),  # moto's own
        ):
            slow = _wire(calls, call)
        assert fast[:4] == slow[:4], op
        fast_out, slow_out = (
            {k: v for k, v in r[4].items() if k != "ResponseMetadata"} for r in (fast, slow)
        )
        assert fast_out == slow_out, op


def test_fast_dynamo_to_dict_is_motos(table: tuple[Any, str]) -> None:
    """Every kind of value moto hands it: items of every attribute type (through a
    projection too), a table's description (models with to_json, datetimes), plain
    values, and a DynamoType subclass."""
    from datetime import UTC, datetime

    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import dynamo_to_dict

    from local.dynamodb_responses import fast_dynamo_to_dict

    class Odd(DynamoType):
        pass

    _, name = table
    moto_table = dynamodb_backends["123456789012"]["us-east-1"].tables[name]
    items = [item for group in moto_table.items.values() for item in group.values()]
    samples: list[Any] = [
        {"Items": [item.attrs for item in items], "Count": 2, "LastEvaluatedKey": None},
        {"Item": items[0].project([["b"], ["list"], ["bs"]]).attrs},
        {"Table": moto_table, "When": datetime(2024, 1, 2, tzinfo=UTC)},
        [items[0], 1.5, True, None, ("a", "tuple")],
        {"odd": Odd({"S": "x"}), "set": {"a"}, "bytes": b"raw"},
    ]
    to_dict = fast_dynamo_to_dict()
    for sample in samples:
        assert to_dict(sample) == dynamo_to_dict(sample)
        assert repr(to_dict(sample)) == repr(dynamo_to_dict(sample))  # key order, types
