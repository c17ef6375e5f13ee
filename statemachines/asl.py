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

A project's namespaces are asked of each cluster's agent in parallel (ask_clusters): a Map
whose iterator waits on a task token (lambda:invoke.waitForTaskToken) that the agent's
report resumes, with HeartbeatSeconds (the longest silence of the agent: no claim, no
lease extension) and TimeoutSeconds (the longest wait of an agent that keeps working), both
from the plan step (template parameters). A wait that ends without the agent's report is
caught per cluster into NamespaceOutcome: one cluster's failure never fails the others,
and the finishing step reads each cluster's result from the table.

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
# Waiting on an agent: only a failure to hand the request over is retried; a timeout
# (States.Timeout, States.HeartbeatTimeout) or the agent's own failure is the outcome.
WAIT_RETRY = {**STEP_RETRY, "ErrorEquals": [e for e in RETRYABLE if e != "States.Timeout"]}
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


def steps(*names: str, then: str | None = None) -> dict[str, Any]:
    """Lambda steps run one after the other, each caught into RecordFailure; the last goes
    on to `then` (or ends the execution)."""
    return {
        name: task(name, following, retry=STEP_RETRY, catch="RecordFailure")
        for name, following in zip(names, [*names[1:], then], strict=True)
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


def ask_clusters(next_state: str) -> dict[str, Any]:
    """PlanNamespaces (its result at $.namespaces), then AskClusters: one parallel wait per
    cluster planned, each ended by the agent's report or caught into NamespaceOutcome."""
    plan = task("PlanNamespaces", "AskClusters", retry=STEP_RETRY, catch="RecordFailure")
    plan["ResultPath"] = "$.namespaces"
    per_cluster = {
        "project_id.$": "$.project_id",
        "operation.$": "$.operation",
        "attempt.$": "$.attempt",
        "cluster.$": "$$.Map.Item.Value.cluster",
        "cluster_id.$": "$$.Map.Item.Value.cluster_id",
        "heartbeat.$": "$.namespaces.heartbeat",
        "timeout.$": "$.namespaces.timeout",
    }
    ask_cluster = {
        "Type": "Task",
        "Comment": "Queue the cluster's work item and wait until its agent reports.",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {
            "FunctionName": "${RequestNamespaceFunctionArn}",
            "Payload": {
                "project_id.$": "$.project_id",
                "operation.$": "$.operation",
                "attempt.$": "$.attempt",
                "cluster.$": "$.cluster",
                "cluster_id.$": "$.cluster_id",
                "task_token.$": "$$.Task.Token",
            },
        },
        "HeartbeatSecondsPath": "$.heartbeat",
        "TimeoutSecondsPath": "$.timeout",
        "ResultPath": None,
        "Retry": [WAIT_RETRY],
        "Catch": [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NamespaceOutcome"}
        ],
        "End": True,
    }
    outcome = task("NamespaceOutcome", None, retry=STEP_RETRY, catch="OutcomeNotRecorded")
    return {
        "PlanNamespaces": plan,
        "AskClusters": {
            "Type": "Map",
            "Comment": "Every cluster at once; one cluster's failure never fails the others.",
            "ItemsPath": "$.namespaces.clusters",
            "ItemSelector": per_cluster,
            "MaxConcurrency": 0,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "AskCluster",
                "States": {
                    "AskCluster": ask_cluster,
                    "NamespaceOutcome": outcome,
                    "OutcomeNotRecorded": {
                        "Type": "Pass",
                        "Comment": "The cluster's record stays unfinished: the finishing "
                        "step reads it as failed.",
                        "End": True,
                    },
                },
            },
            "ResultPath": None,
            "Catch": [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}
            ],
            "Next": next_state,
        },
    }


def create_project() -> dict[str, Any]:
    fail = "ProvisioningFailed"
    return {
        "Comment": "Provision a project: initial environments, the image repository, a "
        "namespace on each of its clusters (asked of the clusters' agents in parallel), then "
        "active. Every step retries transient errors; any failure ends in status failed with "
        "a reason. Generated by statemachines/asl.py.",
        "StartAt": "CreateEnvironments",
        "TimeoutSeconds": EXECUTION_TIMEOUT,
        "States": {
            **steps("CreateEnvironments", "CreateImageRepository", then="PlanNamespaces"),
            **ask_clusters("FinishProvisioning"),
            **steps("FinishProvisioning"),
            **failure_path("creating", fail, "create", "retry the project"),
            **fail_state(fail, "provisioning"),
        },
    }


