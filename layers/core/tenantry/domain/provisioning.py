"""The steps of the project workflows. Each step belongs to an operation (domain/operations.py)
and commits its writes, its history entry and its "done" mark on the operation in one
transaction conditioned on that operation still being the project's current one:
- a retried step (Lambda runs at least once) finds its mark and returns the same result,
  writing nothing twice;
- a step of an overtaken operation (a DELETE during provisioning) writes nothing and stops
  the workflow (ProjectStateChanged), and a side effect it made outside the table after
  the DELETE (an image repository) is undone when the deletion reclaims;
- deprovisioning ends with a sweep of what the project still owns, so nothing a late
  provisioning step made survives the tombstone."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tenantry import git_provider, registry
from tenantry.clock import now_iso
from tenantry.dal import clusters as cluster_store
from tenantry.dal import history, keys, limits
from tenantry.dal import namespaces as ns_store
from tenantry.dal import operations as op_store
from tenantry.dal import projects as store
from tenantry.domain import deployments, notices
from tenantry.domain.operations import WORKING_STATUS, operation_id
from tenantry.errors import Conflict, InvalidTransition
from tenantry.observability import logger
from tenantry.settings import get_settings

ACTOR = "system:workflow"
SEQUENCE_ATTEMPTS = 5
ENV_NAMESPACE = uuid.UUID("6f1c1b1e-3f5e-4a59-9a47-2f0d5c1e7a10")
TX_ITEMS = 20  # ops per transaction besides a step's own (DynamoDB Local and moto: 25)
WORK_NAMESPACE = uuid.UUID("0b6f7d52-8d1e-4c1f-9e55-3c7a2f6e4d21")


class ProjectStateChanged(Exception):
    """The project moved on to another operation (or is gone); not worth retrying."""


class Step:
    """One step of one operation: the project and the operation as read when it began."""

    def __init__(self, name: str, project_id: str, kind: str, attempt: int) -> None:
        self.name, self.project_id, self.kind, self.attempt = name, project_id, kind, attempt
        self.operation_id = operation_id(project_id, kind, attempt)
        project, op = op_store.get_with_project(project_id, self.operation_id)
        self.project: dict[str, Any] = project or {}
        self.op: dict[str, Any] = op or {}

    @property
    def done(self) -> dict[str, Any] | None:
        """The mark of this step if it already committed (a retried invocation)."""
        found = self.op.get("steps", {}).get(self.name)
        return found if isinstance(found, dict) else None

    @property
    def current(self) -> bool:
        return bool(self.op) and self.project.get("operation_id") == self.operation_id

    def require_current(self) -> None:
        if not self.project:
            raise ProjectStateChanged(f"project {self.project_id} no longer exists")
        if not self.current:
            raise ProjectStateChanged(
                f"project {self.project_id} moved on from operation {self.operation_id} "
                f"(now {self.project.get('operation_id')}, {self.project.get('status')})"
            )

    def commit(self, result: Any, ops: list[dict[str, Any]], *, current: bool = True) -> Any:
        """`ops` + this step's done mark (+ the operation-is-current check), atomically.
        Lost to a concurrent invocation of the same step: its result. Lost because the
        project moved on: ProjectStateChanged. Lost only on the history's sequence (another
        change wrote history first): read again and retry."""
        step: Step = self
        for _ in range(SEQUENCE_ATTEMPTS):
            checks = [op_store.current_check(self.project_id, self.operation_id)] if current else []
            mark = op_store.step_done(
                self.project_id, self.operation_id, self.name, result, now_iso()
            )
            try:
                op_store.commit(
                    [*ops, mark, *checks], self.project_id, history.sequence_of(step.project)
                )
                return result
            except history.Sequenced:
                step = Step(self.name, self.project_id, self.kind, self.attempt)
            except Conflict:
                again = Step(self.name, self.project_id, self.kind, self.attempt)
                if again.done is not None:
                    return again.done["result"]
                if current:
                    again.require_current()
                raise
        raise Conflict("the project's history kept moving; the step is retried")


def environment_id(project_id: str, name: str) -> str:
    """Deterministic, so a retried step cannot create an environment twice."""
    return str(uuid.uuid5(ENV_NAMESPACE, f"{project_id}/{name}"))


def condition(kind: str, ok: bool, reason: str, message: str = "", **detail: Any) -> dict[str, Any]:
    cond: dict[str, Any] = {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
        "last_transition_time": now_iso(),
    }
    if detail:
        cond["detail"] = detail
    return cond


def _begin(name: str, project_id: str, kind: str, attempt: int) -> tuple[Step, Any]:
    """The step, and its earlier result if it already committed (else None)."""
    step = Step(name, project_id, kind, attempt)
    if step.done is not None:
        return step, step.done["result"]
    step.require_current()
    return step, None


# --- provisioning ---------------------------------------------------------------------------


def create_environments(project_id: str, attempt: int = 1) -> list[str]:
    step, earlier = _begin("create_environments", project_id, "create", attempt)
    if earlier is not None:
        return list(earlier)
    project = step.project
    now = now_iso()
    existing = store.environment_names(project_id)
    created = [n for n in project.get("environments", []) if n not in existing]
    envs = [
        {
            "id": environment_id(project_id, name),
            "project_id": project_id,
            "name": name,
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "node_selector": {},
            "tolerations": [],
            "auto_add_new_users": False,
        }
        for name in created
    ]
    entry = history.entry(
        project_id,
        ACTOR,
        "environments_created",
        at=now,
        detail={"environments": project.get("environments", []), "newly_created": created},
    )
    return list(step.commit(created, [*store.environment_ops(project_id, envs), entry]))


def create_image_repository(project_id: str, attempt: int = 1) -> str:
    step, earlier = _begin("create_image_repository", project_id, "create", attempt)
    if earlier is not None:
        return str(earlier)
    name = registry.create_repository(project_id)
    entry = history.entry(
        project_id, ACTOR, "image_repository_created", detail={"repository": name}
    )
    try:
        return str(step.commit(name, [entry]))
    except ProjectStateChanged:
        # Made after a DELETE overtook this operation: a reclaiming deletion may already
        # have swept the registry, so the repository is undone here.
        if _reclaimed(project_id):
            registry.delete_repository(project_id)
        raise


def _reclaimed(project_id: str) -> bool:
    """Whether a deletion that reclaims overtook the project's provisioning (a step's side
    effect made meanwhile must then be undone: the deletion's sweep may have run already)."""
    project = store.get(project_id)
    return project is None or (
        project["status"] in ("deleting", "deleted")
        and project.get("cluster_delete_policy") == "Delete"
    )


