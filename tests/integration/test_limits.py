"""Limits against abuse (template parameters Max*, tenantry/dal/limits.py): each is counted
in the same DynamoDB transaction as the write it limits, answered 413 (a standing quota) or
429 (a per-day rate) with a problem naming the limit, and platform admins are exempt.
The stack here runs with small limits so each can be reached in a few requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.harness import Api, Response
from tests.integration.helpers import (
    assert_problem,
    create_active,
    create_project,
    list_all,
    make_user,
    settle,
    wait_status,
)

Wait = Callable[..., Any]
LIMITS = {
    "MaxProjectsPerUser": "2",
    "MaxPendingJoinRequestsPerUser": "2",
    "MaxJoinRequestsPerProjectPerDay": "3",
    "MaxInvitesPerUserPerDay": "3",
    "MaxOrgsPerUserPerDay": "2",
    "MaxAppsPerProject": "2",
}


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    return dict(LIMITS)


def user(api: Api, admin_token: str, name: str = "") -> tuple[str, str]:
    u, token = make_user(api, admin_token, name or None)
    return u["id"], token


def assert_limit(r: Response, status: int, name: str, most: int) -> dict[str, Any]:
    body = assert_problem(r, status, "quota-exceeded" if status == 413 else "throttled")
    assert (body["limit"], body["max"]) == (name, most), body
    assert str(most) in body["detail"], body
    if status == 429:
        assert 0 < int(r.headers["retry-after"]) <= 86400, r.headers
    return body


def counter(name: str, principal_id: str, scope: str = "") -> int:
    from tenantry.dal import limits

    return limits.current(name, principal_id, scope)


def join(api: Api, token: str, pid: str) -> Response:
    return api.post("/memberships", token=token, json={"project_id": pid, "action": "join"})


def act(api: Api, token: str, membership_id: str, action: str) -> Response:
    return api.post(f"/memberships/{membership_id}/actions", token=token, json={"action": action})


# --- projects a user owns (413) -----------------------------------------------------------------


def test_projects_per_user(api: Api, admin_token: str, wait_until: Wait) -> None:
    uid, token = user(api, admin_token)
    for n in (1, 2):
        create_active(api, token, wait_until, name=f"Mine {n}")
    assert counter("projects_per_user", uid) == 2

    r = api.post("/projects", token=token, json={"name": "Mine 3"})
    assert_limit(r, 413, "projects_per_user", 2)
    assert_problem(api.get("/projects/mine-3", token=admin_token), 404)  # nothing written
    assert counter("projects_per_user", uid) == 2

    # platform admins are exempt, also when they create a project for the user
    for n in range(3):
        create_project(api, admin_token, name=f"Admin {n}")
    create_project(api, admin_token, name="For the user", owner_id=uid)
    settle(api, wait_until)
    assert counter("projects_per_user", uid) == 3

    # deleting projects gives their units back, once the project is deleted
    for pid in ("mine-1", "for-the-user"):
        r = api.delete(f"/projects/{pid}", token=admin_token)
        assert r.status == 202, r
        wait_status(api, admin_token, pid, "deleted", wait_until)
    assert counter("projects_per_user", uid) == 1
    create_project(api, token, name="Mine 3")
    settle(api, wait_until)
    assert_limit(
        api.post("/projects", token=token, json={"name": "Mine 4"}), 413, "projects_per_user", 2
    )


@pytest.mark.parametrize(
    "stack_parameters", [{**LIMITS, "ApprovalPolicy": "moderated"}], ids=["moderated"]
)
def test_a_denied_or_cancelled_project_gives_its_unit_back(api: Api, admin_token: str) -> None:
    uid, token = user(api, admin_token)
    first, second = (create_project(api, token, name=f"Ask {n}") for n in (1, 2))
    assert first["status"] == second["status"] == "uninitialized"
    assert_limit(
        api.post("/projects", token=token, json={"name": "Ask 3"}), 413, "projects_per_user", 2
    )

    r = api.post(f"/projects/{first['id']}/actions", token=admin_token, json={"action": "deny"})
    assert r.status == 200 and r.json()["status"] == "deleted", r
    r = api.post(f"/projects/{second['id']}/actions", token=token, json={"action": "cancel"})
    assert r.status == 200 and r.json()["status"] == "deleted", r
    assert counter("projects_per_user", uid) == 0
    for n in (3, 4):
        assert create_project(api, token, name=f"Ask {n}")["status"] == "uninitialized"


# --- join requests (413 pending, 429 per project per day) ------------------------------------------


def projects_of_others(
    api: Api, admin_token: str, wait_until: Wait, n: int, policy: str
) -> tuple[list[str], str]:
    """n active projects with the join policy, each of its own owner; (ids, owner tokens)."""
    pids = []
    owner_token = ""
    for i in range(n):
        _, owner_token = user(api, admin_token)
        pids.append(
            create_active(
                api, owner_token, wait_until, name=f"Open {policy} {i}", join_policy=policy
            )["id"]
        )
    return pids, owner_token


def test_pending_join_requests_per_user(api: Api, admin_token: str, wait_until: Wait) -> None:
    pids, _ = projects_of_others(api, admin_token, wait_until, 3, "moderated")
    uid, token = user(api, admin_token)
    first, second = (join(api, token, pid) for pid in pids[:2])
    assert first.status == second.status == 201 and first.json()["state"] == "requested"
    assert counter("pending_join_requests_per_user", uid) == 2

    r = join(api, token, pids[2])
    assert_limit(r, 413, "pending_join_requests_per_user", 2)
    assert len(list_all(api, token, "/memberships")) == 2  # the refused one wrote nothing

    # an answer or a cancellation frees the slot
    assert act(api, token, first.json()["id"], "cancel").status == 200
    assert counter("pending_join_requests_per_user", uid) == 1
    assert join(api, token, pids[2]).json()["state"] == "requested"
    assert_limit(join(api, token, pids[0]), 413, "pending_join_requests_per_user", 2)

    # platform admins' own requests are not refused
    for pid in pids:
        assert join(api, admin_token, pid).status == 201


def test_a_request_to_a_deleted_project_can_still_be_withdrawn(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    (pid,), owner = projects_of_others(api, admin_token, wait_until, 1, "moderated")
    uid, token = user(api, admin_token)
    request = join(api, token, pid).json()
    assert counter("pending_join_requests_per_user", uid) == 1
    assert api.delete(f"/projects/{pid}", token=owner).status == 202
    wait_status(api, admin_token, pid, "deleted", wait_until)

    r = act(api, token, request["id"], "cancel")
    assert r.status == 200 and r.json()["state"] == "cancelled", r
    assert counter("pending_join_requests_per_user", uid) == 0
    assert_problem(join(api, token, pid), 404)  # and nothing else moves on a deleted project


def test_join_requests_per_project_per_day(api: Api, admin_token: str, wait_until: Wait) -> None:
    """A join/cancel (or join/leave) loop cannot grow another tenant's history without
    bound: the fourth join of the day is 429 and writes nothing."""
    (moderated, other), _ = projects_of_others(api, admin_token, wait_until, 2, "moderated")
    uid, token = user(api, admin_token)
    for _ in range(3):
        r = join(api, token, moderated)
        assert r.status == 201, r
        assert act(api, token, r.json()["id"], "cancel").status == 200
    history = len(list_all(api, admin_token, f"/projects/{moderated}/history"))

    assert_limit(join(api, token, moderated), 429, "join_requests_per_project_per_day", 3)
    assert len(list_all(api, admin_token, f"/projects/{moderated}/history")) == history
    assert counter("join_requests_per_project_per_day", uid, moderated) == 3
    assert join(api, token, other).status == 201  # per project

    # the counter lives one day: an item with a TTL
    from datetime import UTC, datetime

    from tenantry.dal import keys, table

    day = datetime.now(UTC).strftime("%Y-%m-%d")
    item = table.get(keys.daily_counter(uid, "join_requests_per_project_per_day", day, moderated))
    assert time.time() < item["expires_at"] <= time.time() + 2 * 86400, item

    # join/leave under auto counts the same; admins are exempt
    (auto,), _ = projects_of_others(api, admin_token, wait_until, 1, "auto")
    for _ in range(3):
        r = join(api, token, auto)
        assert r.status == 201 and r.json()["state"] == "accepted", r
        assert act(api, token, r.json()["id"], "leave").status == 200
    assert_limit(join(api, token, auto), 429, "join_requests_per_project_per_day", 3)
    for _ in range(4):
        r = join(api, admin_token, auto)
        assert r.status == 201, r
        assert act(api, admin_token, r.json()["id"], "leave").status == 200


# --- invites and orgs per day (429) ----------------------------------------------------------------


def test_invites_per_user_per_day(api: Api, admin_token: str, wait_until: Wait) -> None:
    uid, token = user(api, admin_token)
    pid = create_active(api, token, wait_until, name="Inviting")["id"]

    def invite(*emails: str) -> Response:
        body = {"emails": list(emails), "roles": ["member"]}
        return api.put(f"/projects/{pid}/invites", token=token, json=body)

    assert invite("a@example.com", "b@example.com").status == 201
    # two more would be four: refused whole, nothing created
    r = invite("c@example.com", "d@example.com")
    assert_limit(r, 429, "invites_per_user_per_day", 3)
    _, c_token = make_user(api, admin_token, email="c@example.com")
    assert list_all(api, c_token, "/invites") == []
    assert counter("invites_per_user_per_day", uid) == 2
    assert invite("c@example.com").status == 201  # exactly the third
    # enrolling by email is an invite and counts too
    r = api.post(
        "/memberships",
        token=token,
        json={"project_id": pid, "action": "enroll", "email": "e@example.com"},
    )
    assert_limit(r, 429, "invites_per_user_per_day", 3)
    # platform admins are exempt
    r = api.put(
        f"/projects/{pid}/invites",
        token=admin_token,
        json={"emails": [f"x{i}@example.com" for i in range(5)], "roles": ["member"]},
    )
    assert r.status == 201, r


def test_orgs_per_user_per_day(api: Api, admin_token: str) -> None:
    _, token = user(api, admin_token)
    for n in (1, 2):
        assert api.post("/orgs", token=token, json={"name": f"Org {n}"}).status == 201
    assert_limit(
        api.post("/orgs", token=token, json={"name": "Org 3"}), 429, "orgs_per_user_per_day", 2
    )
    assert len(list_all(api, token, "/orgs")) == 2
    for n in range(3):
        assert api.post("/orgs", token=admin_token, json={"name": f"Admin org {n}"}).status == 201


# --- apps a project has (413) ---------------------------------------------------------------------


def test_apps_per_project(api: Api, admin_token: str, wait_until: Wait) -> None:
    _, token = user(api, admin_token)
    pid = create_active(api, token, wait_until, name="Many Apps")["id"]
    path = f"/projects/{pid}/apps"
    made = []
    for n in (1, 2):
        r = api.post(path, token=token, json={"name": f"App {n}"})
        assert r.status == 201, r
        made.append(r.json()["id"])
    assert counter("apps_per_project", pid) == 2

    assert_limit(api.post(path, token=token, json={"name": "App 3"}), 413, "apps_per_project", 2)
    assert len(list_all(api, token, path)) == 2  # nothing written
    assert counter("apps_per_project", pid) == 2

    # another project counts for itself
    other = create_active(api, token, wait_until, name="Other Apps")["id"]
    assert api.post(f"/projects/{other}/apps", token=token, json={"name": "A"}).status == 201

    # platform admins are exempt; their apps count all the same
    assert api.post(path, token=admin_token, json={"name": "By the admin"}).status == 201
    assert counter("apps_per_project", pid) == 3

    # deleting apps gives their units back
    for app_id in made:
        assert api.delete(f"{path}/{app_id}", token=token).status == 204
    assert counter("apps_per_project", pid) == 1
    assert api.post(path, token=token, json={"name": "App 4"}).status == 201
    assert_limit(api.post(path, token=token, json={"name": "App 5"}), 413, "apps_per_project", 2)


# --- races: only DynamoDB's condition on the counter keeps the limit ------------------------------

RACERS = 6


def race(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str, call: Callable[[int], Any]
) -> list[Any]:
    """`call(i)` from RACERS threads, each held right before its transaction
    (`module.name`) until all have read their state: the transactions race."""
    from tenantry.errors import TenantryError

    barrier = threading.Barrier(RACERS)
    original = getattr(module, name)

    def gated(*a: Any, **kw: Any) -> Any:
        barrier.wait(timeout=30)
        return original(*a, **kw)

    monkeypatch.setattr(module, name, gated)

    def run(i: int) -> Any:
        try:
            return call(i)
        except TenantryError as exc:
            return exc

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(run, range(RACERS)))
    monkeypatch.undo()
    return outcomes


def test_racing_join_requests_never_overshoot_the_pending_limit(
    api: Api, admin_token: str, wait_until: Wait, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantry.dal import memberships as member_store
    from tenantry.domain import memberships
    from tenantry.errors import QuotaExceeded
    from tenantry.models.governance import MembershipCreate
    from tenantry.models.principal import Principal

    pids, _ = projects_of_others(api, admin_token, wait_until, RACERS, "moderated")
    uid, token = user(api, admin_token)
    me = Principal(kind="user", id=uid)
    outcomes = race(
        monkeypatch,
        member_store,
        "change",
        lambda i: memberships.create(me, MembershipCreate(project_id=pids[i], action="join")),
    )
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(outcomes) - len(refused) == 2, outcomes
    assert all(
        isinstance(o, QuotaExceeded) and o.extra["limit"] == "pending_join_requests_per_user"
        for o in refused
    ), refused
    assert counter("pending_join_requests_per_user", uid) == 2
    assert len(list_all(api, token, "/memberships")) == 2


def test_racing_org_creations_never_overshoot_the_daily_limit(
    api: Api, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantry.dal import orgs as org_store
    from tenantry.domain import orgs
    from tenantry.errors import Throttled
    from tenantry.models.governance import OrgCreate
    from tenantry.models.principal import Principal

    uid, token = user(api, admin_token)
    me = Principal(kind="user", id=uid)
    outcomes = race(
        monkeypatch, org_store, "create", lambda i: orgs.create(me, OrgCreate(name=f"Race {i}"))
    )
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(outcomes) - len(refused) == 2, outcomes
    assert all(isinstance(o, Throttled) for o in refused), refused
    assert counter("orgs_per_user_per_day", uid) == 2
    assert len(list_all(api, token, "/orgs")) == 2


def test_limits_must_be_positive() -> None:
    from tenantry.settings import Settings

    assert Settings.from_env({"MAX_PROJECTS_PER_USER": "7"}).max_projects_per_user == 7
    with pytest.raises(ValueError, match="MAX_ORGS_PER_USER_PER_DAY"):
        Settings.from_env({"MAX_ORGS_PER_USER_PER_DAY": "0"})
