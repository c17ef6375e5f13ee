"""local/dynamodb_type_deserializing.py: the compiled walk and the table of conversions
must turn a response into exactly the Python values boto3's resource client makes: every
item operation answered by moto with attribute values of every type, and parsed
responses moto never sends (a type key boto3 reads case-insensitively, an empty value,
unknown members)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest

from local.dynamodb_responses import ITEM_OPERATIONS
from local.dynamodb_type_deserializing import compiled_output_deserializing
from local.stack import Stack
from tests.integration.test_dynamodb_responses import ITEM

OPERATIONS = sorted(ITEM_OPERATIONS)


def _same(fast: Any, slow: Any) -> None:
    assert fast == slow
    assert repr(fast) == repr(slow)  # the same types (Decimal, Binary, set) and key order


def test_every_item_operation_deserializes_as_boto3_does(stack: Stack) -> None:
    """Each response the resource client gets is deserialized both ways, in the call."""
    import boto3
    from boto3.dynamodb.transform import TransformationInjector

    fast_inject = TransformationInjector.inject_attribute_value_output  # the emulation's
    seen: list[str] = []

    def both(self: Any, parsed: Any, model: Any, **kwargs: Any) -> None:
        untouched = copy.deepcopy(parsed)
        fast_inject.__wrapped__(self, untouched, model, **kwargs)
        fast_inject(self, parsed, model, **kwargs)
        _same(parsed, untouched)
        seen.append(model.name)

    with mock.patch.object(TransformationInjector, "inject_attribute_value_output", both):
        table = boto3.resource("dynamodb").Table(stack.table_names()["TenantryTable"])
        client = table.meta.client
        item = boto3.dynamodb.types.TypeDeserializer().deserialize({"M": ITEM})
        table.put_item(Item=item)
        table.put_item(Item={**item, "SK": "OTHER", "GSI1SK": "2"})
        key = {"PK": item["PK"], "SK": item["SK"]}
        table.get_item(Key=key)
        client.batch_get_item(RequestItems={table.name: {"Keys": [key, {**key, "SK": "OTHER"}]}})
        client.transact_get_items(TransactItems=[{"Get": {"TableName": table.name, "Key": key}}])
        table.query(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :v",
            ExpressionAttributeValues={":v": "LIST"},
            Limit=1,
        )
        table.scan()
        table.put_item(Item=item, ReturnValues="ALL_OLD")
        table.update_item(
            Key=key,
            UpdateExpression="SET flag = :f, nums = :n",
            ExpressionAttributeValues={":f": False, ":n": {Decimal("1.5"), Decimal(2)}},
            ReturnValues="ALL_NEW",
        )
        table.delete_item(Key=key, ReturnValues="ALL_OLD")
    assert set(OPERATIONS) <= set(seen)


PARSED: list[dict[str, Any]] = [
    {"Item": copy.deepcopy(ITEM)},
    {"Items": [copy.deepcopy(ITEM), {"a": {"s": "lower-case type"}}], "Count": 2},
    {"Items": [], "LastEvaluatedKey": {"PK": {"S": "p"}, "SK": {"B": b"\x00"}}},
    {
        "Responses": {"t": [copy.deepcopy(ITEM)]},
        "UnprocessedKeys": {"t": {"Keys": [{"k": {"N": "1"}}]}},
    },
    {"Responses": [{"Item": copy.deepcopy(ITEM)}, {}]},
    {
        "Attributes": {"n": {"N": "1e2"}},
        "ItemCollectionMetrics": {"ItemCollectionKey": {"k": {"S": "v"}}},
    },
    {"Item": {"a": {"S": "x", "N": "1"}}, "Unknown": {"S": "left alone"}},
    {"Item": {"a": {"L": [{"NULL": True}, {"M": {"b": {"BOOL": False}}}]}}},
    {"Item": {"a": {}}},  # boto3 refuses an empty value
    {"Item": {"a": {"X": "no such type"}}},
    {"Item": "not a map", "Items": "not a list"},
]


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("parsed", PARSED)
def test_any_parsed_response_deserializes_as_boto3_does(operation: str, parsed: Any) -> None:
    import botocore.session
    from boto3.dynamodb.transform import TransformationInjector

    model = botocore.session.get_session().get_service_model("dynamodb").operation_model(operation)

    def outcome() -> Any:
        value = copy.deepcopy(parsed)
        try:
            TransformationInjector().inject_attribute_value_output(value, model)
        except Exception as exc:
            return type(exc), str(exc)
        return value

    slow = outcome()
    with compiled_output_deserializing():
        fast = outcome()
    _same(fast, slow)
