"""Invites to an org or a project, by email. The secure code is stored only as a hash."""

from __future__ import annotations

from typing import Any

from tenantry.dal import access, keys, table
from tenantry.errors import Gone


def put_op(invite: dict[str, Any]) -> dict[str, Any]:
    item = {
        **keys.invite(invite["id"]),
        **keys.invite_indexes(
            invite["id"],
            invite["email"],
            invite["scope"],
            invite["target_id"],
            invite["created_at"],
            invite["expires_at"],
        ),
        "entity": "invite",
        **invite,
    }
    return table.tx_put(item, "attribute_not_exists(PK)")


def create_all(
    invites: list[dict[str, Any]], extra_ops: list[dict[str, Any]] | None = None
) -> None:
    table.transact([put_op(i) for i in invites] + (extra_ops or []))


def get(invite_id: str) -> dict[str, Any] | None:
    return table.get(keys.invite(invite_id))


def status_op(invite_id: str, to_status: str, now: str, by: str) -> dict[str, Any]:
    """pending -> `to_status`, conditional: an invite is answered once. It leaves its
    email's pending list in the same write."""
    return table.tx_update(
        keys.invite(invite_id),
        "SET #st = :to, updated_at = :now, answered_by = :by REMOVE "
        + ", ".join(keys.INVITE_ANSWERED_REMOVE),
        "#st = :pending",
        names={"#st": "status"},
        values={":to": to_status, ":now": now, ":by": by, ":pending": "pending"},
    )


def revoke(invite_id: str, now: str, by: str) -> None:
    table.transact(
        [status_op(invite_id, "revoked", now, by)],
        on_condition=lambda: Gone("the invite was answered or revoked meanwhile"),
    )


def page_pending(
    email: str, now: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], dict[str, Any] | None]:
    """The email's pending invites that expire after `now`, soonest first, as rows (cursor
    key, invite): the partition and range hold nothing else."""
    pattern = access.PENDING_INVITES
    items, last = pattern.page(email, limit=limit, start_key=start_key, bound=now)
    return [(pattern.key_of(i), i) for i in items], last
