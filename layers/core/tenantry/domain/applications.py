"""Project applications (Synnefo-style): what a non-admin asks for that needs a platform
admin's approval. A `create` application carries a new project under a moderated policy;
a `modify` application carries changes of policies, quotas or clusters. A project has at
most one pending application: a new one replaces it. Every decision changes the
application, the project and its history in one transaction."""

from __future__ import annotations

from functools import partial
from typing import Any

from tenantry.clock import new_id, now_iso
from tenantry.dal import applications as store
from tenantry.dal import history, limits
from tenantry.dal import projects as project_store
from tenantry.domain import lifecycle, notices, operations
from tenantry.domain.project_access import actor
from tenantry.errors import Forbidden, InvalidTransition, NotFound
from tenantry.models.governance import Application
from tenantry.models.principal import Principal
from tenantry.pagination import collect

# Which application states each decision leaves from, and where it goes.
DECISIONS = {
    "approve": ("pending", "approved"),
    "deny": ("pending", "denied"),
    "cancel": ("pending", "cancelled"),
    "dismiss": ("denied", "dismissed"),
}
APPLICANT_DECISIONS = {"cancel", "dismiss"}
MODIFIABLE = [s for s in lifecycle.DELETABLE if s != "uninitialized"]


def new(
    project: dict[str, Any], applicant_id: str, kind: str, changes: dict[str, Any], now: str
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "project_id": project["id"],
        "type": kind,
        "state": "pending",
        "applicant_id": applicant_id,
        "owner_id": project["owner_id"],
        "name": project["name"],
        "changes": changes,
        "created_at": now,
        "updated_at": now,
    }


def summary(app: dict[str, Any]) -> dict[str, Any]:
    """What the project shows as `last_application` (its applicant: who may cancel or
    dismiss it, in the project's allowed_actions)."""
    return {k: app[k] for k in ("id", "type", "state", "created_at", "applicant_id")}


