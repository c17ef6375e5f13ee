"""Opaque list cursors and bounded page collection.

A cursor wraps DynamoDB's LastEvaluatedKey together with a fingerprint of the list it
belongs to (partition, index, filters), so a cursor from one list is refused by another
(400), and no cursor can widen what a query may read: the key condition is always the
server's own.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from tenantry.errors import BadRequest
from tenantry.request_body import parse_json

MAX_LIMIT = 100
DEFAULT_LIMIT = 25
# A filtered list stops after this many DynamoDB reads and hands back a cursor, so a
# request's cost is bounded whatever the table holds.
MAX_READS_PER_PAGE = 4
# What the spec says of a filter no index serves (it is applied to the items read).
FILTERED_AFTER_READING = (
    f"Applied to the items read, not by an index: a page reads a bounded budget (at most "
    f"{MAX_READS_PER_PAGE} batches of `limit` items), so it may hold fewer than `limit` "
    "items, even none, with a non-null next_cursor. Follow next_cursor until it is null: "
    "every match is returned exactly once."
)

Row = tuple[dict[str, Any], Any]
Fetch = Callable[[int, dict[str, Any] | None], tuple[list[Row], dict[str, Any] | None]]


def fingerprint(*parts: Any) -> str:
    raw = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def encode_cursor(last_key: dict[str, Any] | None, scope: str) -> str | None:
    if not last_key:
        return None
    raw = json.dumps({"k": last_key, "s": scope}, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, scope: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = parse_json(base64.urlsafe_b64decode(padded.encode()), "cursor", ("query", "cursor"))
        key = data["k"]
        ok = (
            data.get("s") == scope
            and isinstance(key, dict)
            and key
            and all(isinstance(k, str) and isinstance(v, str) for k, v in key.items())
        )
    except (BadRequest, ValueError, KeyError, TypeError) as exc:
        raise invalid_cursor() from exc
    if not ok:
        raise invalid_cursor()
    return key


def invalid_cursor() -> BadRequest:
    return BadRequest(
        "invalid cursor",
        errors=[{"loc": ["query", "cursor"], "msg": "not a cursor of this list"}],
    )


def collect(
    fetch: Fetch,
    limit: int,
    start_key: dict[str, Any] | None,
    *,
    max_reads: int = MAX_READS_PER_PAGE,
) -> tuple[list[Any], dict[str, Any] | None]:
    """Fill a page from up to `max_reads` calls of `fetch(n, key) -> (rows, next key)`,
    where each row is (the row's own key, the item to return or None when filtered out).
    Stopping inside a batch, the cursor is the key of the last row returned, so the next
    page resumes right after it; nothing is skipped or repeated.

    The first call asks for `limit` rows; a later one for the rows the page still lacks at
    the density of matches seen so far (at most `limit`): a page that one read nearly
    filled reads a few more rows, not another `limit` (rows read past the page's last
    item are read again by the next page)."""
    items: list[Any] = []
    key = start_key
    read = 0
    for _ in range(max_reads):
        lacking = limit - len(items)
        n = limit if not items else min(limit, max(lacking, -(-lacking * read // len(items))))
        rows, key = fetch(n, key)
        read += len(rows)
        for i, (row_key, item) in enumerate(rows):
            if item is None:
                continue
            items.append(item)
            if len(items) == limit:
                more = i < len(rows) - 1 or key is not None
                return items, (row_key if more else None)
        if not key:
            break
    return items, key


def page(items: list[Any], last_key: dict[str, Any] | None, scope: str) -> dict[str, Any]:
    return {"items": items, "next_cursor": encode_cursor(last_key, scope)}


# A list's read from a start key: the page's items and the key to resume after them.
PageFetch = Callable[[dict[str, Any] | None], tuple[list[Any], dict[str, Any] | None]]


def listed(cursor: str | None, scope: tuple[Any, ...], fetch: PageFetch) -> dict[str, Any]:
    """A list route's answer: `fetch(start key)` from the caller's cursor, the next cursor
    tied to `scope` (the list and its filters), so a cursor only continues its own list."""
    bound = fingerprint(*scope)
    items, last = fetch(decode_cursor(cursor, bound))
    return page(items, last, bound)
