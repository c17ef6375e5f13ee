"""local/dynamodb_stream_tail.py and local/moto_untracked_items.py: the emulation's
memory stays bounded. A stream keeps its latest records, numbered as before, readable
through a shard iterator, and a cancelled transaction still drops exactly its own
records; reading a trimmed position is TrimmedDataAccessException and an iterator handed
out too long ago ExpiredIteratorException, as DynamoDB Streams answers; readers are told of
new records; moto's instance tracking keeps no DynamoDB item."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from local import dynamodb_stream_tail
from local.stack import Stack


@pytest.fixture
def small_tail() -> Iterator[None]:
    with (
        mock.patch.object(dynamodb_stream_tail, "KEEP", 6),
        mock.patch.object(dynamodb_stream_tail, "TRIM", 3),
    ):
        yield


def _shard(name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends["123456789012"]["us-east-1"].tables[name].stream_shard


def test_the_latest_records_are_kept_with_their_numbers(stack: Stack, small_tail: None) -> None:
    ddb, name = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    shard = _shard(name)
    first = shard.starting_sequence_number + len(shard.items)
    for i in range(20):
        ddb.put_item(TableName=name, Item={"PK": {"S": "P#stream"}, "SK": {"S": f"{i:02d}"}})
    numbers = [int(r.to_json()["dynamodb"]["SequenceNumber"]) for r in shard.items]
    assert len(shard.items) < 6 + 3
    assert numbers == list(range(first + 20 - len(numbers), first + 20))  # the latest, in order
    assert numbers[0] == shard.starting_sequence_number
    streams = stack.client("dynamodbstreams")
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard.id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [int(r["dynamodb"]["SequenceNumber"]) for r in records] == numbers
    assert records[-1]["dynamodb"]["Keys"]["SK"] == {"S": "19"}


def test_a_cancelled_transaction_drops_its_own_records_past_a_trim(
    stack: Stack, small_tail: None
) -> None:
    ddb, name = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    shard = _shard(name)
    for i in range(5):
        ddb.put_item(TableName=name, Item={"PK": {"S": "P#tx"}, "SK": {"S": f"{i}"}})
    before = [r.to_json()["dynamodb"]["SequenceNumber"] for r in shard.items]
    puts = [
        {"Put": {"TableName": name, "Item": {"PK": {"S": "P#tx"}, "SK": {"S": f"new{i}"}}}}
        for i in range(4)  # enough appended records for the shard to trim meanwhile
    ]
    check = {
        "ConditionCheck": {
            "TableName": name,
            "Key": {"PK": {"S": "P#tx"}, "SK": {"S": "0"}},
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=[*puts, check])
    after = [r.to_json()["dynamodb"]["SequenceNumber"] for r in shard.items]
    assert (
        after == before[len(before) - len(after) :]
    )  # none of the transaction's, none lost but trimmed
    ddb.put_item(TableName=name, Item={"PK": {"S": "P#tx"}, "SK": {"S": "next"}})
    assert int(shard.items[-1].to_json()["dynamodb"]["SequenceNumber"]) == int(before[-1]) + 1


def test_moto_tracks_no_item_instance(stack: Stack) -> None:
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import StreamRecord

    ddb, name = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    for i in range(3):
        ddb.put_item(TableName=name, Item={"PK": {"S": "P#t"}, "SK": {"S": f"{i}"}})
    ddb.query(
        TableName=name,
        KeyConditionExpression="PK = :p",
        ExpressionAttributeValues={":p": {"S": "P#t"}},
    )
    assert list(Item.instances_tracked) == []
    assert list(StreamRecord.instances_tracked) == []


def _iterator(stack: Stack, name: str, kind: str, number: int | None = None) -> str:
    ddb, streams = stack.client("dynamodb"), stack.client("dynamodbstreams")
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    extra = {"SequenceNumber": str(number)} if number is not None else {}
    return str(
        streams.get_shard_iterator(
            StreamArn=arn, ShardId=_shard(name).id, ShardIteratorType=kind, **extra
        )["ShardIterator"]
    )


def test_reading_a_trimmed_position_is_trimmed_data_access(stack: Stack, small_tail: None) -> None:
    ddb, name = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    streams = stack.client("dynamodbstreams")
    shard = _shard(name)
    iterator = _iterator(stack, name, "TRIM_HORIZON")
    first = shard.starting_sequence_number
    for i in range(12):
        ddb.put_item(TableName=name, Item={"PK": {"S": "P#trim"}, "SK": {"S": f"{i:02d}"}})
    assert shard.starting_sequence_number > first  # trimmed past the iterator's position
    with pytest.raises(streams.exceptions.TrimmedDataAccessException):
        streams.get_records(ShardIterator=iterator)
    at = _iterator(stack, name, "AT_SEQUENCE_NUMBER", shard.starting_sequence_number)
    records = streams.get_records(ShardIterator=at)["Records"]
    assert int(records[0]["dynamodb"]["SequenceNumber"]) == shard.starting_sequence_number


def test_a_stream_keeps_its_latest_iterators(stack: Stack) -> None:
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    name = stack.table_names()["TenantryTable"]
    streams = stack.client("dynamodbstreams")
    backend = dynamodbstreams_backends["123456789012"]["us-east-1"]
    with mock.patch.object(dynamodb_stream_tail, "ITERATORS", 5):
        oldest = _iterator(stack, name, "TRIM_HORIZON")
        iterator = _iterator(stack, name, "TRIM_HORIZON")
        for _ in range(10):  # each read hands out the next iterator
            iterator = streams.get_records(ShardIterator=iterator)["NextShardIterator"]
        assert len(backend.shard_iterators) <= 5
        with pytest.raises(streams.exceptions.ExpiredIteratorException):
            streams.get_records(ShardIterator=oldest)
        assert streams.get_records(ShardIterator=iterator)["Records"] == []


def test_readers_are_told_of_each_record_appended(stack: Stack) -> None:
    ddb, name = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    told: list[int] = []
    stop = dynamodb_stream_tail.on_append(lambda: told.append(1))
    try:
        for i in range(3):
            ddb.put_item(TableName=name, Item={"PK": {"S": "P#told"}, "SK": {"S": f"{i}"}})
    finally:
        stop()
    ddb.put_item(TableName=name, Item={"PK": {"S": "P#told"}, "SK": {"S": "after"}})
    assert told == [1, 1, 1]
