"""The create-project workflow (statemachines/create_project.asl.json), run as real ASL
under moto with the real step handlers: the happy path, every failure path (transient and
permanent, in each step, before the workflow even starts), retry, a DELETE overtaking
provisioning, and steps run twice.

Contract: docs ARCHITECTURE.md "Workflows", API.md "Projects" (lifecycle, provisioning).
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from unittest import mock

import pytest

from local import template
from statemachines import asl
from statemachines.asl import FUNCTION_TIMEOUT
from tests.workflows.support import (
    CREATE_SM,
    CREATE_STEPS,
    DELETE_SM,
    Faults,
    LostResponse,
    Workflow,
    assert_no_internals,
    client_error,
    dynamodb_busy,
    states_of,
    step_event,
)

ENV_NAMESPACE = uuid.UUID("6f1c1b1e-3f5e-4a59-9a47-2f0d5c1e7a10")  # provisioning.ENV_NAMESPACE


def throttled() -> Exception:
    return client_error("ThrottlingException", "CreateRepository", message="Rate exceeded")


def access_denied(operation: str = "CreateRepository") -> Exception:
    return client_error(
        "AccessDeniedException", operation, message="not authorized to perform this action"
    )


def assert_failed(wf: Workflow, pid: str, execution: str = "") -> dict[str, Any]:
    """The project ended `failed` with a reason, recorded by the workflow's RecordFailure,
    and the execution ended in the Fail state ProvisioningFailed."""
    execution = execution or f"{pid}-create-1"
    ex = wf.settled_execution(execution)
    assert ex["status"] == "FAILED", ex
    assert ex.get("error") == "ProvisioningFailed", ex
    assert wf.states(execution)[-2:] == ["RecordFailure", "ProvisioningFailed"]
    project = wf.project(pid)
    assert project["status"] == "failed", project
    assert_no_internals(project["reason"])
    ready = [c for c in project["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "False" and ready[0]["reason"] == "Failed", project
    assert ready[0]["message"] == project["reason"]
    failed = [h for h in wf.history(pid) if h["event"] == "provisioning_failed"]
    assert len(failed) == 1, wf.events(pid)
    assert failed[0]["from"] == "creating" and failed[0]["to"] == "failed"
    assert failed[0]["actor"] == "system:workflow"
    assert failed[0]["detail"] == {"reason": project["reason"]}
    return project


# --- deployment -------------------------------------------------------------------------------


def test_every_state_machine_of_the_template_is_deployed_and_parsed(workflow: Workflow) -> None:
    """Every Task has Retry and Catch and names a function of the template; the project
    workflows' steps follow the one policy of statemachines/asl.py."""
    sfn = workflow.stack.client("stepfunctions")
    machines = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    deployed = {
        lid: arn.rsplit(":", 1)[-1] for lid, arn in workflow.stack.state_machine_arns().items()
    }
    assert set(machines) == set(deployed.values())
    assert {CREATE_SM, DELETE_SM} <= set(deployed)
    functions = {fn.arn for fn in workflow.stack.functions.values()}
    for name, arn in machines.items():
        definition = sfn.describe_state_machine(stateMachineArn=arn)["definition"]
        assert "${" not in definition, f"{name}: unsubstituted DefinitionSubstitutions"
        states = json.loads(definition)["States"]
        for state_name, state in states.items():
            if state["Type"] != "Task":
                continue
            assert state.get("Retry") and state.get("Catch"), (name, state_name)
            if state_name == "MarkFailed":  # the direct write, when RecordFailure failed
                assert state["Resource"] == "arn:aws:states:::dynamodb:updateItem"
                assert state["Catch"][0]["ErrorEquals"] == [asl.CONDITION_FAILED]
                continue
            if state["Resource"].startswith("arn:aws:states:::lambda:invoke"):
                assert state["Parameters"]["FunctionName"] in functions, (name, state_name)
                continue
            assert state["Resource"] in functions, (name, state_name)
            assert state["TimeoutSeconds"] < FUNCTION_TIMEOUT, (name, state_name)
            if name not in (CREATE_SM, DELETE_SM):
                continue
            assert state["Retry"][0]["ErrorEquals"] == asl.RETRYABLE
            expected = "MarkFailed" if state_name == "RecordFailure" else "RecordFailure"
            assert state["Catch"][0]["Next"] == expected, (name, state_name)


