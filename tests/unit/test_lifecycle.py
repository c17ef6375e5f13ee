import pytest

from tenantry.domain import lifecycle
from tenantry.errors import InvalidTransition

ALL_STATUSES = [
    "uninitialized",
    "creating",
    "active",
    "suspended",
    "terminated",
    "deleting",
    "deleted",
    "failed",
]


@pytest.mark.parametrize(
    ("status", "event", "expected"),
    [
        ("active", "suspend", "suspended"),
        ("suspended", "unsuspend", "active"),
        ("active", "terminate", "terminated"),
        ("suspended", "terminate", "terminated"),
        ("terminated", "reinstate", "active"),
        ("failed", "retry", "creating"),
        ("uninitialized", "approve", "creating"),
        ("uninitialized", "deny", "deleted"),
        ("creating", "provisioned", "active"),
        ("creating", "provisioning_failed", "failed"),
        ("deleting", "deprovisioned", "deleted"),
        ("deleting", "deprovisioning_failed", "failed"),
    ],
)
def test_legal_transitions(status, event, expected):
    assert lifecycle.next_status(status, event) == expected


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_delete_allowed_from_everything_but_deleting_and_deleted(status):
    if status in ("deleting", "deleted"):
        with pytest.raises(InvalidTransition):
            lifecycle.next_status(status, "delete")
    else:
        assert lifecycle.next_status(status, "delete") == "deleting"


@pytest.mark.parametrize(
    ("status", "event"),
    [
        ("active", "unsuspend"),
        ("creating", "suspend"),
        ("deleted", "reinstate"),
        ("active", "approve"),
        ("failed", "suspend"),
        ("terminated", "suspend"),
    ],
)
def test_illegal_transitions_are_409_with_current_status(status, event):
    with pytest.raises(InvalidTransition) as err:
        lifecycle.next_status(status, event)
    assert err.value.status == 409
    assert err.value.extra["current_status"] == status


def test_deleted_is_terminal():
    for event in lifecycle.TRANSITIONS:
        with pytest.raises(InvalidTransition):
            lifecycle.next_status("deleted", event)


def test_who_may():
    assert lifecycle.who_may("suspend") == "admin"
    assert lifecycle.who_may("retry") == "owner"
    assert lifecycle.who_may("provisioned") == "system"


def test_an_active_project_is_retried_only_while_a_namespace_failed():
    ready = {"type": "NamespacesReady", "status": "True"}
    with pytest.raises(InvalidTransition):
        lifecycle.check_retry({"status": "active", "conditions": [ready]})
    with pytest.raises(InvalidTransition):
        lifecycle.check_retry({"status": "active"})
    lifecycle.check_retry({"status": "active", "conditions": [{**ready, "status": "False"}]})
    lifecycle.check_retry({"status": "failed"})
    assert lifecycle.next_status("active", "retry") == "creating"


def _offered(project: dict[str, object], who: str) -> list[str]:
    callers = {
        "admin": {"caller_id": "a", "is_admin": True, "role": None},
        "owner": {"caller_id": "o", "is_admin": False, "role": "owner"},
        "member": {"caller_id": "m", "is_admin": False, "role": "member"},
    }
    return lifecycle.allowed_actions(project, **callers[who])  # type: ignore[arg-type]


def test_retry_is_offered_where_the_route_takes_it() -> None:
    failed = {"status": "failed"}
    assert _offered(failed, "owner") == ["retry", "delete"]
    assert _offered(failed, "admin") == ["retry", "delete"]
    assert _offered(failed, "member") == []
    namespaces = {"type": "NamespacesReady", "status": "False"}
    stuck = {"status": "active", "conditions": [namespaces]}
    assert _offered(stuck, "owner") == ["retry", "delete"]
    assert _offered(
        {"status": "active", "conditions": [{**namespaces, "status": "True"}]}, "owner"
    ) == ["delete"]
    assert _offered({"status": "creating"}, "owner") == ["delete"]
    assert _offered({"status": "deleting"}, "admin") == []
    assert _offered({"status": "deleted"}, "admin") == []


def test_decisions_follow_the_application_and_its_applicant() -> None:
    pending = {
        "status": "active",
        "pending_application_id": "app1",
        "last_application": {"id": "app1", "state": "pending", "applicant_id": "m"},
    }
    assert "cancel" in _offered(pending, "member")  # the applicant, whatever their role
    assert "cancel" not in _offered(pending, "owner")  # not theirs
    assert {"approve", "deny", "cancel"} <= set(_offered(pending, "admin"))
    denied = {**pending, "pending_application_id": None}
    denied["last_application"] = {"id": "app1", "state": "denied", "applicant_id": "m"}
    assert _offered(denied, "member") == ["dismiss"]
    # a summary written before it kept its applicant: the owner's (who files every change)
    older = {**denied, "owner_id": "o", "last_application": {"id": "app1", "state": "denied"}}
    assert "dismiss" in _offered(older, "owner") and "dismiss" in _offered(older, "admin")
    assert "dismiss" not in _offered(older, "member")


def test_every_event_a_caller_may_ask_for_is_in_the_list_order() -> None:
    asked = {e for e, (_, who) in lifecycle.TRANSITIONS.items() if who != "system"}
    assert asked | {"dismiss"} == set(lifecycle.ACTIONS)
