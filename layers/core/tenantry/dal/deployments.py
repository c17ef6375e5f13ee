"""Deployments and their tasks in the project's partition (dal/keys.py).

A deployment's helm release name is unique per project and cluster (a guard item). A task
is Pending in two sparse indexes, the scheduler's due tasks (GSI1 TASKS#pending) and its
deployment's queue (GSI3), and leaves both with the status. A deployment runs one task at
a time: `current_task_id` on the deployment is taken by a conditional write before the
task's execution starts, and given back when it finishes.
"""

from __future__ import annotations

from typing import Any

from tenantry.dal import access, keys, table
from tenantry.errors import Conflict

NOT_STORED = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK", "entity")


def strip(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in NOT_STORED}


def get(project_id: str, deployment_id: str) -> dict[str, Any] | None:
    return table.get(keys.deployment(project_id, deployment_id))


def get_task(project_id: str, task_id: str) -> dict[str, Any] | None:
    return table.get(keys.task(project_id, task_id))


def page(project_id: str, limit: int, start_key: dict[str, Any] | None) -> access.Page:
    return access.PROJECT_DEPLOYMENTS.page(project_id, limit=limit, start_key=start_key)


def page_tasks(project_id: str, limit: int, start_key: dict[str, Any] | None) -> access.Page:
    return access.PROJECT_TASKS.page(project_id, limit=limit, start_key=start_key)


def next_due(deployment_id: str, now: str) -> dict[str, Any] | None:
    """The deployment's first Pending task due by `now`, by (execute_at, created_at)."""
    items, _ = table.query(
        keys.deployment_queue(deployment_id),
        index="GSI3",
        sk_at_most=keys.due_up_to(now),
        limit=1,
    )
    return items[0] if items else None


def overdue_runs(started_before: str, limit: int) -> list[dict[str, Any]]:
    """Started tasks that started before `started_before`, oldest first (the scheduler's
    sweep of runs whose outcome was never recorded)."""
    items, _ = table.query(
        keys.STARTED_TASKS, index="GSI1", sk_at_most=keys.due_up_to(started_before), limit=limit
    )
    return items


def pending_of(deployment_id: str) -> list[dict[str, Any]]:
    """Every Pending task of the deployment, due or not (a project's deletion cancels them)."""
    found: list[dict[str, Any]] = []
    start = None
    while True:
        items, start = table.query(
            keys.deployment_queue(deployment_id), index="GSI3", limit=100, start_key=start
        )
        found.extend(items)
        if not start:
            return found


def owned_keys(project_id: str) -> list[dict[str, str]]:
    """Keys of the project's deployments and what is theirs (release names, deployment
    permissions, reported k8s resources): a project's deletion removes them."""
    from tenantry.dal import environments

    return environments.keys_under(project_id, keys.DEPLOYMENT_OWNED_PREFIXES)


def due(now: str, limit: int, start_key: dict[str, Any] | None = None) -> tuple[list, Any]:
    """Pending tasks due by `now`, every deployment's, oldest first (the scheduler's)."""
    return table.query(
        keys.PENDING_TASKS,
        index="GSI1",
        sk_at_most=keys.due_up_to(now),
        limit=limit,
        start_key=start_key,
    )


# --- transaction pieces -----------------------------------------------------------------------


def ref_put(deployment: dict[str, Any]) -> dict[str, Any]:
    return table.tx_put(
        {
            **keys.deployment_ref(deployment["id"]),
            "project_id": deployment["project_id"],
            "cluster_id": deployment["cluster_id"],
        },
        "attribute_not_exists(PK)",
    )


def ref_moved(deployment_id: str, cluster_id: str) -> dict[str, Any]:
    return table.tx_update(
        keys.deployment_ref(deployment_id),
        "SET cluster_id = :cluster",
        "attribute_exists(PK)",
        values={":cluster": cluster_id},
    )