def test_the_checked_in_asl_is_what_statemachines_asl_writes() -> None:
    for name in asl.DEFINITIONS:
        path = asl.HERE / f"{name}.asl.json"
        assert path.read_text() == asl.rendered(name), f"{path}: run `make asl`"


def test_step_timeouts_sit_below_the_function_timeout() -> None:
    """States.Timeout can fire only if the state gives up before Lambda does."""
    assert template.load()["Globals"]["Function"]["Timeout"] == FUNCTION_TIMEOUT
    assert asl.STEP_TIMEOUT < FUNCTION_TIMEOUT


# --- happy path ---------------------------------------------------------------------------------


def test_create_provisions_environments_repository_and_activates(workflow: Workflow) -> None:
    created = workflow.create("alpha", ("dev", "staging", "prod"))
    assert created["status"] == "creating"
    workflow.settle()

    assert workflow.execution_names() == ["alpha-create-1"]
    ex = workflow.execution("alpha-create-1")
    assert ex["status"] == "SUCCEEDED", ex
    assert workflow.states("alpha-create-1") == states_of(CREATE_STEPS)
    for step in CREATE_STEPS:
        assert workflow.step_attempts("alpha-create-1", step) == ["ok"]

    project = workflow.project("alpha")
    assert project["status"] == "active"
    assert project["reason"] is None
    assert project["version"] == created["version"] + 1
    conditions = {c["type"]: c for c in project["conditions"]}
    assert set(conditions) == {
        "EnvironmentsReady",
        "ImageRepositoryReady",
        "NamespacesReady",
        "Ready",
    }
    assert conditions["NamespacesReady"]["status"] == "True"  # no clusters: nothing to fail
    assert all(c["status"] == "True" for c in conditions.values()), conditions
    assert conditions["EnvironmentsReady"]["detail"] == {"environments": ["dev", "staging", "prod"]}
    assert conditions["ImageRepositoryReady"]["detail"] == {"repository": "tenantry/alpha"}
    assert conditions["Ready"]["reason"] == "Provisioned"

    envs = workflow.environments("alpha")
    assert envs == {
        name: str(uuid.uuid5(ENV_NAMESPACE, f"alpha/{name}")) for name in ("dev", "staging", "prod")
    }
    assert len(workflow.items("alpha", "ENV#")) == 3
    assert len(workflow.items("alpha", "ENVNAME#")) == 3

    repo = workflow.repository("alpha")
    assert repo is not None and repo["repositoryName"] == "tenantry/alpha"
    assert workflow.repository_tags("alpha") == {"tenantry:project": "alpha"}

    history = workflow.history("alpha")
    assert [h["event"] for h in history] == [
        "created",
        "environments_created",
        "image_repository_created",
        "provisioned",
    ]
    assert history[0]["to"] == "creating"
    assert history[1]["detail"]["newly_created"] == ["dev", "staging", "prod"]
    assert history[2]["detail"] == {"repository": "tenantry/alpha"}
    assert (history[3]["from"], history[3]["to"]) == ("creating", "active")
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)


def test_environment_ids_are_deterministic_per_project_and_name(workflow: Workflow) -> None:
    workflow.create("one", ("dev",))
    workflow.create("two", ("dev",))
    workflow.settle()
    one, two = workflow.environments("one"), workflow.environments("two")
    assert one == {"dev": str(uuid.uuid5(ENV_NAMESPACE, "one/dev"))}
    assert two == {"dev": str(uuid.uuid5(ENV_NAMESPACE, "two/dev"))}
    assert one["dev"] != two["dev"]


# --- registry failures --------------------------------------------------------------------------


