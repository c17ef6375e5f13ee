"""Deployments of helm charts in a project's environments, and the tasks that change them.

Every change makes its task in the same transaction: create or enable -> Install; chart,
config or values -> Upgrade (with `config_delta`); disable -> Uninstall; DELETE ->
Uninstall, then the record goes. A task carries a snapshot of what it applies (the agent
never reads the deployment's current values). A deployment runs one task at a time, its
due tasks by (execute_at, created_at): `dispatch` takes the deployment's slot for the next
one and starts its RunDeploymentTask execution (named after the task, so starting it
twice runs it once); the execution's last step gives the slot back and dispatches again.
A task whose execute_at is in the future waits for the scheduler (tenantry.domain.tasks).

Who: the environment's Admins, the project's owner and admins and platform admins create,
change and delete deployments and their tasks; members read them. Bots are held to the
same rules (a bot with Admin on the environment may, others may not).
"""

from __future__ import annotations

import uuid
from typing import Any

from tenantry import workflows
from tenantry.clock import new_id, now_iso
from tenantry.dal import catalog, history, keys
from tenantry.dal import clusters as cluster_store
from tenantry.dal import deployments as store
from tenantry.dal import namespaces as ns_store
from tenantry.dal import operations as op_store
from tenantry.domain import values_ui
from tenantry.domain.deployment_access import (
    OWNER_ONLY,
    OWNER_OR_MAINTAINER,
    SEQUENCE_ATTEMPTS,
    WRITERS,
    commit,
    deployment_or_404,
    deployment_or_404_for,
    permission_id,
    reread_project,
    visible,
    writer,
)
from tenantry.domain.environment_access import Scope, changing, scope
from tenantry.domain.project_access import actor, check_version
from tenantry.errors import Conflict, Forbidden, NotFound, Unprocessable
from tenantry.models.deployments import (
    Deployment,
    DeploymentCreate,
    DeploymentPatch,
    DeploymentPermission,
    DeploymentPermissionCreate,
    DeploymentTask,
    K8sResource,
    TaskCreate,
)
from tenantry.models.principal import Principal
from tenantry.observability import logger

# What a deployment's status is while a task of each operation runs.
WORKING = {
    "Install": "Installing",
    "Upgrade": "Upgrading",
    "Reinstall": "Upgrading",
    "Recreate": "Renaming",
    "Uninstall": "Uninstalling",
}


def to_model(item: dict[str, Any]) -> Deployment:
    return Deployment.model_validate(store.strip(item))


def task_model(item: dict[str, Any]) -> DeploymentTask:
    return DeploymentTask.model_validate(store.strip(item))


# --- reads --------------------------------------------------------------------------------------


def list_deployments(
    principal: Principal, project_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Deployment], dict[str, Any] | None]:
    visible(principal, project_id)
    items, last = store.page(project_id, limit, start_key)
    return [to_model(i) for i in items], last


def get(principal: Principal, project_id: str, deployment_id: str) -> Deployment:
    visible(principal, project_id)
    return to_model(deployment_or_404(project_id, deployment_id))


def list_tasks(
    principal: Principal, project_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[DeploymentTask], dict[str, Any] | None]:
    visible(principal, project_id)
    items, last = store.page_tasks(project_id, limit, start_key)
    return [task_model(i) for i in items], last


def get_task(principal: Principal, project_id: str, task_id: str) -> DeploymentTask:
    visible(principal, project_id)
    task = store.get_task(project_id, task_id)
    if task is None:
        raise NotFound("task not found")
    return task_model(task)


# --- writers ------------------------------------------------------------------------------------