def ref_delete(deployment_id: str) -> dict[str, Any]:
    return table.tx_delete(keys.deployment_ref(deployment_id))


def locate(deployment_id: str) -> dict[str, Any] | None:
    return table.get(keys.deployment_ref(deployment_id), consistent=False)


def deployment_put(deployment: dict[str, Any]) -> dict[str, Any]:
    item = {
        **keys.deployment(deployment["project_id"], deployment["id"]),
        "entity": "deployment",
        **deployment,
    }
    return table.tx_put(item, "attribute_not_exists(PK)")


def release_guard(project_id: str, cluster_id: str, release_name: str, deployment_id: str) -> dict:
    """The release name is the deployment's on that cluster: free, or already its own (a
    deployment moving back where its old release was left)."""
    return table.tx_put(
        {**keys.release(project_id, cluster_id, release_name), "deployment_id": deployment_id},
        "attribute_not_exists(PK) OR deployment_id = :me",
        values={":me": deployment_id},
    )


def release_free(project_id: str, cluster_id: str, release_name: str) -> dict[str, Any]:
    return table.tx_delete(keys.release(project_id, cluster_id, release_name))


def task_put(task: dict[str, Any]) -> dict[str, Any]:
    item = {
        **keys.task(task["project_id"], task["id"]),
        **keys.task_indexes(
            task["project_id"],
            task["deployment_id"],
            task["id"],
            task["created_at"],
            task["execute_at"],
        ),
        "entity": "task",
        **task,
    }
    return table.tx_put(item, "attribute_not_exists(PK)")


