"""The template's DynamoDB stream event source mappings (AWS::Lambda::EventSourceMapping on
a table's StreamArn), emulated (dev only): the stream is read through DynamoDB Streams'
API (DescribeStream, GetShardIterator, GetRecords, as Lambda reads it) and the function is
invoked with Lambda's DynamoDB event, with what the mapping says:

- StartingPosition (LATEST or TRIM_HORIZON) as of deployment (Stack.deploy calls deploy);
- FilterCriteria: a record no filter matches is dropped, unseen by the function (moto's
  EventBridge pattern matcher: Lambda's filters are EventBridge patterns);
- BatchSize records at most per invocation, in stream order;
- the outcome, as Lambda documents it: a batch is done when the function returns no
  `batchItemFailures` (FunctionResponseTypes ReportBatchItemFailures: Lambda reads none
  otherwise); a function that raises fails the whole batch; a partial response makes the
  records before the lowest sequence number reported done, and the rest is retried (an
  empty, null or unknown itemIdentifier fails the whole batch);
- BisectBatchOnFunctionError: a batch whose invocation raised is split in two and its
  first half tried alone, until the failing record is alone (a split is not counted as a
  retry here); a partial response is split at the sequence number it reports;
- MaximumRetryAttempts (-1: for ever), MaximumRecordAgeInSeconds (-1: for ever): then the
  batch is given up and its description (shard, first and last sequence numbers, never
  the records: Lambda's DDBStreamBatchInfo) goes to DestinationConfig.OnFailure's queue,
  and reading goes on after it.

Differences, none visible to the function: a retry is immediate (Lambda retries at once
too, without backoff); a poller is woken by every write to the table
(local/dynamodb_stream_tail.py) and polls at most every MIN_POLL_SECONDS (Lambda polls a
shard 4 times a second), or every IDLE_POLL_SECONDS when nothing is written. moto's shard
keeps its latest records only (local/dynamodb_stream_tail.py): a reader that falls
further behind gets TrimmedDataAccessException, and the records it lost are reported to
the on-failure queue as expired (condition RecordAgeExceeded), as DynamoDB's 24-hour
retention would have them, and logged.

What it costs `make run` (the load bench's mix, 8 clients, measured with the poller's
thread CPU time): ~2 stream records per request, read at ~0.13 ms each (GetRecords as
plain JSON handed to the compiled parse: local/dynamodb_stream_responses.py), ~4
invocations a second at ~2.6 ms each (the function and its PutEvents into moto): ~0.4 ms
of CPU per request, ~3% of one core.

    deploy(stack)            the mappings' readers, positioned (from Stack.deploy)
    deliver(stack, reader)   one poll and at most one invocation
    drain(stack)             deliver until every reader is at the end of its stream (tests)
    running(stack)           a poller thread per mapping (make run)
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local import dynamodb_stream_tail, sqs_delivery

MIN_POLL_SECONDS = 0.25  # a poller looks no more often than this (Lambda: 4 times a second)
IDLE_POLL_SECONDS = 1.0  # and at least this often
log = logging.getLogger("local.stream_delivery")


@dataclass(frozen=True)
class StreamMapping:
    """An event source mapping of template.yaml on a table's stream, resolved."""

    logical_id: str
    function: str  # the function's logical id
    stream_arn: str
    starting_position: str
    batch_size: int
    filters: tuple[Any, ...]  # moto EventPatterns; none: every record
    report_failures: bool
    bisect: bool
    max_retries: int | None  # None: for ever
    max_age: float | None  # seconds; None: for ever
    on_failure: str | None  # the queue's URL

    def matches(self, record: dict[str, Any]) -> bool:
        return not self.filters or any(
            f.matches_event(_named(record, f.get_pattern())) for f in self.filters
        )


def _named(event: Any, pattern: Any) -> Any:
    """What of `event` a pattern can see: the paths it names (a pattern matches on those
    only, so the match is the same), without the images it does not look into (moto's
    matcher copies the whole event through JSON first)."""
    if not isinstance(event, dict) or not isinstance(pattern, dict) or "$or" in pattern:
        return event
    out = {}
    for key, sub in pattern.items():
        if key in event:
            out[key] = _named(event[key], sub) if isinstance(sub, dict) else event[key]
    return out


