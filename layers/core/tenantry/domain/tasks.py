"""Running deployment tasks: the steps of the RunDeploymentTask state machine and the
scheduler.

StartTask marks the task Started and the deployment working (Installing, Upgrading, ...);
AskAgent queues the task's DeploymentTask work item for the cluster's agent and waits on
its task token (tenantry.domain.work); FinishTask records Done or Failed with the agent's
reason (or the wait's: it timed out), sets the deployment's status (posting Tenantry's
`deployment` notification when it goes to Error, clearing it when a task succeeds:
tenantry.domain.notices, in the same transaction), gives its slot back and dispatches its
next due task; an Install, Upgrade or Reinstall that succeeded upserts its chart's
deployment resource types in the same transaction (tenantry.domain.resources).
A task canceled before it started ends in FinishTask
too, which only gives the slot back. The scheduler (every minute) starts due tasks whose
deployment runs nothing, and starts again a task whose execution start was lost; the
slot's conditional write and the execution's name (the task id) make two overlapping
runs start a task once.
"""

from __future__ import annotations

from typing import Any

from tenantry import workflows
from tenantry.clock import now_iso
from tenantry.dal import deployments as store
from tenantry.dal import history
from tenantry.dal import operations as op_store
from tenantry.domain import deployments, notices
from tenantry.errors import Conflict
from tenantry.observability import logger
from tenantry.settings import get_settings

ACTOR = "system:workflow"
ATTEMPTS = 5
HELM_OPERATIONS = ("Install", "Upgrade", "Reinstall", "Recreate", "Uninstall")
# After these succeed, the chart's deployment resource types are upserted (API.md).
TYPES_FROM = ("Install", "Upgrade", "Reinstall")


class TaskNotRunnable(Exception):
    """The task was canceled, finished or is gone: nothing to run (not retried)."""


def _operation(task: dict[str, Any]) -> str:
    return str(next(iter(task["operation"])))


def _commit(
    project_id: str,
    ops: list[dict[str, Any]],
    entry: dict[str, Any],
    *,
    after_deletion: bool = False,
) -> None:
    """`ops` with their history entry. `after_deletion`: a project deleted meanwhile has
    closed its history, so the ops go alone (a run that ends after its project)."""
    from tenantry.dal import projects

    for _ in range(ATTEMPTS):
        project = projects.get(project_id)
        if after_deletion and (project is None or project.get("status") == "deleted"):
            op_store.commit(ops)
            return
        after = history.sequence_of(project)
        try:
            op_store.commit(
                [*ops, entry, op_store.not_deleted_check(project_id)], project_id, after
            )
            return
        except history.Sequenced:
            continue
    raise Conflict("the project's history kept moving; the step is retried")


# --- StartTask --------------------------------------------------------------------------------


def start(project_id: str, task_id: str) -> dict[str, Any]:
    task = store.get_task(project_id, task_id)
    if task is None:
        raise TaskNotRunnable(f"task {task_id} does not exist")
    if task["status"] == "Started":
        return {"status": "Started", "operation": _operation(task)}  # a retried step
    if task["status"] != "Pending":
        raise TaskNotRunnable(f"the task is {task['status']}")
    deployment = store.get(project_id, task["deployment_id"])
    if deployment is None or deployment.get("current_task_id") != task_id:
        raise TaskNotRunnable("the deployment does not run this task")
    now = now_iso()
    operation = _operation(task)
    ops = [
        store.task_update(
            task,
            {
                "status": "Started",
                "started_at": now,
                "first_attempted_at": task.get("first_attempted_at") or now,
            },
            from_status=("Pending",),
            started=True,
        )
    ]
    working = "Deleting" if task.get("delete_deployment") else deployments.WORKING.get(operation)
    if working and deployment["status"] != working:
        ops.append(store.deployment_update(deployment, {"status": working, "updated_at": now}))
    entry = history.entry(
        project_id,
        ACTOR,
        "task_started",
        at=now,
        detail={"task_id": task_id, "deployment_id": deployment["id"], "operation": operation},
    )
    try:
        _commit(project_id, ops, entry)
    except Conflict:
        again = store.get_task(project_id, task_id) or {}
        if again.get("status") == "Started":
            return {"status": "Started", "operation": operation}
        if again.get("status") != "Pending":
            raise TaskNotRunnable(f"the task is {again.get('status')}") from None
        raise
    return {"status": "Started", "operation": operation}


