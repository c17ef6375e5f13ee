"""Projects: creation, visibility, changes, lifecycle actions, history and images.

Applications, memberships, identity, limits, the Git provider and the image registry are
imported by the operations that use them (creation, governed changes, decisions, images):
they bring the governance and identity models and the clients' set-up, which the projects
function's reads (lists, a project, its history) never need at its cold start."""

from __future__ import annotations

import re
from typing import Any

from tenantry.clock import now_iso
from tenantry.dal import applications as app_store
from tenantry.dal import history
from tenantry.dal import identity as identity_store
from tenantry.dal import memberships as member_store
from tenantry.dal import orgs as org_store
from tenantry.dal import projects as store
from tenantry.dal import templates as template_store
from tenantry.domain import lifecycle, notices, operations
from tenantry.domain.project_access import (
    VISIBLE_MEMBER_STATES,
    access,
    actor,
    retried_when_raced,
)
from tenantry.domain.selectors import ProjectFilter
from tenantry.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    TransientError,
    UnknownReference,
    Unprocessable,
)
from tenantry.models.principal import Principal
from tenantry.models.project import Project, ProjectAction, ProjectCreate, ProjectPatch
from tenantry.models.project_fields import PROJECT_ID_PATTERN
from tenantry.observability import logger
from tenantry.pagination import collect, invalid_cursor
from tenantry.settings import get_settings

RESERVED_IDS = frozenset({"default", "kube-system", "kube-public", "admin", "system"})
# Changing these on a project is governed: platform admins only (applications come later).
GOVERNED_FIELDS = frozenset({"join_policy", "leave_policy", "max_members", "resources", "clusters"})


def to_model(item: dict[str, Any], principal: Principal, role: str | None) -> Project:
    """The project as `principal` (whose project role is `role`) sees it: with the actions
    it may ask for now."""
    allowed = lifecycle.allowed_actions(
        item, caller_id=principal.id, is_admin=principal.is_admin, role=role
    )
    return Project.model_validate({**store.strip(item), "allowed_actions": allowed})


# --- who sees what (access: tenantry.domain.project_access) --------------------------------


# "owner, admin" in the contract's Projects table: the project's owner or a platform admin.
# Project admins manage memberships and invites (domain.memberships), not the project.
def _require_manager(principal: Principal, role: str | None) -> None:
    if not (principal.is_admin or role == "owner"):
        raise Forbidden("only the project's owner or platform admins may do this")


def as_user(principal: Principal, user_id: str) -> Principal:
    """An admin looking through a user's eyes (GET /users/{userId}/projects...)."""
    if not principal.is_admin:
        raise Forbidden("only platform admins may view projects as another user")
    # Eventually consistent: an admin's read-only view; a flag a second old changes nothing.
    user = identity_store.get_user(user_id, consistent=False)
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


TEMPLATE_FIELDS = (
    "environments",
    "clusters",
    "join_policy",
    "leave_policy",
    "max_members",
    "resources",
)


