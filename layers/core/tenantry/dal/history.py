"""A project's history: append-only entries under the project's partition, written in the
same transaction as the change they record."""

from __future__ import annotations

import secrets
from typing import Any

from tenantry.clock import now_iso
from tenantry.dal import keys, table


def entry(
    project_id: str,
    actor: str,
    event: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    detail: dict[str, Any] | None = None,
    at: str | None = None,
) -> dict[str, Any]:
    """A TransactWriteItems Put of one history entry."""
    at = at or now_iso()
    item: dict[str, Any] = {
        **keys.history(project_id, at, secrets.token_hex(4)),
        "entity": "history",
        "at": at,
        "actor": actor,
        "event": event,
    }
    if from_status:
        item["from"] = from_status
    if to_status:
        item["to"] = to_status
    if detail:
        item["detail"] = detail
    return table.tx_put(item)


def append(project_id: str, actor: str, event: str, **kwargs: Any) -> None:
    """An entry on its own, for steps that change nothing else."""
    table.transact([entry(project_id, actor, event, **kwargs)])


def page(
    project_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    return table.query(
        keys.project_pk(project_id), sk_prefix=keys.HISTORY_PREFIX, limit=limit, start_key=start_key
    )
