"""local/dynamodb_response_parsing.py: the compiled parse of DynamoDB item responses must
give exactly what botocore's own JSON parser gives: every item operation answered by
moto with attribute values of every type, and bodies moto never sends (nulls, unknown
members, several keys in one AttributeValue, an empty or broken body)."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest

from local.dynamodb_handoff import as_text
from local.dynamodb_response_parsing import ITEM_OUTPUTS, compiled_item_parsing
from local.stack import Stack
from tests.integration.test_dynamodb_responses import ITEM

OPERATIONS = sorted(name.removesuffix("Output") for name in ITEM_OUTPUTS)


def _same(fast: Any, slow: Any) -> None:
    assert fast == slow
    assert repr(fast) == repr(slow)  # the same key order and value types (bytes, bool)


def test_every_item_operation_parses_as_botocore_does(stack: Stack) -> None:
    """Each response moto sends (as text: tests/integration/test_dynamodb_handoff.py
    compares it with the hand-over) is parsed both ways, in the very call."""
    from botocore.parsers import JSONParser

    ddb, name = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    ddb.put_item(TableName=name, Item=ITEM)
    ddb.put_item(TableName=name, Item={**ITEM, "SK": {"S": "OTHER"}, "GSI1SK": {"S": "2"}})
    key = {"PK": ITEM["PK"], "SK": ITEM["SK"]}
    fast_parse = JSONParser._handle_json_body  # the compiled one, under the emulation
    seen: list[str] = []

    def both(self: Any, raw_body: Any, shape: Any) -> Any:
        fast = fast_parse(self, raw_body, shape)
        if shape is not None and shape.name in ITEM_OUTPUTS:
            _same(fast, fast_parse.__wrapped__(self, raw_body, shape))
            seen.append(shape.name.removesuffix("Output"))
        return fast

    with as_text(), mock.patch.object(JSONParser, "_handle_json_body", both):
        ddb.get_item(TableName=name, Key=key)
        ddb.get_item(TableName=name, Key={**key, "SK": {"S": "absent"}})
        ddb.batch_get_item(RequestItems={name: {"Keys": [key, {**key, "SK": {"S": "OTHER"}}]}})
        ddb.transact_get_items(TransactItems=[{"Get": {"TableName": name, "Key": key}}])
        ddb.query(
            TableName=name,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :v",
            ExpressionAttributeValues={":v": {"S": "LIST"}},
            Limit=1,
            ReturnConsumedCapacity="INDEXES",
        )
        ddb.scan(TableName=name, ReturnConsumedCapacity="TOTAL")
        ddb.put_item(TableName=name, Item=ITEM, ReturnValues="ALL_OLD")
        ddb.update_item(
            TableName=name,
            Key=key,
            UpdateExpression="SET flag = :f",
            ExpressionAttributeValues={":f": {"BOOL": False}},
            ReturnValues="ALL_NEW",
        )
        ddb.delete_item(TableName=name, Key=key, ReturnValues="ALL_OLD")
    assert sorted(set(seen)) == OPERATIONS


def _wire_item() -> dict[str, Any]:
    """ITEM as DynamoDB sends it: binary values base64-encoded."""
    import base64

    def wire(value: Any) -> Any:
        if isinstance(value, bytes):
            return base64.b64encode(value).decode()
        if isinstance(value, dict):
            return {k: wire(v) for k, v in value.items()}
        if isinstance(value, list):
            return [wire(v) for v in value]
        return value

    return wire(ITEM)


BODIES: list[Any] = [
    {"Item": _wire_item(), "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5}},
    {"Items": [_wire_item(), {"a": {"S": "x"}}], "Count": 2, "ScannedCount": 3},
    {"Items": [], "Count": 0, "LastEvaluatedKey": {"PK": {"S": "p"}, "SK": {"B": "AAE="}}},
    {"Responses": {"t": [_wire_item()]}, "UnprocessedKeys": {"t": {"Keys": [{"k": {"N": "1"}}]}}},
    {"Responses": [{"Item": _wire_item()}, {}]},
    {"Attributes": {"n": {"N": "1"}}, "ItemCollectionMetrics": {"SizeEstimateRangeGB": [1.0, 2]}},
    {"Item": None},  # null members are left out
    {"Item": {"a": {"S": None}}},
    {"Item": {"a": {"S": "x", "N": "1"}}},  # two keys in one AttributeValue
    {"Item": {"a": {"Unknown": "x"}}, "Unknown": 1},  # members this botocore does not know
    {"Item": {"a": {"L": [None, {"NULL": True}]}}},  # a null list element stays
    {"Item": {"a": {"M": {}}, "b": {"SS": []}}},
    {"Item": {"a": "not an AttributeValue"}},
]


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("body", [*BODIES, "", "not json"])
def test_any_body_parses_as_botocore_does(operation: str, body: Any) -> None:
    import botocore.session
    from botocore.parsers import create_parser

    model = botocore.session.get_session().get_service_model("dynamodb")
    shape = model.operation_model(operation).output_shape
    raw = (body if isinstance(body, str) else json.dumps(body)).encode()
    response = {"status_code": 200, "headers": {"x-amzn-requestid": "r"}, "body": raw}

    def parsed() -> Any:
        try:
            return create_parser("json").parse(dict(response), shape)
        except Exception as exc:  # a body of another operation's shape may not parse
            return type(exc)

    slow = parsed()
    with compiled_item_parsing():
        fast = parsed()
    _same(fast, slow)


def test_a_parser_with_its_own_blob_parser_is_left_to_botocore() -> None:
    import botocore.session
    from botocore.parsers import JSONParser

    shape = (
        botocore.session.get_session()
        .get_service_model("dynamodb")
        .operation_model("GetItem")
        .output_shape
    )
    body = json.dumps({"Item": {"b": {"B": "AAE="}}}).encode()
    response = {"status_code": 200, "headers": {}, "body": body}
    with compiled_item_parsing():
        parsed = JSONParser(blob_parser=lambda value: f"raw:{value}").parse(response, shape)
    assert parsed["Item"] == {"b": {"B": "raw:AAE="}}


STREAM_BODIES: list[Any] = [
    {
        "NextShardIterator": "it",
        "Records": [
            {
                "eventID": "e",
                "eventName": "MODIFY",
                "eventVersion": "1.0",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": stamp,
                    "Keys": {"PK": {"S": "p"}, "SK": {"B": "AAE="}},
                    "NewImage": _wire_item(),
                    "OldImage": {"a": {"L": [{"NULL": True}]}},
                    "SequenceNumber": "1100",
                    "SizeBytes": 12,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            }
        ],
    }
    for stamp in (1736935200, 1736935200.123, "2025-01-15T10:00:00Z")
] + [{"Records": []}, {"Records": [{"dynamodb": None}]}, {"NextShardIterator": None}]


@pytest.mark.parametrize("body", [*STREAM_BODIES, "", "not json"])
def test_any_stream_body_parses_as_botocore_does(body: Any) -> None:
    import botocore.session
    from botocore.parsers import create_parser

    model = botocore.session.get_session().get_service_model("dynamodbstreams")
    shape = model.operation_model("GetRecords").output_shape
    raw = (body if isinstance(body, str) else json.dumps(body)).encode()
    response = {"status_code": 200, "headers": {"x-amzn-requestid": "r"}, "body": raw}

    def parsed() -> Any:
        try:
            return create_parser("json").parse(dict(response), shape)
        except Exception as exc:
            return type(exc)

    slow = parsed()
    with compiled_item_parsing():
        fast = parsed()
    _same(fast, slow)


def test_a_parser_with_its_own_timestamp_parser_is_left_to_botocore() -> None:
    import botocore.session
    from botocore.parsers import JSONParser

    shape = (
        botocore.session.get_session()
        .get_service_model("dynamodbstreams")
        .operation_model("GetRecords")
        .output_shape
    )
    body = json.dumps({"Records": [{"dynamodb": {"ApproximateCreationDateTime": 5}}]})
    response = {"status_code": 200, "headers": {}, "body": body.encode()}
    with compiled_item_parsing():
        parsed = JSONParser(timestamp_parser=lambda value: f"at:{value}").parse(response, shape)
    assert parsed["Records"][0]["dynamodb"]["ApproximateCreationDateTime"] == "at:5"
