"""Operation items (see dal/keys.py): the record of one asynchronous change of a project,
and the transaction pieces that tie a workflow step's writes to its operation."""

from __future__ import annotations

from typing import Any

from tenantry.dal import history, keys, table
from tenantry.errors import Conflict

OPEN = "open"
INDEX_FIELDS = ("GSI3PK", "GSI3SK")


def put_op(op: dict[str, Any]) -> dict[str, Any]:
    """A new open operation (its id is taken once: an execution of that name runs once)."""
    item = {
        **keys.operation(op["project_id"], op["id"]),
        **keys.open_operation_index(op["id"], op["check_at"]),
        "entity": "operation",
        **op,
    }
    return table.tx_put(item, "attribute_not_exists(PK)")


def get_with_project(
    project_id: str, operation_id: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The project and the operation, in one strongly consistent BatchGetItem."""
    project_key, op_key = keys.project(project_id), keys.operation(project_id, operation_id)
    found = table.batch_get_keyed([project_key, op_key], consistent=True)
    return table.pick(found, project_key), table.pick(found, op_key)


def close_op(
    project_id: str,
    operation_id: str,
    outcome: str,
    now: str,
    *,
    step: tuple[str, Any] | None = None,
) -> dict[str, Any]:
    """Close an open operation (succeeded, failed, superseded), marking the closing `step`
    (name, result) done: it leaves the reconciler's index. Conditioned on being open, so
    the first outcome written stays."""
    expression, names, values = table.set_expression(
        {"status": outcome, "closed_at": now}, INDEX_FIELDS
    )
    names["#status"] = "status"
    values[":open"] = OPEN
    if step is not None:
        set_part, _, remove_part = expression.partition(" REMOVE ")
        expression = f"{set_part}, #steps.#step = :done REMOVE {remove_part}"
        names.update({"#steps": "steps", "#step": step[0]})
        values[":done"] = {"at": now, "result": step[1]}
    return table.tx_update(
        keys.operation(project_id, operation_id),
        expression,
        "#status = :open",
        names=names,
        values=values,
    )


def reschedule(project_id: str, operation_id: str, check_at: str, **fields: Any) -> None:
    """Look at it again at `check_at` (it stays open); `fields` record why."""
    changes = {**keys.open_operation_index(operation_id, check_at), "check_at": check_at, **fields}
    expression, names, values = table.set_expression(changes, ())
    values[":open"] = OPEN
    table.update(
        keys.operation(project_id, operation_id),
        expression,
        condition="#status = :open",
        names={**names, "#status": "status"},
        values=values,
    )


def step_done(project_id: str, operation_id: str, step: str, result: Any, now: str) -> dict:
    """Mark a step of the operation done, with its result, in the step's own transaction:
    a retried step finds the mark and writes nothing twice."""
    return table.tx_update(
        keys.operation(project_id, operation_id),
        "SET #steps.#step = :done",
        "attribute_exists(PK) AND attribute_not_exists(#steps.#step)",
        names={"#steps": "steps", "#step": step},
        values={":done": {"at": now, "result": result}},
    )


def commit(
    ops: list[dict[str, Any]], project_id: str | None = None, history_after: int = 0
) -> None:
    """A step's transaction, its history entries (if any: then `project_id` is given)
    numbered after `history_after`, the project's history_seq as the step read it. A
    failed condition is a Conflict for the step to explain (history.Sequenced when only
    the history moved on)."""
    if project_id is None:
        table.transact(ops, on_condition=lambda: Conflict("the operation moved on or was done"))
        return

    def why() -> Exception:
        if history.moved_on(project_id, history_after):
            return history.Sequenced()
        return Conflict("the operation moved on or was done")

    table.transact(history.sequenced(ops, project_id, history_after), on_condition=why)


def current_check(project_id: str, operation_id: str) -> dict[str, Any]:
    """A condition on the project: this operation is still its current one."""
    return table.tx_check(
        keys.project(project_id),
        "operation_id = :operation",
        values={":operation": operation_id},
    )


def not_deleted_check(project_id: str) -> dict[str, Any]:
    """A condition on the project: it is no tombstone (whose history ends at `deleted`)."""
    return table.tx_check(
        keys.project(project_id),
        "#status <> :deleted",
        names={"#status": "status"},
        values={":deleted": "deleted"},
    )


def due(now: str, limit: int, start_key: dict[str, Any] | None = None) -> tuple[list, Any]:
    """Open operations whose check_at has passed, oldest first."""
    return table.query(
        keys.OPEN_OPERATIONS,
        index="GSI3",
        sk_at_most=f"{now}#\uffff",
        limit=limit,
        start_key=start_key,
    )


def current_status_check(project_id: str, status: str) -> dict[str, Any]:
    """A condition on the project: it is in `status` (its changes are allowed)."""
    return table.tx_check(
        keys.project(project_id),
        "#status = :status",
        names={"#status": "status"},
        values={":status": status},
    )
