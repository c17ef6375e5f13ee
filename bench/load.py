"""Measurement 4: `make run` under load. The runner (local/runner.py) starts as a
subprocess on a free loopback port, as `make run` does; CLIENTS threads, each on its own
keep-alive connection (http.client), send a mix of reads and creates for DURATION
seconds, then the runner is stopped. Bounded: it ends by itself, loopback only.

The mix, as the admin and as a member (each thread is one of them):
  reads    GET /projects, GET /projects/{id}, GET /auth/me, GET /projects/{id}/history
  creates  POST /projects (starts the create workflow, WAIT_SCALE shortens its waits),
           POST /users (the admin's threads only)

Targets: >= TARGET_RPS requests/s, p99 latency < TARGET_P99_MS, no error (a 5xx, any
status the route should not answer, a broken connection), the runner's RSS (VmRSS in
/proc/<pid>/status) growing less than TARGET_RSS_MIB over the run.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import BenchError, Check, progress
from local.runner_process import RunnerFailed, running

CLIENTS = 8
DURATION = 30.0
WAIT_SCALE = "0.001"  # the create workflow's Wait/Retry sleeps: 2 s -> 2 ms
SEED_PROJECTS = 5  # per principal, before the clock starts
TARGET_RPS = 100.0
TARGET_P99_MS = 250.0
TARGET_RSS_MIB = 100.0
# (operation, weight, admin only)
MIX = [
    ("GET /projects", 25, False),
    ("GET /projects/{id}", 20, False),
    ("GET /auth/me", 20, False),
    ("GET /projects/{id}/history", 15, False),
    ("POST /projects", 10, False),
    ("POST /users", 10, True),
]
EXPECTED = {"GET": 200, "POST /projects": 202, "POST /users": 201}


class Client:
    """One keep-alive connection with a token; reconnects after a broken connection."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()  # the next request opens a new connection
            raise
        return resp.status, json.loads(raw) if raw else None

    def close(self) -> None:
        self.conn.close()


@dataclass
class Principal:
    name: str
    token: str
    admin: bool
    projects: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def some_project(self, rng: random.Random) -> str:
        with self.lock:
            return rng.choice(self.projects)

    def add_project(self, project_id: str) -> None:
        with self.lock:
            self.projects.append(project_id)


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, op: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies[op].append(seconds)
            if error:
                self.errors[f"{op}: {error}"] += 1

    def all(self) -> list[float]:
        return sorted(t for ts in self.latencies.values() for t in ts)


_names = itertools.count(1)


def _request(client: Client, principal: Principal, op: str, rng: random.Random) -> int:
    n = next(_names)
    if op == "GET /projects":
        return client.call("GET", "/projects")[0]
    if op == "GET /projects/{id}":
        return client.call("GET", f"/projects/{principal.some_project(rng)}")[0]
    if op == "GET /auth/me":
        return client.call("GET", "/auth/me")[0]
    if op == "GET /projects/{id}/history":
        return client.call("GET", f"/projects/{principal.some_project(rng)}/history")[0]
    if op == "POST /projects":
        status, body = client.call("POST", "/projects", {"name": f"load {principal.name} {n}"})
        if status == 202:
            principal.add_project(body["id"])
        return status
    if op == "POST /users":
        body = {"email": f"load{n}-{secrets.token_hex(3)}@example.com", "display_name": "Load"}
        return client.call("POST", "/users", body)[0]
    raise ValueError(op)


def _worker(port: int, principal: Principal, seed: int, deadline: float, results: Results) -> None:
    rng = random.Random(seed)
    ops = [(op, w) for op, w, admin_only in MIX if principal.admin or not admin_only]
    names, weights = [o for o, _ in ops], [w for _, w in ops]
    client = Client(port, principal.token)
    try:
        while time.monotonic() < deadline:
            op = rng.choices(names, weights)[0]
            expected = EXPECTED.get(op, EXPECTED["GET"])
            started = time.perf_counter()
            try:
                status = _request(client, principal, op, rng)
                error = None if status == expected else f"status {status}"
            except (OSError, http.client.HTTPException, ValueError) as exc:
                error = type(exc).__name__
            results.record(op, time.perf_counter() - started, error)
    finally:
        client.close()


# --- the runner as a subprocess -------------------------------------------------------------


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def running_runner(admin_token: str) -> Iterator[tuple[int, subprocess.Popen[bytes], Path]]:
    """`make run` on a free loopback port until healthy (local/runner_process.py), stopped
    on the way out; its log goes to a temporary file, shown if it fails."""
    env = {
        # the clients create far more projects than a user may own by default
        "PARAMETER_OVERRIDES": "MaxProjectsPerUser=1000000",
        "WAIT_SCALE": WAIT_SCALE,
    }
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        try:
            with running(Path(tmp) / "runner.log", admin_token, env) as runner:
                yield int(runner.url.rpartition(":")[2]), runner.proc, runner.log_path
        except RunnerFailed as exc:
            raise BenchError(str(exc)) from exc