def _chart(chart_id: str, kind_id: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    chart, registry, kind = catalog.chart_with_registry_and_kind(chart_id)
    loc = ["body", "helm_chart_id"]
    if chart is None or registry is None or kind is None:
        raise Unprocessable("no such chart", errors=[{"loc": loc, "msg": "no such chart"}])
    if not chart.get("available", False):
        raise Unprocessable(
            "the chart is not available", errors=[{"loc": loc, "msg": "unavailable"}]
        )
    if kind["id"] != kind_id:
        raise Unprocessable(
            "the chart is not of the deployment's kind",
            errors=[{"loc": loc, "msg": f"a chart of kind {kind['name']!r}"}],
        )
    return chart, registry, kind


def _cluster(project: dict[str, Any], cluster_id: str) -> dict[str, Any]:
    """A cluster of the project's with its namespace Created (422 otherwise)."""
    cluster = cluster_store.get(cluster_id, consistent=False)
    named = cluster is not None and any(
        c.get("name") == cluster["name"] for c in project.get("clusters", [])
    )
    record = ns_store.get(project["id"], cluster["name"]) if named and cluster else None
    if cluster is None or not named or record is None or record["status"] != "Created":
        raise Unprocessable(
            "deploy to one of the project's clusters, where its namespace is Created",
            errors=[{"loc": ["body", "cluster_id"], "msg": "not a ready cluster of the project"}],
        )
    return cluster


def snapshot(
    deployment: dict[str, Any],
    env: dict[str, Any],
    kind: dict[str, Any],
    chart: dict[str, Any],
    registry: dict[str, Any],
) -> dict[str, Any]:
    """What a task applies, as it is when the task is made (docs/api.md, "Deployment
    work items")."""
    return {
        "deployment": {
            "id": deployment["id"],
            "name": deployment["name"],
            "kind": kind["name"],
            "env_id": env["id"],
            "env_name": env["name"],
            "config": deployment["config"],
            "values_override": deployment.get("values_override"),
            "node_selector": env.get("node_selector") or {},
            "tolerations": env.get("tolerations") or [],
        },
        "release_name": deployment["release_name"],
        "namespace": deployment["namespace"],
        "cluster_id": deployment["cluster_id"],
        "helm_chart": {
            "id": chart["id"],
            "registry": registry["domain_name"],
            "repository": registry["repo_name"],
            "ref": f"oci://{registry['domain_name']}/{registry['repo_name']}",
            "tag": chart["image_tag"],
            "digest": chart["image_digest"],
            "actions": (chart.get("actions_schema") or {}).get("actions", []),
        },
    }


def new_task(
    principal: Principal | None,
    deployment: dict[str, Any],
    operation: dict[str, Any],
    applies: dict[str, Any],
    now: str,
    execute_at: str | None = None,
) -> dict[str, Any]:
    task: dict[str, Any] = {
        "id": new_id(),
        "project_id": deployment["project_id"],
        "deployment_id": deployment["id"],
        "cluster_id": deployment["cluster_id"],
        "created_at": now,
        "execute_at": execute_at or now,
        "operation": operation,
        "status": "Pending",
        "snapshot": applies,
    }
    if principal is not None:
        task[f"acting_{principal.kind}_id"] = principal.id
    return task


def create(principal: Principal, project_id: str, body: DeploymentCreate) -> Deployment:
    s = writer(principal, project_id, body.env_id, body.kind_id, OWNER_ONLY)
    chart, registry, kind = _chart(body.helm_chart_id, body.kind_id)
    cluster = _cluster(s.project, body.cluster_id)
    errors = values_ui.problems(chart.get("values_ui"), body.config)
    if errors:
        raise Unprocessable("config does not satisfy the chart's values UI", errors=errors)
    now = now_iso()
    release = kind["name"].lower() + (f"-{body.name}" if body.name else "")
    deployment: dict[str, Any] = {
        "id": new_id(),
        "project_id": project_id,
        "env_id": body.env_id,
        "created_at": now,
        "updated_at": now,
        "name": body.name or "",
        "kind_id": kind["id"],
        "cluster_id": cluster["id"],
        "namespace": project_id,
        "release_name": release,
        "enabled": True,
        "status": "Installing",
        "helm_chart_id": chart["id"],
        "config": body.config,
        "values_override": body.values_override,
        "description_md": body.description_md,
        "version": 1,
    }
    deployment = {k: v for k, v in deployment.items() if v is not None}
    operation = {
        "Install": {
            "helm_chart_id": chart["id"],
            "config": body.config,
            "values_override": body.values_override,
        }
    }
    task = new_task(
        principal, deployment, operation, snapshot(deployment, s.env, kind, chart, registry), now
    )
    entry = history.entry(
        project_id,
        actor(principal),
        "deployment_created",
        at=now,
        detail={"deployment_id": deployment["id"], "release_name": release, "task_id": task["id"]},
    )
    ops = [
        store.deployment_put(deployment),
        store.ref_put(deployment),
        store.release_guard(project_id, cluster["id"], release, deployment["id"]),
        store.env_count(project_id, body.env_id, 1),
        store.task_put(task),
    ]
    try:
        commit(s, ops, entry)
    except Conflict as exc:
        if _release_taken(project_id, cluster["id"], release):
            raise Conflict(
                f"release {release!r} already exists on that cluster in this project; "
                "give the deployment another name"
            ) from exc
        raise
    started = dispatch(project_id, deployment["id"], deployment=deployment)
    # As written (one read less): the slot its Install took is the only change since.
    return to_model({**deployment, **({"current_task_id": started} if started else {})})


def _release_taken(project_id: str, cluster_id: str, release: str) -> bool:
    from tenantry.dal import keys, table

    return table.get(keys.release(project_id, cluster_id, release)) is not None


def _changing(
    principal: Principal,
    project_id: str,
    deployment_id: str,
    expected: int | None,
    roles: tuple[str, ...] = OWNER_OR_MAINTAINER,
) -> tuple[Scope, dict[str, Any]]:
    deployment = deployment_or_404_for(principal, project_id, deployment_id)
    s = writer(principal, project_id, deployment["env_id"], deployment["kind_id"], roles)
    check_version(deployment, expected, "deployment")
    return s, deployment


def patch(
    principal: Principal,
    project_id: str,
    deployment_id: str,
    body: DeploymentPatch,
    expected: int | None,
) -> Deployment:
    s, deployment = _changing(principal, project_id, deployment_id, expected)
    sent = body.model_dump(exclude_unset=True)
    now = now_iso()
    changes: dict[str, Any] = {"updated_at": now}
    remove: tuple[str, ...] = ()
    if "description_md" in sent:
        changes["description_md"] = sent["description_md"]
    after = {**deployment}
    for field in ("helm_chart_id", "config"):
        if field in sent:
            after[field] = sent[field]
    if "values_override" in sent:
        after["values_override"] = sent["values_override"]
    enabled = sent.get("enabled", deployment["enabled"])
    chart, registry, kind = _chart(after["helm_chart_id"], deployment["kind_id"])
    values_changed = any(
        after.get(f) != deployment.get(f) for f in ("helm_chart_id", "config", "values_override")
    )
    if values_changed:
        errors = values_ui.problems(chart.get("values_ui"), after["config"])
        if errors:
            raise Unprocessable("config does not satisfy the chart's values UI", errors=errors)
        changes.update({f: after[f] for f in ("helm_chart_id", "config") if f in sent})
        if "values_override" in sent:
            if sent["values_override"] is None:
                remove = ("values_override",)
            else:
                changes["values_override"] = sent["values_override"]
    moved = _moved(s, deployment, sent, kind)
    if moved:
        if enabled != deployment["enabled"]:
            raise Unprocessable(
                "change the name or cluster and enable or disable in separate requests",
                errors=[{"loc": ["body", "enabled"], "msg": "not with a name or cluster change"}],
            )
        _nothing_to_run(deployment)
        _no_resources(deployment, "moving it")
        after.update(moved)
        changes.update(moved)
    operation: dict[str, Any] | None = None
    if enabled != deployment["enabled"]:
        changes["enabled"] = enabled
        operation = (
            {
                "Install": {
                    "helm_chart_id": after["helm_chart_id"],
                    "config": after["config"],
                    "values_override": after.get("values_override"),
                }
            }
            if enabled
            else {"Uninstall": {}}
        )
    elif moved and enabled:
        operation = {
            "Recreate": {
                "old_cluster_id": deployment["cluster_id"],
                "new_cluster_id": after["cluster_id"],
            }
        }
    elif values_changed and enabled:
        operation = {
            "Upgrade": {
                "helm_chart_id": after["helm_chart_id"],
                "prev_helm_chart_id": deployment["helm_chart_id"],
                "config_delta": values_ui.delta(deployment["config"], after["config"]),
                "values_override": after.get("values_override"),
            }
        }
    ops: list[dict[str, Any]] = []
    task = None
    if operation is not None:
        (op_name,) = operation
        changes["status"] = WORKING[op_name]
        applies = snapshot(after, s.env, kind, chart, registry)
        if op_name == "Recreate":  # where its first step uninstalls the release
            applies["previous"] = {
                "cluster_id": deployment["cluster_id"],
                "release_name": deployment["release_name"],
            }
        task = new_task(principal, after, operation, applies, now)
        ops.append(store.task_put(task))
    if moved:
        ops += [
            store.release_guard(
                project_id, after["cluster_id"], after["release_name"], deployment_id
            ),
            store.ref_moved(deployment_id, after["cluster_id"]),
        ]
        if task is None:  # nothing installed to move: the old name is free at once
            ops.append(
                store.release_free(project_id, deployment["cluster_id"], deployment["release_name"])
            )
    ops.insert(0, store.deployment_update(deployment, changes, remove, **_resourceless(moved)))
    entry = history.entry(
        project_id,
        actor(principal),
        "deployment_updated",
        at=now,
        detail={
            "deployment_id": deployment_id,
            "fields": sorted(sent),
            **({"task_id": task["id"], "operation": next(iter(task["operation"]))} if task else {}),
        },
    )
    try:
        commit(s, ops, entry)
    except Conflict as exc:
        if moved and _release_taken(project_id, after["cluster_id"], after["release_name"]):
            raise Conflict(
                f"release {after['release_name']!r} already exists on that cluster in this "
                "project; give the deployment another name"
            ) from exc
        raise
    if task is not None:
        dispatch(project_id, deployment_id)
    return to_model(deployment_or_404(project_id, deployment_id))


def _moved(
    s: Scope, deployment: dict[str, Any], sent: dict[str, Any], kind: dict[str, Any]
) -> dict[str, Any]:
    """The deployment's new name, cluster and release name, if the change moves it."""
    name = sent.get("name", deployment["name"])
    cluster_id = sent.get("cluster_id", deployment["cluster_id"])
    if name == deployment["name"] and cluster_id == deployment["cluster_id"]:
        return {}
    if cluster_id != deployment["cluster_id"]:
        cluster_id = _cluster(s.project, cluster_id)["id"]
    release = kind["name"].lower() + (f"-{name}" if name else "")
    return {"name": name, "cluster_id": cluster_id, "release_name": release}


def _no_resources(deployment: dict[str, Any], doing: str) -> None:
    """A deployment with deployment resources (tenantry.domain.resources counts them on it)
    is neither deleted nor moved: their objects live in its release's namespace on its
    cluster, and would stay behind (409)."""
    count = int(deployment.get("resource_count", 0))
    if count > 0:
        raise Conflict(
            f"the deployment has {count} deployment resource{'s' if count > 1 else ''}; "
            f"delete them before {doing}"
        )


def _resourceless(needed: Any) -> dict[str, Any]:
    """The condition, in the deployment's update, that no resource was created meanwhile."""
    if not needed:
        return {}
    return {
        "condition": "attribute_not_exists(resource_count) OR resource_count = :none",
        "values": {":none": 0},
    }


def _nothing_to_run(deployment: dict[str, Any]) -> None:
    """A deployment moves only once its tasks are done: a queued task applies to where it
    was (409 otherwise)."""
    if deployment.get("current_task_id") or store.pending_of(deployment["id"]):
        raise Conflict(
            "the deployment has tasks to run: change its name or cluster once they are done "
            "(or canceled)"
        )


def delete(
    principal: Principal, project_id: str, deployment_id: str, expected: int | None
) -> Deployment:
    """Uninstall, then the record goes (its tasks and history stay): 202 with the
    deployment `Deleting`."""
    s, deployment = _changing(principal, project_id, deployment_id, expected, OWNER_ONLY)
    if deployment["status"] == "Deleting":
        return to_model(deployment)
    _no_resources(deployment, "deleting it")
    now = now_iso()
    chart, registry, kind = _chart_any(deployment)
    task = new_task(
        principal,
        deployment,
        {"Uninstall": {}},
        snapshot(deployment, s.env, kind, chart, registry),
        now,
    )
    task["delete_deployment"] = True
    ops = [
        store.deployment_update(
            deployment, {"status": "Deleting", "updated_at": now}, **_resourceless(True)
        ),
        store.task_put(task),
    ]
    entry = history.entry(
        project_id,
        actor(principal),
        "deployment_delete_requested",
        at=now,
        detail={"deployment_id": deployment_id, "task_id": task["id"]},
    )
    commit(s, ops, entry)
    dispatch(project_id, deployment_id)
    return to_model(deployment_or_404(project_id, deployment_id))


def _chart_any(deployment: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The deployment's chart, registry and kind, available or not (an uninstall needs
    only the release; the snapshot still names the chart)."""
    chart, registry, kind = catalog.chart_with_registry_and_kind(deployment["helm_chart_id"])
    if chart is None or registry is None or kind is None:
        raise Conflict("the deployment's chart is no longer in the catalog")
    return chart, registry, kind


# --- tasks by API ---------------------------------------------------------------------------


def create_task(principal: Principal, project_id: str, body: TaskCreate) -> DeploymentTask:
    deployment = deployment_or_404_for(principal, project_id, body.deployment_id)
    s = writer(
        principal, project_id, deployment["env_id"], deployment["kind_id"], OWNER_OR_MAINTAINER
    )
    chart, registry, kind = _chart_any(deployment)
    now = now_iso()
    if body.operation.InvokeAction is not None:
        action = body.operation.InvokeAction
        declared = {a.get("id"): a for a in (chart.get("actions_schema") or {}).get("actions", [])}
        if action.action_id not in declared:
            raise Unprocessable(
                "the chart declares no such action",
                errors=[
                    {
                        "loc": ["body", "operation", "InvokeAction", "action_id"],
                        "msg": "unknown action",
                    }
                ],
            )
        allowed = declared[action.action_id].get("allowed_on_statuses")
        if allowed and deployment["status"] not in allowed:
            raise Conflict(
                f"action {action.action_id!r} may run only while the deployment is "
                + ", ".join(allowed)
            )
        operation = {
            "InvokeAction": {
                "helm_chart_id": chart["id"],
                "action_id": action.action_id,
                "body": action.body,
            }
        }
    else:
        restart = body.operation.RestartK8sResource
        assert restart is not None
        operation = {"RestartK8sResource": _restartable(deployment, restart.resource_id)}
    execute_at = _normalized(body.execute_at) if body.execute_at else None
    task = new_task(
        principal,
        deployment,
        operation,
        snapshot(deployment, s.env, kind, chart, registry),
        now,
        execute_at if execute_at and execute_at > now else None,
    )
    entry = history.entry(
        project_id,
        actor(principal),
        "task_created",
        at=now,
        detail={
            "deployment_id": deployment["id"],
            "task_id": task["id"],
            "operation": next(iter(operation)),
            "execute_at": task["execute_at"],
        },
    )
    commit(s, [store.task_put(task)], entry)
    if task["execute_at"] <= now:
        dispatch(project_id, deployment["id"])
    return task_model(store.get_task(project_id, task["id"]) or task)


def _normalized(moment: str) -> str:
    """A UTC timestamp in the table's one format (microseconds), so times compare as text."""
    from datetime import datetime

    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in moment else "%Y-%m-%dT%H:%M:%SZ"
    try:
        return datetime.strptime(moment, fmt).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError as exc:  # the pattern admits month 13, hour 25, Feb 30
        raise Unprocessable(
            "execute_at is not a date and time",
            errors=[{"loc": ["body", "execute_at"], "msg": "no such date or time"}],
        ) from exc


def _restartable(deployment: dict[str, Any], resource_id: str) -> dict[str, Any]:
    """A Deployment or StatefulSet the cluster's agent reported for this deployment."""
    from tenantry.dal import keys, table

    resource = table.get(keys.k8s_resource(deployment["project_id"], resource_id), consistent=False)
    if (
        resource is None
        or resource.get("deployment_id") != deployment["id"]
        or resource.get("kind") not in ("Deployment", "StatefulSet")
    ):
        raise Unprocessable(
            "restart a Deployment or StatefulSet the cluster reported for this deployment",
            errors=[
                {
                    "loc": ["body", "operation", "RestartK8sResource", "resource_id"],
                    "msg": "no such resource of this deployment",
                }
            ],
        )
    return {"resource_id": resource_id, "kind": resource["kind"], "name": resource["name"]}


def cancel(
    principal: Principal, project_id: str, task_id: str, reason: str | None
) -> DeploymentTask:
    """Only while Pending, by its creator, the environment's Admins, the project's owner
    and admins or platform admins (409 after)."""
    visible(principal, project_id)
    task = store.get_task(project_id, task_id)
    if task is None:
        raise NotFound("task not found")
    deployment = store.get(project_id, task["deployment_id"])
    creator = task.get(f"acting_{principal.kind}_id") == principal.id
    if not creator:
        if deployment is None:
            raise Forbidden(WRITERS)
        s = scope(principal, project_id, deployment["env_id"])
        s.require(s.env_admin, "only the task's creator, " + WRITERS[5:])
    if task["status"] != "Pending":
        raise Conflict(f"the task is {task['status']}; only a Pending task can be canceled")
    now = now_iso()
    changes = {
        "status": "Canceled",
        "finished_at": now,
        f"canceled_by_{principal.kind}_id": principal.id,
    }
    if reason:
        changes["reason"] = reason
    entry = history.entry(
        project_id,
        actor(principal),
        "task_canceled",
        at=now,
        detail={
            "task_id": task_id,
            "deployment_id": task["deployment_id"],
            **({"reason": reason} if reason else {}),
        },
    )
    try:
        op_store.commit(
            [
                store.task_update(task, changes, from_status=("Pending",), leave_queue=True),
                entry,
                op_store.not_deleted_check(project_id),
            ],
            project_id,
            history.sequence_of(reread_project(project_id)),
        )
    except (Conflict, history.Sequenced) as exc:
        again = store.get_task(project_id, task_id) or {}
        if again.get("status") != "Pending":
            raise Conflict(
                f"the task is {again.get('status')}; only a Pending task can be canceled"
            ) from exc
        raise Conflict("the project changed meanwhile; retry") from exc
    return task_model(store.get_task(project_id, task_id) or {**task, **changes})


# --- reinstalls -------------------------------------------------------------------------------


def reinstall_env(
    project_id: str, env_id: str, reason: str, env: dict[str, Any] | None = None
) -> list[str]:
    """A Reinstall task for each enabled deployment of the environment (its secrets, node
    selector or tolerations changed: the releases must be rendered again). Called after the
    change commits, with the environment as committed when the caller has it (else it is
    read); each deployment's task is its own transaction. Returns the tasks."""
    from tenantry.dal import environments as env_store

    if env is None:
        env = env_store.get(project_id, env_id)
    if env is None:
        return []
    made = []
    key = None
    while True:
        items, key = store.page(project_id, 100, key)
        for deployment in items:
            if deployment["env_id"] != env_id or not deployment.get("enabled"):
                continue
            if deployment["status"] in ("Deleting", "Uninstalled"):
                continue
            try:
                made.append(_reinstall(deployment, env, reason))
            except Conflict:  # it changed meanwhile: its own next task renders the new env
                logger.info("reinstall skipped", extra={"deployment_id": deployment["id"]})
        if not key:
            break
    return made


def _reinstall(deployment: dict[str, Any], env: dict[str, Any], reason: str) -> str:
    project_id = deployment["project_id"]
    chart, registry, kind = _chart_any(deployment)
    now = now_iso()
    task = new_task(
        None,
        deployment,
        {"Reinstall": {"reason": reason}},
        snapshot(deployment, env, kind, chart, registry),
        now,
    )
    entry = history.entry(
        project_id,
        "system:tenantry",
        "task_created",
        at=now,
        detail={
            "deployment_id": deployment["id"],
            "task_id": task["id"],
            "operation": "Reinstall",
            "reason": reason,
        },
    )
    ops = [
        store.deployment_update(deployment, {"status": "Upgrading", "updated_at": now}),
        store.task_put(task),
    ]
    for _ in range(SEQUENCE_ATTEMPTS):
        try:
            op_store.commit(
                [*ops, entry, op_store.not_deleted_check(project_id)],
                project_id,
                history.sequence_of(reread_project(project_id)),
            )
            break
        except history.Sequenced:
            continue
    dispatch(project_id, deployment["id"], deployment=deployment)
    return str(task["id"])


# --- running tasks ---------------------------------------------------------------------------


def dispatch(
    project_id: str,
    deployment_id: str,
    now: str | None = None,
    deployment: dict[str, Any] | None = None,
) -> str | None:
    """Start the deployment's next due task if it runs none: take its slot (a conditional
    write), then start the task's execution (named after it). A lost start is started
    again by the scheduler. Returns the task started, if any. `deployment`: as the caller
    just wrote it (its slot is checked by the conditional write anyway)."""
    deployment = deployment or store.get(project_id, deployment_id)
    if deployment is None:
        return None
    task = store.next_due(deployment_id, now or now_iso())
    if task is None:
        return None
    running = deployment.get("current_task_id")
    if running and running != task["id"]:
        return None  # its finishing step dispatches the next
    try:
        store.take_slot(deployment, task["id"])
    except Conflict:
        return None
    try:
        workflows.start_task(task["id"], project_id)
    except Exception:  # the scheduler starts it again
        logger.exception("could not start the task's execution", extra={"task_id": task["id"]})
    return str(task["id"])


PROJECT_DELETED = "the project is being deleted"


def remove_with_project(project_id: str) -> dict[str, int]:
    """The project is being deleted: its deployments' Pending tasks and their resources'
    open syncs are canceled and the deployments go, with their release names, deployment
    permissions, deployment resources and reported k8s resources (tasks and history stay,
    as for a deleted deployment). Their releases go
    with the namespaces when the deletion reclaims, and keep running in the retained
    namespaces otherwise. A task already Started finishes on its own. Safe to run again."""
    from tenantry.dal import projects as project_store
    from tenantry.domain import resources

    syncs = resources.abandon_syncs(project_id, PROJECT_DELETED)
    canceled = 0
    refs: list[dict[str, str]] = []
    key = None
    while True:
        items, key = store.page(project_id, 100, key)
        for deployment in items:
            refs.append(keys.deployment_ref(deployment["id"]))
            for task in store.pending_of(deployment["id"]):
                canceled += cancel_quietly(task, PROJECT_DELETED)
        if not key:
            break
    owned = store.owned_keys(project_id)
    project_store.delete_items(owned + refs)
    return {
        "deployments": len(refs),
        "tasks_canceled": canceled,
        "resource_syncs_canceled": syncs,
        "items_removed": len(owned),
    }


def cancel_quietly(task: dict[str, Any], reason: str) -> int:
    """Cancel a Pending task by the platform (no caller, no history entry): 1, or 0 if it
    started or was canceled meanwhile."""
    changes = {"status": "Canceled", "finished_at": now_iso(), "reason": reason}
    try:
        op_store.commit(
            [store.task_update(task, changes, from_status=("Pending",), leave_queue=True)]
        )
    except Conflict:
        return 0  # it started or was canceled meanwhile
    return 1


def work_id(task_id: str, step: str | None = None) -> str:
    """The work item of a task (of a Recreate's `uninstall` step: its own)."""
    return str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"tenantry:task/{task_id}" + (f"/{step}" if step else ""))
    )