def mappings(stack: Any) -> list[StreamMapping]:
    """Every event source mapping of the template on a DynamoDB stream."""
    from moto.events.models import EventPattern

    out = []
    for lid, props, function in stack.event_source_mappings():
        source = str(props["EventSourceArn"])
        if source.startswith("arn:aws:sqs:"):
            continue  # a queue's: local/sqs_delivery
        if ":dynamodb:" not in source or "/stream/" not in source:
            raise NotImplementedError(f"{lid}: only mappings on a stream or a queue are emulated")
        destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        if destination and not str(destination).startswith("arn:aws:sqs:"):
            raise NotImplementedError(f"{lid}: only an SQS on-failure destination is emulated")
        retries = int(props.get("MaximumRetryAttempts", -1))
        age = int(props.get("MaximumRecordAgeInSeconds", -1))
        out.append(
            StreamMapping(
                logical_id=lid,
                function=function,
                stream_arn=source,
                starting_position=str(props.get("StartingPosition", "LATEST")),
                batch_size=int(props.get("BatchSize", 100)),
                filters=tuple(
                    EventPattern.load(str(f["Pattern"]))
                    for f in (props.get("FilterCriteria") or {}).get("Filters", [])
                ),
                report_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                bisect=bool(props.get("BisectBatchOnFunctionError", False)),
                max_retries=None if retries < 0 else retries,
                max_age=None if age < 0 else float(age),
                on_failure=_queue_url(str(destination)) if destination else None,
            )
        )
    return out


def _queue_url(queue_arn: str) -> str:
    _, _, _, region, account, name = queue_arn.split(":", 5)
    return sqs_delivery.url(region, account, name)


@dataclass
class Reader:
    """Where a mapping is in its stream: the records read but not done yet (`pending`,
    the head of the shard, in order), the iterator to read on from, and the retry state
    of the batch at the head."""

    mapping: StreamMapping
    shard_id: str
    iterator: str
    read_to: int  # the sequence number the iterator reads next
    pending: list[dict[str, Any]] = field(default_factory=list)
    limit: int = 0  # records in the next batch (below batch_size while bisecting)
    attempts: int = 0  # failed invocations of the batch at the head, splits not counted
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    invocations: int = 0
    dead_lettered: int = 0  # records reported to the on-failure queue


def deploy(stack: Any) -> list[Reader]:
    """A reader per mapping, at its starting position (the stream as it is now)."""
    streams = stack.client("dynamodbstreams")
    readers = []
    for mapping in mappings(stack):
        position = mapping.starting_position
        if position not in ("LATEST", "TRIM_HORIZON"):
            raise NotImplementedError(f"{mapping.logical_id}: StartingPosition {position}")
        shard = streams.describe_stream(StreamArn=mapping.stream_arn)["StreamDescription"][
            "Shards"
        ][0]
        iterator = streams.get_shard_iterator(
            StreamArn=mapping.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        start = int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
        reader = Reader(mapping, shard["ShardId"], iterator, start, limit=mapping.batch_size)
        while position == "LATEST":  # what the stream holds already is not for this mapping
            answer = streams.get_records(ShardIterator=reader.iterator)
            reader.iterator = answer["NextShardIterator"]
            if not answer["Records"]:
                break
            reader.read_to = int(answer["Records"][-1]["dynamodb"]["SequenceNumber"]) + 1
        readers.append(reader)
    return readers


# --- one poll ---------------------------------------------------------------------------------


def deliver(stack: Any, reader: Reader) -> int:
    """Read what is new (if the head batch is not full yet) and invoke the function with the
    batch at the head, if any; returns how many records it read or settled (0: idle)."""
    with reader.lock:
        read = _read(stack, reader) if len(reader.pending) < reader.limit else 0
        expired = _expire(stack, reader)
        batch = reader.pending[: reader.limit]
        if not batch:
            return read + expired
        return read + expired + _invoke(stack, reader, batch)


def _read(stack: Any, reader: Reader) -> int:
    """GetRecords once; the records no filter matches are dropped here. Returns how many
    records the stream gave."""
    streams = stack.client("dynamodbstreams")
    mapping = reader.mapping
    try:
        answer = streams.get_records(ShardIterator=reader.iterator, Limit=mapping.batch_size)
    except (
        streams.exceptions.TrimmedDataAccessException,
        streams.exceptions.ExpiredIteratorException,
    ) as exc:
        return _resume_after(stack, reader, exc)
    reader.iterator = answer["NextShardIterator"]
    records = answer.get("Records", [])
    for record in records:
        event = lambda_record(record, mapping.stream_arn)
        if mapping.matches(event):
            reader.pending.append(event)
    if records:
        reader.read_to = int(records[-1]["dynamodb"]["SequenceNumber"]) + 1
    return len(records)


def _resume_after(stack: Any, reader: Reader, exc: Exception) -> int:
    """The iterator cannot be used: an expired one is replaced at the same position; past a
    trim, reading resumes at the oldest record kept and what was lost is reported. Returns
    the records lost, at least 1 (the poll was not idle: there is more to read)."""
    lost = 0
    streams = stack.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=reader.mapping.stream_arn)["StreamDescription"][
        "Shards"
    ][0]
    oldest = int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
    if reader.read_to < oldest:
        lost = oldest - reader.read_to
        log.error(
            "%s fell %d records behind the stream's tail (local/dynamodb_stream_tail.py): "
            "records %d to %d were trimmed before they were read",
            reader.mapping.logical_id,
            lost,
            reader.read_to,
            oldest - 1,
        )
        _report(stack, reader, "RecordAgeExceeded", str(reader.read_to), str(oldest - 1), lost)
        reader.read_to = oldest
    else:
        log.info("%s: %s, reading on at %d", reader.mapping.logical_id, exc, reader.read_to)
    reader.iterator = streams.get_shard_iterator(
        StreamArn=reader.mapping.stream_arn,
        ShardId=reader.shard_id,
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=str(reader.read_to),
    )["ShardIterator"]
    return max(lost, 1)


