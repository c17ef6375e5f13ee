"""The membership state machine (API.md, "Governance"), property-tested through HTTP.

Each hypothesis example is a fresh active project with random join/leave policies, a
random small max_members and maybe a `members` quota, and a random sequence of join,
enroll and membership actions by random callers: the owner, four users and the platform
admin, allowed or not. A reference model written from API.md (Synnefo semantics) predicts
every answer; after every step the API must agree with it on the status code, every
membership's state and role, the member count (GET .../quotas), the limits, the owner and
`allowed_actions` as the owner and the member see them.

The model, from API.md:
- join (self): from no membership, rejected, cancelled or removed; `auto` accepts,
  `moderated` requests, `closed` is 409; the joiner's role is `member`.
- enroll (owner, project admin; platform admins as everywhere): from no membership,
  rejected, cancelled, removed or requested, to accepted with the given role.
- requested: accept -> accepted, reject -> rejected (managers), cancel -> cancelled (self).
- accepted: leave (self) -> removed (`auto`), leave_requested (`moderated`), 409 (`closed`);
  remove (managers) -> removed. The owner can neither leave nor be removed (409).
- leave_requested: accept -> removed, reject -> accepted (managers), cancel -> accepted
  (self), remove -> removed (managers).
- accepted and leave_requested count as members, the owner included (a new project has
  one); growing past max_members is 409 naming max_members, past the `members` quota
  (resources.members.project_capacity) 413 with resource, limit and usage. Anything else
  invalid in the current state is 409.
- Who may see a membership: the member, the project's (counted) members, platform admins;
  others get 404. Who may see it but not do the action: 403.
- allowed_actions: exactly the actions that the viewer would succeed with now (so no
  `accept` of a request while the project is full).

Examples run on a few stacks (tests.properties.Worlds: a fresh stack every five examples),
each example on its own new project. Shrinking is off (a step is several HTTP requests);
the failing run's steps are printed as they ran. REPLAYS replays, on every run, sequences
that random search reaches only now and then.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from tests.properties import ADMIN, Worlds, list_all, settle, unique, wait_status

USERS = ("u0", "u1", "u2", "u3")
OWNER = "owner"  # the project's owner; ADMIN is the platform admin
EXAMPLES_PER_STACK = 5
CALLERS = (OWNER, *USERS, ADMIN)
ACTIONS = ("accept", "reject", "remove", "leave", "cancel")
SELF_ACTIONS = {"leave", "cancel"}
COUNTED = {"accepted", "leave_requested"}
FORMER = (None, "rejected", "cancelled", "removed")
POLICIES = ("auto", "moderated", "closed")
SELF = "self"  # the caller is the member
# whose membership a step is about: mostly the plain users, sometimes the admin or owner
TARGETS = st.sampled_from((*USERS, *USERS, ADMIN, OWNER))


WORLDS: Worlds | None = None


@dataclass
class Expect:
    statuses: set[int]
    state: str | None = None  # the membership's state after a success
    role: str | None = None
    full: bool = False  # refused only because the project is full


@dataclass
class Model:
    """What API.md says the project's memberships are."""

    join_policy: str
    leave_policy: str
    max_members: int | None
    capacity: int | None
    state: dict[str, str | None] = field(default_factory=dict)
    role: dict[str, str] = field(default_factory=dict)

    def count(self) -> int:
        return sum(1 for s in self.state.values() if s in COUNTED)

    def project_role(self, caller: str) -> str | None:
        return self.role[caller] if self.state.get(caller) in COUNTED else None

    def is_manager(self, caller: str) -> bool:
        return caller == ADMIN or self.project_role(caller) in ("owner", "admin")

    def sees_membership(self, caller: str, user: str) -> bool:
        """As in GET /memberships: the member, managers and platform admins see it; other
        members only when it counts (a request or a rejection is not theirs to see)."""
        if caller == user or self.is_manager(caller):
            return True
        return self.project_role(caller) is not None and self.state.get(user) in COUNTED

    def sees_project(self, caller: str) -> bool:
        return caller == ADMIN or self.project_role(caller) is not None

    def growth(self, success: int, state: str, role: str) -> Expect:
        """One more counted member: `success` if it fits, else 409 (max_members reached)
        or 413 (the members quota; either when both are reached)."""
        n = self.count()
        refusals = set()
        if self.max_members is not None and n >= self.max_members:
            refusals.add(409)
        if self.capacity is not None and n >= self.capacity:
            refusals.add(413)
        return Expect(refusals or {success}, state, role, full=bool(refusals))

    def join(self, user: str) -> Expect:
        if self.state.get(user) not in FORMER or self.join_policy == "closed":
            return Expect({409})
        if self.join_policy == "moderated":
            return Expect({201}, "requested", "member")
        return self.growth(201, "accepted", "member")

    def enroll(self, caller: str, user: str, role: str) -> Expect:
        if not self.sees_project(caller):
            return Expect({404})
        if not self.is_manager(caller):
            return Expect({403})
        if self.state.get(user) not in (*FORMER, "requested"):
            return Expect({409})
        return self.growth(201, "accepted", role)

    def act(self, caller: str, user: str, action: str) -> Expect:
        current = self.state.get(user)
        if current is None or not self.sees_membership(caller, user):
            return Expect({404})
        if action in SELF_ACTIONS and caller != user:
            return Expect({403})
        if action not in SELF_ACTIONS and not self.is_manager(caller):
            return Expect({403})
        role = self.role[user]
        if action in ("leave", "remove") and role == "owner" and current in COUNTED:
            return Expect({409})
        moves: dict[tuple[str, str], str] = {
            ("accept", "requested"): "accepted",
            ("accept", "leave_requested"): "removed",
            ("reject", "requested"): "rejected",
            ("reject", "leave_requested"): "accepted",
            ("remove", "accepted"): "removed",
            ("remove", "leave_requested"): "removed",
            ("cancel", "requested"): "cancelled",
            ("cancel", "leave_requested"): "accepted",
        }
        if action == "leave" and current == "accepted":
            if self.leave_policy == "closed":
                return Expect({409})
            target = "removed" if self.leave_policy == "auto" else "leave_requested"
            return Expect({200}, target, role)
        target = moves.get((action, current))
        if target is None:
            return Expect({409})
        if target in COUNTED and current not in COUNTED:
            return self.growth(200, target, role)
        return Expect({200}, target, role)

    def allowed(self, caller: str, user: str) -> set[str]:
        return {a for a in ACTIONS if self.act(caller, user, a).statuses <= {200}}


