"""Project routes: create, list, read, change, delete, lifecycle actions, history, images."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from tenantry import idempotency
from tenantry.domain import namespaces, projects
from tenantry.domain.selectors import (
    LABEL_SELECTOR_PATTERN,
    NAMESPACE_FIELD_SELECTOR_PATTERN,
    NAMESPACE_FIELDS,
    PROJECT_FIELD_SELECTOR_PATTERN,
    PROJECT_FIELDS,
    SORTS,
    NamespaceFilter,
    ProjectFilter,
    parse_field_selector,
    parse_label_selector,
    parse_sort,
)
from tenantry.errors import BadRequest
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
    paged,
    respond,
    responses,
)
from tenantry.models.common import Page
from tenantry.models.namespaces import Namespace
from tenantry.models.principal import Principal
from tenantry.models.project import (
    History,
    HistoryItem,
    Image,
    Project,
    ProjectAction,
    ProjectCreate,
    ProjectPatch,
)
from tenantry.models.project_fields import CLUSTER_NAME_PATTERN, ProjectStatus
from tenantry.observability import metrics
from tenantry.pagination import (
    FILTERED_AFTER_READING,
    decode_cursor,
    encode_cursor,
    fingerprint,
    invalid_cursor,
)

app = make_app()

UserIdPath = IdPath


ACTION_RESPONSES = {
    **responses(200, Project, 403, 404, 409, 412, headers=("ETag",)),
    202: {
        "description": "Accepted: provisioning started",
        "content": {"application/json": {"model": Project}},
    },
}


def _location(project_id: str) -> str:
    return f"/projects/{project_id}"


@app.post(
    "/projects",
    tags=["projects"],
    summary="Create a project (202; provisioning runs in Step Functions)",
    description="Status `creating` when the caller is a platform admin or the approval policy is "
    "`auto`, else `uninitialized` awaiting approval. Send `Idempotency-Key` to make retries safe. "
    "A user owning MaxProjectsPerUser projects already: 413 (limit projects_per_user).",
    responses=responses(
        202, Project, 403, 409, 413, description="Accepted", headers=("ETag", "Location")
    ),
)
def create_project(
    body: ProjectCreate, idempotency_key: IdempotencyKey = None
) -> Response[Project]:
    principal = caller(app)
    metrics.add_metric(name="ProjectCreateRequested", unit="Count", value=1)
    return idempotency.created(
        app,
        idempotency_key,
        principal.id,
        body,
        lambda: projects.create_project(principal, body),
        "/projects",
        status=202,
    )


# label_selector, field_selector, sort_by, filter_by
ListOptions = tuple[str | None, str | None, str | None, str | None]


def _list(
    principal: Principal,
    limit: int,
    cursor: str | None,
    state: str | None,
    owner: str | None,
    name: str | None,
    mode: str,
    options: ListOptions,
) -> Page[Project]:
    label_selector, field_selector, sort_by, filter_by = options
    flt = ProjectFilter(
        state=state,
        owner=owner,
        name=name,
        mode=mode,  # type: ignore[arg-type]
        labels=parse_label_selector(label_selector),
        fields=parse_field_selector(field_selector, PROJECT_FIELDS),
        keyword=filter_by or None,
        sort=parse_sort(sort_by),
    )
    return paged(
        Project,
        cursor,
        ("projects", principal.id, principal.is_admin, flt.fingerprint_parts()),
        lambda key: projects.list_projects(principal, flt, limit, key),
    )


# For platform admins (mode=default) the status and the owner are the partition read;
# for everyone else the list is their current memberships, and every filter is applied
# to those projects as they are read.
ADMIN_INDEXED = "Platform admins (mode=default): served by an index. Others: "
State = Annotated[
    ProjectStatus | None,
    Query(
        description="Only projects in this status (without it, all but `deleted`). "
        + ADMIN_INDEXED
        + FILTERED_AFTER_READING
    ),
]
Owner = Annotated[
    str | None,
    Query(
        max_length=64,
        description="Only projects of this owner. "
        + ADMIN_INDEXED
        + "(and, for admins, together with a `state` other than `deleted`) "
        + FILTERED_AFTER_READING,
    ),
]
NamePrefix = Annotated[
    str | None, Query(max_length=128, description="Name prefix. " + FILTERED_AFTER_READING)
]
Mode = Annotated[
    Literal["default", "member"],
    Query(description="`member`: only active projects where the caller is an accepted member"),
]
Selector = Annotated[
    str | None,
    Query(
        max_length=1024,
        description="`k=v,k!=v,k,!k` (400 otherwise). " + FILTERED_AFTER_READING,
        json_schema_extra={"pattern": LABEL_SELECTOR_PATTERN},
    ),
]
FieldSelector = Annotated[
    str | None,
    Query(
        max_length=1024,
        description="Kubernetes-style, comma-separated, all must hold: `metadata.name=<id>` "
        "(`==` too) is that one project, read by key; `metadata.name!=<id>`; "
        "`status.phase=<status>` is `state` (both given: both must hold); "
        "`status.phase!=<status>`. Deleted projects only when a status asks for them. "
        "Another field, or a value the field cannot take, is 400 naming it. "
        "`status.phase=` is served as `state` is; `!=` terms are applied to the rows read.",
        json_schema_extra={"pattern": PROJECT_FIELD_SELECTOR_PATTERN},
    ),
]
SortBy = Annotated[
    str | None,
    Query(
        description="`name` (the default: by `metadata.name`, the project's id), `created_at`; "
        "`-` in front: descending. Served by an index (the list's partition by id, or its "
        "twin in creation order, read either way). Platform admins' lists of deleted "
        "projects have no creation order: `created_at` with `state=deleted` is 400. "
        "Anything else: 400.",
        json_schema_extra={"enum": list(SORTS)},
    ),
]
FilterBy = Annotated[
    str | None,
    Query(
        max_length=128,
        description="A keyword found (ignoring case) in the project's display name (`name`) "
        "or its description. " + FILTERED_AFTER_READING,
    ),
]


@app.get(
    "/projects",
    tags=["projects"],
    summary="Projects the caller can see",
    responses=responses(200, Page[Project]),
)
def list_projects(
    limit: Limit = 25,
    cursor: Cursor = None,
    state: State = None,
    owner: Owner = None,
    name: NamePrefix = None,
    mode: Mode = "default",
    label_selector: Selector = None,
    field_selector: FieldSelector = None,
    sort_by: SortBy = None,
    filter_by: FilterBy = None,
) -> Page[Project]:
    options = (label_selector, field_selector, sort_by, filter_by)
    return _list(caller(app), limit, cursor, state, owner, name, mode, options)


@app.get(
    "/users/<userId>/projects",
    tags=["projects"],
    summary="The projects a user would see (platform admin)",
    responses=responses(200, Page[Project], 403, 404),
)
def list_user_projects(
    userId: UserIdPath,
    limit: Limit = 25,
    cursor: Cursor = None,
    state: State = None,
    owner: Owner = None,
    name: NamePrefix = None,
    mode: Mode = "default",
    label_selector: Selector = None,
    field_selector: FieldSelector = None,
    sort_by: SortBy = None,
    filter_by: FilterBy = None,
) -> Page[Project]:
    viewer = projects.as_user(caller(app), userId)
    options = (label_selector, field_selector, sort_by, filter_by)
    return _list(viewer, limit, cursor, state, owner, name, mode, options)


@app.get(
    "/projects/<projectId>",
    tags=["projects"],
    summary="A project (members, admins)",
    responses=responses(200, Project, 404, headers=("ETag",)),
)
def get_project(projectId: ProjectIdPath) -> Response[Project]:
    project = projects.get_project(caller(app), projectId)
    return respond(project, version=project.version)


@app.patch(
    "/projects/<projectId>",
    tags=["projects"],
    summary="Change a project (owner, admins)",
    description="description, homepage and labels (replaced whole) by the owner; join/leave "
    "policy, max_members, resources and clusters by platform admins. `If-Match` makes it conditional.",
    responses={
        **responses(200, Project, 403, 404, 409, 412, headers=("ETag",)),
        202: {
            "description": "Accepted: governed fields filed as an application (see last_application)",
            "content": {"application/json": {"model": Project}},
        },
    },
)
def patch_project(
    projectId: ProjectIdPath, body: ProjectPatch, if_match: IfMatch = None
) -> Response[Project]:
    project, applied_for = projects.patch_project(
        caller(app), projectId, body, expected_version(if_match)
    )
    return respond(project, 202 if applied_for else 200, version=project.version)


@app.delete(
    "/projects/<projectId>",
    tags=["projects"],
    summary="Delete a project (202; deprovisioning runs in Step Functions)",
    description="`reclaim=true` removes what the project owns on the platform (namespaces, the "
    "image repository); the default keeps them. Ends as a `deleted` tombstone whose id is never reused.",
    responses=responses(
        202, Project, 403, 404, 409, 412, description="Accepted", headers=("ETag", "Location")
    ),
)
def delete_project(
    projectId: ProjectIdPath,
    reclaim: Annotated[
        str,
        Query(
            description="`true` or `false` (default); anything else is 400",
            json_schema_extra={"enum": ["true", "false"]},
        ),
    ] = "false",
    if_match: IfMatch = None,
) -> Response[Project]:
    if reclaim not in ("true", "false"):
        raise BadRequest(
            f"reclaim must be true or false, not {reclaim!r}",
            errors=[{"loc": ["query", "reclaim"], "msg": "must be true or false"}],
        )
    project = projects.delete_project(
        caller(app), projectId, reclaim == "true", expected_version(if_match)
    )
    return respond(project, 202, version=project.version, location=_location(project.id))


@app.post(
    "/projects/<projectId>/actions",
    tags=["projects"],
    summary="A lifecycle action: suspend, unsuspend, terminate, reinstate, retry, approve, deny, cancel",
    description="Invalid in the current status: 409. `retry` and `approve` start provisioning (202).",
    responses=ACTION_RESPONSES,
)
def project_action(
    projectId: ProjectIdPath, body: ProjectAction, if_match: IfMatch = None
) -> Response[Project]:
    project, started = projects.act(caller(app), projectId, body, expected_version(if_match))
    return respond(project, 202 if started else 200, version=project.version)


@app.get(
    "/projects/<projectId>/history",
    tags=["projects"],
    summary="Every state change of the project, oldest first",
    responses=responses(200, History, 404),
)
def project_history(projectId: ProjectIdPath, limit: Limit = 25, cursor: Cursor = None) -> History:
    scope = fingerprint("history", projectId)
    project, items, last = projects.project_history(
        caller(app), projectId, limit, decode_cursor(cursor, scope)
    )
    return History(
        project_id=project["id"],
        created_at=project["created_at"],
        deleted_at=project.get("deleted_at"),
        items=[HistoryItem.model_validate(i) for i in items],
        next_cursor=encode_cursor(last, scope),
    )


def _images(principal: Principal, project_id: str, limit: int, cursor: str | None) -> Page[Image]:
    return paged(
        Image,
        cursor,
        ("images", project_id),
        lambda key: projects.images(principal, project_id, limit, key),
    )


@app.get(
    "/projects/<projectId>/images",
    tags=["projects"],
    summary="Images in the project's container registry",
    responses=responses(200, Page[Image], 404),
)
def project_images(
    projectId: ProjectIdPath, limit: Limit = 25, cursor: Cursor = None
) -> Page[Image]:
    return _images(caller(app), projectId, limit, cursor)


@app.get(
    "/users/<userId>/projects/<projectId>/images",
    tags=["projects"],
    summary="A project's images as a user would see them (platform admin)",
    responses=responses(200, Page[Image], 403, 404),
)
def user_project_images(
    userId: UserIdPath,
    projectId: ProjectIdPath,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> Page[Image]:
    return _images(projects.as_user(caller(app), userId), projectId, limit, cursor)


NamespaceFieldSelector = Annotated[
    str | None,
    Query(
        max_length=1024,
        description="Comma-separated, all must hold: `metadata.name=<name>`, `metadata.name!=`, "
        "`status.phase=<Pending|Created|Failed|Deleting|Deleted|Retained>`, `status.phase!=`. "
        "Another field, or a value the field cannot take, is 400 naming it.",
        json_schema_extra={"pattern": NAMESPACE_FIELD_SELECTOR_PATTERN},
    ),
]
NamespaceSelector = Annotated[
    str | None,
    Query(
        max_length=1024,
        description="`k=v,k!=v,k,!k` on the namespace's labels (400 otherwise)",
        json_schema_extra={"pattern": LABEL_SELECTOR_PATTERN},
    ),
]
NamespaceSortBy = Annotated[
    str | None,
    Query(
        description="`name` (the default), `created_at`; `-` in front: descending. "
        "Anything else: 400.",
        json_schema_extra={"enum": list(SORTS)},
    ),
]
NamespaceFilterBy = Annotated[
    str | None,
    Query(
        max_length=128,
        description="A keyword found (ignoring case) in the namespace's name or its project's "
        "display name or description",
    ),
]


@app.get(
    "/projects/<projectId>/clusters/<cluster>/namespaces",
    tags=["projects"],
    summary="The project's namespace on a cluster, with its creation result",
    description="One namespace per cluster, named after the project and labelled "
    "`tenantry.io/project=<project id>`. Status `Pending` until the cluster's agent reports; "
    "`Failed` carries the reason. A cluster the project never named: 404. The list options "
    "are those of the project lists: `label_selector` on the namespace's labels, "
    "`field_selector` on `metadata.name` and `status.phase`, `filter_by` on its name and its "
    "project's display name and description, `sort_by`; the list is one page (no cursor).",
    responses=responses(200, Page[Namespace], 404),
)
def project_namespaces(
    projectId: ProjectIdPath,
    cluster: Annotated[
        str,
        Path(
            min_length=1,
            max_length=63,
            pattern=CLUSTER_NAME_PATTERN,
            description="The cluster's name",
        ),
    ],
    limit: Limit = 25,
    cursor: Cursor = None,
    label_selector: NamespaceSelector = None,
    field_selector: NamespaceFieldSelector = None,
    sort_by: NamespaceSortBy = None,
    filter_by: NamespaceFilterBy = None,
) -> Page[Namespace]:
    flt = NamespaceFilter(
        labels=parse_label_selector(label_selector),
        fields=parse_field_selector(field_selector, NAMESPACE_FIELDS),
        keyword=filter_by or None,
        sort=parse_sort(sort_by),
    )
    if cursor:  # the list is one page: no cursor of it exists
        raise invalid_cursor()
    project, _ = projects.access(caller(app), projectId)
    return Page[Namespace](items=namespaces.namespaces(project, cluster, flt, limit))


lambda_handler = lambda_handler_for(app)
