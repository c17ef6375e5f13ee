"""Nothing stays stuck: each way a project can be stranded in `creating` or `deleting`,
injected, then the reconciler (tenantry.domain.reconciler, the ReconcilerFunction on its
schedule) run as the schedule would, later, and the project found in a truthful status.

Time: the reconciler reads the clock through tenantry.domain.reconciler.now_iso; the
`reconcile` fixture runs it at a moment past every operation's check time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.workflows.support import (
    CREATE_SM,
    DELETE_SM,
    Faults,
    Workflow,
    assert_no_internals,
    client_error,
)

SCHEDULED_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


@pytest.fixture
def reconcile(workflow: Workflow, monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, int]]:
    """Run the ReconcilerFunction `minutes` from now (default: past START_GRACE)."""
    from tenantry.clock import now_iso
    from tenantry.domain import reconciler

    def run(minutes: float = 3) -> dict[str, int]:
        moment = now_iso(timedelta(minutes=minutes))
        monkeypatch.setattr(reconciler, "now_iso", lambda: moment)
        return dict(workflow.api.invoke("ReconcilerFunction", SCHEDULED_EVENT))

    return run


def operation(workflow: Workflow, project_id: str, op_id: str) -> dict[str, Any]:
    items = [i for i in workflow.items(project_id, f"OP#{op_id}") if i["SK"]["S"] == f"OP#{op_id}"]
    assert items, f"no operation {op_id}"
    return items[0]


def is_open(workflow: Workflow, project_id: str, op_id: str) -> bool:
    op = operation(workflow, project_id, op_id)
    return op["status"]["S"] == "open" and "GSI3PK" in op


def start_fails(faults: Faults, times: int | None = None) -> Any:
    return faults.inject(
        faults.sfn(),
        "start_execution",
        lambda: client_error("ServiceUnavailable", "StartExecution", status=503),
        times=times,
    )


# --- the start of the workflow was lost ------------------------------------------------------


def test_a_lost_start_is_started_by_the_reconciler(
    workflow: Workflow, faults: Faults, reconcile: Callable[..., dict[str, int]]
) -> None:
    fault = start_fails(faults, times=1)
    created = workflow.create("lost-start")
    assert fault.calls == 1
    # the request succeeded: the project and its operation are written
    assert created["status"] == "creating", created
    assert workflow.execution_names() == []
    assert is_open(workflow, "lost-start", "lost-start-create-1")

    assert reconcile(minutes=0.5) == {}  # not due yet: an execution may still be starting
    assert reconcile() == {"start": 1}
    workflow.settle()

    assert workflow.execution_names() == ["lost-start-create-1"]
    assert workflow.project("lost-start")["status"] == "active"
    assert not is_open(workflow, "lost-start", "lost-start-create-1")
    assert workflow.events("lost-start").count("provisioned") == 1
    assert reconcile(minutes=10) == {}  # closed: never looked at again


def test_an_idempotent_retry_of_the_create_request_answers_as_the_first(
    workflow: Workflow, faults: Faults
) -> None:
    """With an Idempotency-Key the client's retry gets the first answer, never 409 "id
    taken", even when the first start was lost."""
    start_fails(faults, times=1)
    body = {"name": "Retried", "id": "retried", "environments": ["dev"]}
    headers = {"Idempotency-Key": "create-retried-1"}
    first = workflow.api.post("/projects", token=workflow.token, json=body, headers=headers)
    again = workflow.api.post("/projects", token=workflow.token, json=body, headers=headers)
    assert first.status == again.status == 202, (first, again)
    assert first.json() == again.json()


@pytest.mark.parametrize("kind", ["create", "delete"])
def test_a_start_that_keeps_failing_ends_failed_then_retry_works(
    workflow: Workflow,
    faults: Faults,
    reconcile: Callable[..., dict[str, int]],
    kind: str,
) -> None:
    from tenantry.domain import reconciler

    pid = f"never-{kind}"
    if kind == "delete":
        workflow.create(pid)
        workflow.settle()
    fault = start_fails(faults)
    if kind == "create":
        workflow.create(pid)
    else:
        assert workflow.delete(pid, reclaim=True)["status"] == "deleting"
    for n in range(1, reconciler.MAX_STARTS):
        assert reconcile(minutes=3 * n) == {"start": 1}
    assert fault.calls == reconciler.MAX_STARTS
    assert reconcile(minutes=3 * reconciler.MAX_STARTS) == {"fail": 1}

    project = workflow.project(pid)
    assert project["status"] == "failed", project
    next_step = "retry the project" if kind == "create" else "delete the project again"
    assert project["reason"] == f"the {kind} workflow could not be started; {next_step}"
    assert_no_internals(project["reason"])
    last = workflow.history(pid)[-1]
    assert last["actor"] == "system:reconciler"
    assert last["to"] == "failed" and last["detail"] == {"reason": project["reason"]}
    assert not is_open(workflow, pid, f"{pid}-{kind}-1")

    faults.remove(faults.sfn(), "start_execution")
    if kind == "create":
        assert workflow.action(pid, "retry").status == 202
        workflow.settle()
        assert workflow.project(pid)["status"] == "active"
    else:
        workflow.delete(pid, reclaim=True)
        workflow.settle()
        assert workflow.project(pid)["status"] == "deleted"
        assert workflow.repository(pid) is None


