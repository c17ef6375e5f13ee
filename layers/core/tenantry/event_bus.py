"""The adapter to EventBridge for lifecycle events: put events on the stack's bus
(EVENT_BUS_NAME), in as few PutEvents calls as its limits allow, and say which ones it
did not take.

PutEvents takes at most 10 entries and 256 KB a call (an entry's size: its Source,
DetailType and Detail in UTF-8, 14 bytes for Time, its Resources). EventBridge may refuse
single entries (ErrorCode on the entry: throttled, an internal failure) while taking the
others, or the whole call (an exception): either way the entries it did not take are
returned, for the caller to try again, and the other calls still go out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from tenantry.observability import logger
from tenantry.settings import get_settings

MAX_ENTRIES = 10
MAX_BYTES = 256 * 1024
TIME_BYTES = 14  # what EventBridge counts for an entry's Time


@dataclass(frozen=True)
class Event:
    source: str
    detail_type: str
    detail: dict[str, Any]
    time: str | None = None  # ISO 8601; EventBridge's own clock when None

    def entry(self, bus: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "EventBusName": bus,
            "Source": self.source,
            "DetailType": self.detail_type,
            "Detail": json.dumps(self.detail, separators=(",", ":"), ensure_ascii=False),
        }
        if self.time:
            out["Time"] = datetime.fromisoformat(self.time)
        return out


def size(entry: dict[str, Any]) -> int:
    """An entry's size as PutEvents counts it against its 256 KB."""
    total = TIME_BYTES if "Time" in entry else 0
    for key in ("Source", "DetailType", "Detail"):
        total += len(entry[key].encode())
    return total + sum(len(r.encode()) for r in entry.get("Resources", []))


def batches(entries: list[dict[str, Any]]) -> Iterator[list[int]]:
    """Indexes of `entries` in order, grouped into PutEvents calls (at most 10 entries and
    256 KB each; an entry over 256 KB alone, for EventBridge to refuse)."""
    batch: list[int] = []
    used = 0
    for i, entry in enumerate(entries):
        n = size(entry)
        if batch and (len(batch) == MAX_ENTRIES or used + n > MAX_BYTES):
            yield batch
            batch, used = [], 0
        batch.append(i)
        used += n
    if batch:
        yield batch


@cache
def _events() -> Any:
    import boto3

    return boto3.client("events")


def put(events: list[Event]) -> list[int]:
    """Put the events on the bus, in order; the indexes of those EventBridge did not take."""
    bus = get_settings().event_bus_name
    if not bus:
        raise RuntimeError("EVENT_BUS_NAME is not set: lifecycle events have nowhere to go")
    from botocore.exceptions import BotoCoreError, ClientError

    entries = [e.entry(bus) for e in events]
    failed: list[int] = []
    for batch in batches(entries):
        try:
            answer = _events().put_events(Entries=[entries[i] for i in batch])
        except (BotoCoreError, ClientError) as exc:  # none of the call's entries was taken
            logger.warning(
                "PutEvents failed", extra={"entries": len(batch), "error": f"{exc!r}"[:500]}
            )
            failed += batch
            continue
        for i, result in zip(batch, answer.get("Entries", []), strict=True):
            if result.get("ErrorCode"):
                logger.warning(
                    "PutEvents refused an entry",
                    extra={"code": result["ErrorCode"], "reason": result.get("ErrorMessage")},
                )
                failed.append(i)
    return failed