# --- the run ----------------------------------------------------------------------------------


def _principals(port: int, admin_token: str) -> list[Principal]:
    """The admin and one member, each with SEED_PROJECTS projects to read."""
    admin = Client(port, admin_token)
    status, user = admin.call(
        "POST",
        "/users",
        {"email": f"member-{secrets.token_hex(4)}@example.com", "display_name": "M"},
    )
    if status != 201:
        raise BenchError(f"POST /users answered {status}: {user}")
    status, token = admin.call("POST", "/user-tokens", {"user_id": user["id"]})
    if status != 201:
        raise BenchError(f"POST /user-tokens answered {status}: {token}")
    admin.close()
    principals = [
        Principal("admin", admin_token, admin=True),
        Principal("member", token["created_token"], admin=False),
    ]
    for principal in principals:
        client = Client(port, principal.token)
        for i in range(SEED_PROJECTS):
            status, body = client.call("POST", "/projects", {"name": f"seed {principal.name} {i}"})
            if status != 202:
                raise BenchError(f"POST /projects answered {status}: {body}")
            principal.add_project(body["id"])
        client.close()
    return principals


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def run() -> tuple[list[str], list[Check]]:
    admin_token = f"bench-load-admin-{secrets.token_hex(16)}"
    progress(f"load: starting the runner, then {CLIENTS} clients for {DURATION:.0f} s")
    with running_runner(admin_token) as (port, proc, log_path):
        principals = _principals(port, admin_token)
        results = Results()
        rss_before = rss_mib(proc.pid)
        cpu_before = cpu_seconds(proc.pid)
        started = time.monotonic()
        deadline = started + DURATION
        threads = [
            threading.Thread(
                target=_worker,
                args=(port, principals[i % len(principals)], i, deadline, results),
                daemon=True,
            )
            for i in range(CLIENTS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=DURATION + 60)
        elapsed = time.monotonic() - started
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-4000:]
            raise BenchError(f"the runner exited ({proc.returncode}) under load:\n{tail}")
        rss_after = rss_mib(proc.pid)
        cpu = cpu_seconds(proc.pid) - cpu_before
    return _report(results, elapsed, rss_before, rss_after, cpu)


def _report(
    results: Results, elapsed: float, rss_before: float, rss_after: float, cpu: float
) -> tuple[list[str], list[Check]]:
    every = results.all()
    rps = len(every) / elapsed
    p50, p99 = _pct(every, 0.50) * 1000, _pct(every, 0.99) * 1000
    errors = sum(results.errors.values())
    growth = rss_after - rss_before
    lines = [
        f"4. `make run` under load: {CLIENTS} keep-alive clients for {elapsed:.0f} s "
        f"(the runner as a subprocess, WAIT_SCALE={WAIT_SCALE})",
        f"   targets: >= {TARGET_RPS:.0f} requests/s, p99 < {TARGET_P99_MS:.0f} ms, no error, "
        f"RSS growth < {TARGET_RSS_MIB:.0f} MiB",
        f"   {len(every)} requests, {rps:.1f}/s; p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
        f"{errors} errors; RSS {rss_before:.0f} -> {rss_after:.0f} MiB ({growth:+.0f})",
        f"   the runner used {cpu:.1f} s of CPU ({cpu / elapsed:.0%} of one core; "
        f"{cpu / max(len(every), 1) * 1000:.1f} ms per request, workflows included); "
        f"1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
        f"   {'operation':<30} {'count':>6} {'p50':>9} {'p99':>9}",
    ]
    for op, _, _ in MIX:
        ts = sorted(results.latencies.get(op, []))
        lines.append(
            f"   {op:<30} {len(ts):>6} {_pct(ts, 0.5) * 1000:>6.1f} ms {_pct(ts, 0.99) * 1000:>6.1f} ms"
        )
    for error, n in results.errors.most_common(10):
        lines.append(f"   error x{n}: {error}")
    checks = [
        Check("load", "requests/s", f"{rps:.1f}", f">= {TARGET_RPS:.0f}", rps >= TARGET_RPS),
        Check(
            "load", "p99 latency", f"{p99:.1f} ms", f"< {TARGET_P99_MS:.0f} ms", p99 < TARGET_P99_MS
        ),
        Check("load", "errors", str(errors), "0", errors == 0),
        Check(
            "load",
            "runner RSS growth",
            f"{growth:+.0f} MiB",
            f"< {TARGET_RSS_MIB:.0f} MiB",
            growth < TARGET_RSS_MIB,
        ),
    ]
    return lines, checks


if __name__ == "__main__":  # the load run alone: python -m bench.load
    lines, checks = run()
    print("\n".join(lines))
    for c in checks:
        print(f"  {c.verdict}  {c.section:<8} {c.name}: {c.value} (target {c.target})")
    sys.exit(0 if all(c.passed for c in checks) else 1)