# --- AskAgent ---------------------------------------------------------------------------------


def request_work(
    project_id: str, task_id: str, task_token: str, step: str | None = None
) -> dict[str, Any]:
    """Queue the task's DeploymentTask work item (its snapshot; secrets are added, decrypted,
    only when the agent claims it) for the cluster's agent. A Recreate has two: its
    `uninstall` step where the release was (its own item), then its `install` step."""
    from tenantry.domain import work

    task = store.get_task(project_id, task_id)
    if task is None or task["status"] != "Started":
        raise TaskNotRunnable(f"the task is {(task or {}).get('status', 'gone')}")
    snap = task["snapshot"]
    operation = task["operation"]
    cluster_id, release = task["cluster_id"], snap["release_name"]
    item_id = deployments.work_id(task_id)
    if "Recreate" in operation:
        step = step or "install"
        operation = {"Recreate": {**operation["Recreate"], "step": step}}
        if step == "uninstall":
            cluster_id = snap["previous"]["cluster_id"]
            release = snap["previous"]["release_name"]
            item_id = deployments.work_id(task_id, step)
    item = {
        "id": item_id,
        "kind": "DeploymentTask",
        "cluster_id": cluster_id,
        "project_id": project_id,
        "env_id": snap["deployment"]["env_id"],
        "namespace": snap["namespace"],
        "release_name": release,
        "task": {"id": task_id, "operation": operation},
        "deployment": snap["deployment"],
        "helm_chart": snap["helm_chart"],
    }
    return work.enqueue(item, task_token)


def _step_work_id(task: dict[str, Any]) -> str:
    """The work item the run waited on last: a Recreate's uninstall step's until it is
    Done, then the task's own."""
    if "Recreate" in task["operation"] and not _uninstalled_where_it_was(task):
        return deployments.work_id(task["id"], "uninstall")
    return deployments.work_id(task["id"])


def _uninstalled_where_it_was(task: dict[str, Any]) -> bool:
    from tenantry.dal import work as work_store

    item = work_store.get(deployments.work_id(task["id"], "uninstall")) or {}
    return (item.get("outcome") or {}).get("status") == "Done"


# --- FinishTask -------------------------------------------------------------------------------


def _outcome(task: dict[str, Any], error: dict[str, Any] | None) -> tuple[str, str | None]:
    """Done or Failed, and why: the agent's outcome (kept in the table), or how the wait
    ended. A Recreate's uninstall step failing says so."""
    if not error:
        return "Done", None
    waited_on = _step_work_id(task)
    status, reason = _wait_outcome(task, error, waited_on)
    if status == "Failed" and waited_on != deployments.work_id(task["id"]):
        reason = f"the release could not be uninstalled where it was: {reason}"
    return status, reason


def _wait_outcome(
    task: dict[str, Any], error: dict[str, Any], waited_on: str
) -> tuple[str, str | None]:
    """How the wait on work item `waited_on` ended, and why."""
    from tenantry.domain import work

    name = str(error.get("Error", ""))
    silence = get_settings().agent_work_timeout_seconds

    def timed_out(item: dict[str, Any]) -> str:
        if item.get("attempt"):
            return "the cluster's agent took the task but did not finish it in time"
        return f"the cluster's agent did not answer within {silence} s"

    if name == "RunLost":  # the agent's outcome, if it reported one, is the task's
        outcome = work.abandon(waited_on, lambda _: LOST_RUN) or {}
        if outcome.get("status") == "Done" and waited_on == deployments.work_id(task["id"]):
            return "Done", None
        return "Failed", outcome.get("reason") or LOST_RUN
    if name in ("States.Timeout", "States.HeartbeatTimeout"):
        outcome = work.abandon(waited_on, timed_out)
        return "Failed", (outcome or {}).get("reason") or timed_out({})
    if name == work.AGENT_FAILURE:
        from tenantry.dal import work as work_store

        item = work_store.get(waited_on) or {}
        return "Failed", (item.get("outcome") or {}).get("reason") or "the agent reported a failure"
    outcome = work.abandon(waited_on, lambda _: "the task could not be handed to the agent")
    return "Failed", (outcome or {}).get("reason") or "the task could not be handed to the agent"


