"""Governance routes: applications, memberships, members, quotas and public profiles."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from tenantry import idempotency
from tenantry.domain import applications, invites, memberships, projects, quotas, templates
from tenantry.http import (
    Cursor,
    IdempotencyKey,
    IdPath,
    IfMatch,
    Limit,
    caller,
    expected_version,
    lambda_handler_for,
    make_app,
    no_content,
    respond,
    responses,
)
from tenantry.models.common import Page
from tenantry.models.governance import (
    Application,
    ApplicationState,
    Invite,
    Member,
    Membership,
    MembershipAction,
    MembershipCreate,
    Profile,
    ProfileUpdate,
    Quota,
    Template,
    TemplateCreate,
)
from tenantry.models.identity import Principal
from tenantry.pagination import FILTERED_AFTER_READING, decode_cursor, fingerprint, page

app = make_app()

Id = IdPath
ProjectIdQuery = Annotated[str | None, Query(max_length=64, description="Only this project's")]


def _role_of(principal: Principal, project_id: str) -> str | None:
    return memberships.caller_role(principal, project_id)


# --- applications -------------------------------------------------------------------------------


@app.get(
    "/applications",
    tags=["governance"],
    summary="Applications the caller may see",
    description="With project_id: that project's (all for its owner/admins and platform admins, "
    "the caller's own otherwise). Without: platform admins get the queue of `state` (default "
    "pending); others their own applications.",
    responses=responses(200, Page[Application], 404),
)
def list_applications(
    limit: Limit = 25,
    cursor: Cursor = None,
    project_id: ProjectIdQuery = None,
    state: Annotated[
        ApplicationState | None,
        Query(
            description="Platform admins without project_id: the queue of that state, served "
            "by an index (default pending). With project_id, or for others: "
            + FILTERED_AFTER_READING
        ),
    ] = None,
) -> Page[Application]:
    principal = caller(app)
    scope = fingerprint("applications", principal.id, principal.is_admin, project_id, state)
    items, last = applications.list_applications(
        principal,
        project_id,
        state,
        limit,
        decode_cursor(cursor, scope),
        partial(_role_of, principal),
    )
    return Page[Application](**page(items, last, scope))


@app.get(
    "/applications/<appId>",
    tags=["governance"],
    summary="An application (applicant, project owner/admins, platform admins)",
    responses=responses(200, Application, 404),
)
def get_application(appId: Id) -> Application:
    principal = caller(app)
    return applications.get(principal, appId, partial(_role_of, principal))


# --- memberships --------------------------------------------------------------------------------


@app.post(
    "/memberships",
    tags=["governance"],
    summary="Join a project (self) or enroll a user (owner, project admin)",
    description="join: accepted at once under join_policy auto, requested under moderated, 409 "
    "under closed. enroll with user_id: accepted at once (201). enroll with email: 202 with an "
    "invite to that address (no user id), the same answer whether the address has an account "
    "or not; accepting the invite makes the membership. max_members reached: 409; over the "
    "members quota: 413. Limits: pending join requests per user (413, "
    "pending_join_requests_per_user), joins of one project per user per day (429, "
    "join_requests_per_project_per_day), invites per user per day (429).",
    responses={
        **responses(201, Membership, 403, 404, 409, 413, 429, headers=("Location",)),
        202: {
            "description": "enroll by email: the invite sent to that address",
            "content": {"application/json": {"model": Invite}},
            "headers": {"Location": {"description": "The invite", "schema": {"type": "string"}}},
        },
    },
)
def create_membership(
    body: MembershipCreate, idempotency_key: IdempotencyKey = None
) -> Response[Membership | Invite]:
    principal = caller(app)
    if body.action == "enroll" and body.email:
        return idempotency.created(
            app,
            idempotency_key,
            principal.id,
            body,
            lambda: invites.enroll_by_email(principal, body),
            "/invites",
            status=202,
        )
    return idempotency.created(
        app,
        idempotency_key,
        principal.id,
        body,
        lambda: memberships.create(principal, body),
        "/memberships",
    )


@app.get(
    "/memberships",
    tags=["governance"],
    summary="The caller's memberships, or a project's (members, platform admins)",
    responses=responses(200, Page[Membership], 404),
)
def list_memberships(
    limit: Limit = 25, cursor: Cursor = None, project_id: ProjectIdQuery = None
) -> Page[Membership]:
    principal = caller(app)
    scope = fingerprint("memberships", principal.id, project_id)
    items, last = memberships.list_memberships(
        principal, project_id, limit, decode_cursor(cursor, scope)
    )
    return Page[Membership](**page(items, last, scope))


@app.get(
    "/memberships/<membershipId>",
    tags=["governance"],
    summary="A membership (the member, the project's members, platform admins)",
    responses=responses(200, Membership, 404),
)
def get_membership(membershipId: Id) -> Membership:
    return memberships.get(caller(app), membershipId)


@app.post(
    "/memberships/<membershipId>/actions",
    tags=["governance"],
    summary="accept, reject, remove (owner, project admin); leave, cancel (the member)",
    responses=responses(200, Membership, 403, 404, 409, 413),
)
def membership_action(membershipId: Id, body: MembershipAction) -> Membership:
    return memberships.act(caller(app), membershipId, body)


@app.get(
    "/projects/<projectId>/members",
    tags=["governance"],
    summary="A project's members and their roles",
    responses=responses(200, Page[Member], 404),
)
def list_members(projectId: Id, limit: Limit = 25, cursor: Cursor = None) -> Page[Member]:
    principal = caller(app)
    scope = fingerprint("members", principal.id, projectId)
    items, last = memberships.members(principal, projectId, limit, decode_cursor(cursor, scope))
    return Page[Member](**page(items, last, scope))


# --- quotas and profile -------------------------------------------------------------------------


@app.get(
    "/projects/<projectId>/quotas",
    tags=["governance"],
    summary="Each resource's limit and usage, per project and per member",
    responses=responses(200, dict[str, Quota], 404),
)
def get_quotas(projectId: Id) -> dict[str, Quota]:
    return quotas.quotas(caller(app), projectId)


@app.get(
    "/projects/<projectId>/profile",
    tags=["governance"],
    summary="The public profile of an active project (any authenticated user)",
    responses=responses(200, Profile, 404),
)
def get_profile(projectId: Id) -> Profile:
    return projects.profile(caller(app), projectId)


@app.put(
    "/projects/<projectId>/profile",
    tags=["governance"],
    summary="Change the public profile (owner)",
    responses=responses(200, Profile, 403, 404, 409, 412),
)
def put_profile(
    projectId: Id,
    body: ProfileUpdate,
    if_match: IfMatch = None,
) -> Profile:
    return projects.update_profile(caller(app), projectId, body, expected_version(if_match))


# --- templates ----------------------------------------------------------------------------------


@app.get(
    "/templates",
    tags=["templates"],
    summary="Project templates",
    responses=responses(200, Page[Template]),
)
def list_templates(limit: Limit = 25, cursor: Cursor = None) -> Page[Template]:
    caller(app)
    scope = fingerprint("templates")
    items, last = templates.list_templates(limit, decode_cursor(cursor, scope))
    return Page[Template](**page(items, last, scope))


@app.get(
    "/templates/<templateId>",
    tags=["templates"],
    summary="A project template",
    responses=responses(200, Template, 404, headers=("ETag",)),
)
def get_template(templateId: Id) -> Response[Template]:
    caller(app)
    template = templates.get(templateId)
    return respond(template, version=template.version)


@app.post(
    "/templates",
    tags=["templates"],
    summary="Create a project template (platform admin)",
    responses=responses(201, Template, 403, headers=("ETag", "Location")),
)
def create_template(
    body: TemplateCreate, idempotency_key: IdempotencyKey = None
) -> Response[Template]:
    principal = caller(app)
    return idempotency.created(
        app,
        idempotency_key,
        principal.id,
        body,
        lambda: templates.create(principal, body),
        "/templates",
    )


@app.delete(
    "/templates/<templateId>",
    tags=["templates"],
    summary="Delete a project template (platform admin)",
    description='With If-Match, only at that version (templates do not change: `"1"`); '
    "412 otherwise.",
    responses=responses(204, None, 403, 404, 412, description="Deleted"),
)
def delete_template(templateId: Id, if_match: IfMatch = None) -> Response[None]:
    templates.delete(caller(app), templateId, expected_version(if_match))
    return no_content()


lambda_handler = lambda_handler_for(app)