class Memberships(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        assert WORLDS is not None
        self.w = WORLDS.next()
        self.api = self.w.api
        self.pid = ""
        self.model: Model | None = None
        self.membership_ids: dict[str, str] = {}

    # --- helpers -----------------------------------------------------------------------------

    def token(self, who: str) -> str:
        return self.w.tokens[who]

    def check_response(self, r: Any, expect: Expect, user: str, caller: str) -> None:
        """The answer is what the model expects; on success the model moves."""
        assert self.model is not None
        assert r.status in expect.statuses, (expect, r)
        if r.status >= 400:
            body = r.json()
            assert body["status"] == r.status, r
            if r.status == 413:
                assert body.get("resource") == "members", r
                assert body.get("limit") == self.model.capacity, r
                assert body.get("usage") == self.model.count(), r
            if r.status == 409 and expect.full:  # the move was valid but the project is full
                assert "max_members" in body["detail"], r
            return
        m = r.json()
        assert m["user_id"] == self.w.ids[user], m
        assert m["project_id"] == self.pid, m
        assert m["state"] == expect.state, (expect, m)
        assert m["role"] == expect.role, (expect, m)
        previous = self.membership_ids.setdefault(user, m["id"])
        assert m["id"] == previous, ("a user has one membership per project", previous, m)
        self.model.state[user] = expect.state
        self.model.role[user] = expect.role  # type: ignore[assignment]
        # the answer shows what the caller may do now
        assert set(m["allowed_actions"]) == self.model.allowed(caller, user), (caller, m)

    def check(self, r: Any, user: str, caller: str) -> None:
        """After a step: everything the API shows agrees with the model. The quotas are
        read after each success (a refused request changes nothing), and the member's own
        view when someone else changed their membership (the answer showed the caller's)."""
        model = self.model
        assert model is not None
        owner = self.token(OWNER)
        items = list_all(self.api, owner, "/memberships", project_id=self.pid)
        by_user: dict[str, dict[str, Any]] = {}
        names = {v: k for k, v in self.w.ids.items()}
        for m in items:
            who = names.get(m["user_id"], m["user_id"])
            assert who not in by_user, ("two memberships of one user", by_user.get(who), m)
            by_user[who] = m
        expected_users = {u for u, s in model.state.items() if s is not None}
        assert set(by_user) == expected_users, ("memberships lost or invented", items)
        for who, m in by_user.items():
            assert m["state"] == model.state[who], (who, model.state, m)
            assert m["role"] == model.role[who], (who, model.role, m)
            assert m["id"] == self.membership_ids[who], m
            assert set(m["allowed_actions"]) == model.allowed(OWNER, who), (
                "allowed_actions as the owner sees them",
                who,
                model.state,
                m,
            )
        assert by_user[OWNER]["state"] == "accepted" and by_user[OWNER]["role"] == "owner"
        counted = sum(1 for m in items if m["state"] in COUNTED)
        assert counted == model.count(), items
        if model.max_members is not None:
            assert counted <= model.max_members, items
        if model.capacity is not None:
            assert counted <= model.capacity, items
        if r is None or r.status < 400:
            self.check_quota()
        if r is not None and r.status < 400 and caller != user:
            self.check_own_view(user)

    def check_quota(self) -> None:
        model = self.model
        assert model is not None
        r = self.api.get(f"/projects/{self.pid}/quotas", token=self.token(OWNER))
        assert r.status == 200, r
        quota = r.json()["members"]
        assert quota["usage"] == model.count(), (quota, model.state)
        limits = [x for x in (model.max_members, model.capacity) if x is not None]
        assert quota["limit"] == (min(limits) if limits else None), quota

    def check_own_view(self, user: str) -> None:
        model = self.model
        assert model is not None
        r = self.api.get(f"/memberships/{self.membership_ids[user]}", token=self.token(user))
        assert r.status == 200, r
        m = r.json()
        assert m["state"] == model.state[user], (model.state, m)
        assert set(m["allowed_actions"]) == model.allowed(user, user), (
            "allowed_actions as the member sees them",
            user,
            model.state,
            model.role,
            m,
        )

    # --- the project -------------------------------------------------------------------------

    @initialize(
        join_policy=st.sampled_from(POLICIES),
        leave_policy=st.sampled_from(POLICIES),
        max_members=st.none() | st.integers(1, 4),
        capacity=st.none() | st.integers(1, 4),
    )
    def project(
        self, join_policy: str, leave_policy: str, max_members: int | None, capacity: int | None
    ) -> None:
        self.pid = unique("m")
        body: dict[str, Any] = {
            "id": self.pid,
            "name": f"Memberships {self.pid}",
            "join_policy": join_policy,
            "leave_policy": leave_policy,
        }
        if max_members is not None:
            body["max_members"] = max_members
        if capacity is not None:
            body["resources"] = {"members": {"project_capacity": capacity, "member_capacity": 0}}
        r = self.api.post("/projects", token=self.token(OWNER), json=body)
        assert r.status == 202, r
        project = wait_status(self.api, self.token(OWNER), self.pid, "active")
        assert project["join_policy"] == join_policy and project["leave_policy"] == leave_policy
        self.model = Model(join_policy, leave_policy, max_members, capacity)
        self.model.state[OWNER] = "accepted"
        self.model.role[OWNER] = "owner"
        r = self.api.get("/memberships", token=self.token(OWNER), query={"project_id": self.pid})
        assert r.status == 200, r
        (owner_membership,) = r.json()["items"]
        self.membership_ids[OWNER] = owner_membership["id"]
        self.check(None, OWNER, OWNER)

    # --- the moves ---------------------------------------------------------------------------

    @rule(user=TARGETS)
    def join(self, user: str) -> None:
        assert self.model is not None
        expect = self.model.join(user)
        r = self.api.post(
            "/memberships",
            token=self.token(user),
            json={"project_id": self.pid, "action": "join"},
        )
        self.check_response(r, expect, user, user)
        self.check(r, user, user)

    @rule(
        caller=st.sampled_from((OWNER, OWNER, *CALLERS)),
        user=TARGETS,
        role=st.sampled_from(("admin", "member", "viewer")),
        by_email=st.booleans(),
    )
    def enroll(self, caller: str, user: str, role: str, by_email: bool) -> None:
        assert self.model is not None
        expect = self.model.enroll(caller, user, role)
        who = {"email": self.w.emails[user]} if by_email else {"user_id": self.w.ids[user]}
        r = self.api.post(
            "/memberships",
            token=self.token(caller),
            json={"project_id": self.pid, "action": "enroll", "role": role, **who},
        )
        if by_email and r.status == 202:
            # an invite, whatever the address; the enrollment happens when it is accepted
            assert expect.statuses & {201, 409, 413}, (expect, r)
            assert "user_id" not in r.json(), r
            r = self.api.post(f"/invites/{r.json()['id']}/accept", token=self.token(user), json={})
            if r.status == 200:
                r = self.api.get(
                    f"/memberships/{self.membership_id(user)}", token=self.token(caller)
                )
                r.status = 201  # the enrollment's answer, as by user_id
        self.check_response(r, expect, user, caller)
        self.check(r, user, caller)

    def membership_id(self, user: str) -> str:
        from tenantry.domain.memberships import membership_id

        return membership_id(self.pid, self.w.ids[user])

    @rule(
        caller=st.sampled_from((SELF, SELF, OWNER, OWNER, *CALLERS)),
        user=TARGETS,
        action=st.sampled_from(ACTIONS),
    )
    def act(self, caller: str, user: str, action: str) -> None:
        assert self.model is not None
        caller = user if caller == SELF else caller
        expect = self.model.act(caller, user, action)
        mid = self.membership_ids.get(user, str(uuid.uuid4()))
        r = self.api.post(
            f"/memberships/{mid}/actions",
            token=self.token(caller),
            json={"action": action, "reason": f"{caller} does {action}"},
        )
        self.check_response(r, expect, user, caller)
        self.check(r, user, caller)

    def teardown(self) -> None:
        """Nothing is lost: every membership ever made is still there, once, for the owner
        and for its member."""
        if self.model is None:
            return
        for user, mid in self.membership_ids.items():
            r = self.api.get(f"/memberships/{mid}", token=self.token(OWNER))
            assert r.status == 200, r
            assert r.json()["state"] == self.model.state[user], (self.model.state, r)
            if user != OWNER:
                self.check_own_view(user)
        self.check_quota()
        settle(self.api)


@pytest.fixture(scope="module")
def worlds() -> Iterator[Worlds]:
    global WORLDS
    # Random join/leave loops would hit the per-day join limit (tests/integration/test_limits.py
    # covers the limits); here the state machine alone is under test.
    WORLDS = Worlds(
        {"MaxJoinRequestsPerProjectPerDay": "10000", "MaxPendingJoinRequestsPerUser": "10000"},
        (OWNER, *USERS),
        every=EXAMPLES_PER_STACK,
    )
    try:
        yield WORLDS
    finally:
        WORLDS.close()
        WORLDS = None


# Sequences that random search finds only now and then, replayed on every run. Each step is
# (rule, arguments); the model and every check above apply as in the random runs.
REPLAYS = {
    # a project admin removed (or leaving) who joins again is a plain member, not an admin
    "removed-admin-rejoins-auto": (
        {"join_policy": "auto", "leave_policy": "auto", "max_members": None, "capacity": None},
        [
            ("enroll", {"caller": OWNER, "user": "u0", "role": "admin", "by_email": False}),
            ("act", {"caller": OWNER, "user": "u0", "action": "remove"}),
            ("join", {"user": "u0"}),
        ],
    ),
    "departed-admin-asks-to-rejoin": (
        {"join_policy": "moderated", "leave_policy": "auto", "max_members": None, "capacity": 3},
        [
            ("enroll", {"caller": OWNER, "user": "u1", "role": "admin", "by_email": True}),
            ("act", {"caller": SELF, "user": "u1", "action": "leave"}),
            ("join", {"user": "u1"}),
            ("act", {"caller": "u1", "user": "u1", "action": "accept"}),
        ],
    ),
    # accept is not offered on a request that cannot be accepted (the project is full)
    "full-project-request": (
        {
            "join_policy": "moderated",
            "leave_policy": "moderated",
            "max_members": 2,
            "capacity": None,
        },
        [
            ("join", {"user": "u0"}),
            ("join", {"user": "u1"}),
            ("act", {"caller": OWNER, "user": "u0", "action": "accept"}),
            ("act", {"caller": OWNER, "user": "u1", "action": "accept"}),
        ],
    ),
    "full-by-quota": (
        {"join_policy": "moderated", "leave_policy": "auto", "max_members": None, "capacity": 1},
        [
            ("join", {"user": "u2"}),
            ("enroll", {"caller": ADMIN, "user": "u2", "role": "viewer", "by_email": False}),
        ],
    ),
    # leave requests: accept removes, reject and cancel keep the member; refusals by others
    "leave-request-round-trip": (
        {"join_policy": "auto", "leave_policy": "moderated", "max_members": 3, "capacity": None},
        [
            ("join", {"user": "u0"}),
            ("join", {"user": "u1"}),
            ("join", {"user": "u2"}),
            ("act", {"caller": SELF, "user": "u0", "action": "leave"}),
            ("act", {"caller": "u1", "user": "u0", "action": "accept"}),
            ("act", {"caller": OWNER, "user": "u0", "action": "reject"}),
            ("act", {"caller": SELF, "user": "u0", "action": "leave"}),
            ("act", {"caller": SELF, "user": "u0", "action": "cancel"}),
            ("act", {"caller": SELF, "user": "u0", "action": "leave"}),
            ("act", {"caller": OWNER, "user": "u0", "action": "accept"}),
            ("join", {"user": "u3"}),
            ("act", {"caller": "u3", "user": OWNER, "action": "remove"}),
            ("act", {"caller": OWNER, "user": OWNER, "action": "leave"}),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(REPLAYS))
def test_membership_replays(worlds: Worlds, name: str) -> None:
    project, steps = REPLAYS[name]
    machine = Memberships()
    machine.project(**project)
    for step, arguments in steps:
        getattr(machine, step)(**arguments)
    machine.teardown()


def test_membership_state_machine(worlds: Worlds) -> None:
    run_state_machine_as_test(
        Memberships,
        settings=settings(
            max_examples=20,
            stateful_step_count=7,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            # no shrinking: each step is a few HTTP requests, and a failing run (its steps
            # are printed) is short already; shrinking took minutes
            phases=(Phase.explicit, Phase.reuse, Phase.generate),
        ),
    )
