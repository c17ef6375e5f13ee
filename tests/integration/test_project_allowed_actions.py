"""A project's `allowed_actions` says exactly what the routes accept from the caller: in
each situation below (a status, a pending or denied application) and for each caller
(platform admin, owner, project admin, member), every action it does not list is refused
(4xx, nothing changes), and the listed actions the situation is about are accepted (each
tried on the situation built afresh). The emulated stack, the real handlers and
workflows."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from tenantry.domain.lifecycle import ACTIONS
from tests.harness import Api, Response
from tests.integration.helpers import settle
from tests.integration.test_governance_routes import MODERATED, Team, Wait, build_team, person

Situation = Callable[[Api, str, Wait], tuple[str, dict[str, str]]]  # -> (project id, callers)
_names = itertools.count(1)  # a situation built afresh is another project (ids are never reused)


def _team(api: Api, admin_token: str, wait_until: Wait) -> Team:
    return build_team(api, admin_token, wait_until, name=f"Team {next(_names)}")


def _callers(team: Team) -> dict[str, str]:
    return {
        "platform admin": team.admin.token,
        "owner": team.owner.token,
        "project admin": team.padmin.token,
        "member": team.member.token,
    }


def _act(api: Api, token: str, pid: str, action: str) -> Response:
    if action == "delete":
        return api.delete(f"/projects/{pid}", token=token)
    return api.post(f"/projects/{pid}/actions", token=token, json={"action": action})


def active(api: Api, admin_token: str, wait_until: Wait) -> tuple[str, dict[str, str]]:
    team = _team(api, admin_token, wait_until)
    return team.pid, _callers(team)


def _moved(action: str, name: str) -> Situation:
    def situation(api: Api, admin_token: str, wait_until: Wait) -> tuple[str, dict[str, str]]:
        team = _team(api, admin_token, wait_until)
        assert _act(api, admin_token, team.pid, action).status == 200
        return team.pid, _callers(team)

    situation.__name__ = name
    return situation


def pending_change(api: Api, admin_token: str, wait_until: Wait) -> tuple[str, dict[str, str]]:
    team = _team(api, admin_token, wait_until)
    r = api.patch(f"/projects/{team.pid}", token=team.owner.token, json={"max_members": 9})
    assert r.status == 202, r
    return team.pid, _callers(team)


def denied_change(api: Api, admin_token: str, wait_until: Wait) -> tuple[str, dict[str, str]]:
    pid, callers = pending_change(api, admin_token, wait_until)
    assert _act(api, admin_token, pid, "deny").status == 200
    return pid, callers


def applied(api: Api, admin_token: str, wait_until: Wait) -> tuple[str, dict[str, str]]:
    """An uninitialized project waiting for its create application's approval."""
    applicant = person(api, admin_token, "Applicant")
    r = api.post("/projects", token=applicant.token, json={"name": f"Wants In {next(_names)}"})
    assert r.status == 202 and r.json()["status"] == "uninitialized", r
    return r.json()["id"], {"platform admin": admin_token, "applicant": applicant.token}


EXPECTED = {  # what each caller is offered, as the README's lifecycle says
    "active": {
        "platform admin": ["suspend", "terminate", "delete"],
        "owner": ["delete"],
        "project admin": [],
        "member": [],
    },
    "suspended": {
        "platform admin": ["unsuspend", "terminate", "delete"],
        "owner": ["delete"],
        "project admin": [],
        "member": [],
    },
    "terminated": {
        "platform admin": ["reinstate", "delete"],
        "owner": ["delete"],
        "project admin": [],
        "member": [],
    },
    "pending_change": {
        "platform admin": ["suspend", "terminate", "approve", "deny", "cancel", "delete"],
        "owner": ["cancel", "delete"],  # the applicant
        "project admin": [],
        "member": [],
    },
    "denied_change": {
        "platform admin": ["suspend", "terminate", "dismiss", "delete"],
        "owner": ["dismiss", "delete"],
        "project admin": [],
        "member": [],
    },
    "applied": {
        "platform admin": ["approve", "deny", "cancel", "delete"],
        "applicant": ["cancel", "delete"],
    },
}


# The listed actions tried in each situation (each on a situation built afresh): those it
# is about; suspend, terminate and delete are tried where the project is plainly active.
TRIED = {
    "active": {"suspend", "terminate", "delete"},
    "suspended": {"unsuspend"},
    "terminated": {"reinstate"},
    "pending_change": {"approve", "deny", "cancel"},
    "denied_change": {"dismiss"},
    "applied": {"approve", "deny", "cancel"},
}


def _offered_and_refused(
    api: Api, pid: str, callers: dict[str, str], wait_until: Wait
) -> dict[str, list[str]]:
    """Each caller's allowed_actions, after checking that every other action is refused
    without a change."""
    offered = {}
    for who, token in callers.items():
        settle(api, wait_until)
        before = api.get(f"/projects/{pid}", token=token).json()
        offered[who] = before["allowed_actions"]
        for action in ACTIONS:
            if action in offered[who]:
                continue
            r = _act(api, token, pid, action)
            assert 400 <= r.status < 500, (who, action, r)
        settle(api, wait_until)
        after = api.get(f"/projects/{pid}", token=token).json()
        assert after["version"] == before["version"], (who, after)
    return offered


def _check(situation: Situation, api: Api, admin_token: str, wait_until: Wait) -> None:
    pid, callers = situation(api, admin_token, wait_until)
    offered = _offered_and_refused(api, pid, callers, wait_until)
    assert offered == EXPECTED[situation.__name__]
    for who, actions in offered.items():
        for action in sorted(TRIED[situation.__name__] & set(actions)):
            settle(api, wait_until)
            pid, callers = situation(api, admin_token, wait_until)
            r = _act(api, callers[who], pid, action)
            assert r.status in (200, 202), (situation.__name__, who, action, r)


@pytest.mark.parametrize(
    "situation",
    [
        active,
        _moved("suspend", "suspended"),
        _moved("terminate", "terminated"),
        pending_change,
        denied_change,
    ],
    ids=lambda s: s.__name__,
)
def test_allowed_actions_are_what_the_routes_accept(
    api: Api, admin_token: str, wait_until: Wait, situation: Situation
) -> None:
    _check(situation, api, admin_token, wait_until)


@MODERATED
def test_allowed_actions_of_a_project_waiting_for_approval(
    api: Api, admin_token: str, wait_until: Wait
) -> None:
    _check(applied, api, admin_token, wait_until)


def test_lists_offer_each_caller_its_own_actions(
    api: Api, admin_token: str, wait_until: Any
) -> None:
    pid, callers = active(api, admin_token, wait_until)
    settle(api, wait_until)
    for who, token in callers.items():
        (row,) = [p for p in api.get("/projects", token=token).json()["items"] if p["id"] == pid]
        assert row["allowed_actions"] == EXPECTED["active"][who], who
