"""Projects: creation, visibility, changes, lifecycle actions, history and images."""

from __future__ import annotations

import re
from typing import Any

from tenantry import registry, workflows
from tenantry.clock import now_iso
from tenantry.dal import history
from tenantry.dal import identity as identity_store
from tenantry.dal import projects as store
from tenantry.dal.table import key_of as table_key
from tenantry.domain import lifecycle
from tenantry.domain.selectors import ProjectFilter
from tenantry.errors import Forbidden, InvalidTransition, NotFound, Unprocessable
from tenantry.models.identity import Principal
from tenantry.models.project import (
    PROJECT_ID_PATTERN,
    Project,
    ProjectAction,
    ProjectCreate,
    ProjectPatch,
)
from tenantry.observability import logger
from tenantry.pagination import collect
from tenantry.settings import get_settings

RESERVED_IDS = frozenset({"default", "kube-system", "kube-public", "admin", "system"})
# Changing these on a project is governed: platform admins only (applications come later).
GOVERNED_FIELDS = frozenset({"join_policy", "leave_policy", "max_members", "resources", "clusters"})
MANAGER_ROLES = frozenset({"owner", "admin"})
VISIBLE_MEMBER_STATES = frozenset({"accepted", "leave_requested"})


def actor(principal: Principal) -> str:
    return f"{principal.kind}:{principal.id}"


def to_model(item: dict[str, Any]) -> Project:
    return Project.model_validate(store.strip(item))


# --- who sees what --------------------------------------------------------------------------


def access(principal: Principal, project_id: str) -> tuple[dict[str, Any], str | None]:
    """The project and the caller's project role. 404 when the caller may not see it, so
    that nobody learns which ids exist in other tenants."""
    project = store.get(project_id) if re.fullmatch(PROJECT_ID_PATTERN, project_id) else None
    if project is None:
        raise NotFound(f"project {project_id!r} not found")
    if principal.is_admin:
        member = store.get_member(project_id, principal.id)
        return project, member["role"] if member else None
    member = store.get_member(project_id, principal.id)
    if not member or member.get("state") not in VISIBLE_MEMBER_STATES:
        raise NotFound(f"project {project_id!r} not found")
    return project, member["role"]


def _require_manager(principal: Principal, role: str | None) -> None:
    if not (principal.is_admin or role in MANAGER_ROLES):
        raise Forbidden("only the project's owner or admins may do this")


def as_user(principal: Principal, user_id: str) -> Principal:
    """An admin looking through a user's eyes (GET /users/{userId}/projects...)."""
    if not principal.is_admin:
        raise Forbidden("only platform admins may view projects as another user")
    user = identity_store.get_user(user_id)
    if not user:
        raise NotFound("user not found")
    return Principal(kind="user", id=user_id, is_admin=bool(user["is_admin"]))


# --- create ---------------------------------------------------------------------------------


def derive_id(name: str) -> str:
    candidate = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if candidate and not candidate[0].isalpha():
        candidate = f"p-{candidate}"
    candidate = candidate[:40].rstrip("-")
    if not re.fullmatch(PROJECT_ID_PATTERN, candidate):
        raise Unprocessable(
            f"cannot derive a project id from name {name!r}; give an explicit id",
            errors=[
                {
                    "loc": ["body", "id"],
                    "msg": "required when the name has too few latin letters or digits",
                }
            ],
        )
    return candidate


