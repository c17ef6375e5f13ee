"""Environment routes: a project's environments, their permissions and their secrets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from tenantry import idempotency
from tenantry.domain import environments, secrets
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
from tenantry.models.common import Page
from tenantry.models.environments import (
    Environment,
    EnvironmentCreate,
    EnvironmentPatch,
    EnvironmentPermission,
    EnvironmentPermissionCreate,
    Secret,
    SecretCreate,
    SecretPatch,
)
from tenantry.models.principal import Principal
from tenantry.pagination import FILTERED_AFTER_READING

app = make_app()

Id = IdPath
SecretFilter = Annotated[str | None, Query(max_length=253, description=FILTERED_AFTER_READING)]


def _environments(project_id: str) -> str:
    return f"/projects/{project_id}/environments"


def _created(
    key: str | None,
    body: BaseModel,
    collection: str,
    make: Callable[[Principal], Any],
    unchecked: frozenset[str] = frozenset(),
) -> Response[Any]:
    """201 with the resource `make` creates as the caller, once per Idempotency-Key."""
    principal = caller(app)
    return idempotency.created(
        app, key, principal.id, body, lambda: make(principal), collection, unchecked=unchecked
    )


# --- environments -----------------------------------------------------------------------


@app.get(
    "/projects/<projectId>/environments",
    tags=["environments"],
    summary="A project's environments (members, platform admins)",
    responses=responses(200, Page[Environment], 404),
)
def list_environments(
    projectId: ProjectIdPath, limit: Limit = 25, cursor: Cursor = None
) -> Page[Environment]:
    principal = caller(app)
    return paged(
        Environment,
        cursor,
        ("environments", projectId),
        lambda key: environments.list_environments(principal, projectId, limit, key),
    )


@app.post(
    "/projects/<projectId>/environments",
    tags=["environments"],
    summary="Create an environment (project owner and admins, platform admins)",
    description="Names are unique in the project (409). The project must be active (409). "
    "At most 20 environments per project: 413 (resource environments).",
    responses=responses(201, Environment, 403, 404, 409, 413, headers=("ETag", "Location")),
)
def create_environment(
    projectId: ProjectIdPath, body: EnvironmentCreate, idempotency_key: IdempotencyKey = None
) -> Response[Environment]:
    return _created(
        idempotency_key,
        body,
        _environments(projectId),
        lambda principal: environments.create(principal, projectId, body),
    )


@app.get(
    "/projects/<projectId>/environments/<envId>",
    tags=["environments"],
    summary="An environment (members, the bots it grants, platform admins)",
    responses=responses(200, Environment, 404, headers=("ETag",)),
)
def get_environment(projectId: ProjectIdPath, envId: Id) -> Response[Environment]:
    env = environments.get(caller(app), projectId, envId)
    return respond(env, version=env.version)


@app.patch(
    "/projects/<projectId>/environments/<envId>",
    tags=["environments"],
    summary="Change an environment (project owner and admins, platform admins)",
    description="A new name must be free in the project (409); the project must be active "
    "(409). `If-Match` makes it conditional (412).",
    responses=responses(200, Environment, 403, 404, 409, 412, headers=("ETag",)),
)
def update_environment(
    projectId: ProjectIdPath, envId: Id, body: EnvironmentPatch, if_match: IfMatch = None
) -> Response[Environment]:
    env = environments.update(caller(app), projectId, envId, body, expected_version(if_match))
    return respond(env, version=env.version)


@app.delete(
    "/projects/<projectId>/environments/<envId>",
    tags=["environments"],
    summary="Delete an environment with its permissions and secrets (project owner and admins)",
    description="409 while it has deployments or the project is not active; `If-Match` "
    "makes it conditional (412).",
    responses=responses(204, None, 403, 404, 409, 412, description="Deleted"),
)
def delete_environment(
    projectId: ProjectIdPath, envId: Id, if_match: IfMatch = None
) -> Response[None]:
    environments.delete(caller(app), projectId, envId, expected_version(if_match))
    return no_content()


# --- permissions --------------------------------------------------------------------------


@app.get(
    "/projects/<projectId>/environments/<envId>/permissions",
    tags=["environments"],
    summary="Who holds which role on an environment (whoever sees the environment)",
    responses=responses(200, Page[EnvironmentPermission], 404),
)
def list_environment_permissions(
    projectId: ProjectIdPath, envId: Id, limit: Limit = 25, cursor: Cursor = None
) -> Page[EnvironmentPermission]:
    principal = caller(app)
    return paged(
        EnvironmentPermission,
        cursor,
        ("environment-permissions", projectId, envId),
        lambda key: environments.list_permissions(principal, projectId, envId, limit, key),
    )


@app.post(
    "/projects/<projectId>/environments/<envId>/permissions",
    tags=["environments"],
    summary="Grant a user or bot Admin or User on an environment (its Admins, project managers)",
    description="A user must be a current member of the project and a bot must exist "
    "(422 unknown-reference). One permission per user or bot and environment: another is "
    "409 (delete it to change the role). The project must be active (409).",
    responses=responses(201, EnvironmentPermission, 403, 404, 409, headers=("ETag", "Location")),
)
def create_environment_permission(
    projectId: ProjectIdPath,
    envId: Id,
    body: EnvironmentPermissionCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response[EnvironmentPermission]:
    return _created(
        idempotency_key,
        body,
        f"{_environments(projectId)}/{envId}/permissions",
        lambda principal: environments.grant(principal, projectId, envId, body),
    )


@app.get(
    "/projects/<projectId>/environments/<envId>/permissions/<permId>",
    tags=["environments"],
    summary="A permission on an environment (whoever sees the environment)",
    responses=responses(200, EnvironmentPermission, 404, headers=("ETag",)),
)
def get_environment_permission(
    projectId: ProjectIdPath, envId: Id, permId: Id
) -> Response[EnvironmentPermission]:
    permission = environments.get_permission(caller(app), projectId, envId, permId)
    return respond(permission, version=permission.version)


@app.delete(
    "/projects/<projectId>/environments/<envId>/permissions/<permId>",
    tags=["environments"],
    summary="Revoke a permission (the environment's Admins, project managers)",
    description='Permissions do not change: `If-Match` is `"1"` or fails (412). The '
    "project must be active (409).",
    responses=responses(204, None, 403, 404, 409, 412, description="Revoked"),
)
def delete_environment_permission(
    projectId: ProjectIdPath, envId: Id, permId: Id, if_match: IfMatch = None
) -> Response[None]:
    environments.revoke(caller(app), projectId, envId, permId, expected_version(if_match))
    return no_content()


# --- secrets ------------------------------------------------------------------------------


@app.get(
    "/projects/<projectId>/environments/<envId>/secrets",
    tags=["secrets"],
    summary="An environment's secrets, without contents (its Admins and Users, project managers)",
    description="Other members of the project: 403.",
    responses=responses(200, Page[Secret], 403, 404),
)
def list_secrets(
    projectId: ProjectIdPath,
    envId: Id,
    limit: Limit = 25,
    cursor: Cursor = None,
    collection: SecretFilter = None,
    name: SecretFilter = None,
) -> Page[Secret]:
    principal = caller(app)
    return paged(
        Secret,
        cursor,
        ("secrets", projectId, envId, collection, name),
        lambda key: secrets.list_secrets(
            principal,
            projectId,
            envId,
            limit,
            key,
            collection=collection,
            name=name,
        ),
    )


@app.post(
    "/projects/<projectId>/environments/<envId>/secrets",
    tags=["secrets"],
    summary="Create a secret (the environment's Admins, project managers)",
    description="`contents` is write-only: encrypted with the stack's KMS key before it is "
    "stored, never returned. (environment, collection, name) is unique: 409. The project "
    "must be active (409). A retry with the same `Idempotency-Key` and the same collection "
    "and name answers the first response whatever its `contents`: nothing derived from "
    "contents is kept to compare.",
    responses=responses(201, Secret, 403, 404, 409, headers=("ETag", "Location")),
)
def create_secret(
    projectId: ProjectIdPath,
    envId: Id,
    body: SecretCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response[Secret]:
    return _created(
        idempotency_key,
        body,
        f"{_environments(projectId)}/{envId}/secrets",
        lambda principal: secrets.create(principal, projectId, envId, body),
        unchecked=frozenset({"contents"}),
    )


@app.get(
    "/projects/<projectId>/environments/<envId>/secrets/<secretId>",
    tags=["secrets"],
    summary="A secret's metadata, never its contents (its environment's Admins and Users)",
    responses=responses(200, Secret, 403, 404, headers=("ETag",)),
)
def get_secret(projectId: ProjectIdPath, envId: Id, secretId: Id) -> Response[Secret]:
    secret = secrets.get(caller(app), projectId, envId, secretId)
    return respond(secret, version=secret.version)


@app.patch(
    "/projects/<projectId>/environments/<envId>/secrets/<secretId>",
    tags=["secrets"],
    summary="Rename a secret or replace its contents (the environment's Admins)",
    description="A name taken in the collection: 409. `If-Match` makes it conditional (412).",
    responses=responses(200, Secret, 403, 404, 409, 412, headers=("ETag",)),
)
def update_secret(
    projectId: ProjectIdPath,
    envId: Id,
    secretId: Id,
    body: SecretPatch,
    if_match: IfMatch = None,
) -> Response[Secret]:
    secret = secrets.update(
        caller(app), projectId, envId, secretId, body, expected_version(if_match)
    )
    return respond(secret, version=secret.version)


@app.delete(
    "/projects/<projectId>/environments/<envId>/secrets/<secretId>",
    tags=["secrets"],
    summary="Delete a secret (the environment's Admins, project managers)",
    responses=responses(204, None, 403, 404, 409, 412, description="Deleted"),
)
def delete_secret(
    projectId: ProjectIdPath, envId: Id, secretId: Id, if_match: IfMatch = None
) -> Response[None]:
    secrets.delete(caller(app), projectId, envId, secretId, expected_version(if_match))
    return no_content()


lambda_handler = lambda_handler_for(app)
