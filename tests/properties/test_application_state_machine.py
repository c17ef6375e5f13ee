"""The application state machine (API.md, "Projects" and "Governance"), property-tested
through HTTP with ApprovalPolicy=moderated.

Each hypothesis example starts with a project created by a non-admin and approved, may
create up to two more, and runs a random sequence of: PATCHes of governed fields
(join_policy, max_members, which may be null: no limit), with or without a direct
description change, by the owner of an active project or by someone else; approve, deny,
cancel and dismiss of any of a project's applications by the platform admin, the applicant
or someone else; joins of active projects (do approved changes take effect?). A model
written from API.md predicts every answer; after every step the API must agree with it:

- a non-admin's POST /projects: 202, `uninitialized`, one pending `create` application;
- the owner's PATCH of governed fields on an active project: 202, a pending `modify`
  application that replaces the pending one (-> `replaced`); description applies at once;
- approve, deny (platform admins), cancel, dismiss (the applicant): from pending to
  approved, denied, cancelled; dismiss from denied to dismissed; anything else 409; a
  caller who may see the project but not decide 403, one who may not see it 404;
- approve of `create`: creating, then active; deny or cancel of `create`: deleted;
  approve of `modify` applies exactly its changes; deny or cancel leave the project as is;
- at most one pending application per project; states move only along
  pending -> approved|denied|cancelled|replaced and denied -> dismissed; nothing is lost
  (GET /applications?project_id= and GET /applications/{id}); `last_application` is the
  project's newest application; every step is in GET /projects/{id}/history.

Platform admins are never made to cancel or dismiss: API.md gives those to the applicant
and is silent on admins. Examples run on a few stacks (tests.properties.Worlds), each on
its own new projects; shrinking is off (the failing run's steps are printed); REPLAYS
replays, on every run, sequences that random search reaches only now and then.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.properties import ADMIN, Worlds, list_all, settle, unique, wait_status

OWNERS, STRANGER, JOINERS = ("o1", "o2"), "stranger", ("j1", "j2")
POLICIES = ("auto", "moderated", "closed")
EDGES = {
    ("pending", "approved"),
    ("pending", "denied"),
    ("pending", "cancelled"),
    ("pending", "replaced"),
    ("denied", "dismissed"),
}
DECISIONS = {  # action -> (from, to)
    "approve": ("pending", "approved"),
    "deny": ("pending", "denied"),
    "cancel": ("pending", "cancelled"),
    "dismiss": ("denied", "dismissed"),
}
GOVERNED = ("join_policy", "leave_policy", "max_members")
MAX_PROJECTS = 3
EXAMPLES_PER_STACK = 5


WORLDS: Worlds | None = None


@dataclass
class App:
    id: str
    type: str
    state: str
    changes: dict[str, Any]

    def __repr__(self) -> str:
        return f"<{self.type} application {self.id[:8]} {self.state}>"


@dataclass
class Proj:
    id: str
    owner: str
    status: str
    fields: dict[str, Any]  # governed fields and description, as the project shows them
    apps: list[App] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # expected, in order
    members: dict[str, str] = field(default_factory=dict)  # joiner -> state

    def __repr__(self) -> str:
        return f"<project {self.id} {self.status} {self.fields}>"

    def pending(self) -> App | None:
        found = [a for a in self.apps if a.state == "pending"]
        assert len(found) <= 1, found
        return found[0] if found else None

    def counted(self) -> int:
        return 1 + sum(1 for s in self.members.values() if s == "accepted")


class Applications(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        assert WORLDS is not None
        self.w = WORLDS.next()
        self.api = self.w.api
        self.projects: list[Proj] = []
        self.observed: dict[str, str] = {}  # app id -> the state last seen

    def token(self, who: str) -> str:
        return self.w.tokens[who]

    def active(self) -> list[Proj]:
        return [p for p in self.projects if p.status == "active"]

    # --- checks ------------------------------------------------------------------------------

    def check(self, p: Proj, *, history: bool = True) -> None:
        """The project, its applications and its history agree with the model (a refused
        step adds nothing to the history: that read is skipped after one)."""
        r = self.api.get(f"/projects/{p.id}", token=self.token(p.owner))
        assert r.status == 200, r
        project = r.json()
        assert project["status"] == p.status, (p, project)
        for k, v in p.fields.items():
            assert project.get(k) == v, (k, p.fields, project)
        newest = p.apps[-1]
        last = project.get("last_application") or {}
        assert (last.get("id"), last.get("state")) == (newest.id, newest.state), (
            "last_application is the newest application",
            [(a.id, a.type, a.state) for a in p.apps],
            last,
        )

        apps = list_all(self.api, self.token(ADMIN), "/applications", project_id=p.id)
        by_id = {a["id"]: a for a in apps}
        assert len(by_id) == len(apps), apps
        assert set(by_id) == {a.id for a in p.apps}, ("applications lost or invented", apps)
        assert sum(1 for a in apps if a["state"] == "pending") <= 1, apps
        for a in p.apps:
            got = by_id[a.id]
            before = self.observed.get(a.id)
            if before is not None and before != got["state"]:
                assert (before, got["state"]) in EDGES, (before, got)
            self.observed[a.id] = got["state"]
            assert got["state"] == a.state, (a, got)
            assert got["type"] == a.type, (a, got)
            assert got["project_id"] == p.id, got
            assert got["applicant_id"] == self.w.ids[p.owner], got
            if a.type == "modify":
                assert got["changes"] == a.changes, (a, got)

        if not history:
            return
        items = list_all(self.api, self.token(p.owner), f"/projects/{p.id}/history")
        at = 0
        for wanted in p.history:
            while at < len(items) and not matches(items[at], wanted):
                at += 1
            assert at < len(items), ("missing from the history", wanted, p.history, items)
            at += 1

    def expect(self, r: Any, statuses: set[int], p: Proj, note: Any) -> bool:
        assert r.status in statuses, (note, r)
        if r.status >= 400:
            body = r.json()
            assert body["status"] == r.status, r
            return False
        return True

    # --- rules -------------------------------------------------------------------------------

    @initialize(
        owner=st.sampled_from(OWNERS),
        join_policy=st.sampled_from(POLICIES),
        max_members=st.none() | st.integers(1, 4),
    )
    def active_project(self, owner: str, join_policy: str, max_members: int | None) -> None:
        """Start with one approved (active) project, so that most steps can change it."""
        self.create(owner, join_policy, max_members)
        self.decide(Draws(self, 0, 0), "approve", right=True)

    @precondition(lambda self: len(self.projects) < MAX_PROJECTS)
    @rule(
        owner=st.sampled_from(OWNERS),
        join_policy=st.sampled_from(POLICIES),
        max_members=st.none() | st.integers(1, 4),
    )
    def create(self, owner: str, join_policy: str, max_members: int | None) -> None:
        pid = unique("a")
        body: dict[str, Any] = {"id": pid, "name": f"Applied {pid}", "join_policy": join_policy}
        if max_members is not None:
            body["max_members"] = max_members
        r = self.api.post("/projects", token=self.token(owner), json=body)
        assert r.status == 202, r
        project = r.json()
        assert project["status"] == "uninitialized", project
        last = project.get("last_application") or {}
        assert last.get("type") == "create" and last.get("state") == "pending", project
        p = Proj(
            pid,
            owner,
            "uninitialized",
            {"join_policy": join_policy, "leave_policy": "auto", "max_members": max_members},
        )
        p.apps.append(App(last["id"], "create", "pending", {}))
        p.history.append({"to": "uninitialized"})
        self.projects.append(p)
        self.check(p)

    @precondition(lambda self: bool(self.active()))
    @rule(
        data=st.data(),
        caller=st.sampled_from(("owner", "owner", "owner", STRANGER, "other owner")),
        join_policy=st.none() | st.sampled_from(POLICIES),
        max_members=st.sampled_from(("keep", None, 1, 2, 3, 5)),
        description=st.none() | st.text("abcxyz", min_size=1, max_size=12),
    )
    def patch(
        self,
        data: st.DataObject,
        caller: str,
        join_policy: str | None,
        max_members: Any,
        description: str | None,
    ) -> None:
        p = data.draw(st.sampled_from(self.active()), label="project")
        who = {"owner": p.owner, "other owner": next(o for o in OWNERS if o != p.owner)}.get(
            caller, caller
        )
        governed: dict[str, Any] = {}
        if join_policy is not None:
            governed["join_policy"] = join_policy
        if max_members != "keep":
            governed["max_members"] = max_members
        if not governed:
            governed["join_policy"] = "moderated"
        body = {**governed, **({"description": description} if description else {})}
        r = self.api.patch(f"/projects/{p.id}", token=self.token(who), json=body)
        if not self.expect(r, {202} if who == p.owner else {404}, p, ("patch", who, body)):
            self.check(p, history=False)
            return
        project = r.json()
        if description:
            p.fields["description"] = description
        for k, v in p.fields.items():  # governed fields wait for approval
            assert project.get(k) == v, ("the 202 shows the project as it is", k, body, project)
        last = project.get("last_application") or {}
        assert last.get("type") == "modify" and last.get("state") == "pending", project
        assert last["id"] not in {a.id for a in p.apps}, project
        old = p.pending()
        entry: dict[str, Any] = {"app": last["id"]}
        if old is not None:
            old.state = "replaced"
            entry["mentions"] = old.id
        p.apps.append(App(last["id"], "modify", "pending", governed))
        p.history.append(entry)
        self.check(p)

    @precondition(lambda self: bool(self.projects))
    @rule(
        data=st.data(),
        action=st.sampled_from(tuple(DECISIONS)),
        right=st.sampled_from((True, True, True, False)),
    )
    def decide(self, data: st.DataObject, action: str, right: bool) -> None:
        p = data.draw(st.sampled_from(self.projects), label="project")
        app = data.draw(
            st.sampled_from(p.apps[-1:] * 2 + p.apps) if p.apps else st.nothing(),
            label="application",
        )
        deciders = (ADMIN,) if action in ("approve", "deny") else (p.owner,)
        others = tuple(
            c for c in (ADMIN, p.owner, STRANGER, *OWNERS) if c not in deciders and c != ADMIN
        )
        # platform admins may cancel/dismiss too, or not: API.md says "(applicant)" only;
        # that choice is left open here, so admins never try those
        caller = deciders[0] if right else data.draw(st.sampled_from(others), label="caller")
        source, target = DECISIONS[action]
        if caller not in (ADMIN, p.owner):
            statuses = {404}
        elif caller not in deciders:
            statuses = {403}
        elif app.state != source:
            statuses = {409}
        elif action == "approve":
            statuses = {202} if app.type == "create" else {200, 202}
        else:
            statuses = {200}
        r = self.api.post(
            f"/projects/{p.id}/actions",
            token=self.token(caller),
            json={"action": action, "app_id": app.id, "reason": f"{caller} {action}s"},
        )
        if not self.expect(r, statuses, p, (action, caller, app)):
            self.check(p, history=False)
            return
        app.state = target
        entry: dict[str, Any] = {"app": app.id, "word": target}
        if app.type == "create" and action == "approve":
            assert r.json()["status"] == "creating", r
            p.history.append(entry)
            p.history.append({"to": "active"})
            wait_status(self.api, self.token(p.owner), p.id, "active")
            p.status = "active"
        elif app.type == "create" and action in ("deny", "cancel"):
            assert r.json()["status"] == "deleted", r
            entry["to"] = "deleted"
            p.history.append(entry)
            p.status = "deleted"
        else:
            if action == "approve":
                p.fields.update(app.changes)
            p.history.append(entry)
        self.check(p)

    @precondition(lambda self: bool(self.active()))
    @rule(data=st.data(), joiner=st.sampled_from(JOINERS))
    def join(self, data: st.DataObject, joiner: str) -> None:
        """Approved policies and limits are the ones that apply."""
        p = data.draw(st.sampled_from(self.active()), label="project")
        policy, limit = p.fields["join_policy"], p.fields["max_members"]
        if p.members.get(joiner) in ("requested", "accepted") or policy == "closed":
            statuses, state = {409}, None
        elif policy == "moderated":
            statuses, state = {201}, "requested"
        elif limit is not None and p.counted() >= limit:
            statuses, state = {409}, None
        else:
            statuses, state = {201}, "accepted"
        r = self.api.post(
            "/memberships", token=self.token(joiner), json={"project_id": p.id, "action": "join"}
        )
        assert r.status in statuses, ("join under", p.fields, p.members, r)
        if state:
            assert r.json()["state"] == state, r
            p.members[joiner] = state

    def teardown(self) -> None:
        """Nothing is lost: GET /applications/{id} answers every application ever made."""
        for p in self.projects:
            for a in p.apps:
                r = self.api.get(f"/applications/{a.id}", token=self.token(ADMIN))
                assert r.status == 200, r
                assert r.json()["state"] == a.state, (a, r)
            newest = p.apps[-1]
            r = self.api.get(f"/applications/{newest.id}", token=self.token(p.owner))
            assert r.status == 200 and r.json()["state"] == newest.state, r
            r = self.api.get(f"/applications/{newest.id}", token=self.token(STRANGER))
            assert r.status == 404, r
        settle(self.api)


def matches(item: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """A history item is the expected one: `app` its detail's application_id, `word` in
    its event, `to` its new status, `mentions` somewhere in its detail."""
    detail = item.get("detail") or {}
    if "app" in wanted and detail.get("application_id") != wanted["app"]:
        return False
    if "word" in wanted and wanted["word"] not in item["event"]:
        return False
    if "to" in wanted and item.get("to") != wanted["to"]:
        return False
    return not ("mentions" in wanted and wanted["mentions"] not in json.dumps(detail))


@pytest.fixture(scope="module")
def worlds() -> Iterator[Worlds]:
    global WORLDS
    WORLDS = Worlds(
        {"ApprovalPolicy": "moderated"}, (*OWNERS, STRANGER, *JOINERS), every=EXAMPLES_PER_STACK
    )
    try:
        yield WORLDS
    finally:
        WORLDS.close()
        WORLDS = None


class Draws:
    """Stands in for st.data() when a replay calls a rule: `project` draws are indexes into
    the machine's projects, `application` draws indexes into that project's applications,
    other draws are the values themselves."""

    def __init__(self, machine: Applications, *values: Any) -> None:
        self.machine, self.values, self.project = machine, list(values), None

    def draw(self, strategy: Any, label: str | None = None) -> Any:
        value = self.values.pop(0)
        if label == "project":
            self.project = self.machine.projects[value]
            return self.project
        if label == "application":
            assert self.project is not None
            return self.project.apps[value]
        return value


# Sequences that random search finds only now and then, replayed on every run: (rule,
# arguments, draws); the model and every check above apply as in the random runs.
REPLAYS: dict[str, list[tuple[str, dict[str, Any], tuple[Any, ...]]]] = {
    # an approved removal of max_members means no limit: members can join
    "approved-unlimited-max-members": [
        ("create", {"owner": "o1", "join_policy": "auto", "max_members": 2}, ()),
        ("decide", {"action": "approve", "right": True}, (0, 0)),
        ("patch", {"caller": "owner", "join_policy": None, "max_members": None}, (0,)),
        ("decide", {"action": "approve", "right": True}, (0, -1)),
        ("join", {"joiner": "j1"}, (0,)),
        ("join", {"joiner": "j2"}, (0,)),
    ],
    # dismissing an old denied application leaves the newer pending one the last
    "dismiss-an-older-application": [
        ("create", {"owner": "o2", "join_policy": "moderated", "max_members": None}, ()),
        ("decide", {"action": "approve", "right": True}, (0, 0)),
        ("patch", {"caller": "owner", "join_policy": "closed", "max_members": 3}, (0,)),
        ("decide", {"action": "deny", "right": True}, (0, -1)),
        ("patch", {"caller": "owner", "join_policy": "auto", "max_members": "keep"}, (0,)),
        ("decide", {"action": "dismiss", "right": True}, (0, 1)),
        ("decide", {"action": "approve", "right": True}, (0, -1)),
        ("join", {"joiner": "j1"}, (0,)),
    ],
    # create applications: deny then dismiss, cancel; wrong callers; replaced ones are final
    "create-and-replace": [
        ("create", {"owner": "o1", "join_policy": "closed", "max_members": 1}, ()),
        ("decide", {"action": "approve", "right": False}, (0, 0, "o1")),
        ("decide", {"action": "cancel", "right": False}, (0, 0, "o2")),
        ("decide", {"action": "deny", "right": True}, (0, 0)),
        ("decide", {"action": "approve", "right": True}, (0, 0)),
        ("decide", {"action": "dismiss", "right": False}, (0, 0, STRANGER)),
        ("decide", {"action": "dismiss", "right": True}, (0, 0)),
        ("create", {"owner": "o2", "join_policy": "auto", "max_members": None}, ()),
        ("decide", {"action": "cancel", "right": True}, (1, 0)),
        ("decide", {"action": "dismiss", "right": True}, (1, 0)),
        ("create", {"owner": "o1", "join_policy": "auto", "max_members": 3}, ()),
        ("decide", {"action": "approve", "right": True}, (2, 0)),
        ("patch", {"caller": "owner", "join_policy": "closed", "max_members": 1}, (2,)),
        ("patch", {"caller": STRANGER, "join_policy": "moderated", "max_members": 5}, (2,)),
        ("patch", {"caller": "owner", "join_policy": "moderated", "max_members": "keep"}, (2,)),
        ("decide", {"action": "approve", "right": True}, (2, 1)),
        ("decide", {"action": "cancel", "right": True}, (2, 2)),
        ("decide", {"action": "approve", "right": True}, (2, 2)),
        ("join", {"joiner": "j2"}, (2,)),
    ],
}


@pytest.mark.parametrize("name", sorted(REPLAYS))
def test_application_replays(worlds: Worlds, name: str) -> None:
    machine = Applications()
    for step, arguments, draws in REPLAYS[name]:
        if step in ("patch", "decide", "join"):
            arguments = {"data": Draws(machine, *draws), **arguments}
        if step == "patch":
            arguments.setdefault("description", "changed at once")
        getattr(machine, step)(**arguments)
    machine.teardown()


@pytest.mark.parametrize("field_name", ["join_policy", "leave_policy"])
def test_a_policy_cannot_be_nulled(worlds: Worlds, field_name: str) -> None:
    """A project always has its policies (the resource requires them): null is a 422, from
    the owner (an application would remove the field on approval) and from an admin."""
    machine = Applications()
    machine.active_project("o1", "auto", None)
    p = machine.projects[0]
    for caller in (p.owner, ADMIN):
        r = machine.api.patch(
            f"/projects/{p.id}", token=machine.token(caller), json={field_name: None}
        )
        assert r.status == 422, (caller, r)
        machine.check(p)
    machine.teardown()


def test_application_state_machine(worlds: Worlds) -> None:
    run_state_machine_as_test(
        Applications,
        settings=settings(
            max_examples=15,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            # no shrinking (see test_membership_state_machine): the failing run is printed
            phases=(Phase.explicit, Phase.reuse, Phase.generate),
        ),
    )