def submit_modify(
    principal: Principal,
    project: dict[str, Any],
    changes: dict[str, Any],
    expected_version: int | None,
    *,
    direct: dict[str, Any] | None = None,
    remove: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A non-admin's change of governed fields becomes a pending application, replacing
    the pending one if any; those fields change only on approval. `direct` changes (and
    `remove`d fields), which need no approval, are written in the same transaction."""
    now = now_iso()
    app = new(project, principal.id, "modify", changes, now)
    ops = [store.put_op(app)]
    old_id = project.get("pending_application_id")
    detail: dict[str, Any] = {
        "application_id": app["id"],
        "type": "modify",
        "fields": sorted(changes),
    }
    if old_id:
        old = store.get(old_id)
        if old and old["state"] == "pending":
            ops.append(store.state_op(old, "replaced", now, {"reason": f"replaced by {app['id']}"}))
            detail["replaced"] = old_id
    if direct or remove:
        detail["applied_now"] = sorted([*(direct or {}), *remove])
    entry = history.entry(
        project["id"], actor(principal), "application_submitted", at=now, detail=detail
    )
    return project_store.update(
        project["id"],
        {**(direct or {}), "pending_application_id": app["id"], "last_application": summary(app)},
        entry,
        remove=remove,
        allowed_statuses=MODIFIABLE,
        expected_version=expected_version,
        require={"pending_application_id": old_id},
        extra_ops=ops,
        now=now,
    )


def decide(
    principal: Principal,
    project: dict[str, Any],
    action: str,
    app_id: str | None,
    reason: str | None,
    expected_version: int | None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """approve, deny (platform admins), cancel, dismiss (the applicant). Returns the project
    and, for an approved `create` application, the provisioning operation to launch
    (domain/operations.py), written with the decision."""
    app = _target(project, action, app_id)
    if action in APPLICANT_DECISIONS:
        if not (principal.is_admin or principal.id == app["applicant_id"]):
            raise Forbidden(f"only the applicant may {action} an application")
    elif not principal.is_admin:
        raise Forbidden(f"only platform admins may {action} an application")
    source, target = DECISIONS[action]
    if app["state"] != source:
        raise InvalidTransition(
            f"cannot {action} an application that is {app['state']}",
            extra={"current_state": app["state"], "application_id": app["id"]},
        )
    now = now_iso()
    extra = {"decided_by": principal.id, **({"reason": reason} if reason else {})}
    app_op = store.state_op(app, target, now, extra)
    decided = {**app, "state": target}
    detail = {
        "application_id": app["id"],
        "type": app["type"],
        **({"reason": reason} if reason else {}),
    }
    event = f"application_{target}"
    pid = project["id"]

    if action == "dismiss":
        # last_application stays the newest application; dismissing an older one only
        # changes that application (and the history).
        is_last = (project.get("last_application") or {}).get("id") == app["id"]
        project_store.update(
            pid,
            {"last_application": summary(decided)} if is_last else {},
            history.entry(pid, actor(principal), event, at=now, detail=detail),
            allowed_statuses=[*lifecycle.DELETABLE, "deleted"],
            expected_version=expected_version,
            extra_ops=[app_op],
            now=now,
        )
        return _fresh(pid), None

    pending = {"pending_application_id": app["id"]}
    bookkeeping = {"last_application": summary(decided)}
    if app["type"] == "create":
        to_status = lifecycle.next_status(project["status"], action)
        changes: dict[str, Any] = dict(bookkeeping)
        extra_ops = [app_op]
        op = None
        if to_status == "creating":
            attempt = int(project.get("provision_attempts", 0)) + 1
            op_changes, op_put, op = operations.begin(
                pid, "create", attempt, now, **operations.workflow_params(project, "create")
            )
            changes.update({"provision_attempts": attempt, **op_changes})
            extra_ops.append(op_put)
        removed: tuple[str, ...] = ("pending_application_id",)
        if to_status == "deleted":
            changes["deleted_at"] = now
            extra_ops += limits.release_owned(project)
            removed += ("owner_counted",)
        updated = project_store.transition(
            pid,
            lifecycle.sources(action),
            to_status,
            history.entry(
                pid,
                actor(principal),
                event,
                from_status=project["status"],
                to_status=to_status,
                at=now,
                detail=detail,
            ),
            changes=changes,
            remove=removed,
            expected_version=expected_version,
            require=pending,
            extra_ops=extra_ops,
            now=now,
        )
        return updated, op

    changes = dict(bookkeeping)
    remove: tuple[str, ...] = ("pending_application_id",)
    if action == "approve":  # a null in the application removes the field (no limit)
        changes.update({k: v for k, v in app["changes"].items() if v is not None})
        remove += tuple(k for k, v in app["changes"].items() if v is None)
        detail["fields"] = sorted(app["changes"])
        if "clusters" in app["changes"]:
            from tenantry.domain.provisioning import conditions_for_clusters

            conditions = conditions_for_clusters(project, app["changes"]["clusters"] or [])
            if conditions is not None:
                changes["conditions"] = conditions
    quota_ops, unchanged = notices.limits_changed(project, changes, remove, now)
    updated = project_store.update(
        pid,
        changes,
        history.entry(pid, actor(principal), event, at=now, detail=detail),
        remove=remove,
        allowed_statuses=MODIFIABLE,
        expected_version=expected_version,
        require={**pending, **(unchanged or {})},
        extra_ops=[app_op, *quota_ops],
        now=now,
    )
    return updated, None


def withdrawn_with_project(
    principal: Principal, app_id: str, now: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A pending application of a project being deleted is cancelled in the same
    transaction: (its transaction ops, the project's changes)."""
    app = store.get(app_id)
    if app is None or app["state"] != "pending":
        return [], {}
    extra = {"decided_by": principal.id, "reason": "the project was deleted"}
    decided = {**app, "state": "cancelled", **extra}
    return [store.state_op(app, "cancelled", now, extra)], {"last_application": summary(decided)}


def _target(project: dict[str, Any], action: str, app_id: str | None) -> dict[str, Any]:
    if app_id is None:
        last = project.get("last_application") or {}
        app_id = project.get("pending_application_id") or (
            last.get("id") if action == "dismiss" else None
        )
        if app_id is None:
            raise InvalidTransition(f"the project has no application to {action}")
    app = store.get(app_id)
    if not app or app["project_id"] != project["id"]:
        raise NotFound("application not found on this project")
    return app


def _fresh(project_id: str) -> dict[str, Any]:
    project = project_store.get(project_id)
    assert project is not None
    return project


# --- read ---------------------------------------------------------------------------------------


def visible(principal: Principal, app: dict[str, Any], role: str | None) -> bool:
    return principal.is_admin or principal.id == app["applicant_id"] or role in ("owner", "admin")


def get(principal: Principal, app_id: str, role_of: Any) -> Application:
    app = store.get(app_id)
    if not app or not visible(principal, app, role_of(app["project_id"])):
        raise NotFound("application not found")
    return Application.model_validate(app)


def list_applications(
    principal: Principal,
    project_id: str | None,
    state: str | None,
    limit: int,
    start_key: dict[str, Any] | None,
    role_of: Any,
) -> tuple[list[Application], dict[str, Any] | None]:
    """With project_id: the project's applications (all for its managers and platform
    admins, the caller's own otherwise). Without: platform admins get the queue of
    `state` (default pending), one exact partition; others their own applications.
    Filters no partition serves (`state` of a project's or one's own applications, the
    project of one's own) are applied to the rows read, within collect's budget."""
    on_project = None  # a project filter on the caller's own applications
    if project_id:
        role = role_of(project_id)
        # A project's applicants are its owner, who stays a member for good, so a caller
        # without a role has none there: 404, whether the project exists or not.
        if not (principal.is_admin or role) or (
            not principal.is_admin and project_store.get(project_id) is None
        ):
            raise NotFound(f"project {project_id!r} not found")
        if principal.is_admin or role in ("owner", "admin"):
            read = partial(store.page_for_project, project_id)
        else:  # the caller's own on this project, from the caller's partition
            read, on_project = partial(store.page_for_applicant, principal.id), project_id
    elif principal.is_admin:
        read = partial(store.page_in_state, state or "pending")
    else:
        read = partial(store.page_for_applicant, principal.id)

    def wanted(app: dict[str, Any]) -> bool:
        return (not state or app["state"] == state) and (
            on_project is None or app["project_id"] == on_project
        )

    def fetch(n: int, key: dict[str, Any] | None) -> tuple[list[Any], dict[str, Any] | None]:
        rows, last = read(n, key)
        return [(k, i if wanted(i) else None) for k, i in rows], last

    items, last = collect(fetch, limit, start_key)
    return [Application.model_validate(i) for i in items], last
