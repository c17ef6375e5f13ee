"""Governance routes: applications, memberships, members and users, quotas, public profiles,
templates, and a project's apps (its OAuth clients)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from tenantry import idempotency
from tenantry.domain import (
    applications,
    apps,
    invites,
    memberships,
    profiles,
    project_users,
    quotas,
    templates,
)
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
    paged,
    respond,
    responses,
)
from tenantry.models.apps import App, AppCreate, AppPatch, AppWithSecret
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
    ProjectUser,
    Quota,
    Template,
    TemplateCreate,
)
from tenantry.models.principal import Principal
from tenantry.pagination import FILTERED_AFTER_READING

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
    return paged(
        Application,
        cursor,
        ("applications", principal.id, principal.is_admin, project_id, state),
        lambda key: applications.list_applications(
            principal,
            project_id,
            state,
            limit,
            key,
            partial(_role_of, principal),
        ),
    )


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
    return paged(
        Membership,
        cursor,
        ("memberships", principal.id, project_id),
        lambda key: memberships.list_memberships(principal, project_id, limit, key),
    )


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
    return paged(
        Member,
        cursor,
        ("members", principal.id, projectId),
        lambda key: memberships.members(principal, projectId, limit, key),
    )


@app.get(
    "/projects/<projectId>/users",
    tags=["governance"],
    summary="A project's people: its current members with their roles and display names "
    "(members, platform admins)",
    description="Accepted and leave_requested memberships only (requests and former members "
    "are in `GET /memberships?project_id=`), ordered by user id.",
    responses=responses(200, Page[ProjectUser], 404),
)
def list_project_users(
    projectId: Id, limit: Limit = 25, cursor: Cursor = None
) -> Page[ProjectUser]:
    principal = caller(app)
    return paged(
        ProjectUser,
        cursor,
        ("project-users", projectId),
        lambda key: project_users.list_users(principal, projectId, limit, key),
    )


# --- apps (OAuth clients) -----------------------------------------------------------------------

APP_WRITERS = "The project's owner and admins and platform admins; other members: 403. "
SECRET_ONCE = (
    "`client_secret` is in this response only: Tenantry keeps its SHA-256, never the secret. "
)


@app.get(
    "/projects/<projectId>/apps",
    tags=["apps"],
    summary="A project's apps (OAuth clients), never their secrets (members, platform admins)",
    responses=responses(200, Page[App], 404),
)
def list_project_apps(projectId: Id, limit: Limit = 25, cursor: Cursor = None) -> Page[App]:
    principal = caller(app)
    return paged(
        App,
        cursor,
        ("project-apps", projectId),
        lambda key: apps.list_apps(principal, projectId, limit, key),
    )


@app.post(
    "/projects/<projectId>/apps",
    tags=["apps"],
    summary="Register an app (an OAuth client) with its client id and secret",
    description=APP_WRITERS
    + SECRET_ONCE
    + "A replay with the same `Idempotency-Key` answers the app with `client_secret: null` "
    "(rotate it if the first answer was lost). The project must be active (409). At most "
    "MaxAppsPerProject apps per project: 413 (limit apps_per_project).",
    responses=responses(201, AppWithSecret, 403, 404, 409, 413, headers=("ETag", "Location")),
)
def create_project_app(
    projectId: Id, body: AppCreate, idempotency_key: IdempotencyKey = None
) -> Response[AppWithSecret]:
    principal = caller(app)
    return idempotency.created(
        app,
        idempotency_key,
        principal.id,
        body,
        lambda: apps.create(principal, projectId, body),
        f"/projects/{projectId}/apps",
        redact=lambda created: {**created, "client_secret": None},
    )


@app.get(
    "/projects/<projectId>/apps/<appId>",
    tags=["apps"],
    summary="An app, never its secret (members, platform admins)",
    responses=responses(200, App, 404, headers=("ETag",)),
)
def get_project_app(projectId: Id, appId: Id) -> Response[App]:
    found = apps.get(caller(app), projectId, appId)
    return respond(found, version=found.version)


@app.patch(
    "/projects/<projectId>/apps/<appId>",
    tags=["apps"],
    summary="Change an app's name, description or redirect URIs",
    description=APP_WRITERS
    + "`redirect_uris` replaces the list whole. The project must be active (409). "
    "`If-Match` makes it conditional (412).",
    responses=responses(200, App, 403, 404, 409, 412, headers=("ETag",)),
)
def update_project_app(
    projectId: Id, appId: Id, body: AppPatch, if_match: IfMatch = None
) -> Response[App]:
    changed = apps.update(caller(app), projectId, appId, body, expected_version(if_match))
    return respond(changed, version=changed.version)


@app.post(
    "/projects/<projectId>/apps/<appId>/secret",
    tags=["apps"],
    summary="Rotate an app's client secret: the old one stops at once",
    description=APP_WRITERS
    + SECRET_ONCE
    + "Not idempotent: each call makes a new secret (send `If-Match` to rotate at most once: "
    "a retry of a rotation that happened is 412). The project must be active (409).",
    responses=responses(200, AppWithSecret, 403, 404, 409, 412, headers=("ETag",)),
)
def rotate_project_app_secret(
    projectId: Id, appId: Id, if_match: IfMatch = None
) -> Response[AppWithSecret]:
    rotated = apps.rotate_secret(caller(app), projectId, appId, expected_version(if_match))
    return respond(rotated, version=rotated.version)


@app.delete(
    "/projects/<projectId>/apps/<appId>",
    tags=["apps"],
    summary="Delete an app; its client id and secret stop at once",
    description=APP_WRITERS + "The project must be active (409). `If-Match` makes it "
    "conditional (412).",
    responses=responses(204, None, 403, 404, 409, 412, description="Deleted"),
)
def delete_project_app(projectId: Id, appId: Id, if_match: IfMatch = None) -> Response[None]:
    apps.delete(caller(app), projectId, appId, expected_version(if_match))
    return no_content()


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
    return profiles.profile(caller(app), projectId)


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
    return profiles.update_profile(caller(app), projectId, body, expected_version(if_match))


# --- templates ----------------------------------------------------------------------------------


@app.get(
    "/templates",
    tags=["templates"],
    summary="Project templates",
    responses=responses(200, Page[Template]),
)
def list_templates(limit: Limit = 25, cursor: Cursor = None) -> Page[Template]:
    caller(app)
    return paged(
        Template,
        cursor,
        ("templates",),
        lambda key: templates.list_templates(limit, key),
    )


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