def deployment_update(
    deployment: dict[str, Any],
    changes: dict[str, Any],
    remove: tuple[str, ...] = (),
    *,
    condition: str | None = None,
    values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The deployment changed at the version read (version + 1)."""
    expression, names, vals = table.set_expression(changes, remove)
    set_part, _, remove_part = expression.partition(" REMOVE ")
    expression = f"{set_part} ADD version :one" + (f" REMOVE {remove_part}" if remove_part else "")
    cond = "version = :seen" + (f" AND ({condition})" if condition else "")
    return table.tx_update(
        keys.deployment(deployment["project_id"], deployment["id"]),
        expression,
        cond,
        names=names,
        values={**vals, ":one": 1, ":seen": deployment["version"], **(values or {})},
    )


def deployment_delete(deployment: dict[str, Any]) -> dict[str, Any]:
    return table.tx_delete(
        keys.deployment(deployment["project_id"], deployment["id"]),
        "version = :seen",
        values={":seen": deployment["version"]},
    )


def env_count(project_id: str, env_id: str, delta: int) -> dict[str, Any]:
    """The environment's deployment_count (it may be deleted only at 0), which must exist."""
    return table.tx_update(
        keys.environment(project_id, env_id),
        "ADD deployment_count :delta",
        "attribute_exists(PK)",
        values={":delta": delta},
    )


def task_update(
    task: dict[str, Any],
    changes: dict[str, Any],
    *,
    from_status: tuple[str, ...],
    leave_queue: bool = False,
    started: bool = False,
) -> dict[str, Any]:
    """The task moved from one of `from_status`: out of the Pending indexes if
    `leave_queue` (and out of the running ones), or into the running ones if `started`."""
    remove: tuple[str, ...] = keys.PENDING_TASK_INDEXES if leave_queue else ()
    if started:
        changes = {**changes, **keys.started_task_index(task["id"], changes["started_at"])}
        remove = ("GSI3PK", "GSI3SK")
    expression, names, values = table.set_expression(changes, remove)
    names["#status"] = "status"
    values |= {f":from{i}": s for i, s in enumerate(from_status)}
    condition = "#status IN (" + ", ".join(f":from{i}" for i in range(len(from_status))) + ")"
    return table.tx_update(
        keys.task(task["project_id"], task["id"]), expression, condition, names=names, values=values
    )


def give_slot_back(project_id: str, deployment_id: str, task_id: str) -> bool:
    """The deployment runs nothing, if it ran `task_id`. False when it did not."""
    try:
        table.update(
            keys.deployment(project_id, deployment_id),
            "REMOVE current_task_id",
            condition="current_task_id = :task",
            values={":task": task_id},
        )
    except Conflict:
        return False
    return True


def take_slot(deployment: dict[str, Any], task_id: str) -> None:
    """The deployment runs `task_id` next, if it runs nothing (or already that task)."""
    table.update(
        keys.deployment(deployment["project_id"], deployment["id"]),
        "SET current_task_id = :task",
        condition="attribute_exists(PK) AND "
        "(attribute_not_exists(current_task_id) OR current_task_id = :task)",
        values={":task": task_id},
        on_condition=lambda: Conflict("the deployment runs another task"),
    )


# --- deployment permissions -----------------------------------------------------------------


def get_permission(project_id: str, permission_id: str) -> dict[str, Any] | None:
    return table.get(keys.deployment_permission(project_id, permission_id))


def page_permissions(
    project_id: str,
    limit: int,
    start_key: dict[str, Any] | None,
    env_id: str | None = None,
) -> access.Page:
    """The project's deployment permissions; `env_id` filters the rows read."""
    if env_id is None:
        return access.PROJECT_DEPLOYMENT_PERMISSIONS.page(
            project_id, limit=limit, start_key=start_key
        )
    return access.PROJECT_DEPLOYMENT_PERMISSIONS.page(
        project_id,
        limit=limit,
        start_key=start_key,
        filter_expression="env_id = :env",
        values={":env": env_id},
    )


def permission_put(permission: dict[str, Any]) -> dict[str, Any]:
    item = {
        **keys.deployment_permission(permission["project_id"], permission["id"]),
        "entity": "deployment_permission",
        **permission,
    }
    return table.tx_put(item, "attribute_not_exists(PK)")


def permission_delete(permission: dict[str, Any]) -> dict[str, Any]:
    return table.tx_delete(
        keys.deployment_permission(permission["project_id"], permission["id"]),
        "attribute_exists(PK)",
    )


# --- what the agents report ------------------------------------------------------------------


def page_k8s(
    project_id: str,
    limit: int,
    start_key: dict[str, Any] | None,
    deployment_id: str | None = None,
) -> access.Page:
    if deployment_id is None:
        return access.PROJECT_K8S_RESOURCES.page(project_id, limit=limit, start_key=start_key)
    return access.PROJECT_K8S_RESOURCES.page(
        project_id,
        limit=limit,
        start_key=start_key,
        filter_expression="deployment_id = :d",
        values={":d": deployment_id},
    )


def get_k8s(project_id: str, resource_id: str) -> dict[str, Any] | None:
    return table.get(keys.k8s_resource(project_id, resource_id), consistent=False)


def replace_k8s(project_id: str, deployment_id: str, items: list[dict[str, Any]]) -> None:
    """The deployment's resources become `items`: the others it had are deleted."""
    old, key = [], None
    while True:
        page, key = page_k8s(project_id, 100, key, deployment_id)
        old.extend(page)
        if not key:
            break
    keep = {i["id"] for i in items}
    ops = [
        table.tx_put({**keys.k8s_resource(project_id, i["id"]), "entity": "k8s", **i})
        for i in items
    ]
    ops += [
        table.tx_delete(keys.k8s_resource(project_id, o["id"])) for o in old if o["id"] not in keep
    ]
    for start in range(0, len(ops), 25):
        table.transact(ops[start : start + 25])


def set_reported_status(project_id: str, deployment_id: str, reported: dict[str, Any]) -> None:
    table.update(
        keys.deployment(project_id, deployment_id),
        "SET reported_status = :r",
        condition="attribute_exists(PK)",
        values={":r": reported},
        on_condition=lambda: Conflict("the deployment no longer exists"),
    )