def create_project(principal: Principal, body: ProjectCreate) -> Project:
    from tenantry import git_provider
    from tenantry.dal import limits

    if principal.kind != "user":
        raise Forbidden("only users may create projects")
    owner_id = principal.id
    initial: dict[str, Any] = {}
    if body.initial_user is not None:
        owner_id, initial = _initial_user(principal, body)
    elif body.owner_id and body.owner_id != principal.id:
        if not principal.is_admin:
            raise Forbidden("only platform admins may create a project for another owner")
        owner = identity_store.get_user(body.owner_id)
        if not owner or not owner["is_active"]:
            raise UnknownReference(
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
    template = _template(body.template_id)
    if body.init_git_repository and not git_provider.configured():
        raise Unprocessable(
            "this platform has no Git provider: create the project without a repository",
            errors=[{"loc": ["body", "init_git_repository"], "msg": "no Git provider configured"}],
        )
    fields = body.model_dump(
        exclude={"template_id", "owner_id", "id", "initial_user", "init_git_repository"},
        exclude_none=True,
        mode="json",
    )
    if body.init_git_repository:
        fields["init_git_repository"] = True
    for name in TEMPLATE_FIELDS:  # the request's own fields win over the template's
        if name not in body.model_fields_set and template.get(name) not in (None, [], {}):
            fields[name] = template[name]
    _check_references(fields.get("clusters", []), body.org_id, principal)

    now = now_iso()
    moderated = (
        get_settings().approval_policy == "moderated" or template.get("approval") == "moderated"
    )
    needs_approval = moderated and not principal.is_admin
    status = "uninitialized" if needs_approval else "creating"
    project = {
        **fields,
        "id": project_id,
        "owner_id": owner_id,
        "status": status,
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "cluster_delete_policy": "Retain",
        "conditions": [],
        "provision_attempts": 0 if needs_approval else 1,
        "usage": {"members": 1},
        "owner_counted": True,  # in the owner's projects_per_user count (dal/limits.py)
    }
    if template:
        project["template_id"] = template["id"]
    op = None
    if status == "creating":
        op_changes, op_put, op = operations.begin(
            project_id, "create", 1, now, **operations.workflow_params(project, "create")
        )
        project.update(op_changes)
    ops = [
        history.entry(
            project_id,
            actor(principal),
            "created",
            to_status=status,
            at=now,
            detail={
                "name": body.name,
                "owner_id": owner_id,
                **({"template_id": template["id"]} if template else {}),
                **({"initial_user_created": True} if initial.get("ops") else {}),
            },
        )
    ]
    ops += initial.get("ops", [])
    ops += limits.take("projects_per_user", owner_id, exempt=principal.is_admin)
    if needs_approval:
        from tenantry.domain import applications

        app = applications.new(project, principal.id, "create", fields, now)
        project["pending_application_id"] = app["id"]
        project["last_application"] = applications.summary(app)
        ops.append(app_store.put_op(app))
    if op is not None:
        ops.append(op_put)
    ops += notices.quota_changes(None, project, now)  # a limit of one member is reached
    from tenantry.domain import memberships

    store.create(project, memberships.new_owner(project_id, owner_id, now), ops)
    if op is not None:
        operations.launch(op)
    return to_model(project, principal, "owner" if owner_id == principal.id else None)


def _initial_user(principal: Principal, body: ProjectCreate) -> tuple[str, dict[str, Any]]:
    """The initial user's id, and the writes that create it if no user has that email (in
    the project's own transaction: both or neither)."""
    assert body.initial_user is not None
    if not principal.is_admin:
        raise Forbidden(
            "only platform admins may name a project's initial user; invite members instead"
        )
    if body.owner_id:
        raise Unprocessable(
            "give owner_id or initial_user, not both",
            errors=[{"loc": ["body", "initial_user"], "msg": "not with owner_id"}],
        )
    email = body.initial_user.email
    user_id = identity_store.user_id_by_email(email)
    if user_id is None:
        from tenantry.domain import identity

        user = identity.new_user_item(email, body.initial_user.display_name)
        return user["id"], {"ops": identity_store.user_ops(user)}
    user = identity_store.get_user(user_id)
    if not user or not user["is_active"]:
        raise UnknownReference(
            "the initial user's account is deactivated",
            errors=[{"loc": ["body", "initial_user", "email"], "msg": "not an active user"}],
        )
    return user_id, {}


def _template(template_id: str | None) -> dict[str, Any]:
    if not template_id:
        return {}
    template = template_store.get(template_id)
    if not template:
        raise UnknownReference(
            f"template {template_id!r} not found",
            errors=[{"loc": ["body", "template_id"], "msg": "no such template"}],
        )
    return template


def _check_references(clusters: list[Any], org_id: str | None, principal: Principal) -> None:
    """Everything a project names must exist: registered, not ignored clusters; an org of
    the caller's."""
    from tenantry.domain.clusters import check_names

    errors = check_names([c["name"] for c in clusters])
    if org_id and not (
        org_store.get(org_id) and (principal.is_admin or org_store.get_member(org_id, principal.id))
    ):
        errors.append({"loc": ["body", "org_id"], "msg": f"org {org_id!r} not found among yours"})
    if errors:
        raise UnknownReference("the project names things that do not exist", errors=errors)


# --- read -----------------------------------------------------------------------------------


def get_project(principal: Principal, project_id: str) -> Project:
    project, role = access(principal, project_id)
    return to_model(project, principal, role)


def list_projects(
    principal: Principal, flt: ProjectFilter, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Project], dict[str, Any] | None]:
    """A page of the projects `principal` sees that match `flt`, in its sort order, from
    the cursor key `start_key`.

    What each list reads: a platform admin's (mode=default) is the platform's projects,
    by status or owner where one is asked for (dal.projects.page_listed); anyone else's
    is their current memberships (the projects read by BatchGetItem). `sort_by=name`
    reads those partitions by project id, forwards or backwards; `sort_by=created_at`
    their twins in creation order (GSI1T). `metadata.name=<id>` is that one project, read
    by key. The other filters apply to the rows read, within tenantry.pagination's read
    budget (collect)."""
    if flt.impossible:
        return [], None
    admin_view = principal.is_admin and flt.mode == "default"
    if flt.project_id is not None:
        return _one_listed(principal, flt, admin_view, start_key)
    if admin_view:
        if flt.by_created and flt.phase == "deleted":
            raise BadRequest(
                "deleted projects are listed by name only",
                errors=[
                    {
                        "loc": ["query", "sort_by"],
                        "msg": "deleted projects are kept in no index by creation time: "
                        "sort them by name (or -name)",
                    }
                ],
            )

        def fetch_all(
            n: int, key: dict[str, Any] | None
        ) -> tuple[list[Any], dict[str, Any] | None]:
            rows, last = store.page_listed(
                n,
                key,
                status=flt.phase,
                owner_id=flt.owner,
                by_created=flt.by_created,
                reverse=flt.reverse,
            )
            if flt.by_created:  # index rows (id, status, owner_id): read the likely ones
                kept = [i["id"] for _, i in rows if flt.matches_row(i)]
                found = {p["id"]: p for p in store.get_many(kept)}
                rows = [(k, found.get(i["id"])) for k, i in rows]
            return [(k, (i, None) if i and flt.matches(i) else None) for k, i in rows], last

        items, last = collect(fetch_all, limit, start_key)
    else:
        # A user's current memberships only (the partition holds nothing else); mode=member
        # also wants them accepted (not leave_requested).
        wanted = {"accepted"} if flt.mode == "member" else VISIBLE_MEMBER_STATES

        def fetch_mine(
            n: int, key: dict[str, Any] | None
        ) -> tuple[list[Any], dict[str, Any] | None]:
            members, last = member_store.page_current_for_user(
                principal.id, n, key, by_created=flt.by_created, reverse=flt.reverse
            )
            ids = [m["project_id"] for _, m in members if m.get("state") in wanted]
            found = {p["id"]: p for p in store.get_many(ids)}
            rows = []
            for row_key, m in members:
                p = found.get(m["project_id"]) if m.get("state") in wanted else None
                rows.append((row_key, (p, m.get("role")) if p and flt.matches(p) else None))
            return rows, last

        items, last = collect(fetch_mine, limit, start_key)
    return [to_model(project, principal, role) for project, role in items], last


