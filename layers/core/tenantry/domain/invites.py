"""Invites (Klustr console style): an org's or a project's managers invite emails with
roles; the invitee sees their pending invites and accepts one once, which grants the
roles and the membership in the same transaction. Expired or revoked: 410.

An invite is valid until `valid_until` (ISO time; the API shows it as `expires_at`). The
stored `expires_at` is the table's TTL attribute (template.yaml): epoch seconds, some
time after the invite stopped being valid, when DynamoDB may delete the item. Until then
an expired or revoked invite still answers 410."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from tenantry.clock import new_id, now_iso
from tenantry.dal import identity as identity_store
from tenantry.dal import invites as store
from tenantry.dal import limits
from tenantry.dal import orgs as org_store
from tenantry.dal import projects as project_store
from tenantry.domain import memberships, orgs, project_access
from tenantry.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from tenantry.models.governance import Invite, InvitesCreate, MembershipCreate
from tenantry.models.principal import Principal
from tenantry.pagination import collect

Scope = Literal["org", "project"]
# The strongest role an invite grants, when it lists several.
RANK = {"viewer": 0, "member": 1, "admin": 2}
ORG_ROLES = frozenset({"admin", "member"})
# How long an invite stays in the table after it stopped being valid (then TTL deletes it).
KEPT_AFTER_VALIDITY = timedelta(days=30)


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def valid_until(invite: dict[str, Any]) -> str:
    """The ISO time the invite stops being valid. Invites written before the TTL fix held
    it in `expires_at` (a string, which TTL ignores)."""
    return str(invite.get("valid_until") or invite["expires_at"])


def ttl_after(validity: str) -> int:
    """The TTL attribute's value for an invite valid until `validity`: epoch seconds."""
    until = datetime.strptime(validity, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int((until + KEPT_AFTER_VALIDITY).timestamp())


def status_of(invite: dict[str, Any], now: str) -> str:
    if invite["status"] == "pending" and valid_until(invite) <= now:
        return "expired"
    return str(invite["status"])


def version_of(invite: dict[str, Any]) -> int:
    """Invites written before versions count as version 1."""
    return int(invite.get("version", 1))


def view(invite: dict[str, Any], now: str, code: str | None = None) -> Invite:
    return Invite.model_validate(
        {
            **invite,
            "version": version_of(invite),
            "expires_at": valid_until(invite),
            "status": status_of(invite, now),
            "code": code,
        }
    )


def enroll_by_email(principal: Principal, body: MembershipCreate) -> Invite:
    """POST /memberships {action: enroll, email}: an invite to that address, which becomes
    the membership when its owner accepts it. Nobody looks the address up, so the answer
    (202, the invite, no user id) is the same whether it has an account or not: a project
    owner cannot probe which emails are registered."""
    project = project_store.get(body.project_id)
    role = memberships.caller_role(principal, body.project_id) if project else None
    if not project or not (principal.is_admin or role):
        raise NotFound(f"project {body.project_id!r} not found")
    if not memberships.is_manager(principal, role):
        raise Forbidden("only the project's owner or admins may enroll members")
    if project["status"] not in memberships.GROWING:
        raise InvalidTransition(
            f"the project is {project['status']}; members are enrolled only while it is active",
            extra={"current_status": project["status"]},
        )
    assert body.email is not None
    invite = InvitesCreate(emails=[body.email], roles=[body.role or "member"])
    (created,) = _create_checked(principal, "project", body.project_id, invite)
    return created


def _require_manager(principal: Principal, scope: Scope, target_id: str) -> None:
    """The project's owner or admins, the org's owner or admins, or a platform admin (403
    for anyone else who sees the target, 404 for who does not)."""
    if scope == "project":
        _, role = project_access.access(principal, target_id)
        if not memberships.is_manager(principal, role):
            raise Forbidden("only the project's owner or admins may manage its invites")
    else:
        orgs.require_manager(principal, target_id)


def create(principal: Principal, scope: Scope, target_id: str, body: InvitesCreate) -> list[Invite]:
    _require_manager(principal, scope, target_id)
    if scope == "org":
        bad = [r for r in body.roles if r not in ORG_ROLES]
        if bad:
            raise Unprocessable(
                f"org invites grant admin or member, not {', '.join(bad)}",
                errors=[{"loc": ["body", "roles"], "msg": "org roles are admin or member"}],
            )
    return _create_checked(principal, scope, target_id, body)


def _create_checked(
    principal: Principal, scope: Scope, target_id: str, body: InvitesCreate
) -> list[Invite]:
    """The invites of `body`, once the caller may invite to the target."""
    now = now_iso()
    expires = now_iso(timedelta(days=body.expire_days))
    created, codes = [], {}
    for email in body.emails:
        invite: dict[str, Any] = {
            "id": new_id(),
            "email": email,
            "scope": scope,
            "target_id": target_id,
            "roles": list(body.roles),
            "status": "pending",
            "secure": body.secure,
            "valid_until": expires,
            "expires_at": ttl_after(expires),
            "created_at": now,
            "invited_by": principal.id,
            "version": 1,
        }
        if body.secure:
            codes[invite["id"]] = secrets.token_urlsafe(9)
            invite["code_hash"] = _hash(codes[invite["id"]])
        created.append(invite)
    counted = limits.take(
        "invites_per_user_per_day", principal.id, exempt=principal.is_admin, by=len(created)
    )
    store.create_all(created, extra_ops=counted)
    return [view(i, now, codes.get(i["id"])) for i in created]


def of_target(
    principal: Principal,
    scope: Scope,
    target_id: str,
    status: str | None,
    limit: int,
    start_key: dict[str, Any] | None,
) -> tuple[list[Invite], dict[str, Any] | None]:
    """The invites to a project or an org, newest first, for its managers: every status
    (`status` keeps one: a filter on the rows read, within the page's read budget). Never
    a secure invite's code."""
    _require_manager(principal, scope, target_id)
    now = now_iso()

    def fetch(n: int, key: dict[str, Any] | None) -> tuple[list[Any], dict[str, Any] | None]:
        rows, last = store.page_of_target(scope, target_id, n, key)
        return [
            (k, view(i, now) if status in (None, status_of(i, now)) else None) for k, i in rows
        ], last

    return collect(fetch, limit, start_key)


def mine(
    principal: Principal, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Invite], dict[str, Any] | None]:
    """The caller's pending, unexpired invites (by the caller's email), soonest to
    expire first. The list's partition holds pending invites only, read from now on."""
    email = _email_of(principal)
    if email is None:
        return [], None
    now = now_iso()

    def fetch(n: int, key: dict[str, Any] | None) -> tuple[list[Any], dict[str, Any] | None]:
        rows, last = store.page_pending(email, now, n, key)
        return [
            (k, view(i, now) if status_of(i, now) == "pending" else None) for k, i in rows
        ], last

    return collect(fetch, limit, start_key)


