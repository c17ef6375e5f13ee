"""Operations: every asynchronous change of a project (create, retry, approve, delete) is
an operation item, written in the same transaction as the status change that needs it,
and the project names its current one (`operation_id`). Its workflow execution is named
after it and started from it, idempotently: right after the write, and again by the
reconciler (tenantry.domain.reconciler) if that start was lost. Every step's write is
conditioned on its operation being current, so an overtaken execution changes nothing.

Ids are `<project>-<kind>-<attempt>`: the execution's name, so the state machine knows its
operation without being told (MarkFailed reads `$$.Execution.Name`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tenantry import workflows
from tenantry.dal import operations as store
from tenantry.observability import logger

# The status a project is in while an operation of that kind works on it.
WORKING_STATUS = {"create": "creating", "delete": "deleting"}
# When the reconciler first looks: an execution started at once is RUNNING by then (or has
# closed the operation); one whose start was lost is started again.
START_GRACE = timedelta(seconds=120)


def operation_id(project_id: str, kind: str, attempt: int) -> str:
    return workflows.execution_name(project_id, kind, attempt)


def later(now: str, delta: timedelta) -> str:
    moment = datetime.strptime(now, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) + delta
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def begin(
    project_id: str, kind: str, attempt: int, now: str, **params: Any
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A new operation: (the project's changes naming it, the transaction op writing it,
    the operation). The caller writes both in the transaction that moves the project to
    WORKING_STATUS[kind], then calls launch(). An operation it supersedes stays open until
    the reconciler closes it (a closed or missing one cannot fail this transaction)."""
    op = {
        "id": operation_id(project_id, kind, attempt),
        "project_id": project_id,
        "kind": kind,
        "attempt": attempt,
        "params": params,
        "status": store.OPEN,
        "created_at": now,
        "check_at": later(now, START_GRACE),
        "starts": 1,
        "steps": {},
    }
    return {"operation_id": op["id"]}, store.put_op(op), op


def workflow_params(project: dict[str, Any], kind: str, **params: Any) -> dict[str, Any]:
    """What an operation's execution input carries beyond its ids: `reclaim` for a
    deletion, and `git_repository`, true when the project asked for one (its steps run only
    then: a Choice in each state machine). It is always there: a Choice on a path the input
    lacks is an error of the expression (Step Functions' IsPresent guard aside, moto's
    interpreter logs each one as an exception, which `make run` printed for every project)."""
    params["git_repository"] = bool(
        project.get("init_git_repository") and (kind == "create" or params.get("reclaim"))
    )
    return params


def launch(op: dict[str, Any]) -> None:
    """Start the operation's execution. A failure is only logged: the operation is written,
    and the reconciler starts it when it comes due."""
    try:
        workflows.start(op["kind"], op["project_id"], op["attempt"], **op.get("params", {}))
    except Exception:  # the reconciler retries; the request that wrote it has succeeded
        logger.exception(
            "could not start workflow; the reconciler will",
            extra={"project_id": op["project_id"], "operation_id": op["id"]},
        )
