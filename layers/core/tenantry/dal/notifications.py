"""A project's notifications in the table: one item per (topic, topic id), in the project's
partition. A post rewrites the pair's item whole (its version moving on by one, its
created_at kept), and puts it into or out of the project's active list (GSI1, sparse) in
the same write: the list is a Query from now on, never a Scan and never a filter."""

from __future__ import annotations

from typing import Any

from tenantry.dal import access, keys, table

# The resource's fields (what a post writes) and what the table adds.
FIELDS = (
    "id",
    "project_id",
    "topic",
    "topic_id",
    "title",
    "description",
    "url",
    "level",
    "status",
    "source",
    "posted_by",
    "updated_at",
    "valid_until",
    "expires_at",
)
NOT_STORED = (*keys.KEY_ATTRIBUTES, "entity")


def strip(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in NOT_STORED}


def _write(notification: dict[str, Any]) -> tuple[dict[str, str], str, dict[str, Any]]:
    """(key, update expression, expression parts) of a post: every field set or removed
    (the latest post replaces the previous one whole), created_at kept from the pair's
    first post, the version one more, and the active-list keys set or removed."""
    n = notification
    key = keys.notification(n["project_id"], n["topic"], n["topic_id"])
    changes: dict[str, Any] = {"entity": "notification"}
    remove: list[str] = []
    for field in FIELDS:
        if n.get(field) is None:
            remove.append(field)
        else:
            changes[field] = n[field]
    if n["status"] == "active":
        changes.update(
            keys.active_notification_index(
                n["project_id"], n["topic"], n["topic_id"], n["valid_until"]
            )
        )
    else:
        remove += keys.NOTIFICATION_INDEX_ATTRIBUTES
    expression, names, values = table.set_expression(changes, tuple(remove))
    names.update({"#created": "created_at", "#v": "version"})
    values.update({":now": n["updated_at"], ":zero": 0, ":one": 1})
    head, _, tail = expression.partition(" REMOVE ")
    expression = (
        f"{head}, #created = if_not_exists(#created, :now), #v = if_not_exists(#v, :zero) + :one"
    )
    if tail:
        expression += f" REMOVE {tail}"
    return key, expression, {"names": names, "values": values}


def post(notification: dict[str, Any]) -> dict[str, Any]:
    """Write the pair's latest notification; returns it as stored (version 1: the pair's
    first post since its item was created)."""
    key, expression, parts = _write(notification)
    return table.update(key, expression, **parts)


def post_op(notification: dict[str, Any]) -> dict[str, Any]:
    """The same write as a transaction op (Tenantry's own, with the change it reports)."""
    key, expression, parts = _write(notification)
    return table.tx_update(key, expression, **parts)


def clear_op(project_id: str, topic: str, topic_id: str) -> dict[str, Any]:
    """A transaction op removing the pair's notification, if there is one (a Delete of an
    absent item changes nothing): Tenantry's own, when the condition it reported clears."""
    return table.tx_delete(keys.notification(project_id, topic, topic_id))


def page_active(
    project_id: str, now: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The project's active notifications valid after `now`, latest expiry first: the
    partition and range hold nothing else."""
    return access.PROJECT_NOTIFICATIONS.page(
        project_id, limit=limit, start_key=start_key, bound=now
    )
