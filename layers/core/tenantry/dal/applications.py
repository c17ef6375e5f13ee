"""Project applications in the table: listed per project (GSI1), per state (GSI2, the
moderation queue) and per applicant (GSI3)."""

from __future__ import annotations

from typing import Any

from tenantry.dal import access, keys, table


def get(app_id: str) -> dict[str, Any] | None:
    return table.get(keys.application(app_id))


def put_op(app: dict[str, Any]) -> dict[str, Any]:
    item = {
        **keys.application(app["id"]),
        **keys.application_indexes(
            app["id"], app["project_id"], app["state"], app["applicant_id"], app["created_at"]
        ),
        "entity": "application",
        **app,
    }
    return table.tx_put(item, "attribute_not_exists(PK)")


def state_op(
    app: dict[str, Any], to_state: str, now: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Move an application out of the state it was read in (conditional on that state)."""
    changes = {
        "state": to_state,
        "updated_at": now,
        **keys.application_state_index(to_state, app["id"], app["created_at"]),
        **(extra or {}),
    }
    expression, names, values = table.set_expression(changes)
    names["#st"] = "state"
    values[":from"] = app["state"]
    return table.tx_update(
        keys.application(app["id"]), expression, "#st = :from", names=names, values=values
    )


Rows = list[tuple[dict[str, Any], dict[str, Any]]]


def _rows(pattern: access.Pattern, *args: str, limit: int, start_key: Any) -> tuple[Rows, Any]:
    items, last = pattern.page(*args, limit=limit, start_key=start_key)
    return [(pattern.key_of(i), i) for i in items], last


def page_for_project(
    project_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[Rows, dict[str, Any] | None]:
    """A project's applications, oldest first, as rows (cursor key, application)."""
    return _rows(access.PROJECT_APPLICATIONS, project_id, limit=limit, start_key=start_key)


def page_in_state(
    state: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[Rows, dict[str, Any] | None]:
    """The applications in `state` (the moderation queue: pending), oldest first."""
    return _rows(access.APPLICATIONS_IN_STATE, state, limit=limit, start_key=start_key)


def page_for_applicant(
    user_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[Rows, dict[str, Any] | None]:
    """An applicant's applications, oldest first."""
    return _rows(access.APPLICANT_APPLICATIONS, user_id, limit=limit, start_key=start_key)
