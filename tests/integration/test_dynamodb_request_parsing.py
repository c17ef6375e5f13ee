"""local/dynamodb_request_parsing.py: the compiled parse of DynamoDB requests on moto's
side gives exactly what moto's own walk gives: every request of a script covering the
item, query, transaction and table operations, parsed both ways in the very call, and
bodies botocore never sends (nulls, unknown members, several keys in one AttributeValue,
numbers as text, an empty or broken body)."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest

from local.dynamodb_request_parsing import compiled_request_parsing
from local.stack import Stack
from tests.integration.test_dynamodb_responses import ITEM


def _same(fast: Any, slow: Any) -> None:
    assert fast == slow
    assert repr(fast) == repr(slow)  # the same key order and value types (bytes, OrderedDict)


def test_every_request_parses_as_moto_does(stack: Stack) -> None:
    from moto.core.parse import JSONParser

    ddb, name = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    fast_parse = JSONParser._parse_json_body  # the compiled one, under the emulation
    seen: list[str] = []

    def both(self: Any, raw_body: Any, shape: Any) -> Any:
        fast = fast_parse(self, raw_body, shape)
        if self.operation_model.service_model.service_name == "dynamodb":
            _same(fast, fast_parse.__wrapped__(self, raw_body, shape))
            seen.append(self.operation_model.name)
        return fast

    key = {"PK": ITEM["PK"], "SK": ITEM["SK"]}
    with mock.patch.object(JSONParser, "_parse_json_body", both):
        ddb.put_item(TableName=name, Item=ITEM, ReturnValues="ALL_OLD")
        ddb.get_item(
            TableName=name,
            Key=key,
            ConsistentRead=True,
            ProjectionExpression="b, #l",
            ExpressionAttributeNames={"#l": "list"},
        )
        ddb.batch_get_item(RequestItems={name: {"Keys": [key], "ConsistentRead": False}})
        ddb.update_item(
            TableName=name,
            Key=key,
            UpdateExpression="SET n = n + :one, b = :b ADD ns :ns",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":b": {"B": b"\x01"},
                ":ns": {"NS": ["3"]},
            },
            ReturnValues="UPDATED_NEW",
            ReturnConsumedCapacity="TOTAL",
        )
        ddb.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": key,
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                },
                {"Put": {"TableName": name, "Item": {**ITEM, "SK": {"S": "T"}}}},
                {
                    "Update": {
                        "TableName": name,
                        "Key": {**key, "SK": {"S": "U"}},
                        "UpdateExpression": "SET x = :x REMOVE n",
                        "ExpressionAttributeValues": {":x": {"M": {"l": {"L": [{"N": "1"}]}}}},
                    }
                },
            ],
            ClientRequestToken="token-1",
        )
        ddb.query(
            TableName=name,
            KeyConditionExpression="PK = :p",
            ExpressionAttributeValues={":p": ITEM["PK"]},
            Limit=1,
            ScanIndexForward=False,
            ExclusiveStartKey={**key, "SK": {"S": "U"}},
        )
        ddb.scan(TableName=name, Segment=0, TotalSegments=2, Select="COUNT")
        ddb.delete_item(TableName=name, Key={**key, "SK": {"S": "T"}}, ReturnValues="ALL_OLD")
        ddb.create_table(
            TableName="other",
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "B"}],
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 1},
            Tags=[{"Key": "a", "Value": "b"}],
        )
        ddb.describe_table(TableName="other")
    assert {
        "PutItem",
        "GetItem",
        "BatchGetItem",
        "UpdateItem",
        "TransactWriteItems",
        "Query",
        "Scan",
        "DeleteItem",
        "CreateTable",
        "DescribeTable",
    } <= set(seen)


BODIES: list[Any] = [
    {"TableName": "t", "Key": {"a": {"S": "x", "N": "1"}}},  # two keys in one AttributeValue
    {"TableName": "t", "Key": {"a": {"Unknown": "x"}}, "Unknown": 1},
    {"TableName": "t", "Key": {"a": {"S": None}, "b": {"N": None, "S": "y"}}},  # null members
    {"TableName": "t", "Key": {"a": {"L": [None, {"NULL": True}, {"B": "AAE="}]}}},
    {"TableName": "t", "Key": {"a": {"M": {}}, "b": {"SS": []}}, "Limit": "7"},
    {"TableName": None, "Key": None, "Limit": 3, "Segment": 1.0},
    {"TableName": "t", "ExpressionAttributeValues": {":v": {"BS": ["AAE=", "AQI="]}}},
    {"RequestItems": {"t": {"Keys": [{"k": {"N": "1"}}], "ProjectionExpression": "a"}}},
    {"TransactItems": [{"Put": {"TableName": "t", "Item": {"k": {"BOOL": False}}}}, {}]},
]


@pytest.mark.parametrize(
    "operation",
    ["GetItem", "PutItem", "Query", "Scan", "BatchGetItem", "TransactWriteItems", "UpdateItem"],
)
@pytest.mark.parametrize("body", [*BODIES, "", "not json"])
def test_any_body_parses_as_moto_does(operation: str, body: Any) -> None:
    from moto.core.parse import JSONParser
    from moto.core.utils import get_service_model

    model = get_service_model("dynamodb").operation_model(operation)
    raw = (body if isinstance(body, str) else json.dumps(body)).encode()
    request = {
        "method": "POST",
        "values": {},
        "headers": {},
        "body": raw,
        "url_path": "/",
        "url_params": {},
    }

    def parsed() -> Any:
        try:
            return JSONParser(model, map_type=dict).parse(request)  # type: ignore[arg-type]
        except Exception as exc:  # a body of another operation's shape may not parse
            return type(exc)

    slow = parsed()
    with compiled_request_parsing():
        fast = parsed()
    _same(fast, slow)


def test_other_services_and_parsers_are_left_to_moto() -> None:
    from moto.core.parse import JSONParser
    from moto.core.utils import get_service_model

    from local.dynamodb_request_parsing import compiled_for

    sfn = get_service_model("stepfunctions").operation_model("StartExecution")
    assert compiled_for(JSONParser(sfn), sfn.input_shape) is None
    ddb = get_service_model("dynamodb").operation_model("GetItem")

    class Other(JSONParser):
        pass

    assert compiled_for(Other(ddb), ddb.input_shape) is None
    assert compiled_for(JSONParser(ddb), ddb.input_shape) is not None
