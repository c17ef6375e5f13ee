"""A project's namespace records, one per cluster (`PROJECT#<id>` / `NS#<cluster name>`), and
the count of tracked namespaces on each cluster item, kept in the same transactions: a
record that first appears counts +1, one that reaches Deleted or Retained counts -1 (each
transition is conditioned on the status it leaves, so each counts once)."""

from __future__ import annotations

from typing import Any

from tenantry.dal import access, keys, table

GONE = ("Deleted", "Retained")


def of_project(project_id: str) -> list[dict[str, Any]]:
    """Every namespace record of the project (strongly consistent: steps decide on it)."""
    items, key = [], None
    while True:
        batch, key = access.PROJECT_NAMESPACES.page(
            project_id, limit=100, start_key=key, consistent=True
        )
        items.extend(batch)
        if not key:
            return items


def page(project_id: str, limit: int, start_key: dict[str, Any] | None) -> access.Page:
    return access.PROJECT_NAMESPACES.page(project_id, limit=limit, start_key=start_key)


def get(project_id: str, cluster_name: str) -> dict[str, Any] | None:
    return table.get(keys.namespace(project_id, cluster_name), consistent=False)


def ask(
    project_id: str,
    cluster: dict[str, Any],
    status: str,
    now: str,
    existing: dict[str, Any] | None,
    reason: str | None = None,
) -> list[dict[str, Any]]:
    """Ops that make the record `status` (Pending, Deleting, or Failed with `reason`) for a
    new request. A record that did not exist yet is counted on its cluster, if the cluster
    is registered (`cluster` has an id; it must still exist when the ops commit)."""
    fields: dict[str, Any] = {"status": status, "updated_at": now}
    if reason:
        fields["reason"] = reason
    if existing is None:
        ops = [
            table.tx_put(
                {
                    **keys.namespace(project_id, cluster["name"]),
                    "entity": "namespace",
                    "name": project_id,
                    "cluster": cluster["name"],
                    "created_at": now,
                    **({"cluster_id": cluster["id"]} if cluster.get("id") else {}),
                    **fields,
                },
                "attribute_not_exists(PK)",
            )
        ]
        if cluster.get("id"):
            ops.append(
                table.tx_update(
                    keys.cluster(cluster["id"]),
                    "ADD namespaces :one",
                    "attribute_exists(PK)",
                    values={":one": 1},
                )
            )
        return ops
    expression, names, values = table.set_expression(fields, () if reason else ("reason",))
    return [
        table.tx_update(
            keys.namespace(project_id, cluster["name"]),
            expression,
            "#status = :seen",
            names={**names, "#status": "status"},
            values={**values, ":seen": existing["status"]},
        )
    ]


def settle(
    record: dict[str, Any], to: str, reason: str | None, now: str, *, when: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Ops that move the record to `to` (with `reason`) if it is in one of `when`;
    reaching Deleted or Retained uncounts it on its cluster."""
    values: dict[str, Any] = {":to": to, ":now": now}
    values |= {f":w{i}": s for i, s in enumerate(when)}
    expression = "SET #status = :to, updated_at = :now"
    if reason:
        expression += ", reason = :reason"
        values[":reason"] = reason
    else:
        expression += " REMOVE reason"
    ops = [
        table.tx_update(
            keys.namespace(record["PK"].removeprefix("PROJECT#"), record["cluster"]),
            expression,
            "#status IN (" + ", ".join(f":w{i}" for i in range(len(when))) + ")",
            names={"#status": "status"},
            values=values,
        )
    ]
    if to in GONE and record.get("cluster_id"):
        ops.append(
            table.tx_update(
                keys.cluster(record["cluster_id"]),
                "ADD namespaces :minus",
                "attribute_exists(PK)",
                values={":minus": -1},
            )
        )
    return ops
