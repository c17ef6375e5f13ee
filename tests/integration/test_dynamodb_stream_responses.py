"""local/dynamodb_stream_responses.py: a stream's GetRecords as plain JSON must be what
moto's own serializer writes. The same records are read both ways (the serializer by
turning the patch off for the call) and the wire bodies compared, for items of every
attribute type, inserted, changed and removed."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

from local.dynamodb_handoff import as_text
from local.stack import Stack
from tests.integration.test_dynamodb_handoff import ODD
from tests.integration.test_dynamodb_responses import ITEM


def _start(stack: Stack) -> str:
    """An iterator at the start of the table's stream."""
    ddb, streams = stack.client("dynamodb"), stack.client("dynamodbstreams")
    name = stack.table_names()["TenantryTable"]
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    return str(
        streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
    )


def _bodies(stack: Stack) -> list[bytes]:
    """The wire bodies of every GetRecords answered while reading the stream from its start."""
    streams = stack.client("dynamodbstreams")
    iterator = _start(stack)
    bodies: list[bytes] = []

    def recorded(response_dict: dict[str, Any], **_: Any) -> None:
        bodies.append(response_dict["body"])

    event = "before-parse.dynamodb-streams.GetRecords"
    streams.meta.events.register(event, recorded)
    try:
        with as_text():  # (not handed over: the text is what is compared)
            while True:
                answer = streams.get_records(ShardIterator=iterator, Limit=2)
                iterator = answer["NextShardIterator"]
                if not answer["Records"]:
                    return bodies
    finally:
        streams.meta.events.unregister(event, recorded)


def _moto_bodies(stack: Stack) -> list[bytes]:
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    moto = DynamoDBStreamsHandler.get_records.__wrapped__  # type: ignore[attr-defined]
    with mock.patch.object(DynamoDBStreamsHandler, "get_records", moto):
        return _bodies(stack)


def _comparable(body: bytes) -> Any:
    out = json.loads(body)
    out.pop("NextShardIterator")  # a new random iterator per answer, either way
    return out


def test_plain_json_records_are_what_moto_serializes(stack: Stack) -> None:
    ddb, name = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    ddb.put_item(TableName=name, Item=ITEM)
    ddb.update_item(
        TableName=name,
        Key={"PK": ITEM["PK"], "SK": ITEM["SK"]},
        UpdateExpression="SET n = :n REMOVE bs",
        ExpressionAttributeValues={":n": {"N": "13"}},
    )
    ddb.delete_item(TableName=name, Key={"PK": ITEM["PK"], "SK": ITEM["SK"]})

    plain = [_comparable(b) for b in _bodies(stack)]
    theirs = [_comparable(b) for b in _moto_bodies(stack)]
    assert plain == theirs
    records = [r for body in plain for r in body["Records"]]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[0]["dynamodb"]["NewImage"]["b"] == {"B": "AP9ieXRlcw=="}
    assert isinstance(records[0]["dynamodb"]["ApproximateCreationDateTime"], int | float)


def test_handed_over_records_parse_as_their_text_does(stack: Stack) -> None:
    ddb, name = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    streams = stack.client("dynamodbstreams")
    for item in (ITEM, ODD, {**ODD, "n": {"N": "-1"}}):
        ddb.put_item(TableName=name, Item=item)
    ddb.delete_item(TableName=name, Key={"PK": ODD["PK"], "SK": ODD["SK"]})

    def read() -> Any:
        answer = streams.get_records(ShardIterator=_start(stack))
        answer.pop("ResponseMetadata")  # HTTP headers: the checksum is the placeholder's
        answer.pop("NextShardIterator")
        return answer

    with as_text():
        text = read()
    handed = read()
    assert handed == text and repr(handed) == repr(text)  # bytes, datetimes, key order
    assert [r["eventName"] for r in handed["Records"]] == ["INSERT", "INSERT", "MODIFY", "REMOVE"]
    assert handed["Records"][1]["dynamodb"]["NewImage"]["b"] == {"B": b"\x00\xffbytes"}