def finish(project_id: str, task_id: str, error: dict[str, Any] | None) -> dict[str, Any]:
    task = store.get_task(project_id, task_id)
    if task is None:
        return {"status": "gone"}
    not_run = str((error or {}).get("Error", "")) == "TaskNotRunnable"
    result: dict[str, Any] = {"status": task["status"]}
    if task["status"] in ("Pending", "Started") and not not_run:
        status, reason = _outcome(task, error)
        result = {"status": status, "reason": reason}
        for _ in range(ATTEMPTS):
            try:
                _record(project_id, task, status, reason)
                break
            except Conflict:
                task = store.get_task(project_id, task_id) or task
                if task["status"] not in ("Pending", "Started"):
                    break
        else:
            raise Conflict("the deployment kept changing; the step is retried")
    # The recording transaction gave the slot back; a task canceled before it started, or
    # whose deployment went meanwhile, still holds it.
    store.give_slot_back(project_id, task["deployment_id"], task["id"])
    deployments.dispatch(project_id, task["deployment_id"])
    return result


def _record(project_id: str, task: dict[str, Any], status: str, reason: str | None) -> None:
    now = now_iso()
    operation = _operation(task)
    changes: dict[str, Any] = {"status": status, "finished_at": now}
    if reason:
        changes["reason"] = reason
    ops = [store.task_update(task, changes, from_status=("Pending", "Started"), leave_queue=True)]
    deployment = store.get(project_id, task["deployment_id"])
    if deployment is not None:
        ops += _deployment_after(deployment, task, operation, status, reason, now)
        if status == "Done" and operation in TYPES_FROM and not task.get("delete_deployment"):
            from tenantry.domain import resources

            chart_id = task["snapshot"]["helm_chart"]["id"]
            ops += resources.type_upserts(deployment, chart_id, now)
    entry = history.entry(
        project_id,
        ACTOR,
        "task_done" if status == "Done" else "task_failed",
        at=now,
        detail={
            "task_id": task["id"],
            "deployment_id": task["deployment_id"],
            "operation": operation,
            **({"reason": reason} if reason else {}),
        },
    )
    _commit(project_id, ops, entry, after_deletion=True)


def _deployment_after(
    deployment: dict[str, Any],
    task: dict[str, Any],
    operation: str,
    status: str,
    reason: str | None,
    now: str,
) -> list[dict[str, Any]]:
    """The deployment once the task ended: its status, or (a deletion done) gone with its
    release name and its count on the environment. The slot is given back here too."""
    holds = {"condition": "current_task_id = :task", "values": {":task": task["id"]}}
    pid = deployment["project_id"]
    if task.get("delete_deployment") and status == "Done":
        return [
            store.deployment_delete(deployment),
            store.ref_delete(deployment["id"]),
            store.release_free(pid, deployment["cluster_id"], deployment["release_name"]),
            store.env_count(pid, deployment["env_id"], -1),
            *notices.deployment_cleared(pid, deployment["id"]),
        ]
    changes: dict[str, Any] = {"updated_at": now}
    remove: tuple[str, ...] = ()
    ops = []
    if operation in HELM_OPERATIONS:  # Tenantry's `deployment` notification follows Error
        if status == "Done":
            changes["status"] = "Uninstalled" if operation == "Uninstall" else "Running"
            remove = ("reason",)
            ops += notices.deployment_cleared(pid, deployment["id"])
        else:
            changes.update(status="Error", reason=reason)
            ops += notices.deployment_failed(deployment, reason, now)
    previous = task.get("snapshot", {}).get("previous")
    if previous and _uninstalled_where_it_was(task):  # a Recreate: the old name is free
        ops.append(
            store.release_free(
                deployment["project_id"], previous["cluster_id"], previous["release_name"]
            )
        )
    if deployment.get("current_task_id") == task["id"]:  # the slot goes back with it
        remove = (*remove, "current_task_id")
        return [store.deployment_update(deployment, changes, remove, **holds), *ops]
    return [store.deployment_update(deployment, changes, remove), *ops]