def create_git_repository(project_id: str, attempt: int = 1) -> dict[str, Any]:
    """The project's repository at the Git provider (init_git_repository), recorded on the
    project. A retried step finds the repository it made; one made after a DELETE overtook
    the operation is undone when that deletion reclaims."""
    step, earlier = _begin("create_git_repository", project_id, "create", attempt)
    if earlier is not None:
        return dict(earlier)
    made = git_provider.create_repository(project_id, step.project.get("description", ""))
    repository = made.as_dict()
    entry = history.entry(
        project_id, ACTOR, "git_repository_created", detail={"repository": made.full_name}
    )
    record = store.recorded_by(project_id, step.operation_id, {"git_repository": repository})
    try:
        try:
            return dict(step.commit(repository, [record, entry], current=False))
        except Conflict:  # the record's condition is the operation check
            Step(step.name, project_id, "create", attempt).require_current()
            raise
    except ProjectStateChanged:
        if _reclaimed(project_id):
            _remove_git_repository(project_id)
        raise


def _remove_git_repository(project_id: str) -> bool:
    if get_settings().git_repository_on_delete == "Delete":
        return git_provider.delete_repository(project_id)
    return git_provider.archive_repository(project_id)


def delete_git_repository(project_id: str, attempt: int = 1) -> bool:
    """A reclaiming deletion archives the project's repository (or deletes it, with
    GitRepositoryOnDelete=Delete); one that is not there is done."""
    step, earlier = _begin("delete_git_repository", project_id, "delete", attempt)
    if earlier is not None:
        return bool(earlier)
    existed = _remove_git_repository(project_id)
    how = "deleted" if get_settings().git_repository_on_delete == "Delete" else "archived"
    entry = history.entry(
        project_id,
        ACTOR,
        f"git_repository_{how}",
        detail={"repository": git_provider.repository_name(project_id), "existed": existed},
    )
    return bool(step.commit(existed, [entry]))


