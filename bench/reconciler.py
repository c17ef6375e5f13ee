"""Measurement 6 (reconciler): what one run of the reconciler costs (tenantry.domain.reconciler,
the ReconcilerFunction every minute), in AWS calls, through the real handler under the
emulated stack (tests.harness.emulated).

The table holds CLOSED finished operations (as every project's create leaves its own) and
then, per run measured:
- none due: the common case, every minute;
- DUE operations due: half of them whose start was lost (project `creating`, no
  execution: the run starts it), half overtaken by a newer operation (the run closes them).

Targets: with none due, one Query and nothing else, whatever the number of closed
operations; with some due, at most CALLS_PER_DUE calls per operation due, plus the
Query pages.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any
from unittest import mock

from bench.common import Check, progress
from bench.walk import quiet

CLOSED = 10_000
DUE = 40
PAGE = 25  # tenantry.domain.reconciler.PAGE
# A due operation: its project (GetItem), its execution (DescribeExecution), then one of
# StartExecution + UpdateItem (reschedule), or a TransactWriteItems (close or fail).
CALLS_PER_DUE = 4


@contextlib.contextmanager
def counting() -> Iterator[Counter[str]]:
    """Every AWS call made meanwhile on this thread (the run's; executions it starts run
    on threads of their own), as "service:Operation"."""
    from botocore.client import BaseClient

    calls: Counter[str] = Counter()
    real = BaseClient._make_api_call
    mine = threading.get_ident()

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if threading.get_ident() == mine:
            calls[f"{client.meta.service_model.service_name}:{operation}"] += 1
        return real(client, operation, params)

    with mock.patch.object(BaseClient, "_make_api_call", counted):
        yield calls


def _seed_closed(n: int) -> None:
    """Closed operations, as a finished workflow leaves them (no index keys)."""
    import boto3

    from tenantry.dal import keys
    from tenantry.dal.table import table_name

    table = boto3.resource("dynamodb").Table(table_name())
    with table.batch_writer() as batch:
        for i in range(n):
            op_id = f"done-{i:05d}-create-1"
            batch.put_item(
                Item={
                    **keys.operation(f"done-{i:05d}", op_id),
                    "entity": "operation",
                    "id": op_id,
                    "project_id": f"done-{i:05d}",
                    "kind": "create",
                    "attempt": 1,
                    "status": "succeeded",
                    "steps": {},
                }
            )


def _seed_due(api: Any, admin: str, n: int) -> None:
    """n/2 projects whose start was lost, n/2 whose create (never started) a DELETE
    overtook, the deletion's workflow run to its end."""
    from tenantry import workflows

    with mock.patch.object(workflows, "start", side_effect=RuntimeError("lost (bench)")):
        for i in range(n // 2):
            r = api.post("/projects", token=admin, json={"name": f"Lost {i}", "id": f"lost-{i}"})
            assert r.status == 202, r
    for i in range(n - n // 2):
        pid = f"overtaken-{i}"
        with mock.patch.object(workflows, "start", return_value="arn:not-started"):
            r = api.post("/projects", token=admin, json={"name": f"Overtaken {i}", "id": pid})
        assert r.status == 202, r
        assert api.delete(f"/projects/{pid}", token=admin).status == 202
    api.wait_for_executions(timeout=120)


def _run(api: Any, minutes: float) -> tuple[dict[str, int], Counter[str]]:
    from datetime import timedelta

    from tenantry.clock import now_iso
    from tenantry.domain import reconciler

    moment = now_iso(timedelta(minutes=minutes))
    with (
        mock.patch.object(reconciler, "now_iso", lambda: moment),
        counting() as calls,
        quiet(),
    ):
        result = api.invoke("ReconcilerFunction", {"source": "aws.events", "detail": {}})
    return dict(result), calls


def run() -> tuple[list[str], list[Check]]:
    from tests.harness import emulated, ensure_test_admin

    with emulated() as api:
        admin = ensure_test_admin()
        progress(f"reconciler: seeding {CLOSED:,} closed operations")
        _seed_closed(CLOSED)
        idle_actions, idle = _run(api, minutes=3)
        progress(f"reconciler: {DUE} operations due")
        with quiet():
            _seed_due(api, admin, DUE)
            due_actions, due = _run(api, minutes=3)
            api.wait_for_executions(timeout=120)

    pages = -(-DUE // PAGE)
    per_due = (sum(due.values()) - due["dynamodb:Query"]) / DUE
    lines = [
        f"6. One reconciler run (bench/reconciler.py), {CLOSED:,} closed operations in the table",
        f"   targets: none due: 1 Query and nothing else; {DUE} due: at most {CALLS_PER_DUE} "
        "calls per operation due, plus one Query per page",
        f"   none due: {dict(idle) or 'no call'} -> {idle_actions or 'nothing to do'}",
        f"   {DUE} due: {dict(sorted(due.items()))} -> {due_actions}",
        f"   per operation due: {per_due:.1f} calls besides the {due['dynamodb:Query']} Query",
    ]
    checks = [
        Check(
            "recon",
            f"run with none due, {CLOSED:,} closed",
            ", ".join(f"{k} {v}" for k, v in idle.items()) or "no call",
            "dynamodb:Query 1",
            dict(idle) == {"dynamodb:Query": 1},
        ),
        Check(
            "recon",
            f"calls per operation due ({DUE} due)",
            f"{per_due:.1f} (+{due['dynamodb:Query']} Query)",
            f"<= {CALLS_PER_DUE} (+{pages} Query)",
            per_due <= CALLS_PER_DUE and due["dynamodb:Query"] <= pages + 1,
        ),
    ]
    return lines, checks


if __name__ == "__main__":  # this measurement alone: python -m bench.reconciler
    out, results = run()
    print("\n".join(out))
    for c in results:
        print(f"  {c.verdict}  {c.section:<8} {c.name}: {c.value} (target {c.target})")