def create_project(principal: Principal, body: ProjectCreate) -> Project:
    if principal.kind != "user":
        raise Forbidden("only users may create projects")
    owner_id = principal.id
    if body.owner_id and body.owner_id != principal.id:
        if not principal.is_admin:
            raise Forbidden("only platform admins may create a project for another owner")
        owner = identity_store.get_user(body.owner_id)
        if not owner or not owner["is_active"]:
            raise Unprocessable(
                "the owner must be an active user",
                errors=[{"loc": ["body", "owner_id"], "msg": "no such active user"}],
            )
        owner_id = body.owner_id
    project_id = body.id or derive_id(body.name)
    if project_id in RESERVED_IDS:
        raise Unprocessable(
            f"project id {project_id!r} is reserved",
            errors=[{"loc": ["body", "id"], "msg": "reserved"}],
        )
    _check_references(body.clusters, body.template_id, body.org_id)

    now = now_iso()
    auto = principal.is_admin or get_settings().approval_policy == "auto"
    status = "creating" if auto else "uninitialized"
    project = {
        **body.model_dump(
            exclude={"template_id", "owner_id", "id"}, exclude_none=True, mode="json"
        ),
        "id": project_id,
        "owner_id": owner_id,
        "status": status,
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "cluster_delete_policy": "Retain",
        "conditions": [],
        "provision_attempts": 1 if auto else 0,
    }
    owner_member = {
        "project_id": project_id,
        "user_id": owner_id,
        "role": "owner",
        "state": "accepted",
        "created_at": now,
    }
    created = history.entry(
        project_id,
        actor(principal),
        "created",
        to_status=status,
        at=now,
        detail={"name": body.name, "owner_id": owner_id},
    )
    store.create(project, owner_member, created)
    if status == "creating":
        project = _start_or_fail("create", project_id, 1, "creating")
    return to_model(project)


def _check_references(clusters: list[Any], template_id: str | None, org_id: str | None) -> None:
    """Everything a project names must exist. No cluster, template or org is registered on
    this platform yet (those registries come with their own routes), so any name is 422."""
    errors = [
        {"loc": ["body", "clusters", i, "name"], "msg": f"cluster {c.name!r} is not registered"}
        for i, c in enumerate(clusters)
    ]
    if template_id:
        errors.append(
            {"loc": ["body", "template_id"], "msg": f"template {template_id!r} not found"}
        )
    if org_id:
        errors.append({"loc": ["body", "org_id"], "msg": f"org {org_id!r} not found"})
    if errors:
        raise Unprocessable("the project names things that do not exist", errors=errors)


def _start_or_fail(
    operation: str, project_id: str, attempt: int, status: str, **extra: Any
) -> dict[str, Any]:
    """Start the workflow; if even that fails, the project goes to `failed` with the reason
    (never left in creating/deleting with nothing running)."""
    try:
        workflows.start(operation, project_id, attempt, **extra)
    except Exception as exc:  # any failure to start must not strand the project
        logger.exception("could not start workflow", extra={"project_id": project_id})
        reason = f"could not start {operation} workflow: {type(exc).__name__}"
        event = "provisioning_failed" if operation == "create" else "deprovisioning_failed"
        now = now_iso()
        return store.transition(
            project_id,
            [status],
            "failed",
            history.entry(
                project_id,
                "system",
                event,
                from_status=status,
                to_status="failed",
                detail={"reason": reason},
                at=now,
            ),
            changes={"reason": reason},
            now=now,
        )
    current = store.get(project_id)
    assert current is not None
    return current


# --- read -----------------------------------------------------------------------------------


def get_project(principal: Principal, project_id: str) -> Project:
    project, _ = access(principal, project_id)
    return to_model(project)


def list_projects(
    principal: Principal, flt: ProjectFilter, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Project], dict[str, Any] | None]:
    if principal.is_admin and flt.mode == "default":
        index = "GSI2" if flt.owner else "GSI1"

        def fetch_all(
            n: int, key: dict[str, Any] | None
        ) -> tuple[list[Any], dict[str, Any] | None]:
            items, last = (
                store.page_owned(flt.owner, n, key) if flt.owner else store.page_all(n, key)
            )
            return [(table_key(i, index), i if flt.matches(i) else None) for i in items], last

        items, last = collect(fetch_all, limit, start_key)
    else:
        wanted = {"accepted"} if flt.mode == "member" else VISIBLE_MEMBER_STATES

        def fetch_mine(
            n: int, key: dict[str, Any] | None
        ) -> tuple[list[Any], dict[str, Any] | None]:
            members, last = store.page_memberships(principal.id, n, key)
            ids = [m["project_id"] for m in members if m.get("state") in wanted]
            found = {p["id"]: p for p in store.get_many(ids)}
            rows = []
            for m in members:
                p = found.get(m["project_id"]) if m.get("state") in wanted else None
                rows.append((table_key(m, "GSI1"), p if p and flt.matches(p) else None))
            return rows, last

        items, last = collect(fetch_mine, limit, start_key)
    return [to_model(i) for i in items], last


