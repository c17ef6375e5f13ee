"""Cluster routes (platform admins): register a cluster and get its agent token once, list,
read, change, delete, rotate the agent token."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from tenantry import idempotency
from tenantry.domain import clusters
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
from tenantry.models.clusters import (
    AgentToken,
    Cluster,
    ClusterCreate,
    ClusterCreated,
    ClusterPatch,
)
from tenantry.models.common import Page
from tenantry.models.project_fields import CLUSTER_NAME_PATTERN

app = make_app()

ClusterId = IdPath
SECRET_ONCE = (
    "The agent's token is in `agent_token`, in this response only; only its hash is stored. "
)


@app.post(
    "/clusters",
    tags=["clusters"],
    summary="Register a cluster (platform admin); its agent token is shown once",
    description=SECRET_ONCE
    + "With `Idempotency-Key`, a retry answers the first response without the token "
    "(`agent_token` is then null: rotate it if it was lost). A taken name is 409.",
    responses=responses(201, ClusterCreated, 403, 409, headers=("ETag", "Location")),
)
def create_cluster(
    body: ClusterCreate, idempotency_key: IdempotencyKey = None
) -> Response[ClusterCreated]:
    principal = caller(app)
    return idempotency.created(
        app,
        idempotency_key,
        principal.id,
        body,
        lambda: clusters.register(principal, body),
        "/clusters",
        redact=lambda created: {**created, "agent_token": None},
    )


@app.get(
    "/clusters",
    tags=["clusters"],
    summary="Registered clusters, by name (platform admin)",
    responses=responses(200, Page[Cluster], 403),
)
def list_clusters(
    limit: Limit = 25,
    cursor: Cursor = None,
    name: Annotated[
        str | None,
        Query(
            max_length=63, pattern=CLUSTER_NAME_PATTERN, description="Only the cluster of this name"
        ),
    ] = None,
) -> Page[Cluster]:
    principal = caller(app)
    return paged(
        Cluster,
        cursor,
        ("clusters", name),
        lambda key: clusters.list_clusters(principal, name, limit, key),
    )


@app.get(
    "/clusters/<clusterId>",
    tags=["clusters"],
    summary="A cluster, with its agent's health (platform admin)",
    responses=responses(200, Cluster, 403, 404, headers=("ETag",)),
)
def get_cluster(clusterId: ClusterId) -> Response[Cluster]:
    cluster = clusters.get(caller(app), clusterId)
    return respond(cluster, version=cluster.version)


@app.patch(
    "/clusters/<clusterId>",
    tags=["clusters"],
    summary="Change a cluster's settings or ignore it (platform admin)",
    description="`null` clears a setting. An ignored cluster cannot be named by projects.",
    responses=responses(200, Cluster, 403, 404, 412, headers=("ETag",)),
)
def update_cluster(
    clusterId: ClusterId, body: ClusterPatch, if_match: IfMatch = None
) -> Response[Cluster]:
    cluster = clusters.patch(caller(app), clusterId, body, expected_version(if_match))
    return respond(cluster, version=cluster.version)


@app.delete(
    "/clusters/<clusterId>",
    tags=["clusters"],
    summary="Delete a cluster and its agent token (platform admin)",
    description="409 while projects have namespaces on it.",
    responses=responses(204, None, 403, 404, 409, 412, description="Deleted"),
)
def delete_cluster(clusterId: ClusterId, if_match: IfMatch = None) -> Response[None]:
    clusters.delete(caller(app), clusterId, expected_version(if_match))
    return no_content()


@app.post(
    "/clusters/<clusterId>/agent-token",
    tags=["clusters"],
    summary="Rotate the cluster's agent token (platform admin); the old one stops at once",
    description=SECRET_ONCE + "Not idempotent: each call makes a new token.",
    responses=responses(201, AgentToken, 403, 404, 409),
)
def rotate_agent_token(clusterId: ClusterId) -> Response[AgentToken]:
    return respond(clusters.rotate_agent_token(caller(app), clusterId), 201)


lambda_handler = lambda_handler_for(app)
