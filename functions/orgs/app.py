"""Org and invite routes: orgs, their members, and invites to orgs and projects."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from tenantry import idempotency
from tenantry.domain import invites, orgs
from tenantry.http import (
    Cursor,
    IdempotencyKey,
    IdPath,
    IfMatch,
    Limit,
    ProjectIdPath,
    caller,
    expected_version,
    lambda_handler_for,
    make_app,
    no_content,
    paged,
    respond,
    responses,
)
from tenantry.models.common import Output, Page
from tenantry.models.governance import (
    Invite,
    InviteAccept,
    InvitesCreate,
    InviteStatus,
    Org,
    OrgCreate,
    OrgInvitesCreate,
    OrgMember,
)
from tenantry.pagination import FILTERED_AFTER_READING

app = make_app()

Id = IdPath


class InviteList(Output):
    items: list[Invite]


# --- orgs ---------------------------------------------------------------------------------------


@app.post(
    "/orgs",
    tags=["orgs"],
    summary="Create an org; the caller becomes its owner",
    description="At most MaxOrgsPerUserPerDay orgs per user per UTC day: 429 (limit "
    "orgs_per_user_per_day).",
    responses=responses(201, Org, 403, 429, headers=("Location",)),
)
def create_org(body: OrgCreate, idempotency_key: IdempotencyKey = None) -> Response[Org]:
    principal = caller(app)
    return idempotency.created(
        app,
        idempotency_key,
        principal.id,
        body,
        lambda: orgs.create(principal, body),
        "/orgs",
    )


@app.get(
    "/orgs",
    tags=["orgs"],
    summary="The caller's orgs (platform admins: all)",
    responses=responses(200, Page[Org]),
)
def list_orgs(limit: Limit = 25, cursor: Cursor = None) -> Page[Org]:
    principal = caller(app)
    return paged(
        Org,
        cursor,
        ("orgs", principal.id, principal.is_admin),
        lambda key: orgs.list_orgs(principal, limit, key),
    )


@app.get(
    "/orgs/<orgId>",
    tags=["orgs"],
    summary="An org (its members, platform admins)",
    responses=responses(200, Org, 404),
)
def get_org(orgId: Id) -> Org:
    return orgs.get(caller(app), orgId)


@app.get(
    "/orgs/<orgId>/members",
    tags=["orgs"],
    summary="An org's members",
    responses=responses(200, Page[OrgMember], 404),
)
def list_org_members(orgId: Id, limit: Limit = 25, cursor: Cursor = None) -> Page[OrgMember]:
    principal = caller(app)
    return paged(
        OrgMember,
        cursor,
        ("org-members", orgId),
        lambda key: orgs.members(principal, orgId, limit, key),
    )


# --- invites ------------------------------------------------------------------------------------

INVITE_DOC = (
    "One invite per email, valid for expire_days (default 7, at most 30). A secure invite's "
    "`code` is in this response only: pass it to the invitee out of band. At most "
    "MaxInvitesPerUserPerDay emails per user per UTC day: 429 (limit invites_per_user_per_day). "
    "With an Idempotency-Key, a retry with the same body answers the same invites again and "
    "invites nobody twice, but without the secure invites' codes (they are never stored): "
    "if the first answer was lost, revoke the secure invite and invite again. The same key "
    "with another body or for another target is 422."
)


def _invite(
    scope: Literal["org", "project"],
    target: str,
    body: InvitesCreate,
    idempotency_key: str | None,
) -> Response[InviteList]:
    principal = caller(app)

    def create() -> Response[InviteList]:
        return respond(InviteList(items=invites.create(principal, scope, target, body)), 201)

    # The target is in the path, not the body: it is part of what the key must repeat.
    request = {"target": target, **body.model_dump(mode="json")}
    return idempotency.once(app, idempotency_key, principal.id, request, create, redact=_no_codes)


def _no_codes(body: dict[str, Any]) -> dict[str, Any]:
    """What an idempotent replay answers: the invites without their secure codes."""
    return {**body, "items": [{**i, "code": None} for i in body["items"]]}


@app.put(
    "/orgs/<orgId>/invites",
    tags=["invites"],
    summary="Invite emails to an org (org owner/admins)",
    description=INVITE_DOC,
    responses=responses(201, InviteList, 403, 404, 429),
)
def invite_to_org(
    orgId: Id, body: OrgInvitesCreate, idempotency_key: IdempotencyKey = None
) -> Response[InviteList]:
    return _invite("org", orgId, body, idempotency_key)


@app.put(
    "/projects/<projectId>/invites",
    tags=["invites"],
    summary="Invite emails to a project (owner, project admins)",
    description=INVITE_DOC,
    responses=responses(201, InviteList, 403, 404, 429),
)
def invite_to_project(
    projectId: ProjectIdPath, body: InvitesCreate, idempotency_key: IdempotencyKey = None
) -> Response[InviteList]:
    return _invite("project", projectId, body, idempotency_key)


StatusQuery = Annotated[
    InviteStatus | None, Query(description="Only invites in this status: " + FILTERED_AFTER_READING)
]


def _target_invites(
    scope: Literal["org", "project"],
    target: str,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Invite]:
    principal = caller(app)
    return paged(
        Invite,
        cursor,
        ("target-invites", scope, target, principal.id, status),
        lambda key: invites.of_target(principal, scope, target, status, limit, key),
    )


@app.get(
    "/orgs/<orgId>/invites",
    tags=["invites"],
    summary="An org's invites, newest first, in every status (org owner/admins)",
    description="Secure invites' codes are never shown again.",
    responses=responses(200, Page[Invite], 403, 404),
)
def list_org_invites(
    orgId: Id, limit: Limit = 25, cursor: Cursor = None, status: StatusQuery = None
) -> Page[Invite]:
    return _target_invites("org", orgId, status, limit, cursor)


@app.get(
    "/projects/<projectId>/invites",
    tags=["invites"],
    summary="A project's invites, newest first, in every status (owner, project admins)",
    description="Secure invites' codes are never shown again.",
    responses=responses(200, Page[Invite], 403, 404),
)
def list_project_invites(
    projectId: ProjectIdPath, limit: Limit = 25, cursor: Cursor = None, status: StatusQuery = None
) -> Page[Invite]:
    return _target_invites("project", projectId, status, limit, cursor)


@app.get(
    "/invites",
    tags=["invites"],
    summary="The caller's pending invites (by the caller's email)",
    responses=responses(200, Page[Invite]),
)
def list_invites(limit: Limit = 25, cursor: Cursor = None) -> Page[Invite]:
    principal = caller(app)
    return paged(
        Invite,
        cursor,
        ("invites", principal.id),
        lambda key: invites.mine(principal, limit, key),
    )


@app.post(
    "/invites/<inviteId>/accept",
    tags=["invites"],
    summary="Accept an invite: grants its roles and the membership, once",
    description="Expired or revoked: 410. Accepted already: 409. Secure without the right code: 403.",
    responses=responses(200, Invite, 403, 404, 409, 410, 413),
)
def accept_invite(inviteId: Id, body: InviteAccept | None = None) -> Invite:
    return invites.accept(caller(app), inviteId, body.code if body else None)


@app.delete(
    "/invites/<inviteId>",
    tags=["invites"],
    summary="Revoke an invite (its inviter, the target's managers)",
    description='With If-Match (the invite\'s `version` as an ETag, `"1"` for a new '
    "invite), only at that version; 412 otherwise. Accepted: 409. Revoked or expired: 410.",
    responses=responses(204, None, 403, 404, 409, 410, 412, description="Revoked"),
)
def revoke_invite(inviteId: Id, if_match: IfMatch = None) -> Response[None]:
    invites.revoke(caller(app), inviteId, expected_version(if_match))
    return no_content()


lambda_handler = lambda_handler_for(app)
