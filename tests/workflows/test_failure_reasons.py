"""What a tenant reads when a workflow fails: a sentence chosen by the error's name, never
the exception's text; the raw error goes to the logs only."""

from __future__ import annotations

import json
from unittest import mock

import pytest

from tenantry.domain.provisioning import REASONS, failure_details, failure_reason
from tests.workflows.support import Workflow, assert_no_internals, step_event

RAW = {
    "Error": "RegistryError",
    "Cause": json.dumps(
        {
            "errorMessage": "create image repository: AccessDeniedException: User: "
            "arn:aws:sts::123456789012:assumed-role/x is not authorized",
            "errorType": "RegistryError",
            "stackTrace": ['  File "/var/task/app.py", line 1'],
        }
    ),
}


@pytest.mark.parametrize("name", sorted(REASONS))
@pytest.mark.parametrize("operation", ["create", "delete"])
def test_every_known_error_reads_as_a_sentence(name: str, operation: str) -> None:
    reason = failure_reason({"Error": name, "Cause": "secret internals"}, operation)
    assert_no_internals(reason)
    assert "secret" not in reason and name not in reason
    if name != "ProjectStateChanged":
        again = "retry the project" if operation == "create" else "delete the project again"
        assert reason.endswith(again), reason


def test_the_image_registry_being_unavailable_says_retry() -> None:
    reason = failure_reason({"Error": "TransientError", "Cause": "ThrottlingException"})
    assert reason == "the image registry was unavailable; retry the project"


@pytest.mark.parametrize(
    "error",
    [
        {"Error": "KeyError", "Cause": "'project_id'"},
        {"Error": "States.Runtime", "Cause": "An error occurred while executing the state"},
        {"Error": "", "Cause": None},
        {"Cause": "no name at all"},
    ],
)
def test_unknown_errors_get_the_generic_sentence(error: dict[str, str]) -> None:
    reason = failure_reason(error)
    assert reason.startswith("the workflow failed unexpectedly; ")
    assert_no_internals(reason)


def test_failure_details_keep_the_raw_error_for_the_logs() -> None:
    details = failure_details(RAW)
    assert details["error"] == "RegistryError"
    assert details["cause"].startswith("create image repository: AccessDeniedException")
    assert failure_details({"Error": "X", "Cause": "not json"}) == {
        "error": "X",
        "cause": "not json",
    }
    assert failure_details(None) == {}


def test_record_failure_shows_the_sentence_and_logs_the_raw_error(
    workflow: Workflow, caplog: pytest.LogCaptureFixture
) -> None:
    from tenantry import workflows

    with mock.patch.object(workflows, "start", return_value="arn:not-started"):
        assert workflow.create("leaky")["status"] == "creating"
    result = workflow.api.invoke("RecordFailureFunction", step_event("leaky", "create", error=RAW))

    project = workflow.project("leaky")
    assert project["status"] == "failed"
    assert project["reason"] == result["reason"]
    assert_no_internals(project["reason"])
    assert "arn:aws" not in json.dumps(workflow.history("leaky"))
    (logged,) = [r for r in caplog.records if r.getMessage() == "workflow failed"]
    assert logged.error == "RegistryError", logged.__dict__
    assert "AccessDeniedException" in logged.cause and logged.reason == project["reason"]