def finish_provisioning(project_id: str, attempt: int = 1) -> None:
    step, earlier = _begin("finish_provisioning", project_id, "create", attempt)
    if earlier is not None:
        return
    project = step.project
    now = now_iso()
    conditions = [
        condition(
            "EnvironmentsReady", True, "Created", environments=project.get("environments", [])
        ),
        condition(
            "ImageRepositoryReady", True, "Created", repository=registry.repository_name(project_id)
        ),
        namespaces_ready(project),
        condition("Ready", True, "Provisioned"),
    ]
    if project.get("git_repository"):
        conditions.insert(
            2,
            condition(
                "GitRepositoryReady",
                True,
                "Created",
                repository=project["git_repository"]["full_name"],
            ),
        )
    _finish(
        step,
        "creating",
        "active",
        "provisioned",
        now,
        changes={"conditions": conditions},
        remove=("reason",),
        extra_ops=notices.project_recovered(project_id),
    )


def _finish(
    step: Step,
    working: str,
    to_status: str,
    event: str,
    now: str,
    *,
    outcome: str = "succeeded",
    detail: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
    remove: tuple[str, ...] = (),
    extra_ops: list[dict[str, Any]] | None = None,
) -> None:
    """The operation's last write: the project leaves its working status, with the history
    entry, the operation closed and this step marked, all conditioned on the operation."""
    pid, op_id = step.project_id, step.operation_id
    try:
        store.transition(
            pid,
            [working],
            to_status,
            history.entry(
                pid, ACTOR, event, from_status=working, to_status=to_status, at=now, detail=detail
            ),
            changes=changes,
            remove=remove,
            require={"operation_id": op_id},
            extra_ops=[
                *(extra_ops or []),
                op_store.close_op(pid, op_id, outcome, now, step=(step.name, to_status)),
            ],
            now=now,
        )
    except (Conflict, InvalidTransition):
        again = Step(step.name, pid, step.kind, step.attempt)
        if again.done is not None:
            return
        again.require_current()
        raise


# --- namespaces: one per cluster the project names, asked of the cluster's agent -------------
#
# PlanNamespaces decides which clusters to ask (and records them Pending or Deleting), the
# state machine's Map asks each cluster in parallel through RequestNamespace, waiting on a
# task token until the agent reports (tenantry.domain.work), and NamespaceOutcome records a
# cluster whose wait ended without a report. The records are the truth the finishing steps
# read: the agent's reason is kept in the table, never only in the execution.

NAMESPACE_WORK = {"create": "CreateNamespace", "delete": "DeleteNamespace"}


def work_id(operation_id: str, cluster_name: str) -> str:
    """Deterministic: a retried RequestNamespace finds the item its first try queued."""
    return str(uuid.uuid5(WORK_NAMESPACE, f"{operation_id}/{cluster_name}"))


def wait_seconds() -> dict[str, int]:
    """How long a cluster's Task waits: `heartbeat`, the longest silence (no claim, no lease
    extension) before it fails, is AgentWorkTimeoutSeconds; `timeout`, the longest wait of
    an agent that keeps working, adds every lease the item may get."""
    settings = get_settings()
    silence = settings.agent_work_timeout_seconds
    return {
        "heartbeat": silence,
        "timeout": silence + settings.agent_lease_seconds * settings.agent_work_max_attempts,
    }


