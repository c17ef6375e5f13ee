"""Measurement 7 (claims): what an agent's claim costs, through the real AgentFunction under
the emulated stack (tests.harness.emulated), with QUEUED work items of one cluster queued.

- 1 agent: claims one item at a time and reports it Done, until the queue is empty;
- 8 agents of the same cluster at once (threads), each doing the same, so they race for
  the same oldest items: the conditional write on each item decides.

Reported: claim latency (p50, p99) and claims per second for each, and the AWS calls a
claim makes (its request only, the authorizer's token read included; the reports are not
counted). Targets: every item handed out exactly once; a claim is the token read, one
Query of the cluster's claimable partition and one conditional UpdateItem per item leased
(a lost race costs one more UpdateItem), never a Scan.
Latency and rate are the emulator's (moto in process, one core per request), reported
for comparison between runs, not as AWS figures.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from typing import Any
from unittest import mock

from bench.common import Check, progress
from bench.walk import quiet

QUEUED = 1_000
AGENTS = 8
MAX_CALLS_PER_CLAIM = 3.5  # token GetItem + Query + UpdateItem, plus lost races under 8 agents


def _queue(cluster_id: str, name: str, n: int) -> None:
    import boto3

    from tenantry.clock import now_iso
    from tenantry.dal import keys
    from tenantry.dal.table import table_name

    table = boto3.resource("dynamodb").Table(table_name())
    with table.batch_writer() as batch:
        for i in range(n):
            now = now_iso()
            work_id = f"bench-{i:05d}"
            batch.put_item(
                Item={
                    **keys.work_item(work_id),
                    **keys.claimable_index(cluster_id, now, work_id),
                    "entity": "work",
                    "id": work_id,
                    "kind": "CreateNamespace",
                    "cluster_id": cluster_id,
                    "cluster_name": name,
                    "project_id": f"p{i:05d}",
                    "namespace": f"p{i:05d}",
                    "state": "Queued",
                    "attempt": 0,
                    "expired_leases": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )


CLAIMING = threading.local()  # set on an agent's thread while its claim request runs


def _counting() -> tuple[Counter[str], Any]:
    """AWS calls made by claim requests (any thread flagged CLAIMING.on)."""
    from botocore.client import BaseClient

    calls: Counter[str] = Counter()
    lock = threading.Lock()
    real = BaseClient._make_api_call

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if getattr(CLAIMING, "on", False):
            with lock:
                calls[f"{client.meta.service_model.service_name}:{operation}"] += 1
        return real(client, operation, params)

    return calls, mock.patch.object(BaseClient, "_make_api_call", counted)


def _drain(api: Any, token: str, agents: int) -> tuple[list[float], list[str], float, Counter[str]]:
    """Claim until empty with `agents` threads: (latencies, ids claimed, seconds, calls)."""
    latencies: list[float] = []
    claimed: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(agents)
    calls, patch = _counting()

    def agent() -> None:
        start.wait()
        while True:
            CLAIMING.on = True
            t0 = time.perf_counter()
            r = api.post("/agent/work/claim", token=token, json={"limit": 1})
            elapsed = time.perf_counter() - t0
            CLAIMING.on = False
            assert r.status == 200, r
            items = r.json()["items"]
            with lock:
                latencies.append(elapsed)
                claimed.extend(i["id"] for i in items)
            if not items:
                return
            for item in items:
                done = {"lease_token": item["lease_token"], "status": "Done"}
                r = api.post(f"/agent/work/{item['id']}/result", token=token, json=done)
                assert r.status == 200, r

    with patch, quiet():
        began = time.perf_counter()
        threads = [threading.Thread(target=agent) for _ in range(agents)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - began
    return latencies, claimed, seconds, calls


def _measure(agents: int) -> tuple[list[str], list[Check]]:
    from tests.harness import emulated, ensure_test_admin

    with emulated() as api:
        admin = ensure_test_admin()
        r = api.post("/clusters", token=admin, json={"name": "bench"})
        cluster = r.json()
        progress(f"claims: {QUEUED:,} queued, {agents} agent(s)")
        _queue(cluster["id"], "bench", QUEUED)
        latencies, claimed, seconds, calls = _drain(api, cluster["agent_token"], agents)
    claims = len(latencies)
    per_claim = sum(v for k, v in calls.items() if k.startswith("dynamodb:")) / claims
    q = statistics.quantiles(latencies, n=100)
    label = f"{agents} agent{'s' if agents > 1 else ''}"
    lines = [
        f"   {label}: {len(claimed):,} items in {claims:,} claims, {seconds:.1f} s -> "
        f"{len(claimed) / seconds:.0f} items/s claimed and done; claim latency p50 {q[49] * 1000:.0f} ms, "
        f"p99 {q[98] * 1000:.0f} ms; calls {dict(sorted(calls.items()))}",
    ]
    once = Counter(claimed).most_common(1)[0][1] == 1 and len(set(claimed)) == QUEUED
    checks = [
        Check(
            "claims",
            f"{label}: every item handed out once",
            f"{len(set(claimed)):,} distinct of {len(claimed):,}",
            f"{QUEUED:,} distinct, none twice",
            once,
        ),
        Check(
            "claims",
            f"{label}: DynamoDB calls per claim",
            f"{per_claim:.2f} ({', '.join(f'{k} {v}' for k, v in sorted(calls.items()))})",
            f"<= {MAX_CALLS_PER_CLAIM}, no Scan",
            per_claim <= MAX_CALLS_PER_CLAIM and "dynamodb:Scan" not in calls,
        ),
    ]
    return lines, checks


def run() -> tuple[list[str], list[Check]]:
    lines = [
        f"7. Agent claims (bench/claims.py): {QUEUED:,} work items queued for one cluster",
        f"   targets: each item handed out once; at most {MAX_CALLS_PER_CLAIM} DynamoDB calls "
        "per claim (1 Query + 1 UpdateItem, plus lost races), no Scan",
    ]
    checks: list[Check] = []
    for agents in (1, AGENTS):
        more_lines, more_checks = _measure(agents)
        lines += more_lines
        checks += more_checks
    return lines, checks


if __name__ == "__main__":  # this measurement alone: python -m bench.claims
    out, results = run()
    print("\n".join(out))
    for c in results:
        print(f"  {c.verdict}  {c.section:<8} {c.name}: {c.value} (target {c.target})")
