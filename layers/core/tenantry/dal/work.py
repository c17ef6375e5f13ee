"""Work items for cluster agents (`WORK#<id>` / `WORK`, see dal/keys.py).

States: Queued -> Leased -> Done | Failed, and Leased -> Queued on release. While Queued
or Leased an item is in its cluster's claimable partition (GSI1), sorted by when it can be
claimed: at once when queued, when its lease expires when leased. Every change is one
conditional write on the item (its state, its lease token, its attempt), so two agents
claiming at once never both get it, and a stale lease token changes nothing.
"""

from __future__ import annotations

from typing import Any

from tenantry.dal import keys, table
from tenantry.errors import Conflict

OPEN_STATES = ("Queued", "Leased")
PRIVATE = ("PK", "SK", "GSI1PK", "GSI1SK", "entity", "task_token")


def _stored(item: dict[str, Any]) -> dict[str, Any]:
    return {
        **keys.work_item(item["id"]),
        **keys.claimable_index(item["cluster_id"], item["created_at"], item["id"]),
        "entity": "work",
        **table.storable(item),  # a snapshot of what was read (plain: floats) may be in it
    }


def put_new(item: dict[str, Any]) -> bool:
    """A new queued item; False if one with this id exists (a retried request)."""
    try:
        table.put(_stored(item), condition="attribute_not_exists(PK)")
    except Conflict:
        return False
    return True


def new_item(item: dict[str, Any]) -> dict[str, Any]:
    """A new queued item, as a transaction piece (queued with the change that needs it)."""
    return table.tx_put(_stored(item), "attribute_not_exists(PK)")


def get(work_id: str) -> dict[str, Any] | None:
    return table.get(keys.work_item(work_id))


def set_task_token(work_id: str, task_token: str, now: str) -> bool:
    """The workflow waits on a new task token (its Task was retried); False if the item is
    already finished (its outcome is then sent to the new token by the caller)."""
    try:
        table.update(
            keys.work_item(work_id),
            "SET task_token = :token, updated_at = :now",
            condition="#state IN (:queued, :leased)",
            names={"#state": "state"},
            values={":token": task_token, ":now": now, ":queued": "Queued", ":leased": "Leased"},
        )
    except Conflict:
        return False
    return True


def claimable(cluster_id: str, now: str, limit: int) -> list[dict[str, Any]]:
    """The cluster's items claimable at `now`, oldest first (one Query of GSI1; eventually
    consistent, so each claim is then a conditional write on the item itself)."""
    items, _ = table.query(
        keys.cluster_work(cluster_id),
        index="GSI1",
        sk_at_most=keys.claimable_up_to(now),
        limit=limit,
    )
    return items


def _seen(item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A condition: the item is as `item` shows it (state, attempt, lease token)."""
    values = {":seen_state": item["state"], ":seen_attempt": item.get("attempt", 0)}
    condition = "#state = :seen_state AND attempt = :seen_attempt"
    if item.get("lease_token"):
        condition += " AND lease_token = :seen_token"
        values[":seen_token"] = item["lease_token"]
    return condition, values


def lease(
    item: dict[str, Any], lease_token: str, expires_at: str, now: str, *, expired: bool
) -> dict[str, Any]:
    """Lease the item as it was read; Conflict if anything changed meanwhile (another
    agent's claim). `expired`: its previous lease ran out (counted)."""
    condition, values = _seen(item)
    return table.update(
        keys.work_item(item["id"]),
        "SET #state = :leased, lease_token = :token, lease_expires_at = :expires, "
        "updated_at = :now, GSI1SK = :available, claimed_at = :now "
        "ADD attempt :one, expired_leases :expired",
        condition=condition,
        names={"#state": "state"},
        values={
            **values,
            ":leased": "Leased",
            ":token": lease_token,
            ":expires": expires_at,
            ":now": now,
            ":available": f"{expires_at}#{item['id']}",
            ":one": 1,
            ":expired": 1 if expired else 0,
        },
    )


def _held(lease_token: str) -> tuple[str, dict[str, Any]]:
    return "#state = :leased AND lease_token = :token", {":leased": "Leased", ":token": lease_token}


def extend(item: dict[str, Any], lease_token: str, expires_at: str, now: str) -> dict[str, Any]:
    condition, values = _held(lease_token)
    return table.update(
        keys.work_item(item["id"]),
        "SET lease_expires_at = :expires, GSI1SK = :available, updated_at = :now",
        condition=condition,
        names={"#state": "state"},
        values={
            **values,
            ":expires": expires_at,
            ":available": f"{expires_at}#{item['id']}",
            ":now": now,
        },
    )


def release(item: dict[str, Any], lease_token: str, reason: str | None, now: str) -> None:
    """Back to Queued, claimable at once; the next claim is the next attempt."""
    condition, values = _held(lease_token)
    table.update(
        keys.work_item(item["id"]),
        "SET #state = :queued, GSI1SK = :available, updated_at = :now, released_reason = :why "
        "REMOVE lease_token, lease_expires_at",
        condition=condition,
        names={"#state": "state"},
        values={
            **values,
            ":queued": "Queued",
            ":available": f"{now}#{item['id']}",
            ":now": now,
            ":why": reason or "released by the agent",
        },
    )


def finish(
    item: dict[str, Any],
    outcome: dict[str, Any],
    effects: list[dict[str, Any]],
    *,
    lease_token: str | None,
) -> None:
    """Record the item's outcome, out of the claimable partition, with its `effects` (ops
    on other items) in one transaction: held under `lease_token` (an agent's result), or
    still open (no token: the control plane gives up on it)."""
    expression, names, values = table.set_expression(
        {"state": outcome["status"], "outcome": outcome, "updated_at": outcome["finished_at"]},
        keys.CLAIMABLE_INDEX_ATTRIBUTES,
    )
    if lease_token is not None:
        condition = "#state = :leased AND lease_token = :token"
        values |= {":leased": "Leased", ":token": lease_token}
    else:
        condition = "#state IN (:queued, :leased)"
        values |= {":queued": "Queued", ":leased": "Leased"}
    op = table.tx_update(
        keys.work_item(item["id"]),
        expression,
        condition,
        names={**names, "#state": "state"},
        values=values,
    )
    table.transact([op, *effects], on_condition=lambda: Conflict("the work item changed meanwhile"))