def plan_namespaces(project_id: str, kind: str, attempt: int = 1) -> dict[str, Any]:
    """Which clusters to ask, recorded Pending (create: every named cluster whose namespace
    is not Created, so a retry re-asks the failed ones only) or Deleting (a reclaiming
    delete: every namespace not gone). A deletion that retains marks them Retained and asks
    nothing. A cluster no longer registered fails at once, with that reason."""
    step, earlier = _begin("plan_namespaces", project_id, kind, attempt)
    if earlier is not None:
        return dict(earlier)
    project, now = step.project, now_iso()
    records = {r["cluster"]: r for r in ns_store.of_project(project_id)}
    ops: list[dict[str, Any]] = []
    ask: list[dict[str, str]] = []
    decided: dict[str, str] = {}
    if kind == "create":
        names = [c["name"] for c in project.get("clusters", [])]
        registered = cluster_store.by_names(names)
        for name in names:
            record = records.get(name)
            if record is not None and record["status"] == "Created":
                continue
            cluster = registered.get(name)
            if cluster is None:
                reason = f"cluster {name!r} is no longer registered"
                if record is None or record["status"] != "Failed" or record.get("reason") != reason:
                    ops += ns_store.ask(project_id, {"name": name}, "Failed", now, record, reason)
                decided[name] = "Failed"
                continue
            ops += ns_store.ask(project_id, cluster, "Pending", now, record)
            ask.append({"cluster": name, "cluster_id": cluster["id"]})
            decided[name] = "Pending"
    else:
        reclaim = bool(step.op.get("params", {}).get("reclaim"))
        for name, record in records.items():
            if record["status"] in ns_store.GONE:
                continue
            if reclaim and record.get("cluster_id"):
                ops += ns_store.ask(
                    project_id, {"name": name, "id": record["cluster_id"]}, "Deleting", now, record
                )
                ask.append({"cluster": name, "cluster_id": record["cluster_id"]})
                decided[name] = "Deleting"
            else:
                ops += ns_store.settle(record, "Retained", None, now, when=(record["status"],))
                decided[name] = "Retained"
    plan = {"clusters": ask, **wait_seconds()}
    if not decided:
        return dict(step.commit(plan, ops))
    # A transaction holds at most TX_ITEMS: the records beyond go first, each batch on the
    # same condition (this operation is current). A retried plan finds them already asked.
    while len(ops) > TX_ITEMS:
        batch, ops = ops[:TX_ITEMS], ops[TX_ITEMS:]
        op_store.commit([*batch, op_store.current_check(project_id, step.operation_id)])
    entry = history.entry(
        project_id,
        ACTOR,
        "namespaces_requested" if kind == "create" else "namespaces_released",
        at=now,
        detail={"namespaces": decided},
    )
    return dict(step.commit(plan, [*ops, entry]))


def request_namespace(
    project_id: str, kind: str, attempt: int, cluster: str, cluster_id: str, task_token: str
) -> dict[str, Any]:
    """Queue the cluster's CreateNamespace or DeleteNamespace work item, which the waiting
    Task's token resumes when the agent reports (a retried request finds its item)."""
    from tenantry.domain import work
    from tenantry.domain.namespaces import namespace_labels

    step = Step("request_namespace", project_id, kind, attempt)
    step.require_current()
    item = {
        "id": work_id(step.operation_id, cluster),
        "kind": NAMESPACE_WORK[kind],
        "cluster_id": cluster_id,
        "cluster_name": cluster,
        "project_id": project_id,
        "operation_id": step.operation_id,
        "namespace": project_id,
        "labels": namespace_labels(project_id),
    }
    return work.enqueue(item, task_token)


# Why a cluster's wait ended without the agent's report. A timeout (States.Timeout, or
# States.HeartbeatTimeout where it is told apart) reads by what the agent did: never
# claimed the item, or claimed it and did not finish.
NEVER_CLAIMED = "the cluster's agent did not answer within {silence} s"
NOT_FINISHED = "the cluster's agent took the work but did not finish it in time"
WAIT_ENDED = {"ProjectStateChanged": "the project was changed by another action meanwhile"}
WAIT_FAILED = "the request could not be handed to the cluster's agent"
TIMEOUTS = ("States.Timeout", "States.HeartbeatTimeout")


def namespace_outcome(
    project_id: str, kind: str, attempt: int, cluster: str, error: dict[str, Any] | None
) -> dict[str, Any]:
    """The Catch of one cluster's wait: the agent's failure is recorded already; any other
    end (a timeout, a request that never reached the table) fails the work item and the
    namespace record with a reason saying which."""
    from tenantry.domain import work

    name = str((error or {}).get("Error", ""))
    if name == work.AGENT_FAILURE:
        return {"cluster": cluster, "status": "Failed"}
    silence = get_settings().agent_work_timeout_seconds

    def reason(item: dict[str, Any]) -> str:
        if name in TIMEOUTS:
            return (NOT_FINISHED if item.get("attempt") else NEVER_CLAIMED).format(silence=silence)
        return WAIT_ENDED.get(name, WAIT_FAILED)

    op_id = operation_id(project_id, kind, attempt)
    outcome = work.abandon(work_id(op_id, cluster), reason)
    if outcome is None:  # never queued: the record alone
        why = reason({})
        record = ns_store.get(project_id, cluster)
        if record is not None:
            try:
                op_store.commit(
                    ns_store.settle(record, "Failed", why, now_iso(), when=("Pending", "Deleting"))
                )
            except Conflict:
                pass  # it moved on meanwhile
        outcome = {"status": "Failed", "reason": why}
    return {"cluster": cluster, **outcome}


