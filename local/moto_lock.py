"""The one lock around calls into moto (dev emulation only).

moto is not thread-safe, and the emulator's own patches (local/dynamodb_queries.py,
local/dynamodb_transactions.py) swap state on a table for the length of one call. Calls
made through boto3 in this process take the lock for the whole call, from the request
to the parsed response (`whole_call`, in local.stack.serial_aws_calls); those patches
take it themselves as well, so that requests reaching moto some other way (the moto
server of `make moto`, on werkzeug's threads) are serialized too. Re-entrant: a patched
call made through boto3 takes it twice. `in_whole_call` tells a patch whether nothing
else can touch moto's state until this thread's response is built.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

MOTO_LOCK = threading.RLock()
_calls = threading.local()


@contextlib.contextmanager
def whole_call() -> Iterator[None]:
    """Hold MOTO_LOCK for one whole AWS call made in this thread."""
    with MOTO_LOCK:
        _calls.depth = getattr(_calls, "depth", 0) + 1
        try:
            yield
        finally:
            _calls.depth -= 1


def in_whole_call() -> bool:
    return getattr(_calls, "depth", 0) > 0
