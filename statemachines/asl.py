"""The project workflows' ASL, written from one place: `python -m statemachines.asl` (`make
asl`) writes statemachines/*.asl.json, which template.yaml deploys and a test compares with
this module's output, so the checked-in files cannot drift from it.

Every step is a Lambda Task with the same policy:
- TimeoutSeconds below the functions' Timeout (template.yaml Globals), so a hung step ends
  as States.Timeout, which is retried like any transient error;
- Retry of transient errors (our TransientError and ServiceUnavailable, every Lambda service
  error including Lambda.Unknown and client timeouts), with backoff;
- Catch of everything else into RecordFailure, which writes the project's `failed` status,
  its reason and history entry, conditioned on the execution's operation being current.

The failure path cannot fail: RecordFailure's own failure is caught into MarkFailed, a
direct DynamoDB UpdateItem (no code to break) that marks the project failed, still only if
the operation is current, retried for minutes. The reconciler (tenantry.domain.reconciler)
then writes the history entry and closes the operation. The execution's name is the
operation id (tenantry.workflows), which MarkFailed reads from `$$.Execution.Name`.

Each state machine also has an overall TimeoutSeconds: whatever happens, an execution ends,
and the reconciler moves a project whose execution ended without a result to `failed`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
FUNCTION_TIMEOUT = 10  # template.yaml Globals.Function.Timeout (a test checks)
STEP_TIMEOUT = FUNCTION_TIMEOUT - 2
EXECUTION_TIMEOUT = 1800  # seconds; the reconciler's "ended without a result" case

RETRYABLE = [
    "TransientError",
    "ServiceUnavailable",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "Lambda.ClientExecutionTimeoutException",
    "States.Timeout",
]
STEP_RETRY = {"ErrorEquals": RETRYABLE, "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2.0}
# RecordFailure is the last code on the failure path: it gets more tries than a step.
RECORD_RETRY = {**STEP_RETRY, "MaxAttempts": 6}
# The direct write: anything but "the operation is no longer current" is retried for about
# ten minutes (1 + 2 + 4 + ... capped at 60 s).
CONDITION_FAILED = "DynamoDB.ConditionalCheckFailedException"
FAILED_STATUS_PARTITION = "PROJECTSTATUS#failed"  # keys.projects_in_status("failed"); a test checks
MARK_RETRY = [
    {"ErrorEquals": [CONDITION_FAILED], "MaxAttempts": 0},
    {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 1,
        "MaxAttempts": 15,
        "BackoffRate": 2.0,
        "MaxDelaySeconds": 60,
    },
]


def task(
    function: str,
    next_state: str | None,
    *,
    retry: dict[str, Any],
    catch: str,
    error_path: str = "$.error",
) -> dict[str, Any]:
    """A Lambda step: its result is dropped (the next step gets the execution's input),
    its error goes to `catch` under `error_path`."""
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": f"${{{function}FunctionArn}}",
        "TimeoutSeconds": STEP_TIMEOUT,
        "ResultPath": None,
        "Retry": [retry],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": error_path, "Next": catch}],
    }
    if next_state:
        state["Next"] = next_state
    else:
        state["End"] = True
    return state


def steps(*names: str) -> dict[str, Any]:
    """Lambda steps run one after the other, each caught into RecordFailure."""
    return {
        name: task(name, following, retry=STEP_RETRY, catch="RecordFailure")
        for name, following in zip(names, [*names[1:], None], strict=True)
    }


def fail_state(name: str, what: str) -> dict[str, Any]:
    return {
        name: {
            "Type": "Fail",
            "Error": name,
            "Cause": f"{what} failed; the project records the reason",
        }
    }


def failure_path(working_status: str, fail_state: str, what: str, next_step: str) -> dict[str, Any]:
    """RecordFailure, then MarkFailed if even that failed, then the Fail state."""
    reason = f"the {what} workflow failed and its failure could not be recorded; {next_step}"
    return {
        "RecordFailure": task(
            "RecordFailure",
            fail_state,
            retry=RECORD_RETRY,
            catch="MarkFailed",
            error_path="$.record_error",
        ),
        "MarkFailed": {
            "Type": "Task",
            "Comment": "RecordFailure failed: mark the project failed directly (no code).",
            "Resource": "arn:aws:states:::dynamodb:updateItem",
            "Parameters": {
                "TableName": "${TableName}",
                "Key": {
                    "PK": {"S.$": "States.Format('PROJECT#{}', $.project_id)"},
                    "SK": {"S": "PROJECT"},
                },
                # the status partition moves with the status (dal/keys.project_status_indexes)
                "UpdateExpression": "SET #status = :failed, #reason = :reason, "
                "GSI3PK = :status_partition, updated_at = :now ADD version :one",
                "ConditionExpression": "#status = :working AND operation_id = :operation",
                "ExpressionAttributeNames": {"#status": "status", "#reason": "reason"},
                "ExpressionAttributeValues": {
                    ":failed": {"S": "failed"},
                    ":status_partition": {"S": FAILED_STATUS_PARTITION},
                    ":working": {"S": working_status},
                    ":reason": {"S": reason},
                    ":now": {"S.$": "$$.State.EnteredTime"},
                    ":one": {"N": "1"},
                    ":operation": {"S.$": "$$.Execution.Name"},
                },
            },
            "ResultPath": None,
            "Retry": MARK_RETRY,
            "Catch": [{"ErrorEquals": [CONDITION_FAILED], "ResultPath": None, "Next": fail_state}],
            "Next": fail_state,
        },
    }


def create_project() -> dict[str, Any]:
    fail = "ProvisioningFailed"
    return {
        "Comment": "Provision a project: initial environments, the image repository, then "
        "active. Every step retries transient errors; any failure ends in status failed with "
        "a reason. Generated by statemachines/asl.py.",
        "StartAt": "CreateEnvironments",
        "TimeoutSeconds": EXECUTION_TIMEOUT,
        "States": {
            **steps("CreateEnvironments", "CreateImageRepository", "FinishProvisioning"),
            **failure_path("creating", fail, "create", "retry the project"),
            **fail_state(fail, "provisioning"),
        },
    }


def delete_project() -> dict[str, Any]:
    fail = "DeprovisioningFailed"
    return {
        "Comment": "Deprovision a project: when reclaiming, delete the image repository; "
        "remove the project's environments and scoped credentials; sweep what the project "
        "still owns; leave a deleted tombstone. Any failure ends in status failed with a "
        "reason. Generated by statemachines/asl.py.",
        "StartAt": "Reclaim?",
        "TimeoutSeconds": EXECUTION_TIMEOUT,
        "States": {
            "Reclaim?": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Variable": "$.reclaim",
                        "BooleanEquals": True,
                        "Next": "DeleteImageRepository",
                    }
                ],
                "Default": "RevokeProjectCredentials",
            },
            **steps("DeleteImageRepository", "RevokeProjectCredentials", "FinishDeprovisioning"),
            **failure_path("deleting", fail, "delete", "delete the project again"),
            **fail_state(fail, "deprovisioning"),
        },
    }


DEFINITIONS = {"create_project": create_project, "delete_project": delete_project}


def rendered(name: str) -> str:
    return json.dumps(DEFINITIONS[name](), indent=2) + "\n"


def main() -> int:
    for name in DEFINITIONS:
        (HERE / f"{name}.asl.json").write_text(rendered(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
