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

MAX_LIMIT = 100
DEFAULT_LIMIT = 25
# A filtered list stops after this many DynamoDB reads and hands back a cursor, so a
# request's cost is bounded whatever the table holds.
MAX_READS_PER_PAGE = 4

Fetch = Callable[[int, dict[str, Any] | None], tuple[list[dict[str, Any]], dict[str, Any] | None]]


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
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        key = data["k"]
        ok = (
            data.get("s") == scope
            and isinstance(key, dict)
            and key
            and all(isinstance(k, str) and isinstance(v, str) for k, v in key.items())
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest(
            "invalid cursor",
            errors=[{"loc": ["query", "cursor"], "msg": "not a cursor of this list"}],
        ) from exc
    if not ok:
        raise BadRequest(
            "invalid cursor",
            errors=[{"loc": ["query", "cursor"], "msg": "not a cursor of this list"}],
        )
    return key


def collect(
    fetch: Fetch,
    limit: int,
    start_key: dict[str, Any] | None,
    *,
    max_reads: int = MAX_READS_PER_PAGE,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Call `fetch(remaining, start_key)` until `limit` items are collected, the list ends,
    or `max_reads` calls were made. `fetch` must never return more than `remaining` items
    and must return the key to continue after the last item it examined."""
    items: list[dict[str, Any]] = []
    key = start_key
    for _ in range(max_reads):
        batch, key = fetch(limit - len(items), key)
        items.extend(batch)
        if not key or len(items) >= limit:
            break
    return items, key


def page(items: list[Any], last_key: dict[str, Any] | None, scope: str) -> dict[str, Any]:
    return {"items": items, "next_cursor": encode_cursor(last_key, scope)}
