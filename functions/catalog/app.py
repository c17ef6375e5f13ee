"""The deployment catalog's routes: deployment kinds, helm registries, helm tag formats and
helm charts. Any authenticated user or bot reads them; platform admins write."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from tenantry import idempotency
from tenantry.domain import catalog
from tenantry.http import (
    Cursor,
    IdempotencyKey,
    IdPath,
    IfMatch,
    Limit,
    caller,
    expected_version,
    id_query,
    lambda_handler_for,
    make_app,
    no_content,
    paged,
    respond,
    responses,
)
from tenantry.models.catalog import (
    KIND_NAME_PATTERN,
    DeploymentKind,
    DeploymentKindCreate,
    DeploymentKindPatch,
    HelmChart,
    HelmRegistry,
    HelmRegistryPatch,
    HelmTagFormat,
    HelmTagFormatCreate,
)
from tenantry.models.common import Page
from tenantry.pagination import FILTERED_AFTER_READING

app = make_app()

ReferenceQuery = id_query("An id")
ADMIN_WRITES = "Platform admins only; everyone authenticated reads the catalog."


# --- deployment kinds ---------------------------------------------------------------------------


@app.get(
    "/deployment-kinds",
    tags=["catalog"],
    summary="Deployment kinds, by name",
    responses=responses(200, Page[DeploymentKind]),
)
def list_deployment_kinds(
    limit: Limit = 25,
    cursor: Cursor = None,
    name: Annotated[
        str | None,
        Query(max_length=53, pattern=KIND_NAME_PATTERN, description="Only the kind of this name"),
    ] = None,
) -> Page[DeploymentKind]:
    caller(app)
    return paged(
        DeploymentKind,
        cursor,
        ("deployment-kinds", name),
        lambda key: catalog.list_kinds(name, limit, key),
    )


@app.post(
    "/deployment-kinds",
    tags=["catalog"],
    summary="Create a deployment kind (platform admin)",
    description=ADMIN_WRITES + " A name taken in any case is 409. Chart discovery makes "
    "the kinds of the registries it finds; this names one ahead of its charts.",
    responses=responses(201, DeploymentKind, 403, 409, headers=("ETag", "Location")),
)
def create_deployment_kind(
    body: DeploymentKindCreate, idempotency_key: IdempotencyKey = None
) -> Response[DeploymentKind]:
    principal = caller(app)
    return idempotency.created(
        app,
        idempotency_key,
        principal.id,
        body,
        lambda: catalog.create_kind(principal, body),
        "/deployment-kinds",
    )


@app.get(
    "/deployment-kinds/<kindId>",
    tags=["catalog"],
    summary="A deployment kind",
    responses=responses(200, DeploymentKind, 404, headers=("ETag",)),
)
def get_deployment_kind(kindId: IdPath) -> Response[DeploymentKind]:
    caller(app)
    kind = catalog.get_kind(kindId)
    return respond(kind, version=kind.version)


@app.patch(
    "/deployment-kinds/<kindId>",
    tags=["catalog"],
    summary="Rename a deployment kind (platform admin)",
    description=ADMIN_WRITES + " A name taken in any case is 409.",
    responses=responses(200, DeploymentKind, 403, 404, 409, 412, headers=("ETag",)),
)
def update_deployment_kind(
    kindId: IdPath, body: DeploymentKindPatch, if_match: IfMatch = None
) -> Response[DeploymentKind]:
    kind = catalog.rename_kind(caller(app), kindId, body, expected_version(if_match))
    return respond(kind, version=kind.version)


# --- helm registries ----------------------------------------------------------------------------


@app.get(
    "/helm-registries",
    tags=["catalog"],
    summary="Helm registries found by chart discovery, by repository name",
    responses=responses(200, Page[HelmRegistry]),
)
def list_helm_registries(
    limit: Limit = 25,
    cursor: Cursor = None,
    repo_name: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=256,
            pattern=r"^[a-z0-9][a-z0-9._/-]*$",
            description="Only the registries of this ECR repository",
        ),
    ] = None,
    kind_id: ReferenceQuery = None,
) -> Page[HelmRegistry]:
    caller(app)
    return paged(
        HelmRegistry,
        cursor,
        ("helm-registries", repo_name, kind_id),
        lambda key: catalog.list_registries(repo_name, kind_id, limit, key),
    )


@app.get(
    "/helm-registries/<registryId>",
    tags=["catalog"],
    summary="A helm registry",
    responses=responses(200, HelmRegistry, 404, headers=("ETag",)),
)
def get_helm_registry(registryId: IdPath) -> Response[HelmRegistry]:
    caller(app)
    registry = catalog.get_registry(registryId)
    return respond(registry, version=registry.version)


@app.patch(
    "/helm-registries/<registryId>",
    tags=["catalog"],
    summary="Set a helm registry's icon (platform admin)",
    description=ADMIN_WRITES,
    responses=responses(200, HelmRegistry, 403, 404, 412, headers=("ETag",)),
)
def update_helm_registry(
    registryId: IdPath, body: HelmRegistryPatch, if_match: IfMatch = None
) -> Response[HelmRegistry]:
    registry = catalog.patch_registry(caller(app), registryId, body, expected_version(if_match))
    return respond(registry, version=registry.version)


# --- helm tag formats ---------------------------------------------------------------------------


@app.get(
    "/helm-tag-formats",
    tags=["catalog"],
    summary="Helm tag formats, oldest first (the order they are tried in)",
    responses=responses(200, Page[HelmTagFormat]),
)
def list_helm_tag_formats(limit: Limit = 25, cursor: Cursor = None) -> Page[HelmTagFormat]:
    caller(app)
    return paged(
        HelmTagFormat,
        cursor,
        ("helm-tag-formats",),
        lambda key: catalog.list_tag_formats(limit, key),
    )


@app.post(
    "/helm-tag-formats",
    tags=["catalog"],
    summary="Add a helm tag format (platform admin); charts no format parsed are parsed again",
    description=ADMIN_WRITES + " A chart's tag is parsed by the first format (oldest first) "
    "found in it. A pattern that is not a regular expression, or names no group or one "
    f"other than version, revision, branch and commit, is 422; one that exists, or a "
    f"{catalog.MAX_TAG_FORMATS + 1}st format, is 409. The unparsed charts are parsed again: "
    f"the first {catalog.REPARSE_PAGE} in this request, the rest by chart discovery soon "
    "after.",
    responses=responses(201, HelmTagFormat, 403, 409, headers=("Location",)),
)
def create_helm_tag_format(
    body: HelmTagFormatCreate, idempotency_key: IdempotencyKey = None
) -> Response[HelmTagFormat]:
    principal = caller(app)
    return idempotency.created(
        app,
        idempotency_key,
        principal.id,
        body,
        lambda: catalog.create_tag_format(principal, body),
        "/helm-tag-formats",
    )


@app.get(
    "/helm-tag-formats/<formatId>",
    tags=["catalog"],
    summary="A helm tag format",
    responses=responses(200, HelmTagFormat, 404),
)
def get_helm_tag_format(formatId: IdPath) -> HelmTagFormat:
    caller(app)
    return catalog.get_tag_format(formatId)


@app.delete(
    "/helm-tag-formats/<formatId>",
    tags=["catalog"],
    summary="Delete a helm tag format (platform admin); charts it parsed keep their parse",
    description=ADMIN_WRITES,
    responses=responses(204, None, 403, 404, description="Deleted"),
)
def delete_helm_tag_format(formatId: IdPath) -> Response[None]:
    catalog.delete_tag_format(caller(app), formatId)
    return no_content()


# --- helm charts --------------------------------------------------------------------------------


@app.get(
    "/helm-charts",
    tags=["catalog"],
    summary="Helm charts found by chart discovery, newest first",
    description="`parsed_branch` and `available`: " + FILTERED_AFTER_READING,
    responses=responses(200, Page[HelmChart]),
)
def list_helm_charts(
    limit: Limit = 25,
    cursor: Cursor = None,
    helm_registry_id: ReferenceQuery = None,
    kind_id: ReferenceQuery = None,
    parsed_branch: Annotated[
        str | None,
        Query(min_length=1, max_length=256, description="Only charts whose tag gave this branch"),
    ] = None,
    available: Annotated[
        bool | None, Query(description="Only charts whose image is (true) or is not in ECR")
    ] = None,
) -> Page[HelmChart]:
    caller(app)
    return paged(
        HelmChart,
        cursor,
        ("helm-charts", helm_registry_id, kind_id, parsed_branch, available),
        lambda key: catalog.list_charts(
            helm_registry_id, kind_id, parsed_branch, available, limit, key
        ),
    )


@app.get(
    "/helm-charts/<chartId>",
    tags=["catalog"],
    summary="A helm chart, with its extensions (platz/ files) and parsed tag",
    responses=responses(200, HelmChart, 404),
)
def get_helm_chart(chartId: IdPath) -> HelmChart:
    caller(app)
    return catalog.get_chart(chartId)


lambda_handler = lambda_handler_for(app)
