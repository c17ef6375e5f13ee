"""Lifecycle events: every entry of a project's history, as it is written, becomes one event
on the stack's EventBridge bus (template.yaml StreamFunction, fed by the table's stream).

    source       "tenantry"
    detail-type  "<Entity> <Change>", from the history event's name (DETAIL_TYPES)
    detail       {id, project_id, seq, event, from, to, actor, at, detail}

`id` names the history entry (`<project id>/<seq>`) and is the same each time the entry
is delivered: delivery is at least once (a batch that failed is read again), so a
subscriber that must not act twice de-duplicates on it. `seq` numbers a project's
entries in the order they were committed; EventBridge does not promise to deliver in
order, so a subscriber that cares sorts a project's events by it. The rest is the
history entry itself (GET /projects/{id}/history), which never holds a secret (secret
contents are in no answer, history entry or log; tenantry.domain.secrets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenantry import event_bus
from tenantry.dal import history

SOURCE = "tenantry"

# The entity of a history event, by the prefix of its name; the first prefix that matches
# wins. A project event that moves the project's status (it has `to`) is a status change.
ENTITIES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("membership_",), "Membership Changed"),
    (("task_",), "Task Status Changed"),
    (("deployment_", "deployments_"), "Deployment Changed"),
    (("environment_", "environments_"), "Environment Changed"),
    (("secret_",), "Secret Changed"),
    (("app_",), "App Changed"),
)
PROJECT_STATUS = "Project Status Changed"
APPLICATION = "Application Changed"
PROJECT = "Project Changed"
DETAIL_TYPES = (*(t for _, t in ENTITIES), PROJECT_STATUS, APPLICATION, PROJECT)


def detail_type(entry: dict[str, Any]) -> str:
    """The event's detail-type for a history entry ({event, to, ...})."""
    name = str(entry.get("event") or "")
    for prefixes, kind in ENTITIES:
        if name.startswith(prefixes):
            return kind
    if entry.get("to"):
        return PROJECT_STATUS  # created, provisioned, suspended, delete_requested, ...
    if name.startswith("application_"):
        return APPLICATION
    return PROJECT  # updated, profile_updated, image_repository_created, ...


def entry_id(project_id: str, seq: int) -> str:
    return f"{project_id}/{seq}"


def event_of(entry: dict[str, Any]) -> event_bus.Event:
    """The lifecycle event of a history entry (history.written's shape)."""
    detail = {
        "id": entry_id(entry["project_id"], entry["seq"]),
        "project_id": entry["project_id"],
        "seq": entry["seq"],
        "event": entry["event"],
        "from": entry.get("from"),
        "to": entry.get("to"),
        "actor": entry["actor"],
        "at": entry["at"],
        "detail": entry.get("detail"),
    }
    return event_bus.Event(SOURCE, detail_type(entry), detail, time=entry["at"])


@dataclass(frozen=True)
class Published:
    events: int  # put on the bus
    ignored: int  # records that are no history entry
    failed: list[str]  # sequence numbers of the records whose event EventBridge did not take


def publish(records: list[dict[str, Any]]) -> Published:
    """Put the event of every history entry among the stream records (Lambda's DynamoDB
    event records, in stream order) on the bus. The records whose event was not taken are
    returned by sequence number: the stream gives them (and those after them) again."""
    pending: list[tuple[str, event_bus.Event]] = []
    for record in records:
        entry = history.written(record)
        if entry is not None:
            pending.append((str(record["dynamodb"]["SequenceNumber"]), event_of(entry)))
    refused = event_bus.put([event for _, event in pending]) if pending else []
    failed = [pending[i][0] for i in refused]
    return Published(len(pending) - len(failed), len(records) - len(pending), failed)
