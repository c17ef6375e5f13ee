"""Step handlers of the project workflows (statemachines/*.asl.json). Each Lambda is one
step; the input is the execution's input: {project_id, operation, attempt, reclaim?,
error?}. Errors are raised by name so the state machine's Retry and Catch can see them."""

from __future__ import annotations

from typing import Any

from tenantry.domain import provisioning
from tenantry.observability import logger


def _project(event: dict[str, Any]) -> str:
    logger.append_keys(project_id=event["project_id"], operation=event.get("operation"))
    return str(event["project_id"])


def _attempt(event: dict[str, Any]) -> int:
    """Which operation of the project this execution is (its id: project, kind, attempt)."""
    return int(event.get("attempt", 1))


@logger.inject_lambda_context(clear_state=True)
def create_environments(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"created": provisioning.create_environments(_project(event), _attempt(event))}


@logger.inject_lambda_context(clear_state=True)
def create_image_repository(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"repository": provisioning.create_image_repository(_project(event), _attempt(event))}


def _kind(event: dict[str, Any]) -> str:
    return str(event.get("operation", "create"))


@logger.inject_lambda_context(clear_state=True)
def plan_namespaces(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return provisioning.plan_namespaces(_project(event), _kind(event), _attempt(event))


@logger.inject_lambda_context(clear_state=True)
def request_namespace(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Invoked with a task token (lambda:invoke.waitForTaskToken): its result is not the
    step's; the agent's report, sent to the token, is."""
    logger.append_keys(cluster=event["cluster"])
    return provisioning.request_namespace(
        _project(event),
        _kind(event),
        _attempt(event),
        str(event["cluster"]),
        str(event["cluster_id"]),
        str(event["task_token"]),
    )


@logger.inject_lambda_context(clear_state=True)
def namespace_outcome(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.append_keys(cluster=event["cluster"])
    result = provisioning.namespace_outcome(
        _project(event), _kind(event), _attempt(event), str(event["cluster"]), event.get("error")
    )
    logger.info("cluster's wait ended without a report", extra={"error": event.get("error")})
    return result


@logger.inject_lambda_context(clear_state=True)
def finish_provisioning(event: dict[str, Any], context: Any) -> dict[str, Any]:
    provisioning.finish_provisioning(_project(event), _attempt(event))
    return {"status": "active"}


@logger.inject_lambda_context(clear_state=True)
def delete_image_repository(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"existed": provisioning.delete_image_repository(_project(event), _attempt(event))}


@logger.inject_lambda_context(clear_state=True)
def revoke_project_credentials(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"removed": provisioning.revoke_project_credentials(_project(event), _attempt(event))}


@logger.inject_lambda_context(clear_state=True)
def finish_deprovisioning(event: dict[str, Any], context: Any) -> dict[str, Any]:
    provisioning.finish_deprovisioning(_project(event), _attempt(event))
    return {"status": "deleted"}


@logger.inject_lambda_context(clear_state=True)
def record_failure(event: dict[str, Any], context: Any) -> dict[str, Any]:
    error = event.get("error")
    reason, marked = provisioning.record_failure(
        _project(event), event.get("operation", "create"), error, _attempt(event)
    )
    # The tenant reads `reason`; the raw error (type, message) is for operators only.
    logger.warning(
        "workflow failed",
        extra={
            "reason": reason,
            "project_marked_failed": marked,
            **provisioning.failure_details(error),
        },
    )
    return {"status": "failed" if marked else "unchanged", "reason": reason}


# --- RunDeploymentTask (statemachines/run_deployment_task.asl.json) --------------------------


def _task(event: dict[str, Any]) -> tuple[str, str]:
    logger.append_keys(project_id=event["project_id"], task_id=event["task_id"])
    return str(event["project_id"]), str(event["task_id"])


@logger.inject_lambda_context(clear_state=True)
def start_task(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tenantry.domain import tasks

    return {**tasks.start(*_task(event)), **provisioning.wait_seconds()}


@logger.inject_lambda_context(clear_state=True)
def request_deployment_work(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Invoked with a task token: the agent's report, sent to the token, is the result."""
    from tenantry.domain import tasks

    project_id, task_id = _task(event)
    return tasks.request_work(project_id, task_id, str(event["task_token"]), event.get("step"))


@logger.inject_lambda_context(clear_state=True)
def finish_task(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tenantry.domain import tasks

    result = tasks.finish(*_task(event), event.get("error"))
    logger.info("task finished", extra={"result": result, "error": event.get("error")})
    return result
