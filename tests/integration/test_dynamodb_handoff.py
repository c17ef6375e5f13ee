"""local/dynamodb_handoff.py: an item response handed to botocore in process parses to
exactly what its JSON text parses to, for every item operation and attribute type; what is
not plain data goes as text; a parser that is not the compiled one still gets the text."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest

from local import dynamodb_handoff
from local.dynamodb_handoff import PLACEHOLDER, as_text
from local.stack import Stack
from tests.integration.test_dynamodb_responses import ITEM

ODD = {
    **ITEM,
    "SK": {"S": "ODD"},
    "text": {"S": 'é ☃ \U0001f600 \\ " \n'},
    "big": {"N": "123456789012345678901234567890.123456789"},
    "neg": {"N": "-0.5E+3"},
    "deep": {"M": {"l": {"L": [{"L": [{"M": {"b": {"B": b""}, "s": {"S": ""}}}]}]}}},
}


def _operations(ddb: Any, name: str) -> dict[str, Callable[[], Any]]:
    key = {"PK": ITEM["PK"], "SK": ITEM["SK"]}
    odd = {"PK": ODD["PK"], "SK": ODD["SK"]}
    return {
        "GetItem": lambda: ddb.get_item(TableName=name, Key=odd),
        "GetItem absent": lambda: ddb.get_item(TableName=name, Key={**key, "SK": {"S": "no"}}),
        "GetItem projected": lambda: ddb.get_item(
            TableName=name,
            Key=key,
            ProjectionExpression="b, bs, #l",
            ExpressionAttributeNames={"#l": "list"},
        ),
        "BatchGetItem": lambda: ddb.batch_get_item(
            RequestItems={name: {"Keys": [key, odd]}}, ReturnConsumedCapacity="TOTAL"
        ),
        "TransactGetItems": lambda: ddb.transact_get_items(
            TransactItems=[{"Get": {"TableName": name, "Key": k}} for k in (key, odd)]
        ),
        "Query": lambda: ddb.query(
            TableName=name,
            KeyConditionExpression="PK = :v",
            ExpressionAttributeValues={":v": ITEM["PK"]},
            Limit=1,
            ReturnConsumedCapacity="INDEXES",
        ),
        "Scan": lambda: ddb.scan(TableName=name),
        "PutItem": lambda: ddb.put_item(TableName=name, Item=ODD, ReturnValues="ALL_OLD"),
        "UpdateItem": lambda: ddb.update_item(
            TableName=name,
            Key=odd,
            UpdateExpression="SET flag = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
            ReturnValues="ALL_NEW",
        ),
        "DeleteItem": lambda: (
            ddb.delete_item(TableName=name, Key=odd, ReturnValues="ALL_OLD"),
            ddb.put_item(TableName=name, Item=ODD),
        )[0],
    }


def _parsed(call: Callable[[], Any]) -> Any:
    out = call()
    out.pop("ResponseMetadata")  # HTTP headers: the checksum is the placeholder's
    return out


def test_handed_over_responses_parse_as_their_text_does(stack: Stack) -> None:
    from moto.dynamodb.responses import DynamoResult

    ddb, name = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    ddb.put_item(TableName=name, Item=ITEM)
    ddb.put_item(TableName=name, Item=ODD)
    bodies: list[str] = []
    answer = DynamoResult.execute_result

    def recording(self: Any, context: Any) -> Any:
        status, headers, body = answer(self, context)
        bodies.append(body)
        return status, headers, body

    handed_over = set()
    with mock.patch.object(DynamoResult, "execute_result", recording):
        for op, call in _operations(ddb, name).items():
            bodies.clear()
            handed = _parsed(call)
            if bodies[0] == PLACEHOLDER:
                handed_over.add(op)
            bodies.clear()
            with as_text():
                text = _parsed(call)
            assert bodies[0] != PLACEHOLDER, op
            assert handed == text, op
            assert repr(handed) == repr(text), op  # the same key order and value types
    # moto's PutItem, UpdateItem and DeleteItem answer an item through Item.to_json, whose
    # binary values are not DynamoTypes: text, as every result to_dict hands to moto
    assert handed_over == {
        "GetItem",
        "GetItem absent",
        "GetItem projected",
        "BatchGetItem",
        "TransactGetItems",
        "Query",
        "Scan",
    }


def _scribble(value: Any) -> None:
    """Change every map and list in `value`, in place, at every depth."""
    if isinstance(value, dict):
        for each in list(value.values()):
            _scribble(each)
        value["scribbled"] = {"S": "!"}
    elif isinstance(value, list):
        for each in value:
            _scribble(each)
        value.append({"S": "!"})


def test_what_a_caller_receives_is_its_own(stack: Stack) -> None:
    """The parse takes a handed-over result's items as they are, not copied: they must be
    to_dict's fresh output, never moto's stored values. A caller changing everything it
    received, at every depth, changes nothing moto answers next."""
    ddb, name = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    ddb.put_item(TableName=name, Item=ODD)
    reads = {
        op: call
        for op, call in _operations(ddb, name).items()
        if op in {"GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan"}
    }
    before = {op: _parsed(call) for op, call in reads.items()}
    for call in reads.values():
        _scribble(_parsed(call))
    assert {op: _parsed(call) for op, call in reads.items()} == before


def test_what_is_not_plain_data_goes_as_text(stack: Stack) -> None:
    from datetime import UTC, datetime

    from moto.dynamodb.responses import DynamoResult

    plain = DynamoResult({"Item": {"a": {"S": "x"}}, "Count": 1})
    assert plain._local_plain is True
    odd = DynamoResult({"Item": {"a": {"S": "x"}}, "When": datetime(2026, 1, 1, tzinfo=UTC)})
    assert odd._local_plain is False


def test_another_parser_gets_the_text(stack: Stack) -> None:
    import botocore.session
    from botocore.parsers import JSONParser

    shape = (
        botocore.session.get_session()
        .get_service_model("dynamodb")
        .operation_model("GetItem")
        .output_shape
    )
    response = {"status_code": 200, "headers": {}, "body": PLACEHOLDER.encode()}
    dynamodb_handoff.hand_over({"Item": {"b": {"B": b"\x00\x01"}, "s": {"S": "x"}}})
    parsed = JSONParser(blob_parser=lambda value: f"raw:{value}").parse(response, shape)
    assert parsed["Item"] == {"b": {"B": "raw:AAE="}, "s": {"S": "x"}}  # base64, as text


def test_taken_once_and_only_for_the_placeholder() -> None:
    dynamodb_handoff.hand_over({"Count": 1})
    assert dynamodb_handoff.take(b'{"Count": 1}') is dynamodb_handoff.NOTHING
    assert dynamodb_handoff.take(PLACEHOLDER.encode()) == {"Count": 1}
    assert dynamodb_handoff.take(PLACEHOLDER.encode()) is dynamodb_handoff.NOTHING


@pytest.mark.parametrize("inside", [True, False])
def test_handed_over_only_within_a_call_of_this_process(inside: bool) -> None:
    with mock.patch.object(dynamodb_handoff, "in_whole_call", return_value=inside):
        assert dynamodb_handoff.wanted() is inside
        with as_text():
            assert dynamodb_handoff.wanted() is False
    assert json.loads(PLACEHOLDER) == {"__local_handoff__": True}