def test_transient_registry_failure_is_retried_and_recovers(
    workflow: Workflow, faults: Faults
) -> None:
    fault = faults.inject(faults.ecr(), "create_repository", throttled, times=2)
    workflow.create("beta")
    workflow.settle()

    assert workflow.execution("beta-create-1")["status"] == "SUCCEEDED"
    assert fault.calls == 3 and fault.failures == 2
    # the state machine saw the step's error by name and retried it
    assert workflow.step_attempts("beta-create-1", "CreateImageRepository") == [
        "TransientError",
        "TransientError",
        "ok",
    ]
    assert workflow.project("beta")["status"] == "active"
    assert workflow.repository("beta") is not None
    assert "provisioning_failed" not in workflow.events("beta")


def test_registry_failing_after_all_retries_ends_failed_with_reason(
    workflow: Workflow, faults: Faults
) -> None:
    fault = faults.inject(faults.ecr(), "create_repository", throttled)
    workflow.create("gamma")
    workflow.settle()

    assert fault.calls == 4  # the first call and MaxAttempts 3 retries
    assert (
        workflow.step_attempts("gamma-create-1", "CreateImageRepository") == ["TransientError"] * 4
    )
    project = assert_failed(workflow, "gamma")
    assert project["reason"] == "the image registry was unavailable; retry the project"
    assert workflow.states("gamma-create-1") == [
        "CreateEnvironments",
        "CreateImageRepository",
        "RecordFailure",
        "ProvisioningFailed",
    ]
    assert workflow.repository("gamma") is None


def test_permanent_registry_error_fails_at_once_without_retries(
    workflow: Workflow, faults: Faults
) -> None:
    fault = faults.inject(faults.ecr(), "create_repository", access_denied)
    workflow.create("delta")
    workflow.settle()

    assert fault.calls == 1
    assert workflow.step_attempts("delta-create-1", "CreateImageRepository") == ["RegistryError"]
    project = assert_failed(workflow, "delta")
    assert project["reason"] == (
        "the image registry refused the request; a platform admin has to check its "
        "permissions, then retry the project"
    )
    assert_no_internals(project["reason"])


def test_registry_server_error_counts_as_transient(workflow: Workflow, faults: Faults) -> None:
    fault = faults.inject(
        faults.ecr(),
        "create_repository",
        lambda: client_error("ServerException", "CreateRepository", status=500),
        times=1,
    )
    workflow.create("server-hiccup")
    workflow.settle()
    assert fault.calls == 2
    assert workflow.project("server-hiccup")["status"] == "active"


# --- failures in the other steps ----------------------------------------------------------------


def creates_environments(ops: list[dict[str, Any]], *_: Any) -> bool:
    """Selects the step transaction that writes environment items."""
    return any(
        str(op.get("Put", {}).get("Item", {}).get("SK", "")).startswith("ENV#") for op in ops
    )


def test_failure_creating_environments_ends_failed(workflow: Workflow, faults: Faults) -> None:
    from tenantry.dal import operations as op_store

    fault = faults.inject(
        op_store,
        "commit",
        lambda: access_denied("TransactWriteItems"),
        when=creates_environments,
    )
    workflow.create("epsilon")
    workflow.settle()

    assert fault.calls == 1  # not transient: no retries
    assert workflow.step_attempts("epsilon-create-1", "CreateEnvironments") == ["ClientError"]
    project = assert_failed(workflow, "epsilon")
    assert project["reason"].startswith("a platform service refused a request"), project
    assert_no_internals(project["reason"])
    assert workflow.states("epsilon-create-1")[:2] == ["CreateEnvironments", "RecordFailure"]
    assert workflow.environments("epsilon") == {}
    assert workflow.repository("epsilon") is None


def test_dynamodb_busy_in_a_step_is_retried(workflow: Workflow, faults: Faults) -> None:
    """Throttling / a transaction conflict on the table is as transient as ECR throttling:
    the step must be retried, not end the project in `failed`."""
    from tenantry.dal import operations as op_store

    fault = faults.inject(op_store, "commit", dynamodb_busy, times=2, when=creates_environments)
    workflow.create("busy")
    workflow.settle()

    assert fault.failures == 2
    assert workflow.project("busy")["status"] == "active", workflow.project("busy")
    assert workflow.execution("busy-create-1")["status"] == "SUCCEEDED"
    assert workflow.step_attempts("busy-create-1", "CreateEnvironments")[-1] == "ok"