# --- deployment permissions -------------------------------------------------------------------


def _permission_model(item: dict[str, Any]) -> DeploymentPermission:
    return DeploymentPermission.model_validate(store.strip(item))


def list_permissions(
    principal: Principal,
    project_id: str,
    env_id: str | None,
    limit: int,
    start_key: dict[str, Any] | None,
) -> tuple[list[DeploymentPermission], dict[str, Any] | None]:
    visible(principal, project_id)
    items, last = store.page_permissions(project_id, limit, start_key, env_id)
    return [_permission_model(i) for i in items], last


def get_permission(
    principal: Principal, project_id: str, permission_id_: str
) -> DeploymentPermission:
    visible(principal, project_id)
    found = store.get_permission(project_id, permission_id_)
    if found is None:
        raise NotFound("deployment permission not found")
    return _permission_model(found)


def grant(
    principal: Principal, project_id: str, body: DeploymentPermissionCreate
) -> DeploymentPermission:
    """By the environment's Admins, the project's owner and admins, platform admins: a
    current member of the project, or a bot, gets a role on one kind in one environment."""
    s = changing(principal, project_id, body.env_id, "env_admin")
    if catalog.get_kind(body.kind_id) is None:
        raise Unprocessable(
            "no such deployment kind", errors=[{"loc": ["body", "kind_id"], "msg": "no such kind"}]
        )
    kind, who = ("user", body.user_id) if body.user_id else ("bot", body.bot_id)
    assert who is not None
    _require_principal(project_id, kind, who)
    now = now_iso()
    permission = {
        "id": permission_id(body.env_id, body.kind_id, kind, who),
        "project_id": project_id,
        "env_id": body.env_id,
        "kind_id": body.kind_id,
        f"{kind}_id": who,
        "role": body.role,
        "created_at": now,
    }
    entry = history.entry(
        project_id,
        actor(principal),
        "deployment_permission_granted",
        at=now,
        detail={
            "permission_id": permission["id"],
            "env_id": body.env_id,
            "kind_id": body.kind_id,
            f"{kind}_id": who,
            "role": body.role,
        },
    )
    try:
        commit(s, [store.permission_put(permission)], entry)
    except Conflict as exc:
        if store.get_permission(project_id, permission["id"]) is not None:
            raise Conflict(
                f"this {kind} already has a role on that kind in that environment; revoke it first"
            ) from exc
        raise
    return _permission_model(permission)


