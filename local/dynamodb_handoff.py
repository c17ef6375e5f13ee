"""DynamoDB item responses handed to botocore in process, without their JSON text (dev
emulation only).

With moto in the runner's process, an item response was written as JSON text by moto
(local/dynamodb_responses.py), checksummed, and read back by botocore's parser
(local/dynamodb_response_parsing.py) a moment later in the same thread: for a page of 25
projects ~50 KB encoded and decoded again, ~6% of the runner's CPU under the load bench.

When the call comes from this process's boto3 (local.moto_lock.in_whole_call: the parse
follows in this thread, nothing else reaches moto meanwhile), moto's side keeps the
result for the thread (`hand_over`) and answers a placeholder body; botocore's side
takes it back (`take`) instead of decoding the placeholder. Only a result made of what
JSON carries unchanged is handed over: maps with string keys, lists, strings, numbers,
booleans, null, and the raw bytes of binary values (which the parse takes as the bytes
their base64 text decodes to); anything else moto's to_dict hands to moto (a datetime, a
set) makes the response JSON text as before, and so does every response when moto serves
another process (`make moto`). The parse builds every map and list afresh, as it does
from decoded JSON, so what the product receives is what it received from the text; the
one difference is in the response's HTTP metadata, whose checksum header is the
placeholder's.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from local.moto_lock import in_whole_call

PLACEHOLDER = '{"__local_handoff__": true}'  # the body moto answers instead of the text
PLACEHOLDER_BYTES = PLACEHOLDER.encode()
NOTHING = object()
_pending = threading.local()  # .result: the result handed over in this thread
_texts = threading.local()  # .depth: within as_text() in this thread


def wanted() -> bool:
    """Whether a response built now in this thread may be handed over: the call came
    from this process's boto3, in this thread, and not within as_text()."""
    return in_whole_call() and not getattr(_texts, "depth", 0)


@contextlib.contextmanager
def as_text() -> Iterator[None]:
    """Within, in this thread, every response is JSON text (tests that read the text)."""
    _texts.depth = getattr(_texts, "depth", 0) + 1
    try:
        yield
    finally:
        _texts.depth -= 1


def hand_over(result: Any) -> str:
    """Keep `result` for this thread's parse; the body to answer."""
    _pending.result = result
    return PLACEHOLDER


def take(raw_body: Any) -> Any:
    """The result handed over in this thread if `raw_body` is the placeholder (once),
    otherwise NOTHING."""
    if raw_body != PLACEHOLDER_BYTES:
        return NOTHING
    return _pending.__dict__.pop("result", NOTHING)