def project_history(
    principal: Principal, project_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
    project, _ = access(principal, project_id)
    items, last = history.page(project_id, limit, start_key)
    return project, items, last


def images(
    principal: Principal, project_id: str, limit: int, token: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    access(principal, project_id)
    return registry.list_images(project_id, limit, token)


# --- change ---------------------------------------------------------------------------------


def patch_project(
    principal: Principal, project_id: str, body: ProjectPatch, expected_version: int | None
) -> Project:
    _, role = access(principal, project_id)
    _require_manager(principal, role)
    changes = body.model_dump(exclude_unset=True, mode="json")
    if not changes:
        raise Unprocessable(
            "nothing to change", errors=[{"loc": ["body"], "msg": "give at least one field"}]
        )
    governed = sorted(GOVERNED_FIELDS & changes.keys())
    if governed and not principal.is_admin:
        raise Forbidden(f"changing {', '.join(governed)} needs a platform admin")
    if "clusters" in changes:
        _check_references(body.clusters or [], None, None)
    remove = tuple(k for k, v in changes.items() if v is None)
    changes = {k: v for k, v in changes.items() if v is not None}
    now = now_iso()
    entry = history.entry(
        project_id,
        actor(principal),
        "updated",
        at=now,
        detail={"fields": sorted([*changes, *remove])},
    )
    item = store.update(
        project_id,
        changes,
        entry,
        remove=remove,
        allowed_statuses=[s for s in lifecycle.DELETABLE],
        expected_version=expected_version,
        now=now,
    )
    return to_model(item)


def delete_project(
    principal: Principal, project_id: str, reclaim: bool, expected_version: int | None
) -> Project:
    project, role = access(principal, project_id)
    _require_manager(principal, role)
    lifecycle.next_status(project["status"], "delete")
    attempt = int(project.get("deprovision_attempts", 0)) + 1
    now = now_iso()
    policy = "Delete" if reclaim else "Retain"
    entry = history.entry(
        project_id,
        actor(principal),
        "delete_requested",
        from_status=project["status"],
        to_status="deleting",
        at=now,
        detail={"reclaim": reclaim},
    )
    store.transition(
        project_id,
        lifecycle.sources("delete"),
        "deleting",
        entry,
        changes={"cluster_delete_policy": policy, "deprovision_attempts": attempt},
        remove=("reason",),
        expected_version=expected_version,
        now=now,
    )
    return to_model(_start_or_fail("delete", project_id, attempt, "deleting", reclaim=reclaim))


def act(
    principal: Principal, project_id: str, body: ProjectAction, expected_version: int | None
) -> Project:
    project, role = access(principal, project_id)
    event = body.action
    if event == "dismiss":
        raise InvalidTransition("there is no denied application to dismiss on this project")
    who = lifecycle.who_may(event)
    if who == "admin" and not principal.is_admin:
        raise Forbidden(f"only platform admins may {event} a project")
    if who == "owner":
        _require_manager(principal, role)
    if who == "applicant" and not (principal.is_admin or principal.id == project["owner_id"]):
        raise Forbidden(f"only the applicant may {event}")
    to_status = lifecycle.next_status(project["status"], event)

    now = now_iso()
    changes: dict[str, Any] = {}
    remove: tuple[str, ...] = ()
    attempt = int(project.get("provision_attempts", 0)) + 1
    if to_status == "creating":
        changes["provision_attempts"] = attempt
        remove = ("reason",)
    if to_status == "deleted":
        changes["deleted_at"] = now
    detail = {"reason": body.reason} if body.reason else None
    entry = history.entry(
        project_id,
        actor(principal),
        event,
        from_status=project["status"],
        to_status=to_status,
        at=now,
        detail=detail,
    )
    item = store.transition(
        project_id,
        lifecycle.sources(event),
        to_status,
        entry,
        changes=changes,
        remove=remove,
        expected_version=expected_version,
        now=now,
    )
    if to_status == "creating":
        item = _start_or_fail("create", project_id, attempt, "creating")
    return to_model(item)