# --- the failure path failed -------------------------------------------------------------------


def test_record_failure_failing_is_caught_by_the_direct_write(
    workflow: Workflow, faults: Faults, reconcile: Callable[..., dict[str, int]]
) -> None:
    """A step fails for good, then RecordFailure fails too (every try): MarkFailed, a
    direct DynamoDB UpdateItem, marks the project failed; the reconciler adds the history
    entry and the Ready condition and closes the operation."""
    faults.inject(
        faults.ecr(),
        "create_repository",
        lambda: client_error("AccessDeniedException", "CreateRepository"),
    )
    broken = RuntimeError("RecordFailure is broken (injected)")

    def record_failure(event: Any, context: Any) -> Any:
        raise broken

    workflow.stack.set_handler("RecordFailureFunction", record_failure)
    workflow.create("double-fault")
    workflow.settle()

    ex = workflow.settled_execution("double-fault-create-1")
    assert ex["status"] == "FAILED"
    assert workflow.states("double-fault-create-1")[-3:] == [
        "RecordFailure",
        "MarkFailed",
        "ProvisioningFailed",
    ]
    project = workflow.project("double-fault")
    assert project["status"] == "failed", project
    assert project["reason"] == (
        "the create workflow failed and its failure could not be recorded; retry the project"
    )
    assert is_open(workflow, "double-fault", "double-fault-create-1")
    # the status partition moved with the status: the admin's ?state=failed list finds it
    r = workflow.api.get("/projects", token=workflow.token, query={"state": "failed"})
    assert [p["id"] for p in r.json()["items"]] == ["double-fault"], r.json()

    assert reconcile() == {"record": 1}
    project = workflow.project("double-fault")
    assert project["status"] == "failed"
    ready = [c for c in project["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "False" and ready[0]["message"] == project["reason"]
    last = workflow.history("double-fault")[-1]
    assert last["event"] == "provisioning_failed" and last["actor"] == "system:reconciler"
    assert not is_open(workflow, "double-fault", "double-fault-create-1")


def test_an_execution_that_ended_without_its_result_fails_the_project(
    workflow: Workflow, gate: Any, reconcile: Callable[..., dict[str, int]]
) -> None:
    """Stopped by hand (or ended any other way without a result): the project is failed
    with a reason saying so, and can be retried."""
    held = gate("CreateImageRepositoryFunction")
    workflow.create("aborted")
    assert held.entered.wait(5)
    sfn = workflow.stack.client("stepfunctions")
    sfn.stop_execution(executionArn=workflow.execution("aborted-create-1")["executionArn"])
    held.released.set()
    workflow.settle()
    assert workflow.project("aborted")["status"] == "creating"

    assert reconcile() == {"fail": 1}
    workflow.settle()
    project = workflow.project("aborted")
    assert project["status"] == "failed"
    assert project["reason"] == (
        "the create workflow ended without recording its result; retry the project"
    )
    assert workflow.action("aborted", "retry").status == 202
    workflow.settle()
    assert workflow.project("aborted")["status"] == "active"


def test_a_running_execution_is_left_alone(
    workflow: Workflow, gate: Any, reconcile: Callable[..., dict[str, int]]
) -> None:
    held = gate("CreateEnvironmentsFunction")
    workflow.create("slow")
    assert held.entered.wait(5)
    assert reconcile() == {"wait": 1}
    assert workflow.project("slow")["status"] == "creating"
    assert reconcile() == {}  # looked at again only RUNNING_RECHECK later
    held.released.set()
    workflow.settle()
    assert workflow.project("slow")["status"] == "active"
    assert reconcile(minutes=30) == {}


# --- overtaken operations ----------------------------------------------------------------------


def test_an_operation_overtaken_by_a_delete_is_closed(
    workflow: Workflow, gate: Any, reconcile: Callable[..., dict[str, int]]
) -> None:
    held = gate("CreateImageRepositoryFunction")
    workflow.create("overtaken")
    assert held.entered.wait(5)
    workflow.delete("overtaken", reclaim=True)
    held.released.set()
    workflow.settle()
    assert workflow.project("overtaken")["status"] == "deleted"
    assert reconcile() == {"close": 1}
    assert not is_open(workflow, "overtaken", "overtaken-create-1")
    assert not is_open(workflow, "overtaken", "overtaken-delete-1")


def test_the_reconciler_reads_only_operations_due(
    workflow: Workflow, reconcile: Callable[..., dict[str, int]]
) -> None:
    """Finished operations leave the index: a run over many finished projects reads
    nothing but one empty page."""
    for i in range(5):
        workflow.create(f"done-{i}")
    workflow.settle()
    assert reconcile() == {}
    assert {e["status"] for e in workflow.api.executions(CREATE_SM)} == {"SUCCEEDED"}
    assert workflow.api.executions(DELETE_SM) == []
