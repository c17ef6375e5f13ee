"""Time and ids, in the formats the API promises."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta


def now_iso(delta: timedelta | None = None) -> str:
    """ISO 8601 UTC with microseconds and `Z`; sorts as text in time order."""
    moment = datetime.now(UTC) + (delta or timedelta())
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    return str(uuid.uuid4())
