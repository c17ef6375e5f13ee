"""A fake Tenantry agent API on 127.0.0.1, faithful to the protocol in the API contract:

- Bearer agent token (401 problem+json otherwise);
- claims hand out queued items oldest first, and items whose lease expired with
  `attempt` + 1 and a new `lease_token`; an item over `max_attempts` expired leases fails;
- a work heartbeat with the current token extends the lease (`lease_seconds`), else 409;
- a result with the current token finishes the item; the same result again is 200, a stale
  token or another outcome for a finished item is 409;
- release with the current token queues the item again at once;
- `fail_next(n, status, retry_after)` answers the next n requests (any route) with that
  status, e.g. a 503 burst; `refuse_connections` closes sockets without an answer
  (counted in `refused`).

Every request is recorded in `requests` as (route, body) with the route's placeholders
(`/agent/work/{id}/heartbeat`), and `calls(route)` filters them.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "tnt_agent_test_token"


def iso(t: datetime, offset: float = 0.0) -> str:
    return (t + timedelta(seconds=offset)).astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Item:
    id: str
    kind: str
    project_id: str
    namespace: str
    seq: int
    extra: dict[str, Any] = field(default_factory=dict)
    state: str = "queued"  # queued | leased | finished
    lease_token: str | None = None
    lease_expires: float = 0.0  # time.time()
    attempt: int = 0
    expired_leases: int = 0
    outcome: tuple[str, str | None] | None = None  # (status, reason)
    cancel_requested: bool = False
    releases: int = 0


class FakeTenantry:
    def __init__(self, *, lease_seconds: float = 60.0, max_attempts: int = 3, token: str = TOKEN):
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.token = token
        self.lock = threading.Lock()
        self.items: dict[str, Item] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.heartbeats: list[dict[str, Any]] = []
        self._seq = itertools.count()
        self._failures: list[tuple[int, float | None]] = []
        self.refuse_connections = False
        self.refused = 0  # requests answered by closing the connection
        self.clock_offset = 0.0  # seconds the server's clock is ahead of this machine's
        self.extra_items: list[Any] = []  # sent as they are in the next claim's answer
        self.cluster_id = str(uuid.uuid4())
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # --- test controls ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeTenantry:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(
        self, kind: str, project_id: str = "payments", namespace: str | None = None, **extra: Any
    ) -> str:
        item_id = str(uuid.uuid4())
        with self.lock:
            self.items[item_id] = Item(
                item_id, kind, project_id, namespace or project_id, next(self._seq), extra
            )
        return item_id

    def fail_next(self, count: int, status: int = 503, retry_after: float | None = None) -> None:
        with self.lock:
            self._failures.extend([(status, retry_after)] * count)

    def steal_lease(self, item_id: str) -> None:
        """As if the lease had expired and another agent had claimed the item."""
        with self.lock:
            item = self.items[item_id]
            item.lease_token = f"stolen-{uuid.uuid4()}"
            item.attempt += 1

    def redeliver(self, item_id: str) -> None:
        """Queue a finished item again, as an at-least-once delivery may."""
        with self.lock:
            item = self.items[item_id]
            item.state, item.lease_token, item.outcome = "queued", None, None

    def expire_lease(self, item_id: str) -> None:
        with self.lock:
            self.items[item_id].lease_expires = 0.0

    def request_cancel(self, item_id: str) -> None:
        with self.lock:
            self.items[item_id].cancel_requested = True

    def item(self, item_id: str) -> Item:
        with self.lock:
            return self.items[item_id]

    def calls(self, route: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for r, body in self.requests if r == route]

    # --- protocol -----------------------------------------------------------------------------

    def handle(
        self, path: str, auth: str | None, body: dict[str, Any]
    ) -> tuple[int, Any, dict[str, str]]:
        route, work_id = path, None
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["agent", "work"] and parts[2] != "claim":
            route, work_id = f"/agent/work/{{id}}/{parts[3]}", parts[2]
        with self.lock:
            self.requests.append((route, body))
            if self._failures:
                status, retry_after = self._failures.pop(0)
                headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
                return status, problem(status, "Service Unavailable", "backend busy"), headers
            if auth != f"Bearer {self.token}":
                return 401, problem(401, "Unauthorized", "no or bad token"), {}
            now = time.time()
            if route == "/agent/heartbeat":
                self.heartbeats.append(body)
                return (
                    200,
                    {
                        "cluster_id": self.cluster_id,
                        "server_time": iso(datetime.now(UTC), self.clock_offset),
                    },
                    {},
                )
            if route == "/agent/work/claim":
                return 200, {"items": self._claim(int(body.get("limit") or 1), now)}, {}
            item = self.items.get(work_id or "")
            if item is None:
                return 404, problem(404, "Not Found", "no such work item"), {}
            current = item.lease_token is not None and body.get("lease_token") == item.lease_token
            if route == "/agent/work/{id}/heartbeat":
                if not current or item.state != "leased":
                    return 409, problem(409, "Conflict", "the lease is not yours"), {}
                item.lease_expires = now + self.lease_seconds
                return (
                    200,
                    {
                        "lease_expires_at": self._iso(item.lease_expires),
                        "cancel_requested": item.cancel_requested,
                    },
                    {},
                )
            if route == "/agent/work/{id}/result":
                outcome = (body.get("status"), body.get("reason"))
                if outcome[0] not in ("Done", "Failed"):
                    return 422, problem(422, "Unprocessable", "status"), {}
                if item.state == "finished":
                    if current and item.outcome and item.outcome[0] == outcome[0]:
                        return 200, {"status": item.outcome[0]}, {}
                    return 409, problem(409, "Conflict", "already finished"), {}
                if not current:
                    return 409, problem(409, "Conflict", "stale lease token"), {}
                item.state, item.outcome = "finished", outcome
                return 200, {"status": outcome[0]}, {}
            if route == "/agent/work/{id}/release":
                if not current or item.state != "leased":
                    return 409, problem(409, "Conflict", "the lease is not yours"), {}
                item.state, item.lease_token, item.releases = "queued", None, item.releases + 1
                return 200, {}, {}
            return 404, problem(404, "Not Found", path), {}

    def _iso(self, epoch: float) -> str:
        return iso(datetime.fromtimestamp(epoch, UTC), self.clock_offset)

    def _claim(self, limit: int, now: float) -> list[Any]:
        out: list[Any] = [*self.extra_items]
        self.extra_items.clear()
        for item in sorted(self.items.values(), key=lambda i: i.seq):
            if len(out) >= limit:
                break
            if item.state == "leased" and item.lease_expires <= now:
                item.expired_leases += 1
                if item.expired_leases >= self.max_attempts:
                    item.state, item.outcome = "finished", ("Failed", "no agent finished it")
                    continue
                item.state = "queued"
            if item.state != "queued":
                continue
            item.state = "leased"
            item.attempt += 1
            item.lease_token = str(uuid.uuid4())
            item.lease_expires = now + self.lease_seconds
            out.append(
                {
                    "id": item.id,
                    "kind": item.kind,
                    "lease_token": item.lease_token,
                    "attempt": item.attempt,
                    "lease_expires_at": self._iso(item.lease_expires),
                    "project_id": item.project_id,
                    "namespace": item.namespace,
                    **item.extra,
                }
            )
        return out

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if fake.refuse_connections:
                    with fake.lock:
                        fake.refused += 1
                    self.close_connection = True
                    self.connection.close()
                    return
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                status, payload, headers = fake.handle(
                    self.path, self.headers.get("Authorization"), body
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                ctype = "application/json" if status < 400 else "application/problem+json"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        return Handler


SECRET = "s3cr3t-Pa55word-for-tests"  # a made-up secret, never a real credential
CHART = {
    "id": "chart-1",
    "registry": "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    "repository": "charts/web",
    "ref": "oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/charts/web",
    "tag": "1.2.3",
    "digest": "sha256:" + "0" * 64,
    "actions": [
        {
            "id": "flush-cache",
            "allowed_role": "Maintainer",
            "endpoint": "standard_ingress",
            "path": "/admin/flush",
            "method": "POST",
            "title": "Flush the cache",
            "description": "Empties the cache",
        },
        {
            "apiVersion": "platz.io/v1beta1",
            "kind": "Action",
            "spec": {
                "id": "reindex",
                "allowed_role": "Owner",
                "endpoint": "{release}-api:8080",
                "path": "jobs/reindex?full=1",
                "method": "put",
                "title": "Reindex",
                "description": "Rebuilds the search index",
            },
        },
    ],
}


def deployment_task(
    operation: str, params: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """The fields of a DeploymentTask item (docs/api.md), for `FakeTenantry.add(**...)`."""
    item: dict[str, Any] = {
        "release_name": "web",
        "task": {"id": f"task-{uuid.uuid4()}", "operation": {operation: params or {}}},
        "deployment": {
            "id": "dep-1",
            "name": "web",
            "kind": "Web",
            "env_id": "env-1",
            "env_name": "production",
            "config": {"replicas": 2, "image": {"tag": "v1"}, "ingress": {"enabled": True}},
            "values_override": {"image": {"pullPolicy": "Always"}},
            "node_selector": {"pool": "apps"},
            "tolerations": [{"key": "apps", "operator": "Exists", "effect": "NoSchedule"}],
        },
        "helm_chart": CHART,
        "secrets": [{"collection": "db", "name": "password", "contents": SECRET}],
    }
    item.update(fields)
    return item


RESOURCE_ID = "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"


def resource_sync(
    action: str = "Apply",
    props: dict[str, Any] | None = None,
    sensitive: list[str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """The fields of a ResourceSync item (docs/api.md), for `FakeTenantry.add(**...)`."""
    resource: dict[str, Any] = {
        "id": RESOURCE_ID,
        "type_id": "type-1",
        "type_key": "redirect",
        "deployment_id": "dep-1",
        "name": "Home page",
        "version": 1,
        "action": action,
        "props": {"to_url": "https://example.com/", "code": 301} if props is None else props,
        "sensitive": sensitive or [],
    }
    resource.update(fields)
    return {"release_name": "web", "resource": resource}


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {
        "type": f"https://tenantry.example/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": str(uuid.uuid4()),
    }


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout}s: {predicate}")