def test_failure_finishing_provisioning_ends_failed(workflow: Workflow, faults: Faults) -> None:
    from tenantry.dal import projects as store

    fault = faults.inject(
        store,
        "transition",
        lambda: access_denied("TransactWriteItems"),
        when=lambda project_id, from_statuses, to_status, *a, **kw: to_status == "active",
    )
    workflow.create("zeta")
    workflow.settle()

    assert fault.calls == 1
    assert workflow.step_attempts("zeta-create-1", "FinishProvisioning") == ["ClientError"]
    project = assert_failed(workflow, "zeta")
    assert project["reason"].startswith("a platform service refused a request"), project
    # what the earlier steps made stays (a retry finds it and moves on)
    assert set(workflow.environments("zeta")) == {"dev", "prod"}
    assert workflow.repository("zeta") is not None


# --- retry ----------------------------------------------------------------------------------


def test_retry_action_reruns_provisioning_once_the_fault_is_gone(
    workflow: Workflow, faults: Faults
) -> None:
    ecr = faults.ecr()
    faults.inject(ecr, "create_repository", access_denied)
    workflow.create("eta")
    workflow.settle()
    failed = assert_failed(workflow, "eta")

    faults.remove(ecr, "create_repository")
    r = workflow.action("eta", "retry")
    assert r.status == 202, r
    assert r.json()["status"] == "creating"
    assert r.json()["reason"] is None
    workflow.settle()

    assert workflow.execution_names() == ["eta-create-1", "eta-create-2"]
    assert workflow.execution("eta-create-2")["status"] == "SUCCEEDED"
    project = workflow.project("eta")
    assert project["status"] == "active"
    assert project["reason"] is None
    assert project["version"] > failed["version"]
    assert {c["type"] for c in project["conditions"]} == {
        "EnvironmentsReady",
        "ImageRepositoryReady",
        "NamespacesReady",
        "Ready",
    }
    assert workflow.repository("eta") is not None
    assert len(workflow.items("eta", "ENV#")) == 2  # the first run's, not duplicated
    history = workflow.history("eta")
    assert [h["event"] for h in history] == [
        "created",
        "environments_created",
        "provisioning_failed",
        "retry",
        "environments_created",
        "image_repository_created",
        "provisioned",
    ]
    assert history[4]["detail"]["newly_created"] == []


def test_retry_is_refused_unless_failed(workflow: Workflow) -> None:
    workflow.create("theta")
    workflow.settle()
    r = workflow.action("theta", "retry")
    assert r.status == 409, r
    assert workflow.execution_names() == ["theta-create-1"]


# --- DELETE overtaking provisioning -----------------------------------------------------------


@pytest.mark.parametrize("step", CREATE_STEPS)
def test_delete_during_provisioning_stops_the_create_workflow(
    workflow: Workflow, gate: Any, step: str
) -> None:
    held = gate(f"{step}Function")
    workflow.create("iota")
    assert held.entered.wait(5), f"{step} never ran"
    deleting = workflow.delete("iota", reclaim=True)
    assert deleting["status"] == "deleting"
    held.released.set()
    workflow.settle()

    create = workflow.execution("iota-create-1")
    assert create["status"] != "RUNNING"
    assert workflow.execution("iota-delete-1")["status"] == "SUCCEEDED"
    project = workflow.project("iota")
    assert project["status"] == "deleted", project
    assert project["deleted_at"]
    assert project["reason"] is None
    events = workflow.events("iota")
    # never resurrected (provisioned) nor overwritten (provisioning_failed), and nothing
    # written after the tombstone
    assert "provisioned" not in events and "provisioning_failed" not in events, events
    assert events[-1] == "deleted", events
    assert workflow.items("iota", "ENV") == []
    assert workflow.repository("iota") is None


