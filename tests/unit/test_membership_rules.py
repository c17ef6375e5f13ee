import pytest

from tenantry.domain.membership_rules import allowed_actions, member_delta, next_state
from tenantry.errors import Conflict, InvalidTransition


@pytest.mark.parametrize(
    ("current", "action", "policy", "expected"),
    [
        (None, "join", "auto", "accepted"),
        (None, "join", "moderated", "requested"),
        ("removed", "join", "auto", "accepted"),
        ("rejected", "join", "moderated", "requested"),
        (None, "enroll", "closed", "accepted"),
        ("requested", "enroll", "auto", "accepted"),
        ("requested", "accept", "auto", "accepted"),
        ("requested", "reject", "auto", "rejected"),
        ("requested", "cancel", "auto", "cancelled"),
        ("accepted", "leave", "auto", "removed"),
        ("accepted", "leave", "moderated", "leave_requested"),
        ("leave_requested", "accept", "auto", "removed"),
        ("leave_requested", "reject", "auto", "accepted"),
        ("leave_requested", "cancel", "auto", "accepted"),
        ("accepted", "remove", "auto", "removed"),
    ],
)
def test_moves(current, action, policy, expected):
    assert next_state(current, action, policy=policy) == expected


def test_closed_policies_are_409():
    with pytest.raises(Conflict):
        next_state(None, "join", policy="closed")
    with pytest.raises(Conflict):
        next_state("accepted", "leave", policy="closed")


@pytest.mark.parametrize(
    ("current", "action"),
    [
        ("accepted", "join"),
        ("requested", "join"),
        ("accepted", "enroll"),
        (None, "leave"),
        ("removed", "remove"),
        ("accepted", "accept"),
        (None, "cancel"),
    ],
)
def test_invalid_moves(current, action):
    with pytest.raises(InvalidTransition):
        next_state(current, action)


def test_owner_cannot_leave_or_be_removed():
    for action in ("leave", "remove"):
        with pytest.raises(Conflict):
            next_state("accepted", action, role="owner")


def test_member_delta():
    assert member_delta(None, "accepted") == 1
    assert member_delta("requested", "accepted") == 1
    assert member_delta("accepted", "leave_requested") == 0
    assert member_delta("leave_requested", "removed") == -1
    assert member_delta(None, "requested") == 0


def test_allowed_actions_depend_on_caller():
    kw = {"role": "member", "join_policy": "moderated", "leave_policy": "moderated"}
    assert allowed_actions("requested", is_self=True, is_manager=False, **kw) == ["cancel"]
    assert allowed_actions("requested", is_self=False, is_manager=True, **kw) == [
        "accept",
        "reject",
    ]
    assert allowed_actions("accepted", is_self=True, is_manager=False, **kw) == ["leave"]
    assert allowed_actions("accepted", is_self=False, is_manager=True, **kw) == ["remove"]
    assert allowed_actions("accepted", is_self=False, is_manager=False, **kw) == []
    owner = {**kw, "role": "owner"}
    assert allowed_actions("accepted", is_self=True, is_manager=True, **owner) == []