def _expire(stack: Any, reader: Reader) -> int:
    """Records at the head older than MaximumRecordAgeInSeconds go to the on-failure queue."""
    if reader.mapping.max_age is None:
        return 0
    now = time.time()
    old = 0
    for record in reader.pending:
        if now - record["dynamodb"]["ApproximateCreationDateTime"] <= reader.mapping.max_age:
            break
        old += 1
    if old:
        _give_up(stack, reader, reader.pending[:old], "RecordAgeExceeded", None)
    return old


def _invoke(stack: Any, reader: Reader, batch: list[dict[str, Any]]) -> int:
    """One invocation with `batch` and what follows from its outcome; returns len(batch)."""
    mapping = reader.mapping
    reader.invocations += 1
    error = None
    try:
        result = stack.invoke(mapping.function, {"Records": batch})
    except Exception as exc:
        log.warning("%s failed on a batch of %d records: %r", mapping.function, len(batch), exc)
        error, result = exc, None
    failed_from = 0 if error else _first_failed(mapping, batch, result)
    if failed_from is None:  # all done
        del reader.pending[: len(batch)]
        reader.limit, reader.attempts = mapping.batch_size, 0
        return len(batch)
    if failed_from:  # the records before the first failed one are done: progress
        del reader.pending[:failed_from]
        reader.attempts = 0
    remaining = batch[failed_from:]
    if error is not None and mapping.bisect and len(remaining) > 1:
        reader.limit = math.ceil(len(remaining) / 2)  # the first half, then the rest
        return len(batch)
    reader.limit = len(remaining)  # only the remaining records are retried
    reader.attempts += 1
    if mapping.max_retries is not None and reader.attempts > mapping.max_retries:
        _give_up(stack, reader, remaining, "RetryAttemptsExhausted", error)
    return len(batch)


def _first_failed(mapping: StreamMapping, batch: list[dict[str, Any]], result: Any) -> int | None:
    """The index of the first record the function reported failed, None if none was."""
    if not mapping.report_failures or not isinstance(result, dict):
        return None
    failures = result.get("batchItemFailures")
    if not failures:
        return None
    numbers = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(batch)}
    indexes = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in numbers:
            return 0  # not a sequence number of the batch: the whole batch failed
        indexes.append(numbers[identifier])
    return min(indexes)


def _give_up(
    stack: Any,
    reader: Reader,
    records: list[dict[str, Any]],
    condition: str,
    error: Exception | None,
) -> None:
    """Report `records` (the head of pending) to the on-failure queue and move past them."""
    first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
    log.error(
        "%s gives up records %s to %s (%s)",
        reader.mapping.logical_id,
        first["SequenceNumber"],
        last["SequenceNumber"],
        condition,
    )
    _report(
        stack,
        reader,
        condition,
        first["SequenceNumber"],
        last["SequenceNumber"],
        len(records),
        arrivals=(first["ApproximateCreationDateTime"], last["ApproximateCreationDateTime"]),
        function_error=error is not None,
    )
    del reader.pending[: len(records)]
    reader.limit, reader.attempts = reader.mapping.batch_size, 0


