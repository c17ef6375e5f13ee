"""Invites to an org or a project, by email. The secure code is stored only as a hash."""

from __future__ import annotations

from typing import Any

from tenantry.dal import access, keys, table
from tenantry.errors import Gone, PreconditionFailed


def put_op(invite: dict[str, Any]) -> dict[str, Any]:
    item = {
        **keys.invite(invite["id"]),
        **keys.invite_indexes(
            invite["id"],
            invite["email"],
            invite["scope"],
            invite["target_id"],
            invite["created_at"],
            invite["valid_until"],  # ISO; expires_at is the TTL (epoch seconds)
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


def status_op(
    invite_id: str, to_status: str, now: str, by: str, expected_version: int | None = None
) -> dict[str, Any]:
    """pending -> `to_status`, one version more, conditional: an invite is answered once
    (and, with `expected_version`, only at that version). Invites written before versions
    have none: they count as version 1. It leaves its email's pending list in the same
    write."""
    names = {"#st": "status", "#v": "version"}
    values: dict[str, Any] = {":to": to_status, ":now": now, ":by": by, ":pending": "pending"}
    values[":one"] = 1
    condition = "#st = :pending"
    if expected_version is not None:
        values[":expected"] = expected_version
        condition += (
            " AND (#v = :expected OR attribute_not_exists(#v))"
            if expected_version == 1
            else " AND #v = :expected"
        )
    return table.tx_update(
        keys.invite(invite_id),
        "SET #st = :to, updated_at = :now, answered_by = :by, #v = if_not_exists(#v, :one) + :one"
        " REMOVE " + ", ".join(keys.INVITE_ANSWERED_REMOVE),
        condition,
        names=names,
        values=values,
    )


def revoke(invite_id: str, now: str, by: str, expected_version: int | None = None) -> None:
    def why_not() -> Exception:
        current = get(invite_id)
        if current is None or current["status"] != "pending":
            return Gone("the invite was answered or revoked meanwhile")
        return PreconditionFailed(
            f"the invite is at version {current.get('version', 1)}, not {expected_version}"
        )

    table.transact(
        [status_op(invite_id, "revoked", now, by, expected_version)], on_condition=why_not
    )


def page_of_target(
    scope: str, target_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], dict[str, Any] | None]:
    """Every invite to the project or org, newest first (any status: the caller filters),
    as rows (cursor key, invite)."""
    pattern = access.TARGET_INVITES
    items, last = pattern.page(scope, target_id, limit=limit, start_key=start_key)
    return [(pattern.key_of(i), i) for i in items], last


def page_pending(
    email: str, now: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], dict[str, Any] | None]:
    """The email's pending invites that expire after `now`, soonest first, as rows (cursor
    key, invite): the partition and range hold nothing else."""
    pattern = access.PENDING_INVITES
    items, last = pattern.page(email, limit=limit, start_key=start_key, bound=now)
    return [(pattern.key_of(i), i) for i in items], last
