"""The reconciler: run every minute by an EventBridge schedule (template.yaml), it reads the
open operations whose `check_at` has passed (a sparse index, dal/keys.py) and moves each
project to a truthful status. Nothing else is read, so a run costs one Query plus a few
calls per operation due, whatever the table's size.

For an operation due:
- its project is gone, or names another operation now: the operation is closed
  (superseded); the newer one is reconciled on its own;
- the project already left the working status: if `failed` (the workflow's last-resort
  MarkFailed state wrote that directly), the history entry, the Ready condition and
  Tenantry's `project` notification are written now; the operation is closed;
- the project still works on it (`creating`/`deleting`), and its execution
  - was never started (the start after the request was lost): started now, up to
    MAX_STARTS times, then the project is `failed`;
  - is running: looked at again later (every execution has an overall timeout);
  - has ended (succeeded, failed, timed out, aborted) without its result written: the
    project is `failed` with a reason saying so.
Every move to `failed` posts Tenantry's `project` notification in the same write
(tenantry.domain.notices). A `failed` project can be retried (create) or deleted again
(delete), as after any failure.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from tenantry import workflows
from tenantry.clock import now_iso
from tenantry.dal import history
from tenantry.dal import operations as op_store
from tenantry.dal import projects as store
from tenantry.domain import notices
from tenantry.domain.operations import START_GRACE, WORKING_STATUS, later
from tenantry.domain.provisioning import NEXT_STEP, condition
from tenantry.errors import Conflict, InvalidTransition, NotFound
from tenantry.observability import logger

ACTOR = "system:reconciler"
MAX_STARTS = 3
RUNNING_RECHECK = timedelta(minutes=5)
PAGE = 25
MAX_PAGES = 8  # at most 200 operations per run; the rest are due on the next run
FAILED_EVENT = {"create": "provisioning_failed", "delete": "deprovisioning_failed"}
REASONS = {
    "not_started": "the {what} workflow could not be started; {next}",
    "TIMED_OUT": "the {what} workflow took too long; {next}",
    "ended": "the {what} workflow ended without recording its result; {next}",
}
WHAT = {"create": "create", "delete": "delete"}


def reason(kind: str, why: str) -> str:
    return REASONS[why].format(what=WHAT[kind], next=NEXT_STEP[kind])


def decide(op: dict[str, Any], project: dict[str, Any] | None, execution: str | None) -> str:
    """What to do with a due operation: close, record, start, wait, or fail:<why>.
    `execution` is its execution's status (None: never started); it matters only while
    the project still works on the operation."""
    if project is None or project.get("operation_id") != op["id"]:
        return "close"
    if project["status"] != WORKING_STATUS[op["kind"]]:
        return "record" if project["status"] == "failed" else "close"
    if execution is None:
        return "start" if int(op.get("starts", 0)) < MAX_STARTS else "fail:not_started"
    if execution == "RUNNING":
        return "wait"
    return "fail:TIMED_OUT" if execution == "TIMED_OUT" else "fail:ended"


def needs_execution(op: dict[str, Any], project: dict[str, Any] | None) -> bool:
    return (
        project is not None
        and project.get("operation_id") == op["id"]
        and project["status"] == WORKING_STATUS[op["kind"]]
    )


def run(now: str | None = None) -> dict[str, int]:
    """One pass over the operations due at `now`. Returns how many got which action."""
    now = now or now_iso()
    done: Counter[str] = Counter()
    start_key = None
    for _ in range(MAX_PAGES):
        ops, start_key = op_store.due(now, PAGE, start_key)
        for op in ops:
            try:
                done[reconcile(op, now)] += 1
            except Exception:  # one operation must not stop the others; it stays due
                logger.exception("could not reconcile", extra={"operation_id": op["id"]})
                done["error"] += 1
        if not start_key:
            break
    logger.info("reconciled", extra={"actions": dict(done)})
    return dict(done)


def reconcile(op: dict[str, Any], now: str) -> str:
    pid, op_id, kind = op["project_id"], op["id"], op["kind"]
    project = store.get(pid)
    execution = workflows.status(kind, op_id) if needs_execution(op, project) else None
    action = decide(op, project, execution)
    logger.info(
        "reconciling",
        extra={"operation_id": op_id, "action": action, "execution": execution},
    )
    if action == "close":
        _commit([op_store.close_op(pid, op_id, "superseded", now)])
    elif action == "record":
        assert project is not None
        _record_failure(project, op, now)
    elif action == "start":
        try:
            workflows.start(kind, pid, int(op["attempt"]), **op.get("params", {}))
        except Exception:  # a failed start counts too: MAX_STARTS bounds the tries
            logger.exception("could not start workflow", extra={"operation_id": op_id})
        op_store.reschedule(
            pid, op_id, later(now, START_GRACE), starts=int(op.get("starts", 0)) + 1
        )
    elif action == "wait":
        op_store.reschedule(pid, op_id, later(now, RUNNING_RECHECK))
    else:
        _fail(pid, op, reason(kind, action.removeprefix("fail:")), now)
    return action.partition(":")[0]


def _commit(ops: list[dict[str, Any]]) -> None:
    try:
        op_store.commit(ops)
    except Conflict:
        pass  # closed meanwhile (its workflow finished): nothing left to do


def _failed_entry(project_id: str, kind: str, why: str, now: str) -> dict[str, Any]:
    return history.entry(
        project_id,
        ACTOR,
        FAILED_EVENT[kind],
        from_status=WORKING_STATUS[kind],
        to_status="failed",
        at=now,
        detail={"reason": why},
    )


def _fail(project_id: str, op: dict[str, Any], why: str, now: str) -> None:
    """The project leaves its working status for `failed`, if the operation is current."""
    working = WORKING_STATUS[op["kind"]]
    try:
        store.transition(
            project_id,
            [working],
            "failed",
            _failed_entry(project_id, op["kind"], why, now),
            changes={"reason": why, "conditions": [condition("Ready", False, "Failed", why)]},
            require={"operation_id": op["id"]},
            extra_ops=[
                op_store.close_op(project_id, op["id"], "failed", now),
                *notices.project_failed(project_id, op["kind"], why, now),
            ],
            now=now,
        )
    except (Conflict, InvalidTransition, NotFound):
        pass  # it moved on meanwhile; the next run sees the operation closed or superseded


def _record_failure(project: dict[str, Any], op: dict[str, Any], now: str) -> None:
    """MarkFailed set status and reason only: add the history entry and the condition."""
    pid = project["id"]
    why = project.get("reason") or reason(op["kind"], "ended")
    try:
        store.update(
            pid,
            {"conditions": [condition("Ready", False, "Failed", why)]},
            _failed_entry(pid, op["kind"], why, now),
            allowed_statuses=["failed"],
            expected_version=None,
            require={"operation_id": op["id"]},
            extra_ops=[
                op_store.close_op(pid, op["id"], "failed", now),
                *notices.project_failed(pid, op["kind"], why, now),
            ],
            now=now,
        )
    except (Conflict, InvalidTransition, NotFound):
        pass
