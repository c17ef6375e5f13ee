"""local/stream_delivery.py plays the template's event source mapping on the table's stream
as Lambda does: only what its filter matches reaches the function, as Lambda's DynamoDB
event; a batch is done, partly done or failed by the function's answer; a raising batch
is split until the failing record is alone; retries and record age are bounded, and what
is given up is described in the on-failure queue; a reader behind a trimmed tail knows
what it lost; a running poller is woken by writes. With a recording stand-in for the
function, so each rule is seen on its own (tests/integration/test_lifecycle_events.py
runs the real one)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest

from local import dynamodb_stream_tail, stream_delivery
from local.stack import Stack
from tests.harness import wait_until


class Recorder:
    """Stands in for StreamFunction: records each batch, answers `answer(records)`."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.answer: Callable[[list[dict[str, Any]]], Any] = lambda records: {
            "batchItemFailures": []
        }

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        records = event["Records"]
        json.dumps(event)  # Lambda's event is JSON
        self.batches.append(records)
        return self.answer(records)

    def sks(self) -> list[list[str]]:
        return [[r["dynamodb"]["Keys"]["SK"]["S"] for r in batch] for batch in self.batches]


@pytest.fixture
def recorder(stack: Stack) -> Recorder:
    found = Recorder()
    stack.set_handler("StreamFunction", found)
    return found


def _entry(stack: Stack, n: int, project: str = "p") -> str:
    """A history entry written straight into the table; returns its SK."""
    sk = f"HIST#{n:012d}"
    stack.client("dynamodb").put_item(
        TableName=stack.table_names()["TenantryTable"],
        Item={
            "PK": {"S": f"PROJECT#{project}"},
            "SK": {"S": sk},
            "entity": {"S": "history"},
            "event": {"S": "updated"},
            "actor": {"S": "user:u"},
            "at": {"S": "2025-01-15T10:00:00.000000Z"},
            "seq": {"N": str(n)},
        },
    )
    return sk


def _other(stack: Stack, sk: str) -> None:
    stack.client("dynamodb").put_item(
        TableName=stack.table_names()["TenantryTable"],
        Item={"PK": {"S": "PROJECT#p"}, "SK": {"S": sk}, "entity": {"S": "other"}},
    )


def _reader(stack: Stack, **mapping: Any) -> stream_delivery.Reader:
    (reader,) = stack.stream_readers
    if mapping:
        reader.mapping = dataclasses.replace(reader.mapping, **mapping)
    return reader


def _dead_letters(stack: Stack) -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    url = stack.physical_id("StreamDeadLetterQueue")
    out = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for m in messages:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def test_only_new_history_entries_reach_the_function_as_lambdas_event(
    stack: Stack, recorder: Recorder
) -> None:
    ddb, table = stack.client("dynamodb"), stack.table_names()["TenantryTable"]
    first = _entry(stack, 1)
    _other(stack, "ENV#e1")
    ddb.update_item(  # a change of an entry (never made by the product) is no INSERT
        TableName=table,
        Key={"PK": {"S": "PROJECT#p"}, "SK": {"S": first}},
        UpdateExpression="SET note = :n",
        ExpressionAttributeValues={":n": {"S": "x"}},
    )
    second = _entry(stack, 2)
    ddb.delete_item(TableName=table, Key={"PK": {"S": "PROJECT#p"}, "SK": {"S": "ENV#e1"}})
    assert stream_delivery.drain(stack) > 0

    assert recorder.sks() == [[first, second]]
    record = recorder.batches[0][0]
    assert record["eventName"] == "INSERT" and record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"] == _reader(stack).mapping.stream_arn
    change = record["dynamodb"]
    assert isinstance(change["ApproximateCreationDateTime"], float)
    assert change["NewImage"]["seq"] == {"N": "1"} and change["Keys"]["PK"] == {"S": "PROJECT#p"}
    assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES" and "OldImage" not in change
    assert stream_delivery.drain(stack) == 0  # nothing is delivered twice


def test_batches_hold_at_most_batch_size_records_in_stream_order(
    stack: Stack, recorder: Recorder
) -> None:
    _reader(stack, batch_size=3)
    written = [_entry(stack, n) for n in range(1, 8)]
    stream_delivery.drain(stack)
    assert recorder.sks() == [written[0:3], written[3:6], written[6:7]]


