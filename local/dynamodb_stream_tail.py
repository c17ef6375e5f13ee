"""A table's stream keeps its latest records only, and its readers are told of new ones
(dev emulation only).

moto's stream shard keeps every record it was ever given, each with the item's old and
new image, for as long as the process lives: `make run` grows by a few kilobytes per
write. DynamoDB itself keeps a stream's records for 24 hours only. So a shard keeps its
latest KEEP records: past KEEP + TRIM it drops its oldest TRIM and moves its starting
sequence number on by as many, so the records kept keep their sequence numbers (moto
numbers a record by its position from the start) and a shard iterator still reads them.

The stream is read (local/stream_delivery.py plays the template's event source mapping on
it; local/dynamodb_partitions.py follows writes as they are added), so reading a trimmed
tail answers as DynamoDB Streams does:

- GetRecords from a position the shard no longer holds is TrimmedDataAccessException
  (moto would fail an assertion: a 500), so a reader that fell more than KEEP records
  behind knows it and which records it lost.
- moto keeps every shard iterator it hands out (each GetRecords hands out the next one),
  for ever; DynamoDB lets one expire after 15 minutes. A stream keeps its latest
  ITERATORS iterators; an older one is ExpiredIteratorException.
- `on_append(callback)`: called (under the moto lock, so quickly) whenever a record is
  appended to any shard, so a reader need not poll an idle stream.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from local.moto_lock import MOTO_LOCK

KEEP = 1_000
TRIM = 100
ITERATORS = 1_000
_listeners: list[Callable[[], None]] = []


def on_append(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` after each record appended; returns what stops it."""
    _listeners.append(callback)
    return lambda: _listeners.remove(callback)


@contextlib.contextmanager
def stream_tail() -> Iterator[None]:
    """Patch moto's StreamShard.add (as patched so far), StreamShard.get and the streams
    backend's iterator bookkeeping for the duration."""
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.models.table import StreamShard
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    add, get = StreamShard.add, StreamShard.get
    get_shard_iterator = DynamoDBStreamsBackend.get_shard_iterator
    get_records = DynamoDBStreamsBackend.get_records

    def add_then_trim(self: Any, old: Any, new: Any) -> None:
        with MOTO_LOCK:
            add(self, old, new)
            if len(self.items) >= KEEP + TRIM:
                del self.items[:TRIM]
                self.starting_sequence_number += TRIM
            for callback in list(_listeners):
                callback()

    def get_kept(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
        if start < self.starting_sequence_number:
            raise JsonRESTError(
                "TrimmedDataAccessException",
                f"the shard's records before {self.starting_sequence_number} were trimmed",
            )
        return list(get(self, start, quantity))

    def bounded(backend: Any) -> None:
        iterators = backend.shard_iterators
        while len(iterators) > ITERATORS:
            del iterators[next(iter(iterators))]  # the oldest handed out (dicts keep order)

    def get_shard_iterator_bounded(backend: Any, *args: Any, **kwargs: Any) -> Any:
        with MOTO_LOCK:
            iterator = get_shard_iterator(backend, *args, **kwargs)
            bounded(backend)
            return iterator

    def get_records_bounded(backend: Any, iterator_arn: str, limit: int) -> dict[str, Any]:
        with MOTO_LOCK:
            if iterator_arn not in backend.shard_iterators:
                raise JsonRESTError("ExpiredIteratorException", "the shard iterator expired")
            answer = get_records(backend, iterator_arn, limit)
            bounded(backend)
            return dict(answer)

    with (
        mock.patch.object(StreamShard, "add", add_then_trim),
        mock.patch.object(StreamShard, "get", get_kept),
        mock.patch.object(DynamoDBStreamsBackend, "get_shard_iterator", get_shard_iterator_bounded),
        mock.patch.object(DynamoDBStreamsBackend, "get_records", get_records_bounded),
    ):
        yield
