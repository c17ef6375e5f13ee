"""Deployment resource types (platform-level) and deployment resources (in their project's
partition), see dal/keys.py.

A resource is written whole with its state; `sync_work_id` names the ResourceSync work item
being done for it, if any (one at a time per resource: the next one is queued when that
one finishes, tenantry.domain.resources). Every change is conditioned on the version read.
"""

from __future__ import annotations

from typing import Any

from tenantry.dal import access, keys, table

NOT_STORED = (*keys.KEY_ATTRIBUTES, "entity")


def strip(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in NOT_STORED}


# --- types ------------------------------------------------------------------------------------


def get_type(type_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    return table.get(keys.resource_type(type_id), consistent=consistent)


def page_types(
    scope: str,
    kind_id: str | None,
    key: str | None,
    limit: int,
    start_key: dict[str, Any] | None,
) -> access.Page:
    """A scope's types (an environment's id, or keys.GLOBAL_RESOURCE_SCOPE), by kind then
    key; `kind_id` is a range of the partition, `key` a filter on the rows read."""
    if key is None:
        return access.SCOPE_RESOURCE_TYPES.page(scope, kind_id, limit=limit, start_key=start_key)
    return access.SCOPE_RESOURCE_TYPES.page(
        scope,
        kind_id,
        limit=limit,
        start_key=start_key,
        filter_expression="#key = :key",
        names={"#key": "key"},
        values={":key": key},
    )


def type_upsert(resource_type: dict[str, Any], scope: str, now: str) -> dict[str, Any]:
    """Create or refresh a type (a transaction piece): its spec and the chart it came from
    change, its id, scope, kind, key and created_at stay."""
    indexes = keys.resource_type_indexes(
        scope, resource_type["deployment_kind_id"], resource_type["key"]
    )
    changes = {
        **indexes,
        "entity": "resource_type",
        "id": resource_type["id"],
        "deployment_kind_id": resource_type["deployment_kind_id"],
        "key": resource_type["key"],
        "spec": resource_type["spec"],
        "chart_id": resource_type["chart_id"],
        "updated_at": now,
        **({"env_id": resource_type["env_id"]} if resource_type.get("env_id") else {}),
        **({"project_id": resource_type["project_id"]} if resource_type.get("project_id") else {}),
    }
    expression, names, values = table.set_expression(changes)
    expression += ", #created = if_not_exists(#created, :now)"
    names["#created"] = "created_at"
    values[":now"] = now
    return table.tx_update(
        keys.resource_type(resource_type["id"]), expression, names=names, values=values
    )


# --- resources ----------------------------------------------------------------------------------


def get(project_id: str, resource_id: str) -> dict[str, Any] | None:
    return table.get(keys.deployment_resource(project_id, resource_id))


def page(
    project_id: str, type_id: str | None, limit: int, start_key: dict[str, Any] | None
) -> access.Page:
    """The project's resources; `type_id` filters the rows read."""
    if type_id is None:
        return access.PROJECT_DEPLOYMENT_RESOURCES.page(
            project_id, limit=limit, start_key=start_key
        )
    return access.PROJECT_DEPLOYMENT_RESOURCES.page(
        project_id,
        limit=limit,
        start_key=start_key,
        filter_expression="type_id = :type",
        values={":type": type_id},
    )


def _stored(resource: dict[str, Any]) -> dict[str, Any]:
    """The item: with the open-sync index while a sync is open (`sync_work_id`, queued at
    `sync_since`); written whole, so the index goes when the sync settles."""
    syncing = (
        keys.syncing_resource_index(resource["sync_since"], resource["project_id"], resource["id"])
        if resource.get("sync_work_id")
        else {}
    )
    return {
        **keys.deployment_resource(resource["project_id"], resource["id"]),
        **syncing,
        "entity": "deployment_resource",
        **table.storable(resource),  # as read back (plain), its numbers may be floats
    }


def put(resource: dict[str, Any]) -> dict[str, Any]:
    return table.tx_put(_stored(resource), "attribute_not_exists(PK)")


def replace(resource: dict[str, Any], seen_version: int, **require: Any) -> dict[str, Any]:
    """The resource as a whole, if it is still at `seen_version` (and each `require`d
    attribute has that value; None: is absent)."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {":seen": seen_version}
    condition = "version = :seen" + table.requirements(require, names, values)
    return table.tx_put(_stored(resource), condition, names=names or None, values=values)


def syncing(up_to: str, limit: int) -> list[dict[str, Any]]:
    """Resources whose open sync was queued by `up_to`, oldest first (the scheduler's)."""
    items, _ = table.query(
        keys.SYNCING_RESOURCES, index="GSI2", sk_at_most=keys.due_up_to(up_to), limit=limit
    )
    return items


def name_guard(project_id: str, type_id: str, name: str, resource_id: str) -> dict[str, Any]:
    return table.tx_put(
        {**keys.deployment_resource_name(project_id, type_id, name), "resource_id": resource_id},
        "attribute_not_exists(PK)",
    )


def name_free(project_id: str, type_id: str, name: str, resource_id: str) -> dict[str, Any]:
    return table.tx_delete(
        keys.deployment_resource_name(project_id, type_id, name),
        "resource_id = :id",
        values={":id": resource_id},
    )


def name_taken(project_id: str, type_id: str, name: str) -> bool:
    return table.get(keys.deployment_resource_name(project_id, type_id, name)) is not None


def deployment_count(
    project_id: str, deployment_id: str, delta: int, *, not_deleting: bool = False
) -> dict[str, Any]:
    """The deployment's resource_count (it may be deleted only at 0); it must exist, and
    with `not_deleting` not be on its way out."""
    names: dict[str, str] | None = None
    values: dict[str, Any] = {":delta": delta}
    condition = "attribute_exists(PK)"
    if not_deleting:
        condition += " AND #status <> :deleting"
        names = {"#status": "status"}
        values[":deleting"] = "Deleting"
    return table.tx_update(
        keys.deployment(project_id, deployment_id),
        "ADD resource_count :delta",
        condition,
        names=names,
        values=values,
    )
