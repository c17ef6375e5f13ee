"""Starting the project workflows (Step Functions). Execution names are deterministic,
<project>-<operation>-<n>, so a retried call can never start a second execution."""

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


def start(operation: str, project_id: str, attempt: int, **extra: Any) -> str:
    settings = get_settings()
    arn = {
        "create": settings.create_project_state_machine_arn,
        "delete": settings.delete_project_state_machine_arn,
    }[operation]
    name = execution_name(project_id, operation, attempt)
    payload = {"project_id": project_id, "operation": operation, "attempt": attempt, **extra}
    client = _sfn()
    try:
        resp = client.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))
    except client.exceptions.ExecutionAlreadyExists:
        return f"{arn.replace(':stateMachine:', ':execution:')}:{name}"
    return str(resp["executionArn"])
