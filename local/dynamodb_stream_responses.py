"""DynamoDB Streams' GetRecords answered as plain JSON in moto (dev emulation only).

moto 5.2 writes a GetRecords response by walking the output shape attribute by attribute,
as it did DynamoDB's item responses (local/dynamodb_responses.py): every record carries
its item's new and old images, so reading the table's stream (local/stream_delivery.py)
cost ~9 ms of the runner's CPU per record, more than the write that made it. moto's
records are already the wire JSON (AttributeValue maps, base64 text for binary values)
but for one timestamp, ApproximateCreationDateTime, which the JSON protocol sends in
epoch seconds (truncated to milliseconds, as moto's serializer writes it). So the
response is json.dumps of the result with that conversion; errors (an expired iterator,
a trimmed position) are raised before, as moto raises them. Called from this process's
boto3, the result (timestamps converted: then it is plain data) is handed to botocore's
parse without the text, as DynamoDB's item responses are (local/dynamodb_handoff.py;
local/dynamodb_response_parsing.py parses GetRecords too).
tests/integration/test_dynamodb_stream_responses.py compares the text with moto's on
records of every attribute type, and the hand-over's parse with the text's.
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from local import dynamodb_handoff

CONTENT_TYPE = "application/x-amz-json-1.0"  # DynamoDB Streams' JSON protocol version


def _wire(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        seconds = calendar.timegm(value.timetuple())
        return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not plain JSON")


def _plain(result: dict[str, Any]) -> dict[str, Any]:
    """The result as its JSON text would parse: each record's timestamp in epoch seconds
    (moto's records themselves are left as they are)."""
    records = []
    for record in result["Records"]:
        change = record["dynamodb"]
        when = change.get("ApproximateCreationDateTime")
        if isinstance(when, datetime):
            change = {**change, "ApproximateCreationDateTime": _wire(when)}
        records.append({**record, "dynamodb": change})
    return {**result, "Records": records}


@contextlib.contextmanager
def plain_json_stream_records() -> Iterator[None]:
    """Patch moto's DynamoDBStreamsHandler.get_records for the duration."""
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    original = DynamoDBStreamsHandler.get_records

    def get_records(self: Any) -> Any:
        iterator = self._get_param("ShardIterator")
        limit = self._get_param("Limit")
        result = self.backend.get_records(iterator, 1000 if limit is None else limit)
        if dynamodb_handoff.wanted():
            return 200, {"Content-Type": CONTENT_TYPE}, dynamodb_handoff.hand_over(_plain(result))
        return 200, {"Content-Type": CONTENT_TYPE}, json.dumps(result, default=_wire)

    get_records.__wrapped__ = original  # type: ignore[attr-defined]  # moto's, for tests
    with mock.patch.object(DynamoDBStreamsHandler, "get_records", get_records):
        yield