def test_a_partial_answer_retries_from_the_lowest_sequence_number_reported(
    stack: Stack, recorder: Recorder
) -> None:
    written = [_entry(stack, n) for n in range(1, 6)]
    answers = iter([[3, 1], []])  # first: the 2nd and 4th records failed

    def answer(records: list[dict[str, Any]]) -> Any:
        failed = next(answers)
        return {
            "batchItemFailures": [
                {"itemIdentifier": records[i]["dynamodb"]["SequenceNumber"]} for i in failed
            ]
        }

    recorder.answer = answer
    stream_delivery.drain(stack)
    assert recorder.sks() == [written, written[1:]]
    assert _dead_letters(stack) == []


@pytest.mark.parametrize("identifier", ["", None, "12345"])
def test_an_answer_naming_no_record_of_the_batch_fails_it_whole(
    stack: Stack, recorder: Recorder, identifier: Any
) -> None:
    written = [_entry(stack, n) for n in range(1, 4)]
    answers = iter([{"batchItemFailures": [{"itemIdentifier": identifier}]}, None])
    recorder.answer = lambda records: next(answers)
    stream_delivery.drain(stack)
    assert recorder.sks() == [written, written]


def test_a_raising_batch_is_split_until_the_failing_record_is_alone_then_given_up(
    stack: Stack, recorder: Recorder
) -> None:
    reader = _reader(stack, max_retries=2)
    written = [_entry(stack, n) for n in range(1, 6)]
    poison = written[3]

    def answer(records: list[dict[str, Any]]) -> Any:
        if any(r["dynamodb"]["Keys"]["SK"]["S"] == poison for r in records):
            raise RuntimeError("cannot")
        return None

    recorder.answer = answer
    stream_delivery.drain(stack)
    assert (
        recorder.sks()
        == [
            written,  # fails: split
            written[:3],  # done
            written[3:],  # fails: split
            [poison],  # fails, then 2 retries
            [poison],
            [poison],
            written[4:],  # given up: reading goes on
        ]
    )
    (dead,) = _dead_letters(stack)
    info = dead["DDBStreamBatchInfo"]
    number = recorder.batches[3][0]["dynamodb"]["SequenceNumber"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == number
    assert info["batchSize"] == 1 and info["shardId"] == reader.shard_id
    assert dead["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert dead["requestContext"]["approximateInvokeCount"] == 3
    assert dead["responseContext"]["functionError"] == "Unhandled"
    assert reader.dead_lettered == 1


def test_without_bisection_the_whole_batch_is_retried_then_given_up(
    stack: Stack, recorder: Recorder
) -> None:
    _reader(stack, max_retries=1, bisect=False)
    written = [_entry(stack, n) for n in range(1, 4)]

    def fail(records: list[dict[str, Any]]) -> Any:
        raise RuntimeError("down")

    recorder.answer = fail
    stream_delivery.drain(stack)
    assert recorder.sks() == [written, written]
    (dead,) = _dead_letters(stack)
    assert dead["DDBStreamBatchInfo"]["batchSize"] == 3


def test_records_older_than_the_maximum_age_are_given_up_unseen(
    stack: Stack, recorder: Recorder
) -> None:
    _reader(stack, max_age=0.0)
    _entry(stack, 1)
    time.sleep(0.01)
    stream_delivery.drain(stack)
    assert recorder.batches == []
    (dead,) = _dead_letters(stack)
    assert dead["requestContext"]["condition"] == "RecordAgeExceeded"
    assert dead["DDBStreamBatchInfo"]["batchSize"] == 1


def test_a_reader_behind_the_trimmed_tail_reports_what_it_lost_and_reads_on(
    stack: Stack, recorder: Recorder
) -> None:
    reader = _reader(stack)
    start = reader.read_to
    with (
        mock.patch.object(dynamodb_stream_tail, "KEEP", 6),
        mock.patch.object(dynamodb_stream_tail, "TRIM", 3),
    ):
        written = [_entry(stack, n) for n in range(1, 21)]
        stream_delivery.drain(stack)
    delivered = [sk for batch in recorder.sks() for sk in batch]
    assert delivered == written[-len(delivered) :] and 0 < len(delivered) < 9
    (dead,) = _dead_letters(stack)
    info = dead["DDBStreamBatchInfo"]
    assert dead["requestContext"]["condition"] == "RecordAgeExceeded"
    assert int(info["startSequenceNumber"]) == start
    assert info["batchSize"] == 20 - len(delivered)
    later = _entry(stack, 21)
    stream_delivery.drain(stack)
    assert recorder.sks()[-1] == [later]


def test_a_mapping_starting_at_latest_skips_what_was_written_before_it(
    stack: Stack, recorder: Recorder
) -> None:
    _entry(stack, 1)
    stack.stream_readers = stream_delivery.deploy(stack)  # a mapping made now
    assert stream_delivery.drain(stack) == 0
    second = _entry(stack, 2)
    stream_delivery.drain(stack)
    assert recorder.sks() == [[second]]


@pytest.fixture
def running(stack: Stack) -> Iterator[list[stream_delivery.Reader]]:
    with (
        mock.patch.object(stream_delivery, "IDLE_POLL_SECONDS", 30.0),
        stream_delivery.running(stack) as readers,
    ):
        yield readers


def test_a_running_poller_is_woken_by_a_write(
    stack: Stack, recorder: Recorder, running: list[stream_delivery.Reader]
) -> None:
    time.sleep(0.1)  # the poller is idle, waiting for 30 s unless woken
    started = time.monotonic()
    written = _entry(stack, 1)
    wait_until(lambda: recorder.batches, timeout=5, interval=0.005)
    assert time.monotonic() - started < 1.0
    assert recorder.sks() == [[written]]
    assert threading.active_count() > 1 and running[0].invocations == 1


def test_binary_values_reach_the_function_in_base64(stack: Stack, recorder: Recorder) -> None:
    from tests.integration.test_dynamodb_responses import ITEM

    _reader(stack, filters=())  # every record
    stack.client("dynamodb").put_item(TableName=stack.table_names()["TenantryTable"], Item=ITEM)
    stream_delivery.drain(stack)
    ((record,),) = recorder.batches
    image = record["dynamodb"]["NewImage"]
    assert image["b"] == {"B": "AP9ieXRlcw=="}
    assert image["bs"] == {"BS": ["eA==", "eQ=="]}
    assert image["list"]["L"][1]["M"]["bin"] == {"B": "eg=="}
    assert image["ss"] == {"SS": ["a", "b"]} and image["n"] == {"N": "12.50"}


RECORD = {
    "eventName": "INSERT",
    "dynamodb": {
        "Keys": {"PK": {"S": "PROJECT#p"}, "SK": {"S": "HIST#000000000001"}},
        "NewImage": {"entity": {"S": "history"}, "n": {"N": "5"}},
    },
}


@pytest.mark.parametrize(
    "pattern",
    [
        {"eventName": ["INSERT"], "dynamodb": {"Keys": {"SK": {"S": [{"prefix": "HIST#"}]}}}},
        {"eventName": ["MODIFY"], "dynamodb": {"Keys": {"SK": {"S": [{"prefix": "HIST#"}]}}}},
        {"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "ENV#"}]}}}},
        {"dynamodb": {"OldImage": [{"exists": False}]}},
        {"dynamodb": {"NewImage": [{"exists": True}]}},
        {"dynamodb": {"NewImage": {"entity": {"S": ["history"]}}}},
        {"$or": [{"eventName": ["REMOVE"]}, {"dynamodb": {"NewImage": {"n": {"N": ["5"]}}}}]},
        {"missing": {"deeper": ["x"]}},
    ],
)
def test_a_filter_matches_as_eventbridge_matches_the_whole_record(pattern: Any) -> None:
    from moto.events.models import EventPattern

    loaded = EventPattern.load(json.dumps(pattern))
    mapping = stream_delivery.StreamMapping(
        "M", "F", "arn", "LATEST", 10, (loaded,), True, True, None, None, None
    )
    assert mapping.matches(RECORD) == loaded.matches_event(RECORD)
