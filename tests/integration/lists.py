"""Support for the list tests: items seeded as a real run leaves them (projects in any
status, memberships moved through their actions) without running the workflows, and what
a request reads from the application's table: every Query and BatchGetItem with the items
it returned, so a test can say which items a list read (not only which it answered). None
of the project, membership, invite or application lists uses a FilterExpression, so the
items returned are the items read."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from tenantry.clock import now_iso
from tests.harness import Api

LIST_READS = ("Query", "BatchGetItem")


@dataclass
class Read:
    operation: str
    params: dict[str, Any]
    items: list[dict[str, Any]]


@dataclass
class Reads:
    calls: list[Read] = field(default_factory=list)

    def ops(self) -> list[str]:
        return [c.operation for c in self.calls]

    def items(self, entity: str | None = None) -> list[dict[str, Any]]:
        """Every item read, in order (of one entity when given)."""
        return [
            i for c in self.calls for i in c.items if entity is None or i.get("entity") == entity
        ]

    def queries(self) -> list[Read]:
        return [c for c in self.calls if c.operation == "Query"]


@contextlib.contextmanager
def reads(api: Api) -> Iterator[Reads]:
    """Every Query and BatchGetItem on the application's table while the block runs."""
    from botocore.client import BaseClient

    from tenantry.dal.table import table_name

    out = Reads()
    make_api_call = BaseClient._make_api_call

    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        answer = make_api_call(client, operation, params)
        if client.meta.service_model.service_name == "dynamodb" and operation in LIST_READS:
            if operation == "Query" and params.get("TableName") == table_name():
                out.calls.append(Read(operation, params, list(answer.get("Items", []))))
            elif operation == "BatchGetItem" and table_name() in params["RequestItems"]:
                items = answer.get("Responses", {}).get(table_name(), [])
                out.calls.append(Read(operation, params, list(items)))
        return answer

    with mock.patch.object(BaseClient, "_make_api_call", recording):
        yield out


def seed_project(
    owner_id: str,
    project_id: str,
    status: str = "active",
    *,
    name: str | None = None,
    labels: dict[str, str] | None = None,
    description: str | None = None,
    clusters: list[str] | None = None,
) -> None:
    """A project of `owner_id`, created as an admin would (no approval, no limit), then
    moved to `status` with its history entry, as a workflow would. `clusters`: registered
    clusters it names (no namespace is asked for: the workflow does not run)."""
    from tenantry.dal import history
    from tenantry.dal import projects as store
    from tenantry.domain import projects
    from tenantry.models.principal import Principal
    from tenantry.models.project import ProjectCreate

    body = ProjectCreate(
        name=name or project_id,
        id=project_id,
        labels=labels or {},
        **({"description": description} if description is not None else {}),
        **({"clusters": [{"name": c, "quota": {}} for c in clusters]} if clusters else {}),
    )
    with mock.patch("tenantry.workflows.start"):
        projects.create_project(Principal(kind="user", id=owner_id, is_admin=True), body)
    if status != "creating":
        entry = history.entry(
            project_id, "test", "seeded", from_status="creating", to_status=status
        )
        store.transition(project_id, ["creating"], status, entry, now=now_iso())


def move_membership(project_id: str, user_id: str, *actions: str) -> None:
    """Move `user_id`'s membership of an active project through `actions`, as the
    project's owner would (enroll, remove, ...)."""
    from tenantry.dal import projects as project_store
    from tenantry.domain import memberships
    from tenantry.models.principal import Principal

    admin = Principal(kind="user", id="platform-admin", is_admin=True)
    for action in actions:
        project = project_store.get(project_id)
        assert project is not None
        memberships.move(admin, project, user_id, action, role="member")


def move_project(project_id: str, status: str) -> None:
    """The project to `status` from whatever it is now (any move, as a test wants it), with
    its history entry: the write every status change makes (dal/projects.transition)."""
    from tenantry.dal import history
    from tenantry.dal import projects as store

    current = store.get(project_id)
    assert current is not None
    entry = history.entry(
        project_id, "test", "moved", from_status=current["status"], to_status=status
    )
    store.transition(project_id, [current["status"]], status, entry, now=now_iso())


def relabel(project_id: str, labels: dict[str, str]) -> None:
    """Replace the project's labels, as PATCH /projects/{id} does."""
    from tenantry.dal import history
    from tenantry.dal import projects as store

    current = store.get(project_id)
    assert current is not None
    store.update(
        project_id,
        {"labels": labels},
        history.entry(project_id, "test", "updated", detail={"fields": ["labels"]}),
        allowed_statuses=[current["status"]],
        expected_version=None,
        now=now_iso(),
    )