def accept(principal: Principal, invite_id: str, code: str | None) -> Invite:
    invite = store.get(invite_id)
    if not invite or invite["email"] != _email_of(principal):
        raise NotFound("invite not found")
    now = now_iso()
    status = status_of(invite, now)
    if status == "accepted":
        raise Conflict("the invite was already accepted")
    if status in ("revoked", "expired"):
        raise Gone(f"the invite is {status}")
    if invite.get("secure") and not (
        code and hmac.compare_digest(_hash(code), invite["code_hash"])
    ):
        raise Forbidden("a secure invite needs its code (ask the inviter)")
    accepted_op = store.status_op(invite_id, "accepted", now, principal.id)
    role = max(invite["roles"], key=lambda r: RANK.get(r, 0))
    if invite["scope"] == "project":
        project = project_store.get(invite["target_id"])
        if project is None:
            raise Gone("the project no longer exists")
        memberships.move(
            principal, project, principal.id, "enroll", role=role, extra_ops=[accepted_op]
        )
    else:
        if org_store.get(invite["target_id"]) is None:
            raise Gone("the org no longer exists")
        org_store.grant(invite["target_id"], principal.id, role, now, extra_ops=[accepted_op])
    return view({**invite, "status": "accepted", "version": version_of(invite) + 1}, now)


def revoke(principal: Principal, invite_id: str, expected_version: int | None = None) -> None:
    """With `expected_version` (If-Match), only at that version: 412 otherwise, before
    what the invite's state would answer."""
    invite = store.get(invite_id)
    if not invite:
        raise NotFound("invite not found")
    if not _may_manage(principal, invite):
        if invite["email"] == _email_of(principal):  # the invitee sees it, may not revoke it
            raise Forbidden("only the inviter or the target's owner and admins may revoke")
        raise NotFound("invite not found")
    if expected_version is not None and version_of(invite) != expected_version:
        raise PreconditionFailed(
            f"the invite is at version {version_of(invite)}, not {expected_version}"
        )
    now = now_iso()
    status = status_of(invite, now)
    if status == "accepted":
        raise Conflict("the invite was already accepted; remove the membership instead")
    if status == "revoked":
        raise Gone("the invite is already revoked")
    store.revoke(invite_id, now, principal.id, expected_version)


def _may_manage(principal: Principal, invite: dict[str, Any]) -> bool:
    if principal.is_admin or invite["invited_by"] == principal.id:
        return True
    if invite["scope"] == "project":
        return memberships.caller_role(principal, invite["target_id"]) in ("owner", "admin")
    return orgs.role(principal, invite["target_id"]) in orgs.MANAGER_ROLES


def _email_of(principal: Principal) -> str | None:
    if principal.kind != "user":
        return None
    user = identity_store.get_user(principal.id)
    return str(user["email"]).lower() if user else None