def namespaces_ready(project: dict[str, Any]) -> dict[str, Any]:
    """The NamespacesReady condition from the records of the clusters the project names."""
    records = {r["cluster"]: r for r in ns_store.of_project(project["id"])}
    success, failed = [], {}
    for c in project.get("clusters", []):
        record = records.get(c["name"], {})
        if record.get("status") == "Created":
            success.append(c["name"])
        else:
            failed[c["name"]] = record.get("reason") or (
                "no namespace was asked for on this cluster yet"
                if not record
                else "no result was recorded for this cluster"
            )
    if failed:
        message = "; ".join(f"{name}: {why}" for name, why in failed.items())
        return condition(
            "NamespacesReady",
            False,
            "Failed",
            f"retry the project to ask again. {message}",
            success_clusters=success,
            failed_clusters=failed,
        )
    return condition(
        "NamespacesReady", True, "Created", success_clusters=success, failed_clusters={}
    )


def conditions_for_clusters(project: dict[str, Any], clusters: list[Any]) -> list[Any] | None:
    """The conditions of an active project whose clusters change to `clusters` (None when
    it is not active: provisioning will say). NamespacesReady follows the change: a newly
    named cluster has no namespace yet, so it reads False and `retry` asks for it. A
    cluster no longer named keeps its namespace (still tracked) until the project goes."""
    if project.get("status") != "active":
        return None
    ready = namespaces_ready({**project, "clusters": clusters or []})
    conditions = [c for c in project.get("conditions", []) if c.get("type") != "NamespacesReady"]
    at = next((i for i, c in enumerate(conditions) if c.get("type") == "Ready"), len(conditions))
    return [*conditions[:at], ready, *conditions[at:]]


# --- deprovisioning -------------------------------------------------------------------------


def delete_image_repository(project_id: str, attempt: int = 1) -> bool:
    step, earlier = _begin("delete_image_repository", project_id, "delete", attempt)
    if earlier is not None:
        return bool(earlier)
    existed = registry.delete_repository(project_id)
    entry = history.entry(
        project_id,
        ACTOR,
        "image_repository_deleted",
        detail={"repository": registry.repository_name(project_id), "existed": existed},
    )
    return bool(step.commit(existed, [entry]))


def revoke_project_credentials(project_id: str, attempt: int = 1) -> int:
    """Remove what lives inside the project's partition and grants access on the platform:
    its gateway subscriptions' API keys (revoked in API Gateway, tenantry.domain.gateway
    .revoke_with_project), its deployments (their Pending tasks canceled,
    tenantry.domain.deployments.remove_with_project), then its environments with their
    permissions and secrets, its apps (OAuth clients, with their client secrets' hashes)
    (dal/projects.owned_keys)."""
    from tenantry.domain import gateway

    step, earlier = _begin("revoke_project_credentials", project_id, "delete", attempt)
    if earlier is not None:
        return int(earlier)
    revoked = gateway.revoke_with_project(project_id)
    removed = deployments.remove_with_project(project_id)
    item_keys = store.owned_keys(project_id)
    apps = sum(1 for k in item_keys if k["SK"].startswith(keys.APP_PREFIX))
    entries = [
        history.entry(
            project_id,
            ACTOR,
            "environments_removed",
            detail={"items_removed": len(item_keys), "apps_removed": apps},
        )
    ]
    if removed["deployments"]:
        entries.insert(0, history.entry(project_id, ACTOR, "deployments_removed", detail=removed))
    if any(revoked.values()):
        entries.insert(0, history.entry(project_id, ACTOR, "gateway_keys_revoked", detail=revoked))
    store.delete_items(item_keys)
    return int(step.commit(len(item_keys), entries))


def finish_deprovisioning(project_id: str, attempt: int = 1) -> None:
    """The sweep, then the tombstone. The sweep removes what the project still owns, made
    by a provisioning step that was running when the DELETE came: environment items and,
    when reclaiming, the image repository."""
    step, earlier = _begin("finish_deprovisioning", project_id, "delete", attempt)
    if earlier is not None:
        return
    project = step.project
    store.delete_items(store.owned_keys(project_id))
    if step.op.get("params", {}).get("reclaim"):
        registry.delete_repository(project_id)
    now = now_iso()
    _finish(
        step,
        "deleting",
        "deleted",
        "deleted",
        now,
        changes={"deleted_at": now, "conditions": [condition("Ready", False, "Deleted")]},
        remove=("owner_counted",),
        extra_ops=limits.release_owned(project),
    )