def delete_project() -> dict[str, Any]:
    fail = "DeprovisioningFailed"
    return {
        "Comment": "Deprovision a project: when reclaiming, delete the image repository; "
        "remove the project's environments and scoped credentials; delete its namespaces "
        "(reclaiming: asked of the clusters' agents in parallel) or retain them; sweep what "
        "the project still owns; leave a deleted tombstone. Any failure ends in status "
        "failed with a reason. Generated by statemachines/asl.py.",
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
            **steps("DeleteImageRepository", "RevokeProjectCredentials", then="PlanNamespaces"),
            **ask_clusters("FinishDeprovisioning"),
            **steps("FinishDeprovisioning"),
            **failure_path("deleting", fail, "delete", "delete the project again"),
            **fail_state(fail, "deprovisioning"),
        },
    }


def ask_agent(next_state: str, comment: str, step: str | None = None) -> dict[str, Any]:
    """Queue a work item of the task for a cluster's agent and wait for its report; every way
    out (the report, a failure, a timeout) but success goes to FinishTask."""
    payload = {
        "project_id.$": "$.project_id",
        "task_id.$": "$.task_id",
        "task_token.$": "$$.Task.Token",
    }
    if step:
        payload["step"] = step
    return {
        "Type": "Task",
        "Comment": comment,
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "${RequestDeploymentWorkFunctionArn}", "Payload": payload},
        "HeartbeatSecondsPath": "$.started.heartbeat",
        "TimeoutSecondsPath": "$.started.timeout",
        "ResultPath": None,
        "Retry": [WAIT_RETRY],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "FinishTask"}],
        "Next": next_state,
    }


def run_deployment_task() -> dict[str, Any]:
    """A deployment task: StartTask, the agent's wait, FinishTask. A Recreate waits twice:
    the release uninstalled where it was (that cluster's agent), then installed where it
    goes. Every way out of a wait (the agent's report, its failure, a timeout) and a task
    that cannot start (canceled meanwhile) goes to FinishTask, which records the outcome,
    gives the deployment's slot back and starts its next due task."""
    start = task("StartTask", "Recreate?", retry=STEP_RETRY, catch="FinishTask")
    start["ResultPath"] = "$.started"
    finish = task(
        "FinishTask", None, retry=RECORD_RETRY, catch="TaskNotRecorded", error_path="$.finish_error"
    )
    return {
        "Comment": "Run one deployment task: mark it Started, hand it to the cluster's agent "
        "and wait (task token, heartbeat, timeout), record Done or Failed with the reason, "
        "then the deployment's next due task. Generated by statemachines/asl.py.",
        "StartAt": "StartTask",
        "TimeoutSeconds": EXECUTION_TIMEOUT,
        "States": {
            "StartTask": start,
            "Recreate?": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Variable": "$.started.operation",
                        "StringEquals": "Recreate",
                        "Next": "UninstallWhereItWas",
                    }
                ],
                "Default": "AskAgent",
            },
            "UninstallWhereItWas": ask_agent(
                "AskAgent",
                "A Recreate: the release uninstalled where it was, by that cluster's agent.",
                step="uninstall",
            ),
            "AskAgent": ask_agent(
                "FinishTask",
                "Queue the task's work item for the cluster's agent and wait for its report.",
            ),
            "FinishTask": finish,
            **fail_state("TaskNotRecorded", "recording the task's outcome"),
        },
    }


DEFINITIONS = {
    "create_project": create_project,
    "delete_project": delete_project,
    "run_deployment_task": run_deployment_task,
}


def rendered(name: str) -> str:
    return json.dumps(DEFINITIONS[name](), indent=2) + "\n"


def main() -> int:
    for name in DEFINITIONS:
        (HERE / f"{name}.asl.json").write_text(rendered(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