# --- steps run twice (idempotency) -------------------------------------------------------------


@pytest.fixture
def creating(workflow: Workflow) -> str:
    """Project `kappa` in `creating`, with no workflow running: the steps are driven here."""
    from tenantry import workflows

    with mock.patch.object(workflows, "start", return_value="arn:not-started"):
        assert workflow.create("kappa")["status"] == "creating"
    assert workflow.execution_names() == []
    return "kappa"


def test_create_environments_twice_creates_them_once(workflow: Workflow, creating: str) -> None:
    event = step_event(creating, "create")
    first = workflow.api.invoke("CreateEnvironmentsFunction", event)
    second = workflow.api.invoke("CreateEnvironmentsFunction", event)
    assert first == second == {"created": ["dev", "prod"]}  # the same answer, once done
    assert workflow.environments(creating) == {
        n: str(uuid.uuid5(ENV_NAMESPACE, f"{creating}/{n}")) for n in ("dev", "prod")
    }
    assert len(workflow.items(creating, "ENV#")) == 2
    assert len(workflow.items(creating, "ENVNAME#")) == 2
    assert workflow.project(creating)["status"] == "creating"


def test_create_image_repository_twice_is_fine(workflow: Workflow, creating: str) -> None:
    event = step_event(creating, "create")
    first = workflow.api.invoke("CreateImageRepositoryFunction", event)
    second = workflow.api.invoke("CreateImageRepositoryFunction", event)
    assert first == second == {"repository": f"tenantry/{creating}"}
    repos = workflow.stack.client("ecr").describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in repos] == [f"tenantry/{creating}"]
    assert workflow.repository_tags(creating) == {"tenantry:project": creating}


def test_finish_provisioning_twice_finds_its_work_done(workflow: Workflow, creating: str) -> None:
    event = step_event(creating, "create")
    for step in ("CreateEnvironmentsFunction", "CreateImageRepositoryFunction"):
        workflow.api.invoke(step, event)
    assert workflow.api.invoke("FinishProvisioningFunction", event) == {"status": "active"}
    active = workflow.project(creating)
    assert workflow.api.invoke("FinishProvisioningFunction", event) == {"status": "active"}
    again = workflow.project(creating)
    assert again["status"] == "active"
    assert again["version"] == active["version"]
    assert workflow.events(creating).count("provisioned") == 1


@pytest.mark.parametrize("step", CREATE_STEPS)
def test_step_retried_after_its_work_was_done_still_succeeds(workflow: Workflow, step: str) -> None:
    """At-least-once: Lambda.ServiceException after the step committed; the ASL retries it
    and the step must find its work done and move on."""
    lost = LostResponse(workflow.stack, f"{step}Function")
    workflow.create("lambda")
    workflow.settle()

    assert lost.calls == 2
    assert workflow.step_attempts("lambda-create-1", step) == ["Lambda.ServiceException", "ok"]
    ex = workflow.execution("lambda-create-1")
    assert ex["status"] == "SUCCEEDED", (ex, workflow.events("lambda"))
    project = workflow.project("lambda")
    assert project["status"] == "active"
    events = workflow.events("lambda")
    assert events.count("provisioned") == 1
    assert not {"provisioning_failed", "create_workflow_stopped"} & set(events), events
    assert len(workflow.items("lambda", "ENV#")) == 2


# --- RecordFailure never overwrites -----------------------------------------------------------


@pytest.mark.parametrize("operation", ["create", "delete"])
def test_record_failure_on_a_project_that_moved_on_only_appends_history(
    workflow: Workflow, operation: str
) -> None:
    workflow.create("moved-on")
    workflow.settle()
    before = workflow.project("moved-on")
    assert before["status"] == "active"
    error = {
        "Error": "RegistryError",
        "Cause": '{"errorMessage": "create image repository: AccessDenied: no", '
        '"errorType": "RegistryError"}',
    }

    result = workflow.api.invoke(
        "RecordFailureFunction", step_event("moved-on", operation, error=error)
    )

    assert result["reason"].startswith("the image registry refused the request; ")
    assert_no_internals(result["reason"])
    after = workflow.project("moved-on")
    assert after == before  # status, reason, conditions, version: untouched
    last = workflow.history("moved-on")[-1]
    assert last["event"] == f"{operation}_workflow_stopped"
    assert last["detail"] == {"reason": result["reason"]}
    assert last.get("to") is None