def _one_listed(
    principal: Principal, flt: ProjectFilter, admin_view: bool, start_key: dict[str, Any] | None
) -> tuple[list[Project], dict[str, Any] | None]:
    """The list limited to one project by metadata.name: that project read by key (with
    the caller's member item unless an admin lists the platform's projects), if the list
    would hold it. The whole list is that page: a cursor can only follow it, to nothing."""
    assert flt.project_id is not None
    if start_key is not None or not re.fullmatch(PROJECT_ID_PATTERN, flt.project_id):
        return [], None
    project, member = store.get_listed(flt.project_id, None if admin_view else principal.id)
    if not admin_view:
        wanted = {"accepted"} if flt.mode == "member" else VISIBLE_MEMBER_STATES
        if not member or member.get("state") not in wanted:
            return [], None
    if not project or not flt.matches(project):
        return [], None
    return [to_model(project, principal, member.get("role") if member else None)], None


def project_history(
    principal: Principal, project_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
    project, _ = access(principal, project_id)
    items, last = history.page(project_id, limit, start_key)
    return project, items, last


def images(
    principal: Principal, project_id: str, limit: int, start_key: dict[str, str] | None
) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
    """A page of at most `limit` images from the cursor key `start_key`, and the next
    page's key (registry.Position)."""
    from tenantry import registry

    access(principal, project_id)
    try:
        start = registry.Position.from_key(start_key, limit) if start_key else None
        items, after = registry.list_images(project_id, limit, start)
        return items, after.key() if after else None
    except registry.InvalidPageToken as exc:
        raise invalid_cursor() from exc
    except (registry.RegistryError, TransientError) as exc:
        logger.warning("image registry failed", extra={"project_id": project_id, "error": str(exc)})
        raise ServiceUnavailable(
            "the image registry did not answer; retry shortly", headers={"Retry-After": "2"}
        ) from exc


# --- change ---------------------------------------------------------------------------------


@retried_when_raced
def patch_project(
    principal: Principal, project_id: str, body: ProjectPatch, expected_version: int | None
) -> tuple[Project, bool]:
    """Apply the change; a non-admin's change of governed fields (policies, quotas,
    clusters) becomes a pending application instead, the other fields applying at once.
    Returns the project and whether an application was filed."""
    project, role = access(principal, project_id)
    _require_manager(principal, role)
    changes = body.model_dump(exclude_unset=True, mode="json")
    if "clusters" in changes:
        _check_references(changes["clusters"] or [], None, principal)
    governed = {k: changes.pop(k) for k in sorted(GOVERNED_FIELDS & changes.keys())}
    remove = tuple(k for k, v in changes.items() if v is None)
    direct = {k: v for k, v in changes.items() if v is not None}
    if governed and not principal.is_admin:
        from tenantry.domain import applications

        item = applications.submit_modify(
            principal, project, governed, expected_version, direct=direct, remove=remove
        )
        return to_model(item, principal, role), True
    direct.update({k: v for k, v in governed.items() if v is not None})
    remove += tuple(k for k, v in governed.items() if v is None)
    if "clusters" in governed:
        _follow_clusters(project, governed["clusters"], direct)
    now = now_iso()
    entry = history.entry(
        project_id,
        actor(principal),
        "updated",
        at=now,
        detail={"fields": sorted([*direct, *remove])},
    )
    quota_ops, require = notices.limits_changed(project, direct, remove, now)
    item = store.update(
        project_id,
        direct,
        entry,
        remove=remove,
        allowed_statuses=list(lifecycle.DELETABLE),
        expected_version=expected_version,
        require=require,
        extra_ops=quota_ops,
        now=now,
        base=project,
    )
    return to_model(item, principal, role), False


def _follow_clusters(project: dict[str, Any], clusters: Any, changes: dict[str, Any]) -> None:
    """Add the conditions an active project's cluster change implies to `changes`."""
    from tenantry.domain.provisioning import conditions_for_clusters

    conditions = conditions_for_clusters(project, clusters or [])
    if conditions is not None:
        changes["conditions"] = conditions


@retried_when_raced
def delete_project(
    principal: Principal, project_id: str, reclaim: bool, expected_version: int | None
) -> Project:
    project, role = access(principal, project_id)
    _require_manager(principal, role)
    lifecycle.next_status(project["status"], "delete")
    attempt = int(project.get("deprovision_attempts", 0)) + 1
    now = now_iso()
    policy = "Delete" if reclaim else "Retain"
    op_changes, op_put, op = operations.begin(
        project_id,
        "delete",
        attempt,
        now,
        **operations.workflow_params(project, "delete", reclaim=reclaim),
    )
    changes = {"cluster_delete_policy": policy, "deprovision_attempts": attempt, **op_changes}
    extra_ops, remove = [op_put], ("reason",)
    require = None
    if app_id := project.get("pending_application_id"):
        from tenantry.domain import applications

        # Its application would stay pending for a project that is gone: cancelled with it.
        app_ops, app_changes = applications.withdrawn_with_project(principal, app_id, now)
        extra_ops += app_ops
        changes.update(app_changes)
        remove += ("pending_application_id",)
        require = {"pending_application_id": app_id}
    entry = history.entry(
        project_id,
        actor(principal),
        "delete_requested",
        from_status=project["status"],
        to_status="deleting",
        at=now,
        detail={"reclaim": reclaim},
    )
    item = store.transition(
        project_id,
        lifecycle.sources("delete"),
        "deleting",
        entry,
        changes=changes,
        remove=remove,
        expected_version=expected_version,
        require=require,
        extra_ops=extra_ops,
        now=now,
        base=project,
    )
    operations.launch(op)
    return to_model(item, principal, role)


@retried_when_raced
def act(
    principal: Principal, project_id: str, body: ProjectAction, expected_version: int | None
) -> tuple[Project, bool]:
    """Apply a lifecycle action or an application decision. Returns the project and
    whether provisioning started (the route then answers 202)."""
    from tenantry.domain import applications

    project, role = access(principal, project_id)
    event = body.action
    if event in applications.DECISIONS:
        item, op = applications.decide(
            principal, project, event, body.app_id, body.reason, expected_version
        )
        if op is not None:
            operations.launch(op)
        return to_model(item, principal, role), op is not None
    who = lifecycle.who_may(event)
    if who == "admin" and not principal.is_admin:
        raise Forbidden(f"only platform admins may {event} a project")
    if who == "owner":
        _require_manager(principal, role)
    to_status = lifecycle.next_status(project["status"], event)
    if event == "retry":
        lifecycle.check_retry(project)

    now = now_iso()
    changes: dict[str, Any] = {}
    remove: tuple[str, ...] = ()
    op = None
    if to_status == "creating":
        attempt = int(project.get("provision_attempts", 0)) + 1
        op_changes, op_put, op = operations.begin(
            project_id, "create", attempt, now, **operations.workflow_params(project, "create")
        )
        changes.update({"provision_attempts": attempt, **op_changes})
        remove = ("reason",)
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
        extra_ops=[op_put] if op else None,
        now=now,
        base=project,
    )
    if op is not None:
        operations.launch(op)
    return to_model(item, principal, role), op is not None
