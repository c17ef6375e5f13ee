"""Property-based tests (hypothesis) of the governance state machines, through the HTTP API
of emulated stacks (tests.harness.emulated). Every hypothesis example works on fresh
projects, so examples never see each other's state; a stack serves several examples
(Worlds, below). Shared helpers of those tests live here."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from tests.harness import Api, emulated, ensure_test_admin, wait_until

ADMIN = "admin"


@dataclass
class World:
    """A stack and its users: the platform admin (ADMIN) and the named users."""

    api: Api
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)


class Worlds:
    """Stacks for the examples of one test: a fresh one every `every` examples. moto copies
    a whole table on every transaction, so a stack slows down as examples fill it, while a
    new stack costs ~50 ms (after the first) plus its users."""

    def __init__(self, parameters: Mapping[str, str], users: tuple[str, ...], every: int) -> None:
        self.parameters, self.users, self.every = dict(parameters), users, every
        self.served = 0
        self.world: World | None = None
        self._context: AbstractContextManager[Api] | None = None

    def next(self) -> World:
        if self.world is None or self.served % self.every == 0:
            self.close()
            self._context = emulated(self.parameters)
            world = World(self._context.__enter__())
            admin = ensure_test_admin()
            r = world.api.get("/auth/me", token=admin)
            assert r.status == 200, r
            world.tokens[ADMIN], world.ids[ADMIN] = admin, r.json()["id"]
            world.emails[ADMIN] = r.json()["email"]
            for name in self.users:
                world.ids[name], world.emails[name], world.tokens[name] = new_user(
                    world.api, admin, name
                )
            self.world = world
        self.served += 1
        return self.world

    def close(self) -> None:
        if self._context is not None:
            try:
                assert self.world is not None
                settle(self.world.api)  # no workflow left running on a closing stack
            finally:
                self._context.__exit__(None, None, None)
                self._context = self.world = None


_seq = itertools.count(1)


def unique(prefix: str) -> str:
    """A project id (DNS label) never used before in this process."""
    return f"{prefix}-{next(_seq)}-{uuid.uuid4().hex[:6]}"


def new_user(api: Api, admin_token: str, name: str) -> tuple[str, str, str]:
    """A new user and an API token of theirs: (user id, email, token)."""
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    r = api.post("/users", token=admin_token, json={"email": email, "display_name": name})
    assert r.status == 201, r
    user_id = r.json()["id"]
    r = api.post("/user-tokens", token=admin_token, json={"user_id": user_id})
    assert r.status == 201, r
    return user_id, email, r.json()["created_token"]


def workflows_running(api: Api) -> bool:
    sfn = api.stack.client("stepfunctions")
    return any(
        sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
        for arn in api.stack.state_machine_arns().values()
    )


def settle(api: Api, timeout: float = 15) -> None:
    """Wait until no workflow runs: moto's DynamoDB is not thread-safe, so requests must
    not overlap the workflows' Lambda steps running in background threads."""
    wait_until(lambda: not workflows_running(api), timeout=timeout, interval=0.01)


def wait_status(api: Api, token: str, project_id: str, status: str) -> dict[str, Any]:
    """Poll GET /projects/{id} (between workflow steps) until it has `status`."""

    def reached() -> dict[str, Any] | None:
        if workflows_running(api):
            return None
        r = api.get(f"/projects/{project_id}", token=token)
        assert r.status == 200, r
        body: dict[str, Any] = r.json()
        assert body["status"] in (status, "creating"), body
        return body if body["status"] == status else None

    result: dict[str, Any] = wait_until(reached, timeout=15, interval=0.01)
    return result


def list_all(api: Api, token: str, path: str, **query: Any) -> list[dict[str, Any]]:
    """Every item of a paged list, following next_cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        q = {k: v for k, v in {**query, "limit": 100, "cursor": cursor}.items() if v is not None}
        r = api.get(path, token=token, query=q)
        assert r.status == 200, r
        body = r.json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError(f"{path} did not end after 50 pages")