def test_record_failure_on_a_deleted_tombstone_keeps_it_deleted(workflow: Workflow) -> None:
    workflow.create("tombstone")
    workflow.settle()
    workflow.delete("tombstone")
    workflow.settle()
    deleted = workflow.project("tombstone")
    assert deleted["status"] == "deleted"
    events = workflow.events("tombstone")

    result = workflow.api.invoke(
        "RecordFailureFunction",
        step_event("tombstone", "create", error={"Error": "TransientError", "Cause": "late"}),
    )
    assert result["status"] == "unchanged"
    assert workflow.project("tombstone") == deleted
    assert workflow.events("tombstone") == events  # a tombstone's history ends at deleted
    assert events[-1] == "deleted"


def test_record_failure_without_error_details_still_gives_a_reason(
    workflow: Workflow, creating: str
) -> None:
    result = workflow.api.invoke("RecordFailureFunction", step_event(creating, "create"))
    project = workflow.project(creating)
    assert project["status"] == "failed"
    assert project["reason"] == result["reason"] == "the workflow failed for an unknown reason"


# --- starting the workflow ------------------------------------------------------------------


def test_starting_the_same_execution_twice_runs_it_once(workflow: Workflow, creating: str) -> None:
    from tenantry import workflows

    first = workflows.start("create", creating, 1)
    second = workflows.start("create", creating, 1)
    assert first == second
    assert first.endswith(f":{creating}-create-1")
    workflow.settle()
    assert workflow.execution_names() == [f"{creating}-create-1"]
    assert workflow.project(creating)["status"] == "active"
    # and once finished, a late duplicate start still adds nothing
    assert workflows.start("create", creating, 1) == first
    workflow.settle()
    assert workflow.execution_names() == [f"{creating}-create-1"]
    assert workflow.events(creating).count("provisioned") == 1


# --- a DELETE landing inside a step, after its check and before its write -------------------


def _delete_and_deprovision(workflow: Workflow, project_id: str) -> None:
    """The DELETE (reclaim) and its whole workflow, run to the tombstone right now: the
    steps are called in process, as the delete execution would."""
    from tenantry import workflows
    from tenantry.domain import provisioning

    with mock.patch.object(workflows, "start", return_value="arn:not-started"):
        assert workflow.delete(project_id, reclaim=True)["status"] == "deleting"
    provisioning.delete_image_repository(project_id)
    provisioning.revoke_project_credentials(project_id)
    provisioning.finish_deprovisioning(project_id)
    assert workflow.project(project_id)["status"] == "deleted"


