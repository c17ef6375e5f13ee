"""DynamoDB items that moto lets go of once nothing uses them (dev emulation only).

moto appends every instance of its models to a list on the class (`instances_tracked`),
for the moto server's dashboard, and empties it only on reset. For DynamoDB's Item that
is every item ever written and every copy of one: a Query deep-copies its page, and a
projection or an update makes new items, so every list request kept its page for good
(the load bench's runner grew by ~100 MiB in 30 s, most of it such copies). While
emulating, Item and StreamRecord instances are not tracked: nothing in the emulation
reads that list, a table holds its items and a stream shard its records.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from unittest import mock


@contextlib.contextmanager
def untracked_items() -> Iterator[None]:
    """For the duration, moto's tracking list for these classes keeps nothing."""
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import StreamRecord

    with (
        mock.patch.object(Item, "instances_tracked", deque(maxlen=0)),
        mock.patch.object(StreamRecord, "instances_tracked", deque(maxlen=0)),
    ):
        yield
