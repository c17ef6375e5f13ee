"""Clusters: the cluster item, its unique name and its agent's token (dal/keys.py).

A cluster has one agent token. Its hash item is an ordinary token item (what the
authorizer reads, one strongly consistent GetItem) of owner kind `agent`; the cluster item
names the current hash, so a rotation deletes the old one in the transaction that writes
the new one: the old token stops at once. `namespaces` counts the namespaces Tenantry
tracks on the cluster (dal/namespaces.py keeps it in the transactions that change them);
a cluster is deleted only while it is 0.
"""

from __future__ import annotations

from typing import Any

from tenantry.dal import access, keys, table
from tenantry.errors import Conflict, NotFound, PreconditionFailed

PRIVATE = ("PK", "SK", "GSI1PK", "GSI1SK", "agent_token_hash", "entity")


def public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in PRIVATE}


def agent_token_item(token_hash: str, cluster_id: str, token_id: str, now: str) -> dict[str, Any]:
    return {
        **keys.token(token_hash),
        "entity": "token",
        "owner_kind": "agent",
        "owner_id": cluster_id,
        "owner_active": True,
        "owner_admin": False,
        "token_id": token_id,
        "created_at": now,
    }


def create(cluster: dict[str, Any], token_hash: str, token_id: str) -> None:
    def taken() -> Conflict:
        return Conflict(f"a cluster named {cluster['name']!r} is already registered")

    table.transact(
        [
            table.tx_put(
                {
                    **keys.cluster(cluster["id"]),
                    **keys.cluster_indexes(cluster["name"]),
                    "entity": "cluster",
                    "agent_token_hash": token_hash,
                    "namespaces": 0,
                    **cluster,
                },
                "attribute_not_exists(PK)",
            ),
            table.tx_put(
                {**keys.cluster_name(cluster["name"]), "cluster_id": cluster["id"]},
                "attribute_not_exists(PK)",
            ),
            table.tx_put(
                agent_token_item(token_hash, cluster["id"], token_id, cluster["created_at"]),
                "attribute_not_exists(PK)",
            ),
        ],
        on_condition=taken,
    )


def get(cluster_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
    return table.get(keys.cluster(cluster_id), consistent=consistent)


def id_by_name(name: str) -> str | None:
    pointer = table.get(keys.cluster_name(name), consistent=False)
    return str(pointer["cluster_id"]) if pointer else None


def by_names(names: list[str]) -> dict[str, dict[str, Any]]:
    """The registered clusters of these names (two BatchGetItems), by name."""
    if not names:
        return {}
    pointers = table.batch_get([keys.cluster_name(n) for n in dict.fromkeys(names)])
    clusters = table.batch_get([keys.cluster(p["cluster_id"]) for p in pointers])
    return {c["name"]: c for c in clusters}


def page(limit: int, start_key: dict[str, Any] | None) -> access.Page:
    return access.ALL_CLUSTERS.page(limit=limit, start_key=start_key)


def update(
    cluster_id: str, changes: dict[str, Any], remove: tuple[str, ...], expected: int | None
) -> dict[str, Any]:
    return table.update_at(
        keys.cluster(cluster_id),
        changes,
        remove,
        expected,
        lambda: _missing_or_changed(cluster_id),
    )


def rotate_token(cluster: dict[str, Any], token_hash: str, token_id: str, now: str) -> None:
    """The new token's hash item, the old one's deletion and the cluster naming the new
    one, at the version read: a concurrent rotation makes this one 409."""
    table.transact(
        [
            table.tx_update(
                keys.cluster(cluster["id"]),
                "SET agent_token_hash = :new, updated_at = :now ADD version :one",
                "version = :seen",
                values={":new": token_hash, ":now": now, ":one": 1, ":seen": cluster["version"]},
            ),
            table.tx_delete(keys.token(cluster["agent_token_hash"])),
            table.tx_put(
                agent_token_item(token_hash, cluster["id"], token_id, now),
                "attribute_not_exists(PK)",
            ),
        ],
        on_condition=lambda: Conflict("the cluster changed meanwhile; retry"),
    )


def delete(cluster: dict[str, Any], expected: int | None) -> None:
    """The cluster, its name and its token, only while it has no namespaces."""
    condition = "version = :seen AND (attribute_not_exists(namespaces) OR namespaces = :zero)"
    values: dict[str, Any] = {":seen": cluster["version"], ":zero": 0}
    if expected is not None and expected != cluster["version"]:
        raise PreconditionFailed(f"the cluster is at version {cluster['version']}")
    table.transact(
        [
            table.tx_delete(keys.cluster(cluster["id"]), condition, values=values),
            table.tx_delete(keys.cluster_name(cluster["name"])),
            table.tx_delete(keys.token(cluster["agent_token_hash"])),
        ],
        on_condition=lambda: _in_use_or_changed(cluster["id"]),
    )


def heartbeat(cluster_id: str, fields: dict[str, Any], remove: tuple[str, ...]) -> None:
    """The agent's report: one UpdateItem (no version bump: it is not an admin's change)."""
    expression, names, values = table.set_expression(fields, remove)
    table.update(
        keys.cluster(cluster_id),
        expression,
        condition="attribute_exists(PK)",
        names=names,
        values=values,
        on_condition=lambda: NotFound("the cluster no longer exists"),
    )


def _missing_or_changed(cluster_id: str) -> Exception:
    if get(cluster_id) is None:
        return NotFound("cluster not found")
    return PreconditionFailed("the cluster changed (If-Match did not match)")


def _in_use_or_changed(cluster_id: str) -> Exception:
    current = get(cluster_id)
    if current is None:
        return NotFound("cluster not found")
    if current.get("namespaces", 0):
        return Conflict(
            f"the cluster still has {current['namespaces']} project namespace(s); delete "
            "those projects first"
        )
    return Conflict("the cluster changed meanwhile; retry")
