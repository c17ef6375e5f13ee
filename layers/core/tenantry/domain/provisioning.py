"""The steps of the project workflows. Each is idempotent (a retried step finds its work
done and moves on) and checks the project is still in the status its workflow expects, so
a workflow overtaken by a user's action (say, a DELETE during provisioning) stops instead
of undoing it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tenantry import registry
from tenantry.clock import now_iso
from tenantry.dal import history, limits
from tenantry.dal import projects as store
from tenantry.errors import InvalidTransition

ACTOR = "system:workflow"
ENV_NAMESPACE = uuid.UUID("6f1c1b1e-3f5e-4a59-9a47-2f0d5c1e7a10")


class ProjectStateChanged(Exception):
    """The project left the status this workflow works on; not worth retrying."""


def _expect(project_id: str, status: str, done: str | None = None) -> dict[str, Any] | None:
    """The project, if it is `status`; None if it is already `done` (a retried step whose
    work is finished); otherwise the workflow was overtaken: ProjectStateChanged."""
    project = store.get(project_id)
    if project is None:
        raise ProjectStateChanged(f"project {project_id} no longer exists")
    if done and project["status"] == done:
        return None
    if project["status"] != status:
        raise ProjectStateChanged(f"project {project_id} is {project['status']}, not {status}")
    return project


def environment_id(project_id: str, name: str) -> str:
    """Deterministic, so a retried step cannot create an environment twice."""
    return str(uuid.uuid5(ENV_NAMESPACE, f"{project_id}/{name}"))


def _condition(
    kind: str, ok: bool, reason: str, message: str = "", **detail: Any
) -> dict[str, Any]:
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


# --- provisioning ---------------------------------------------------------------------------


def create_environments(project_id: str) -> list[str]:
    project = _expect(project_id, "creating")
    assert project is not None
    now = now_iso()
    created = []
    for name in project.get("environments", []):
        env = {
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
        if store.put_environment(project_id, env):
            created.append(name)
    history.append(
        project_id,
        ACTOR,
        "environments_created",
        detail={"environments": project.get("environments", []), "newly_created": created},
    )
    return created


def create_image_repository(project_id: str) -> str:
    _expect(project_id, "creating")
    name = registry.create_repository(project_id)
    history.append(project_id, ACTOR, "image_repository_created", detail={"repository": name})
    return name


def finish_provisioning(project_id: str) -> None:
    project = _expect(project_id, "creating", done="active")
    if project is None:
        return
    now = now_iso()
    conditions = [
        _condition(
            "EnvironmentsReady", True, "Created", environments=project.get("environments", [])
        ),
        _condition(
            "ImageRepositoryReady", True, "Created", repository=registry.repository_name(project_id)
        ),
        _condition("Ready", True, "Provisioned"),
    ]
    store.transition(
        project_id,
        ["creating"],
        "active",
        history.entry(
            project_id, ACTOR, "provisioned", from_status="creating", to_status="active", at=now
        ),
        changes={"conditions": conditions},
        remove=("reason",),
        now=now,
    )


# --- deprovisioning -------------------------------------------------------------------------


def delete_image_repository(project_id: str) -> bool:
    _expect(project_id, "deleting")
    existed = registry.delete_repository(project_id)
    history.append(
        project_id,
        ACTOR,
        "image_repository_deleted",
        detail={"repository": registry.repository_name(project_id), "existed": existed},
    )
    return existed


def revoke_project_credentials(project_id: str) -> int:
    """Remove what lives inside the project's partition and grants access on the platform:
    its environments now; its secrets and project-scoped tokens when those exist."""
    _expect(project_id, "deleting")
    item_keys = store.environment_keys(project_id)
    store.delete_items(item_keys)
    history.append(
        project_id, ACTOR, "environments_removed", detail={"items_removed": len(item_keys)}
    )
    return len(item_keys)


def finish_deprovisioning(project_id: str) -> None:
    project = _expect(project_id, "deleting", done="deleted")
    if project is None:
        return
    now = now_iso()
    store.transition(
        project_id,
        ["deleting"],
        "deleted",
        history.entry(
            project_id, ACTOR, "deleted", from_status="deleting", to_status="deleted", at=now
        ),
        changes={"deleted_at": now, "conditions": [_condition("Ready", False, "Deleted")]},
        remove=("owner_counted",),
        extra_ops=limits.release_owned(project),
        now=now,
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
    project_id: str, operation: str, error: dict[str, Any] | None
) -> tuple[str, bool]:
    """Catch target: the project goes to `failed` with the reason. If the project already
    moved on (deleted meanwhile, say), the failure is only written to its history.
    Returns (reason, whether the project was marked failed)."""
    reason = failure_reason(error, operation)
    source, event = (
        ("creating", "provisioning_failed")
        if operation == "create"
        else ("deleting", "deprovisioning_failed")
    )
    now = now_iso()
    try:
        store.transition(
            project_id,
            [source],
            "failed",
            history.entry(
                project_id,
                ACTOR,
                event,
                from_status=source,
                to_status="failed",
                at=now,
                detail={"reason": reason},
            ),
            changes={
                "reason": reason,
                "conditions": [_condition("Ready", False, "Failed", reason)],
            },
            now=now,
        )
    except InvalidTransition:
        if store.get(project_id) is not None:
            history.append(
                project_id, ACTOR, f"{operation}_workflow_stopped", detail={"reason": reason}
            )
        return reason, False
    return reason, True
