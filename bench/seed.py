"""Seeding projects straight into the table with the table's batch_writer (not through the
API: 10,000 projects through the routes and their workflows would take many minutes).

The items are the application's own: tenantry.domain.projects.create_project runs for each
project with the DAL's one door for transactions (tenantry.dal.table.transact) capturing
the TransactWriteItems instead of sending it. Its Puts are what tenantry.dal.projects.create
writes (keys from tenantry.dal.keys). Of those, the project item and its owner's member
item are seeded; the rest (the history entry, the membership's pointer by id, ...) is left
out and named in the report: no measured route reads them for seeded projects, and every
extra item makes each of moto's Query calls slower (it sorts the whole table per Query).
The project item is put in the state its provisioning workflow leaves it in
(tenantry.domain.provisioning.finish_provisioning): active, version + 1, three conditions.

So the seeding follows the application when create() or create_project() change, and
`field_drift` compares the result with a project the walk created through the API and its
workflow, so a difference shows up in the report rather than in skewed timings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from unittest import mock

from bench.common import BenchError


class _Captured(Exception):
    """Stops create_project right after it built its transaction."""


SEEDED = frozenset({"project", "member"})  # the `entity` of the items seeded


def created_items(
    owner_id: str,
    project_id: str,
    *,
    name: str | None = None,
    labels: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The Put items of create_project's transaction."""
    from tenantry.dal import table
    from tenantry.domain.projects import create_project
    from tenantry.models.principal import Principal
    from tenantry.models.project import ProjectCreate

    captured: list[dict[str, Any]] = []

    def transact(ops: list[dict[str, Any]], **_: Any) -> None:
        captured.extend(ops)
        raise _Captured

    body = ProjectCreate(
        name=name or f"Bench {project_id}",
        id=project_id,
        description="seeded by bench",
        labels={"seeded-by": "bench"} if labels is None else labels,
    )
    with mock.patch.object(table, "transact", transact):
        try:
            create_project(Principal(kind="user", id=owner_id, is_admin=False), body)
        except _Captured:
            pass
        else:
            raise BenchError("create_project wrote no transaction through tenantry.dal.table")
    return [op["Put"]["Item"] for op in captured if "Put" in op]


def provisioned(item: dict[str, Any], now: str) -> dict[str, Any]:
    """A project item as finish_provisioning leaves it."""
    from tenantry.registry import repository_name

    ready = {"status": "True", "message": "", "last_transition_time": now}
    environments = {"environments": item.get("environments", [])}
    return {
        **moved(item, "active", now),
        "conditions": [
            {**ready, "type": "EnvironmentsReady", "reason": "Created", "detail": environments},
            {
                **ready,
                "type": "ImageRepositoryReady",
                "reason": "Created",
                "detail": {"repository": repository_name(item["id"])},
            },
            {**ready, "type": "Ready", "reason": "Provisioned"},
        ],
    }


def moved(item: dict[str, Any], status: str, now: str) -> dict[str, Any]:
    """A project item after a change to `status`: the status, and the index keys that
    follow it, as tenantry.dal.projects.write sets them (keys.project_status_indexes)."""
    from tenantry.dal import keys

    indexes, unindexed = keys.project_status_indexes(item["id"], status)
    return {
        **{k: v for k, v in item.items() if k not in unindexed},
        **indexes,
        "status": status,
        "version": int(item["version"]) + 1,
        "updated_at": now,
    }


class Seeder:
    """Writes into the application's table (the name its settings hold) with a boto3
    resource of its own, under the same moto mock."""

    def __init__(self) -> None:
        import boto3

        from tenantry.dal.table import table_name

        self.table = boto3.resource("dynamodb").Table(table_name())
        self.projects = 0
        self.skipped: set[str] = set()  # entities of create_project's items not seeded

    def projects_of(self, owner_id: str, project_ids: Iterable[str]) -> int:
        from tenantry.clock import now_iso

        now = now_iso()
        n = 0
        with self.table.batch_writer() as batch:
            for project_id in project_ids:
                for item in created_items(owner_id, project_id):
                    entity = str(item.get("entity"))
                    if entity not in SEEDED:
                        self.skipped.add(entity)
                        continue
                    batch.put_item(Item=provisioned(item, now) if entity == "project" else item)
                n += 1
        self.projects += n
        return n

    def item_count(self) -> int:
        """DescribeTable's ItemCount (moto keeps it exact; no Scan)."""
        client = self.table.meta.client
        return int(client.describe_table(TableName=self.table.name)["Table"]["ItemCount"])


def stored(project_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A project's item and its owner's member item, as the table holds them now."""
    from tenantry.dal import keys, table

    project = table.get(keys.project(project_id))
    member = project and table.get(keys.member(project_id, project["owner_id"]))
    return project, member


def field_drift(seeded_id: str, reference: tuple[Any, Any]) -> list[str]:
    """Attribute names that differ between a seeded project's items (project, owner's
    member item) and `reference`: those of a project the walk created through the API,
    read right after its provisioning workflow. Empty: none."""
    out = []
    for what, seeded, walked in zip(
        ("project", "member"), stored(seeded_id), reference, strict=True
    ):
        if not seeded or not walked:
            out.append(f"{what} item missing")
            continue
        extra, missing = set(seeded) - set(walked), set(walked) - set(seeded)
        if extra or missing:
            out.append(f"{what} item: seeded has {sorted(extra)}, lacks {sorted(missing)}")
    return out
