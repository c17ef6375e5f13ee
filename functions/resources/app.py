"""Deployment resource routes: the resource types charts declare (platform-level reads) and
a project's deployment resources, each synced to its deployment's cluster by the agent."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from tenantry import idempotency
from tenantry.domain import resources
from tenantry.http import (
    Cursor,
    IdempotencyKey,
    IdPath,
    IfMatch,
    Limit,
    ProjectIdPath,
    caller,
    expected_version,
    id_query,
    lambda_handler_for,
    make_app,
    paged,
    respond,
    responses,
)
from tenantry.models.common import Page
from tenantry.models.resources import (
    DeploymentResource,
    DeploymentResourceCreate,
    DeploymentResourcePatch,
    DeploymentResourceType,
)

app = make_app()

TypeId = IdPath
DeploymentResourceId = IdPath
WRITERS = (
    "Whoever may change the deployment: its environment's Admins, the project's owner and "
    "admins, platform admins, a Maintainer or Owner of its kind there (the type's "
    "`lifecycle` may narrow a step to Owners); bots by the same rules."
)


# --- types ------------------------------------------------------------------------------------


@app.get(
    "/deployment-resource-types",
    tags=["deployment resources"],
    summary="Resource types charts declare: the global ones, or with `env_id` an environment's",
    description="Upserted after each successful Install, Upgrade or Reinstall of a deployment, "
    "keyed by (environment or global, deployment kind, key). Global types: every signed-in "
    "user and bot; an environment's: whoever sees the environment (for anyone else the "
    "page is empty, as for an environment without types). By kind, then key.",
    responses=responses(200, Page[DeploymentResourceType]),
)
def list_deployment_resource_types(
    limit: Limit = 25,
    cursor: Cursor = None,
    env_id: id_query("This environment's types") = None,
    deployment_kind_id: id_query("Only this kind's") = None,
    key: Annotated[
        str | None, Query(min_length=1, max_length=63, description="Only the type of this key")
    ] = None,
) -> Page[DeploymentResourceType]:
    principal = caller(app)
    return paged(
        DeploymentResourceType,
        cursor,
        ("deployment-resource-types", env_id, deployment_kind_id, key),
        lambda start: resources.list_types(
            principal, env_id, deployment_kind_id, key, limit, start
        ),
    )


@app.get(
    "/deployment-resource-types/<typeId>",
    tags=["deployment resources"],
    summary="A resource type (global: everyone; an environment's: whoever sees it)",
    responses=responses(200, DeploymentResourceType, 404),
)
def get_deployment_resource_type(typeId: TypeId) -> DeploymentResourceType:
    return resources.get_type(caller(app), typeId)


# --- resources --------------------------------------------------------------------------------


@app.get(
    "/projects/<projectId>/deployment-resources",
    tags=["deployment resources"],
    summary="The project's deployment resources (members); without sensitive props",
    description="`type_id` is applied to the rows a page reads (see Lists and cursors).",
    responses=responses(200, Page[DeploymentResource], 404),
)
def list_deployment_resources(
    projectId: ProjectIdPath,
    limit: Limit = 25,
    cursor: Cursor = None,
    type_id: id_query("Only this type's") = None,
) -> Page[DeploymentResource]:
    principal = caller(app)
    return paged(
        DeploymentResource,
        cursor,
        ("deployment-resources", projectId, type_id),
        lambda start: resources.list_resources(principal, projectId, type_id, limit, start),
    )


@app.post(
    "/projects/<projectId>/deployment-resources",
    tags=["deployment resources"],
    summary="Create a resource of a deployment; the deployment's agent syncs it (Creating)",
    description=WRITERS
    + " The type must be of the deployment's kind, global or of its environment (422); "
    "`props` valid against the type's values UI (422); the name unique per type in the "
    "project (409). With an Idempotency-Key, a retry answers the first response whatever "
    "its props (they may be sensitive: not stored, not even hashed).",
    responses=responses(201, DeploymentResource, 403, 404, 409, headers=("ETag", "Location")),
)
def create_deployment_resource(
    projectId: ProjectIdPath, body: DeploymentResourceCreate, idempotency_key: IdempotencyKey = None
) -> Response[DeploymentResource]:
    principal = caller(app)
    return idempotency.created(
        app,
        idempotency_key,
        principal.id,
        body,
        lambda: resources.create(principal, projectId, body),
        f"/projects/{projectId}/deployment-resources",
        unchecked=frozenset({"props"}),
    )


@app.get(
    "/projects/<projectId>/deployment-resources/<deploymentResourceId>",
    tags=["deployment resources"],
    summary="A deployment resource (members); without sensitive props",
    responses=responses(200, DeploymentResource, 404, headers=("ETag",)),
)
def get_deployment_resource(
    projectId: ProjectIdPath, deploymentResourceId: DeploymentResourceId
) -> Response[DeploymentResource]:
    found = resources.get(caller(app), projectId, deploymentResourceId)
    return respond(found, version=found.version)


@app.patch(
    "/projects/<projectId>/deployment-resources/<deploymentResourceId>",
    tags=["deployment resources"],
    summary="Rename a resource or replace its props; the agent syncs it again (Updating)",
    description=WRITERS + " 409 once it is being deleted or deleted.",
    responses=responses(200, DeploymentResource, 403, 404, 409, 412, headers=("ETag",)),
)
def update_deployment_resource(
    projectId: ProjectIdPath,
    deploymentResourceId: DeploymentResourceId,
    body: DeploymentResourcePatch,
    if_match: IfMatch = None,
) -> Response[DeploymentResource]:
    found = resources.patch(
        caller(app), projectId, deploymentResourceId, body, expected_version(if_match)
    )
    return respond(found, version=found.version)


@app.delete(
    "/projects/<projectId>/deployment-resources/<deploymentResourceId>",
    tags=["deployment resources"],
    summary="Delete a resource from its cluster: Deleting, then `exists: false`",
    description=WRITERS
    + " 202 with the resource Deleting (again while Deleting: the same, nothing new; after a "
    "failed deletion: tried again). The record stays, `exists: false`, once the agent has "
    "removed it, and its name is free again; 409 after that.",
    responses=responses(
        202, DeploymentResource, 403, 404, 409, 412, description="Accepted", headers=("ETag",)
    ),
)
def delete_deployment_resource(
    projectId: ProjectIdPath, deploymentResourceId: DeploymentResourceId, if_match: IfMatch = None
) -> Response[DeploymentResource]:
    found = resources.delete(
        caller(app), projectId, deploymentResourceId, expected_version(if_match)
    )
    return respond(found, 202, version=found.version)


lambda_handler = lambda_handler_for(app)
