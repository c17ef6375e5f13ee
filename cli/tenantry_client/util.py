"""Small helpers shared by the client's modules."""

from __future__ import annotations

import email.utils
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from tenantry_client.models import Model

IfMatch = Model | int | str | None


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def if_match_header(value: IfMatch) -> str | None:
    """The If-Match header for a model (its ETag, else its `version`), a version number, an
    ETag as the API sends it ('"3"') or bare ('3'), or '*'. None: no header."""
    if value is None:
        return None
    if isinstance(value, Model):
        if value.etag:
            return value.etag
        version = getattr(value, "version", None)
        if not isinstance(version, int):
            raise ValueError(f"{type(value).__name__} has no ETag or version to match")
        return f'"{version}"'
    if isinstance(value, bool):
        raise TypeError("if_match takes a model, a version, an ETag or '*'")
    if isinstance(value, int):
        return f'"{value}"'
    text = value.strip()
    return f'"{text}"' if text.isdigit() else text


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date. None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def path(template: str, *args: str) -> str:
    """`template` with each `{}` replaced by an argument, percent-encoded whole (an id can
    never reach another route: "a/b" stays one segment)."""
    return template.format(*(quote(str(a), safe="") for a in args))


def clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Drop arguments left out (None); an explicit JSON null is sent with `NULL`."""
    return {k: (None if v is NULL else v) for k, v in fields.items() if v is not None}


class _Null:
    """Sentinel for 'send JSON null' (removes an optional field in a PATCH)."""

    def __repr__(self) -> str:
        return "NULL"


NULL: Any = _Null()