def _require_principal(project_id: str, kind: str, who: str) -> None:
    from tenantry.dal import identity, memberships

    if kind == "user":
        member = memberships.get(project_id, who)
        ok = bool(member and member.get("state") in ("accepted", "leave_requested"))
    else:
        ok = identity.get_bot(who) is not None
    if not ok:
        raise Unprocessable(
            f"no such {'current member of the project' if kind == 'user' else 'bot'}",
            errors=[{"loc": ["body", f"{kind}_id"], "msg": "not found"}],
        )


def revoke(principal: Principal, project_id: str, permission_id_: str) -> None:
    visible(principal, project_id)
    found = store.get_permission(project_id, permission_id_)
    if found is None:
        raise NotFound("deployment permission not found")
    s = changing(principal, project_id, found["env_id"], "env_admin")
    entry = history.entry(
        project_id,
        actor(principal),
        "deployment_permission_revoked",
        detail={"permission_id": permission_id_, "env_id": found["env_id"], "role": found["role"]},
    )
    commit(s, [store.permission_delete(found)], entry)


# --- what the agents reported (tenantry.domain.agent_reports records it) -------------------------


def list_k8s_resources(
    principal: Principal,
    project_id: str,
    deployment_id: str | None,
    limit: int,
    start_key: dict[str, Any] | None,
) -> tuple[list[K8sResource], dict[str, Any] | None]:
    visible(principal, project_id)
    items, last = store.page_k8s(project_id, limit, start_key, deployment_id)
    return [K8sResource.model_validate(store.strip(i)) for i in items], last


def get_k8s_resource(principal: Principal, project_id: str, resource_id: str) -> K8sResource:
    visible(principal, project_id)
    found = store.get_k8s(project_id, resource_id)
    if found is None:
        raise NotFound("k8s resource not found")
    return K8sResource.model_validate(store.strip(found))