# --- failure --------------------------------------------------------------------------------


# What a tenant reads about a failed workflow (the project's `reason`, its history): a
# sentence per known error name, with what to do next. Exception text, error types and
# internals (ARNs, stack traces) go to the logs only (functions/workflows record_failure).
REASONS = {
    "TransientError": "the image registry was unavailable; {next}",
    "ServiceUnavailable": "the database was too busy; {next}",
    "States.Timeout": "a provisioning step took too long; {next}",
    "Lambda.TooManyRequestsException": "the platform was too busy to run a step; {next}",
    "Lambda.ServiceException": "the platform could not run a step; {next}",
    "Lambda.AWSLambdaException": "the platform could not run a step; {next}",
    "Lambda.SdkClientException": "the platform could not run a step; {next}",
    "RegistryError": "the image registry refused the request; a platform admin has to check "
    "its permissions, then {next}",
    "ClientError": "a platform service refused a request; a platform admin has to check the "
    "logs, then {next}",
    "ProjectStateChanged": "the project was changed by another action while the workflow ran",
    "GitProviderUnavailable": "the Git provider was unavailable; {next}",
    "GitProviderError": "the Git provider refused the request; a platform admin has to check "
    "its token and organization, then {next}",
    "ApiGatewayError": "the gateway refused to revoke the project's API keys; a platform "
    "admin has to check Tenantry's permissions on API Gateway, then {next}",
}
GENERIC_REASON = (
    "the workflow failed unexpectedly; a platform admin has to check the logs, then {next}"
)
UNKNOWN_REASON = "the workflow failed for an unknown reason"
NEXT_STEP = {"create": "retry the project", "delete": "delete the project again"}


def failure_reason(error: dict[str, Any] | None, operation: str = "create") -> str:
    """The sentence a tenant reads for a Step Functions Catch's {"Error", "Cause"}: chosen
    by the error's name only, never from its message."""
    if not error:
        return UNKNOWN_REASON
    template = REASONS.get(str(error.get("Error", "")), GENERIC_REASON)
    return template.format(next=NEXT_STEP.get(operation, NEXT_STEP["create"]))


def failure_details(error: dict[str, Any] | None) -> dict[str, Any]:
    """What the logs get: the error's name and message (from the Lambda's JSON cause)."""
    if not error:
        return {}
    cause = error.get("Cause") or ""
    try:
        message = json.loads(cause).get("errorMessage") or cause
    except (ValueError, AttributeError):
        message = cause
    return {"error": error.get("Error"), "cause": message}


def record_failure(
    project_id: str, operation: str, error: dict[str, Any] | None, attempt: int = 1
) -> tuple[str, bool]:
    """Catch target: the project goes to `failed` with the reason, if this operation is
    still current. If the project moved on (deleted meanwhile, say), the failure is only
    written to its history. Once per operation. Returns (reason, whether the project was
    marked failed)."""
    reason = failure_reason(error, operation)
    step = Step("record_failure", project_id, operation, attempt)
    if step.done is not None:
        return reason, step.done["result"] == "failed"
    if not step.project:
        return reason, False
    working = WORKING_STATUS[operation]
    if step.current and step.project["status"] == working:
        event = "provisioning_failed" if operation == "create" else "deprovisioning_failed"
        now = now_iso()
        try:
            _finish(
                step,
                working,
                "failed",
                event,
                now,
                outcome="failed",
                detail={"reason": reason},
                changes={
                    "reason": reason,
                    "conditions": [condition("Ready", False, "Failed", reason)],
                },
                extra_ops=notices.project_failed(project_id, operation, reason, now),
            )
            return reason, True
        except ProjectStateChanged:
            pass  # overtaken between the read and the write: only the history entry
    # The project moved on: the failure goes to its history, unless it is a tombstone.
    entry = history.entry(
        project_id, ACTOR, f"{operation}_workflow_stopped", detail={"reason": reason}
    )
    alive = op_store.not_deleted_check(project_id)
    try:
        if step.op:
            step.commit("unchanged", [entry, alive], current=False)
        else:  # no such operation (a hand-made invocation): the entry alone
            op_store.commit([entry, alive])
    except Conflict:
        logger.info("workflow stopped on a deleted project", extra={"reason": reason})
    return reason, False
