"""A table's stream keeps its latest records only (dev emulation only).

moto's stream shard keeps every record it was ever given, each with the item's old and
new image, for as long as the process lives: `make run` grows by a few kilobytes per
write. Nothing in the emulation reads records (local/dynamodb_partitions.py follows
writes as they are added; the template maps no stream to a function), and DynamoDB
itself keeps a stream's records for 24 hours only. So a shard keeps its latest KEEP
records: past KEEP + TRIM it drops its oldest TRIM and moves its starting sequence
number on by as many, so the records kept keep their sequence numbers (moto numbers a
record by its position from the start) and a shard iterator still reads them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock

from local.moto_lock import MOTO_LOCK

KEEP = 1_000
TRIM = 100


@contextlib.contextmanager
def stream_tail() -> Iterator[None]:
    """Patch moto's StreamShard.add (as patched so far) for the duration."""
    from moto.dynamodb.models.table import StreamShard

    add = StreamShard.add

    def add_then_trim(self: Any, old: Any, new: Any) -> None:
        with MOTO_LOCK:
            add(self, old, new)
            if len(self.items) >= KEEP + TRIM:
                del self.items[:TRIM]
                self.starting_sequence_number += TRIM

    with mock.patch.object(StreamShard, "add", add_then_trim):
        yield