def _slot_left_behind(project_id: str, deployment_id: str, holder_id: str) -> bool:
    """The slot's holder finished (or is gone) but still holds it: given back (True)."""
    holder = store.get_task(project_id, holder_id)
    if holder is not None and holder["status"] in ("Pending", "Started"):
        return False
    store.give_slot_back(project_id, deployment_id, holder_id)
    return True


# --- the scheduler ------------------------------------------------------------------------------

PAGE = 50
# A run's outcome is recorded by its execution's last step; an execution ends within its
# TimeoutSeconds (statemachines/asl.py EXECUTION_TIMEOUT, 1800 s). A task still Started
# this long after it started lost its outcome (FinishTask failed past its retries): the
# scheduler records it Failed and the deployment runs its next task.
RUN_DEADLINE_SECONDS = 1800 + 300
LOST_RUN = "the task's run ended without recording its outcome; run it again if it is still wanted"


def run_scheduler(now: str | None = None) -> dict[str, int]:
    """Start every due task whose deployment runs nothing; start again a task that holds
    its deployment's slot but whose execution start was lost (starting by name twice runs
    once); record runs that outlived their execution as Failed. Bounded: a few pages a run;
    the rest is the next minute's."""
    now = now or now_iso()
    counts = {"due": 0, "started": 0, "waiting": 0, "canceled": 0, "lost": 0}
    for task in store.overdue_runs(_seconds_before(now, RUN_DEADLINE_SECONDS), PAGE):
        if finish_lost(task["project_id"], task["id"]):
            counts["lost"] += 1
    key = None
    for _ in range(4):
        items, key = store.due(now, PAGE, key)
        for task in items:
            counts["due"] += 1
            counts[_schedule(task, now)] += 1
        if not key:
            break
    return counts


def _seconds_before(moment: str, seconds: int) -> str:
    from datetime import datetime, timedelta

    at = datetime.fromisoformat(moment.replace("Z", "+00:00")) - timedelta(seconds=seconds)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def finish_lost(project_id: str, task_id: str) -> bool:
    """A Started task whose execution ended without recording it: Failed (LOST_RUN), its
    slot given back, the deployment's next task dispatched. False if it finished meanwhile."""
    task = store.get_task(project_id, task_id)
    if task is None or task["status"] != "Started":
        return False
    try:
        finish(project_id, task_id, {"Error": "RunLost"})
    except Conflict:
        logger.warning("a lost run could not be recorded yet", extra={"task_id": task_id})
        return False
    return True


def _schedule(task: dict[str, Any], now: str) -> str:
    project_id, task_id = task["project_id"], task["id"]
    deployment = store.get(project_id, task["deployment_id"])
    if deployment is None:
        deployments.cancel_quietly(task, "the deployment no longer exists")
        return "canceled"
    running = deployment.get("current_task_id")
    if running == task_id:
        try:
            workflows.start_task(task_id, project_id)
        except Exception:
            logger.exception("could not start the task's execution", extra={"task_id": task_id})
            return "waiting"
        return "started"
    if running and not _slot_left_behind(project_id, task["deployment_id"], running):
        return "waiting"
    started = deployments.dispatch(project_id, task["deployment_id"], now)
    return "started" if started == task_id else "waiting"
