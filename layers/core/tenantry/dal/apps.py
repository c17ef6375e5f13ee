"""A project's apps (OAuth clients) in the table: one item each in the project's partition
(keys.project_app), holding the SHA-256 of the current client secret, never the secret.

Every change is one transaction: the app's write, the project's apps_per_project count
(dal/limits.py) when one is added or removed, its history entry, and a condition on the
project item that it is active (which the history sequence turns into the update of its
history_seq, dal/history.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenantry.dal import access, history, keys, table
from tenantry.errors import ChangedMeanwhile, InvalidTransition, NotFound

SEQUENCE_ATTEMPTS = 5  # writers racing on one project's history: each try reads it again
CHANGEABLE = "active"  # the project status its apps change in
NOT_STORED = ("PK", "SK", "entity", "secret_hash")


def strip(item: dict[str, Any]) -> dict[str, Any]:
    """What a caller may read of an app: never the secret's hash."""
    return {k: v for k, v in item.items() if k not in NOT_STORED}


def get(project_id: str, app_id: str) -> dict[str, Any] | None:
    return table.get(keys.project_app(project_id, app_id))


def page(project_id: str, limit: int, start_key: dict[str, Any] | None) -> access.Page:
    return access.PROJECT_APPS.page(project_id, limit=limit, start_key=start_key)


# --- transaction ops ----------------------------------------------------------------------


def create_op(app: dict[str, Any]) -> dict[str, Any]:
    item = {**keys.project_app(app["project_id"], app["id"]), "entity": "project_app", **app}
    return table.tx_put(item, "attribute_not_exists(PK)")


def update_op(
    app: dict[str, Any], changes: dict[str, Any], remove: tuple[str, ...] = ()
) -> dict[str, Any]:
    """`changes` set and `remove` removed on the app if it is at the version read (its
    version moves on by one)."""
    expression, names, values = table.set_expression(changes, remove)
    values.update({":version": int(app["version"]), ":one": 1})
    return table.tx_update(
        keys.project_app(app["project_id"], app["id"]),
        f"{expression} ADD version :one",
        "attribute_exists(PK) AND version = :version",
        names=names,
        values=values,
    )


def delete_op(app: dict[str, Any]) -> dict[str, Any]:
    return table.tx_delete(
        keys.project_app(app["project_id"], app["id"]),
        "attribute_exists(PK) AND version = :version",
        values={":version": int(app["version"])},
    )


def _active_check(project_id: str) -> dict[str, Any]:
    return table.tx_check(
        keys.project(project_id),
        "#status = :changeable",
        names={"#status": "status"},
        values={":changeable": CHANGEABLE},
    )


# --- the transaction ------------------------------------------------------------------------


def commit(
    project: dict[str, Any], ops: list[dict[str, Any]], *, why_not: Callable[[], Exception]
) -> None:
    """`ops` (with the history entry among them) atomically, while the project is active.
    A failed limit counter is its limit's problem (table.transact); another failed
    condition of `ops` is `why_not()`; only a history that moved on is retried here."""
    pid = project["id"]
    after = history.sequence_of(project)
    for _ in range(SEQUENCE_ATTEMPTS):
        try:
            table.transact(
                history.sequenced([_active_check(pid), *ops], pid, after),
                on_condition=lambda after=after: _why_not(pid, after, why_not),
            )
            return
        except history.Sequenced:
            after = history.sequence_of(table.get(keys.project(pid)))
    raise ChangedMeanwhile("the project's history moved on meanwhile; retry")


def _why_not(project_id: str, history_after: int, why_not: Callable[[], Exception]) -> Exception:
    project = table.get(keys.project(project_id))
    if project is None:
        return NotFound(f"project {project_id!r} not found")
    if project["status"] != CHANGEABLE:
        return not_changeable(project)
    if history.sequence_of(project) != history_after:
        return history.Sequenced()
    return why_not()


def not_changeable(project: dict[str, Any]) -> InvalidTransition:
    return InvalidTransition(
        f"the project is {project['status']}; its apps change only while it is {CHANGEABLE}",
        extra={"current_status": project["status"]},
    )