def test_a_delete_inside_create_image_repository_leaves_no_repository(
    workflow: Workflow, creating: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantry import registry
    from tenantry.domain import provisioning

    real = registry.create_repository

    def create_after_the_delete(project_id: str) -> str:
        _delete_and_deprovision(workflow, project_id)  # lands between check and side effect
        return real(project_id)

    monkeypatch.setattr(registry, "create_repository", create_after_the_delete)
    with pytest.raises(provisioning.ProjectStateChanged):
        provisioning.create_image_repository(creating)

    assert workflow.repository(creating) is None  # undone: the deletion reclaims
    assert workflow.events(creating)[-1] == "deleted"
    assert "image_repository_created" not in workflow.events(creating)


def test_a_delete_inside_create_environments_leaves_no_environment(
    workflow: Workflow, creating: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantry.dal import projects as store
    from tenantry.domain import provisioning

    real = store.environment_names

    def names_then_delete(project_id: str) -> set[str]:
        found = real(project_id)
        _delete_and_deprovision(workflow, project_id)  # after the read, before the write
        return found

    monkeypatch.setattr(store, "environment_names", names_then_delete)
    with pytest.raises(provisioning.ProjectStateChanged):
        provisioning.create_environments(creating)

    assert workflow.items(creating, "ENV") == []
    assert workflow.events(creating)[-1] == "deleted"
    assert "environments_created" not in workflow.events(creating)


def test_a_stale_executions_record_failure_does_not_fail_the_current_attempt(
    workflow: Workflow, faults: Faults
) -> None:
    """Attempt 1 failed and was retried; a late RecordFailure of attempt 1 (a stale
    execution) must not touch attempt 2."""
    faults.inject(faults.ecr(), "create_repository", lambda: access_denied(), times=1)
    workflow.create("stale")
    workflow.settle()
    assert workflow.project("stale")["status"] == "failed"
    from tenantry import workflows

    with mock.patch.object(workflows, "start", return_value="arn:not-started"):
        assert workflow.action("stale", "retry").status == 202
    assert workflow.project("stale")["status"] == "creating"

    late = step_event("stale", "create", attempt=1, error={"Error": "TransientError"})
    # its mark is set already (attempt 1 recorded its failure): the same answer, no write
    assert workflow.api.invoke("RecordFailureFunction", late)["status"] == "failed"
    assert workflow.project("stale")["status"] == "creating"
    # a step of attempt 1 run late writes nothing either
    with pytest.raises(Exception, match="moved on"):
        workflow.api.invoke("FinishProvisioningFunction", step_event("stale", "create", attempt=1))
    assert workflow.project("stale")["status"] == "creating"
    workflow.api.invoke("CreateEnvironmentsFunction", step_event("stale", "create", attempt=2))
    workflow.api.invoke("CreateImageRepositoryFunction", step_event("stale", "create", attempt=2))
    workflow.api.invoke("FinishProvisioningFunction", step_event("stale", "create", attempt=2))
    assert workflow.project("stale")["status"] == "active"


# --- a step that hangs ----------------------------------------------------------------------


def test_a_hung_step_times_out_and_is_retried(
    workflow: Workflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state's TimeoutSeconds sits below the function's timeout, so a hung step ends
    as States.Timeout, which is retried; the late first invocation did its work, and the
    retry finds it done. (moto waits for TimeoutSeconds in real time: here the steps'
    8 s are 0.3 s, and the first invocation hangs for 0.6 s.)"""
    import threading
    import time

    from moto.stepfunctions.parser.asl.component.common.timeouts import timeout

    real_seconds = timeout.TimeoutSeconds._eval_seconds

    def scaled(self: Any, env: Any) -> float:
        seconds = real_seconds(self, env)
        return 0.3 if seconds == asl.STEP_TIMEOUT else seconds

    monkeypatch.setattr(timeout.TimeoutSeconds, "_eval_seconds", scaled)
    real = workflow.stack.handler("CreateImageRepositoryFunction")
    calls = []
    lock = threading.Lock()

    def hangs_once(event: Any, context: Any) -> Any:
        with lock:
            calls.append(event)
            first = len(calls) == 1
        if first:
            time.sleep(0.6)
        return real(event, context)

    workflow.stack.set_handler("CreateImageRepositoryFunction", hangs_once)
    workflow.create("hung")
    workflow.settle()

    assert workflow.step_attempts("hung-create-1", "CreateImageRepository")[-1] == "ok"
    timed_out = [
        e
        for e in workflow.execution_events("hung-create-1")
        if e["type"] == "LambdaFunctionTimedOut"
    ]
    assert timed_out, workflow.execution_events("hung-create-1")
    assert workflow.project("hung")["status"] == "active"
    assert workflow.events("hung").count("image_repository_created") == 1


def test_mark_failed_moves_the_status_partition_as_the_dal_does() -> None:
    from tenantry.dal import keys

    assert keys.projects_in_status("failed") == asl.FAILED_STATUS_PARTITION
    assert keys.project_status_indexes("p", "failed")[0]["GSI3PK"] == asl.FAILED_STATUS_PARTITION