def _report(
    stack: Any,
    reader: Reader,
    condition: str,
    first: str,
    last: str,
    size: int,
    *,
    arrivals: tuple[float, float] | None = None,
    function_error: bool = False,
) -> None:
    """Lambda's invocation record for a stream batch it discarded, to the on-failure queue."""
    reader.dead_lettered += size
    if reader.mapping.on_failure is None:
        return
    function = stack.functions[reader.mapping.function]
    response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if function_error:
        response["functionError"] = "Unhandled"
    info: dict[str, Any] = {
        "shardId": reader.shard_id,
        "startSequenceNumber": first,
        "endSequenceNumber": last,
        "batchSize": size,
        "streamArn": reader.mapping.stream_arn,
    }
    if arrivals:
        info["approximateArrivalOfFirstRecord"] = _iso(arrivals[0])
        info["approximateArrivalOfLastRecord"] = _iso(arrivals[1])
    message = {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function.arn,
            "condition": condition,
            "approximateInvokeCount": reader.attempts,  # the failed invocations of the batch
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": _iso(time.time(), millis=True),
        "DDBStreamBatchInfo": info,
    }
    stack.client("sqs").send_message(
        QueueUrl=reader.mapping.on_failure, MessageBody=json.dumps(message)
    )


def _iso(seconds: float, *, millis: bool = False) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record (as boto3 parses it: this reader's own, changed in place) as
    Lambda hands it to the function: JSON only (ApproximateCreationDateTime in epoch
    seconds, binary values in base64), with the stream's ARN."""
    change = record["dynamodb"]
    when = change.get("ApproximateCreationDateTime")
    if isinstance(when, datetime):
        change["ApproximateCreationDateTime"] = when.timestamp()
    for image in ("Keys", "NewImage", "OldImage"):
        for value in change.get(image, {}).values():
            _base64_binaries(value)
    record["eventSourceARN"] = stream_arn
    return record


def _base64_binaries(value: dict[str, Any]) -> None:
    """An AttributeValue's binary values (B, BS, within M and L too) as base64 text."""
    for kind, inner in value.items():
        if kind == "B":
            value[kind] = base64.b64encode(inner).decode()
        elif kind == "BS":
            value[kind] = [base64.b64encode(b).decode() for b in inner]
        elif kind == "M":
            for nested in inner.values():
                _base64_binaries(nested)
        elif kind == "L":
            for nested in inner:
                _base64_binaries(nested)


# --- tests and make run -----------------------------------------------------------------------


def drain(stack: Any, max_polls: int = 1_000) -> int:
    """Deliver until every reader has read its stream to the end and settled every record
    (a failing one ends in the on-failure queue on the way); returns the polls made."""
    for polls in range(max_polls):
        if not sum(deliver(stack, reader) for reader in stack.stream_readers):
            return polls
    raise RuntimeError(f"streams still had records after {max_polls} polls")


@contextlib.contextmanager
def running(stack: Any) -> Iterator[list[Reader]]:
    """A poller thread per mapping until the block ends, woken by every write."""
    stop = threading.Event()
    readers = list(stack.stream_readers)
    woken = [threading.Event() for _ in readers]

    def wake() -> None:
        for event in woken:
            event.set()

    def poll(reader: Reader, event: threading.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                busy = deliver(stack, reader)
            except Exception:
                log.exception(
                    "reading %s for %s failed", reader.mapping.stream_arn, reader.mapping.function
                )
                busy = 0
            if not busy:
                event.wait(IDLE_POLL_SECONDS)
                event.clear()
            stop.wait(max(0.0, MIN_POLL_SECONDS - (time.monotonic() - started)))

    stop_listening = dynamodb_stream_tail.on_append(wake)
    threads = [
        threading.Thread(
            target=poll, args=(r, e), name=f"stream-{r.mapping.logical_id}", daemon=True
        )
        for r, e in zip(readers, woken, strict=True)
    ]
    for t in threads:
        t.start()
    try:
        yield readers
    finally:
        stop_listening()
        stop.set()
        wake()
        for t in threads:
            t.join(timeout=5)
