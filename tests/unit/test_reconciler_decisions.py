"""tenantry.domain.reconciler.decide: every state an overdue operation can be found in, and
what the reconciler does about it (plain Python; the workflow tests run the real thing)."""

from __future__ import annotations

from typing import Any

import pytest

from tenantry.domain.reconciler import MAX_STARTS, decide, needs_execution, reason

OP = {"id": "p-create-2", "project_id": "p", "kind": "create", "attempt": 2, "starts": 1}
DELETE_OP = {**OP, "id": "p-delete-1", "kind": "delete"}


def project(status: str, operation_id: str = "p-create-2") -> dict[str, Any]:
    return {"id": "p", "status": status, "operation_id": operation_id}


@pytest.mark.parametrize(
    ("op", "found", "execution", "action"),
    [
        (OP, None, None, "close"),  # the project is gone
        (OP, project("deleting", "p-delete-1"), None, "close"),  # overtaken by a DELETE
        (OP, project("active"), "SUCCEEDED", "close"),  # finished; only the close was lost
        (OP, project("failed"), "FAILED", "record"),  # MarkFailed wrote status and reason
        (OP, project("creating"), None, "start"),  # the start after the request was lost
        ({**OP, "starts": MAX_STARTS}, project("creating"), None, "fail:not_started"),
        (OP, project("creating"), "RUNNING", "wait"),
        (OP, project("creating"), "TIMED_OUT", "fail:TIMED_OUT"),
        (OP, project("creating"), "ABORTED", "fail:ended"),
        (OP, project("creating"), "FAILED", "fail:ended"),
        (OP, project("creating"), "SUCCEEDED", "fail:ended"),
        (DELETE_OP, project("deleting", "p-delete-1"), None, "start"),
        (DELETE_OP, project("deleted", "p-delete-1"), "SUCCEEDED", "close"),
        (DELETE_OP, project("failed", "p-delete-1"), "FAILED", "record"),
    ],
)
def test_decide(op: dict, found: dict | None, execution: str | None, action: str) -> None:
    assert decide(op, found, execution) == action


def test_the_execution_is_looked_up_only_while_the_project_works_on_the_operation() -> None:
    assert needs_execution(OP, project("creating"))
    assert not needs_execution(OP, project("active"))
    assert not needs_execution(OP, project("creating", "p-create-3"))
    assert not needs_execution(OP, None)


@pytest.mark.parametrize("kind", ["create", "delete"])
@pytest.mark.parametrize("why", ["not_started", "TIMED_OUT", "ended"])
def test_reasons_are_sentences_with_the_next_step(kind: str, why: str) -> None:
    text = reason(kind, why)
    assert text[0].islower() and "_" not in text and "{" not in text, text
    assert text.endswith("retry the project" if kind == "create" else "delete the project again")
