"""The adapter to Step Functions for the project workflows: start an operation's execution,
look one up. An execution is named after its operation (`<project>-<kind>-<attempt>`), so
starting it again, from a retried request or from the reconciler, never runs it twice."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from tenantry.settings import get_settings


@cache
def _sfn() -> Any:
    import boto3

    return boto3.client("stepfunctions")


def execution_name(project_id: str, operation: str, attempt: int) -> str:
    return f"{project_id}-{operation}-{attempt}"


def _state_machine(operation: str) -> str:
    settings = get_settings()
    return {
        "create": settings.create_project_state_machine_arn,
        "delete": settings.delete_project_state_machine_arn,
        "task": settings.run_deployment_task_state_machine_arn,
    }[operation]


def execution_arn(operation: str, name: str) -> str:
    return f"{_state_machine(operation).replace(':stateMachine:', ':execution:')}:{name}"


def start(operation: str, project_id: str, attempt: int, **extra: Any) -> str:
    name = execution_name(project_id, operation, attempt)
    payload = {"project_id": project_id, "operation": operation, "attempt": attempt, **extra}
    client = _sfn()
    try:
        resp = client.start_execution(
            stateMachineArn=_state_machine(operation), name=name, input=json.dumps(payload)
        )
    except client.exceptions.ExecutionAlreadyExists:
        return execution_arn(operation, name)
    return str(resp["executionArn"])


def start_task(task_id: str, project_id: str) -> str:
    """Start a deployment task's RunDeploymentTask execution, named after the task: a
    second start (a retried dispatch, the scheduler) finds it and starts nothing."""
    client = _sfn()
    payload = {"project_id": project_id, "task_id": task_id}
    try:
        resp = client.start_execution(
            stateMachineArn=_state_machine("task"), name=task_id, input=json.dumps(payload)
        )
    except client.exceptions.ExecutionAlreadyExists:
        return execution_arn("task", task_id)
    return str(resp["executionArn"])


def status(operation: str, name: str) -> str | None:
    """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED; None if it was never started."""
    client = _sfn()
    try:
        resp = client.describe_execution(executionArn=execution_arn(operation, name))
    except client.exceptions.ExecutionDoesNotExist:
        return None
    return str(resp["status"])


# --- callbacks: a workflow waiting on a task token (agent work, tenantry.domain.work) -------

# The token is no longer awaited (the Task timed out, its execution ended or moved on):
# nothing left to tell it.
GONE_TOKEN_ERRORS = ("TaskDoesNotExist", "TaskTimedOut", "InvalidToken")


def _callback(call: str, **kwargs: Any) -> bool:
    """True if the waiting Task got it, False if nobody waits on that token any more."""
    from botocore.exceptions import ClientError

    try:
        getattr(_sfn(), call)(**kwargs)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in GONE_TOKEN_ERRORS:
            return False
        raise
    return True


def send_success(task_token: str, output: dict[str, Any]) -> bool:
    return _callback("send_task_success", taskToken=task_token, output=json.dumps(output))


def send_failure(task_token: str, error: str, cause: str) -> bool:
    return _callback("send_task_failure", taskToken=task_token, error=error, cause=cause)


def send_heartbeat(task_token: str) -> bool:
    return _callback("send_task_heartbeat", taskToken=task_token)
