"""A test agent that speaks only the HTTP agent protocol (no table, no workflow access):
register a cluster, claim its work, extend leases, report or release. What a real agent
does (the agent/ package), driven step by step by a test."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.harness import Api, Response, wait_until


@dataclass
class TestAgent:
    api: Api
    cluster_id: str
    name: str
    token: str
    seen: list[dict[str, Any]] = field(default_factory=list)

    __test__ = False  # not a pytest class

    @classmethod
    def register(cls, api: Api, admin_token: str, name: str) -> TestAgent:
        r = api.post("/clusters", token=admin_token, json={"name": name})
        assert r.status == 201, r
        body = r.json()
        return cls(api, body["id"], name, body["agent_token"])

    def heartbeat(self, is_ok: bool = True, **extra: Any) -> Response:
        return self.api.post("/agent/heartbeat", token=self.token, json={"is_ok": is_ok, **extra})

    def claim(self, limit: int = 10) -> list[dict[str, Any]]:
        r = self.api.post("/agent/work/claim", token=self.token, json={"limit": limit})
        assert r.status == 200, r
        items = list(r.json()["items"])
        self.seen.extend(items)
        return items

    def claim_one(self, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until the cluster has an item, and claim it."""
        found: dict[str, Any] = wait_until(lambda: (self.claim(1) or [None])[0], timeout=timeout)
        return found

    def extend(self, item: dict[str, Any], token: str | None = None) -> Response:
        return self.api.post(
            f"/agent/work/{item['id']}/heartbeat",
            token=self.token,
            json={"lease_token": token or item["lease_token"]},
        )

    def report(
        self, item: dict[str, Any], status: str = "Done", reason: str | None = None, **extra: Any
    ) -> Response:
        body: dict[str, Any] = {"lease_token": item["lease_token"], "status": status, **extra}
        if reason:
            body["reason"] = reason
        return self.api.post(f"/agent/work/{item['id']}/result", token=self.token, json=body)

    def release(self, item: dict[str, Any]) -> Response:
        return self.api.post(
            f"/agent/work/{item['id']}/release",
            token=self.token,
            json={"lease_token": item["lease_token"], "reason": "shutting down"},
        )

    def do_all(self, status: str = "Done", timeout: float = 10.0, count: int = 1) -> list[Any]:
        """Claim `count` items (waiting for them) and report each."""
        done = []
        for _ in range(count):
            item = self.claim_one(timeout)
            r = self.report(item, status, "the cluster refused it" if status == "Failed" else None)
            assert r.status == 200, r
            done.append(item)
        return done
