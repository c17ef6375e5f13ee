"""A project's apps: its OAuth clients (Klustr's project apps).

An app has a public client id (random, unguessable), a name, a description, redirect URIs
(models/apps.py says which) and one client secret. The secret is made here, shown once
(in the answer to the create or the rotation that made it) and stored only as its SHA-256
(a 256-bit random secret needs no slow hash or salt, as for API tokens: tenantry.auth).
Rotating replaces the stored hash in one conditional write, so the old secret matches
nothing from that moment on (client_secret_matches).

Who (platform admins may do everything, in every project): the project's members (any
role) list and read its apps, never a secret; its owner and admins ("managers") create,
change, rotate and delete them; anyone else gets 404. Apps change only while the project
is active (409 otherwise); each change is one transaction with its history entry, and a
project holds at most MaxAppsPerProject apps (413 apps_per_project, dal/limits.py).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from tenantry import auth
from tenantry.clock import new_id, now_iso
from tenantry.dal import apps as store
from tenantry.dal import history, limits
from tenantry.domain import project_access
from tenantry.domain.membership_rules import MANAGER_ROLES
from tenantry.domain.project_access import actor, changed_or_gone, check_version, retried_when_raced
from tenantry.errors import ChangedMeanwhile, Forbidden, NotFound
from tenantry.models.apps import App, AppCreate, AppPatch, AppWithSecret
from tenantry.models.principal import Principal

CLIENT_ID_PREFIX = "tnc_"
CLIENT_SECRET_PREFIX = "tncs_"  # not tnt_: an API token's; a client secret opens no route
WRITERS = "only the project's owner and admins and platform admins manage its apps"


def new_client_id() -> str:
    return CLIENT_ID_PREFIX + secrets.token_urlsafe(18)


def new_client_secret() -> str:
    return CLIENT_SECRET_PREFIX + secrets.token_urlsafe(32)


def to_model(item: dict[str, Any]) -> App:
    return App.model_validate(store.strip(item))


def with_secret(item: dict[str, Any], secret: str) -> AppWithSecret:
    return AppWithSecret(**to_model(item).model_dump(), client_secret=secret)


def client_secret_matches(app: dict[str, Any], secret: str) -> bool:
    """Whether `secret` is the app's current client secret (a constant-time comparison of
    hashes): what an authorization server checks a client's credentials with."""
    return hmac.compare_digest(str(app.get("secret_hash", "")), auth.hash_token(secret))


# --- who sees and does what ------------------------------------------------------------------


def _visible(principal: Principal, project_id: str) -> tuple[dict[str, Any], str | None]:
    """The project and the caller's role in it; 404 when the caller may not see it."""
    return project_access.access(principal, project_id)


def _writable(principal: Principal, project_id: str) -> dict[str, Any]:
    """The project, for a change of its apps: the caller sees it (else 404), manages it
    (else 403), and it is active (else 409)."""
    project, role = _visible(principal, project_id)
    if not (principal.is_admin or role in MANAGER_ROLES):
        raise Forbidden(WRITERS)
    if project["status"] != store.CHANGEABLE:
        raise store.not_changeable(project)
    return project


def _existing(project_id: str, app_id: str) -> dict[str, Any]:
    item = store.get(project_id, app_id)
    if item is None:
        raise NotFound(f"app {app_id!r} not found in project {project_id!r}")
    return item


def _detail(app: dict[str, Any], **more: Any) -> dict[str, Any]:
    """What a history entry says of an app: which one, never its secret or the hash."""
    return {"app_id": app["id"], "client_id": app["client_id"], "name": app["name"], **more}


# --- reads ------------------------------------------------------------------------------------


def list_apps(
    principal: Principal, project_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[App], dict[str, Any] | None]:
    _visible(principal, project_id)
    items, last = store.page(project_id, limit, start_key)
    return [to_model(i) for i in items], last


def get(principal: Principal, project_id: str, app_id: str) -> App:
    _visible(principal, project_id)
    return to_model(_existing(project_id, app_id))


# --- changes ----------------------------------------------------------------------------------


@retried_when_raced
def create(principal: Principal, project_id: str, body: AppCreate) -> AppWithSecret:
    project = _writable(principal, project_id)
    now = now_iso()
    secret = new_client_secret()
    app: dict[str, Any] = {
        "id": new_id(),
        "project_id": project_id,
        "client_id": new_client_id(),
        **body.model_dump(mode="json", exclude_none=True),
        "created_at": now,
        "updated_at": now,
        "secret_created_at": now,
        "secret_hash": auth.hash_token(secret),
        "version": 1,
    }
    entry = history.entry(project_id, actor(principal), "app_created", at=now, detail=_detail(app))
    store.commit(
        project,
        [
            store.create_op(app),
            *limits.take("apps_per_project", project_id, exempt=principal.is_admin),
            entry,
        ],
        why_not=lambda: ChangedMeanwhile("the project changed meanwhile; retry"),
    )
    return with_secret(app, secret)


@retried_when_raced
def update(
    principal: Principal,
    project_id: str,
    app_id: str,
    body: AppPatch,
    expected_version: int | None,
) -> App:
    project = _writable(principal, project_id)
    app = _existing(project_id, app_id)
    check_version(app, expected_version, "app")
    now = now_iso()
    sent = body.model_dump(mode="json", exclude_unset=True)
    remove = tuple(k for k, v in sent.items() if v is None)  # description: null clears it
    changes = {**{k: v for k, v in sent.items() if v is not None}, "updated_at": now}
    updated = {k: v for k, v in {**app, **changes}.items() if k not in remove}
    entry = history.entry(
        project_id,
        actor(principal),
        "app_updated",
        at=now,
        detail=_detail(updated, fields=sorted(body.model_fields_set)),
    )
    store.commit(
        project,
        [store.update_op(app, changes, remove), entry],
        why_not=lambda: _why_not(app, expected_version),
    )
    return to_model({**updated, "version": int(app["version"]) + 1})


@retried_when_raced
def rotate_secret(
    principal: Principal, project_id: str, app_id: str, expected_version: int | None
) -> AppWithSecret:
    """A new client secret; the old one stops matching in the same write."""
    project = _writable(principal, project_id)
    app = _existing(project_id, app_id)
    check_version(app, expected_version, "app")
    now = now_iso()
    secret = new_client_secret()
    changes = {"secret_hash": auth.hash_token(secret), "secret_created_at": now, "updated_at": now}
    entry = history.entry(
        project_id, actor(principal), "app_secret_rotated", at=now, detail=_detail(app)
    )
    store.commit(
        project,
        [store.update_op(app, changes), entry],
        why_not=lambda: _why_not(app, expected_version),
    )
    return with_secret({**app, **changes, "version": int(app["version"]) + 1}, secret)


@retried_when_raced
def delete(
    principal: Principal, project_id: str, app_id: str, expected_version: int | None
) -> None:
    project = _writable(principal, project_id)
    app = _existing(project_id, app_id)
    check_version(app, expected_version, "app")
    entry = history.entry(project_id, actor(principal), "app_deleted", detail=_detail(app))
    store.commit(
        project,
        [store.delete_op(app), limits.release("apps_per_project", project_id), entry],
        why_not=lambda: _why_not(app, expected_version),
    )


def _why_not(app: dict[str, Any], expected: int | None) -> Exception:
    current = store.get(app["project_id"], app["id"])
    refusal = changed_or_gone(current, "app", int(app["version"]), expected)
    return refusal or ChangedMeanwhile("the app changed meanwhile; retry")
