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
