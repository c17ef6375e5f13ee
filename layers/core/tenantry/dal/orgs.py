"""Organizations and their members."""

from __future__ import annotations

from typing import Any

from tenantry.dal import access, keys, table
from tenantry.errors import Conflict


def create(
    org: dict[str, Any], owner_id: str, extra_ops: list[dict[str, Any]] | None = None
) -> None:
    """The org and its creator as owner (and `extra_ops`: its limit counter), together."""
    item = {
        **keys.org(org["id"]),
        **keys.org_indexes(org["id"], org["created_at"]),
        "entity": "org",
        **org,
    }
    table.transact(
        [
            table.tx_put(item, "attribute_not_exists(PK)"),
            add_member_op(org["id"], owner_id, "owner", org["created_at"]),
            *(extra_ops or []),
        ]
    )


def grant(org_id: str, user_id: str, role: str, now: str, extra_ops: list[dict[str, Any]]) -> None:
    """Make the user a member (with `extra_ops`, e.g. the invite's acceptance), or 409."""
    table.transact(
        [add_member_op(org_id, user_id, role, now, new_only=True), *extra_ops],
        on_condition=lambda: Conflict("already a member of the org, or the invite was answered"),
    )


def add_member_op(
    org_id: str, user_id: str, role: str, now: str, *, new_only: bool = False
) -> dict[str, Any]:
    """Put the org member (only if not one yet, with new_only)."""
    item = {
        **keys.org_member(org_id, user_id),
        **keys.org_member_indexes(org_id, user_id),
        "entity": "org_member",
        "org_id": org_id,
        "user_id": user_id,
        "role": role,
        "created_at": now,
    }
    return table.tx_put(item, "attribute_not_exists(PK)" if new_only else None)


def get(org_id: str) -> dict[str, Any] | None:
    return table.get(keys.org(org_id))


def get_many(org_ids: list[str]) -> list[dict[str, Any]]:
    return table.batch_get([keys.org(o) for o in org_ids])


def get_member(org_id: str, user_id: str) -> dict[str, Any] | None:
    return table.get(keys.org_member(org_id, user_id))


def page_all(
    limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    return access.ALL_ORGS.page(limit=limit, start_key=start_key)


def page_for_user(
    user_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    return access.USER_ORGS.page(user_id, limit=limit, start_key=start_key)


def page_members(
    org_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    return access.ORG_MEMBERS.page(org_id, limit=limit, start_key=start_key)
