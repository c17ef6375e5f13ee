"""Deployment routes: deployments of helm charts in a project's environments, and their
tasks (InvokeAction and RestartK8sResource by API; the others come from changes)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from tenantry import idempotency
from tenantry.domain import deployments
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
    no_content,
    paged,
    respond,
    responses,
)
from tenantry.models.common import Page, Reason
from tenantry.models.deployments import (
    Deployment,
    DeploymentCreate,
    DeploymentPatch,
    DeploymentPermission,
    DeploymentPermissionCreate,
    DeploymentTask,
    K8sResource,
    TaskCreate,
)

app = make_app()

DeploymentId = IdPath
TaskId = IdPath
WRITERS = "The environment's Admins, the project's owner and admins, platform admins (bots too, by the same rules)."


@app.get(
    "/projects/<projectId>/deployments",
    tags=["deployments"],
    summary="The project's deployments (members)",
    responses=responses(200, Page[Deployment], 404),
)
def list_deployments(
    projectId: ProjectIdPath, limit: Limit = 25, cursor: Cursor = None
) -> Page[Deployment]:
    principal = caller(app)
    return paged(
        Deployment,
        cursor,
        ("deployments", projectId),
        lambda key: deployments.list_deployments(principal, projectId, limit, key),
    )


@app.post(
    "/projects/<projectId>/deployments",
    tags=["deployments"],
    summary="Deploy a chart in an environment; its Install task starts at once",
    description=WRITERS
    + " The chart must be available and of the deployment's kind, the cluster one of the "
    "project's with its namespace Created, `config` valid against the chart's values UI "
    "(422). The release `<kind>[-<name>]` is unique per project and cluster (409).",
    responses=responses(201, Deployment, 403, 404, 409, headers=("ETag", "Location")),
)
def create_deployment(
    projectId: ProjectIdPath, body: DeploymentCreate, idempotency_key: IdempotencyKey = None
) -> Response[Deployment]:
    principal = caller(app)
    return idempotency.created(
        app,
        idempotency_key,
        principal.id,
        body,
        lambda: deployments.create(principal, projectId, body),
        f"/projects/{projectId}/deployments",
    )


@app.get(
    "/projects/<projectId>/deployments/<deploymentId>",
    tags=["deployments"],
    summary="A deployment (members)",
    responses=responses(200, Deployment, 404, headers=("ETag",)),
)
def get_deployment(projectId: ProjectIdPath, deploymentId: DeploymentId) -> Response[Deployment]:
    found = deployments.get(caller(app), projectId, deploymentId)
    return respond(found, version=found.version)


@app.patch(
    "/projects/<projectId>/deployments/<deploymentId>",
    tags=["deployments"],
    summary="Change a deployment; the change's task runs after the deployment's others",
    description=WRITERS
    + " Chart, config or values: Upgrade (with `config_delta`); `enabled: false`: Uninstall; "
    "`enabled: true`: Install; `description_md` alone: no task.",
    responses=responses(200, Deployment, 403, 404, 409, 412, headers=("ETag",)),
)
def update_deployment(
    projectId: ProjectIdPath,
    deploymentId: DeploymentId,
    body: DeploymentPatch,
    if_match: IfMatch = None,
) -> Response[Deployment]:
    found = deployments.patch(
        caller(app), projectId, deploymentId, body, expected_version(if_match)
    )
    return respond(found, version=found.version)


@app.delete(
    "/projects/<projectId>/deployments/<deploymentId>",
    tags=["deployments"],
    summary="Uninstall a deployment; then its record goes (its tasks and history stay)",
    description=WRITERS + " 202 with the deployment `Deleting`.",
    responses=responses(
        202, Deployment, 403, 404, 409, 412, description="Accepted", headers=("ETag",)
    ),
)
def delete_deployment(
    projectId: ProjectIdPath, deploymentId: DeploymentId, if_match: IfMatch = None
) -> Response[Deployment]:
    found = deployments.delete(caller(app), projectId, deploymentId, expected_version(if_match))
    return respond(found, 202, version=found.version)


# --- tasks ---------------------------------------------------------------------------------


@app.get(
    "/projects/<projectId>/deployment-tasks",
    tags=["deployments"],
    summary="The project's deployment tasks, oldest first (members)",
    responses=responses(200, Page[DeploymentTask], 404),
)
def list_deployment_tasks(
    projectId: ProjectIdPath, limit: Limit = 25, cursor: Cursor = None
) -> Page[DeploymentTask]:
    principal = caller(app)
    return paged(
        DeploymentTask,
        cursor,
        ("deployment-tasks", projectId),
        lambda key: deployments.list_tasks(principal, projectId, limit, key),
    )


@app.post(
    "/projects/<projectId>/deployment-tasks",
    tags=["deployments"],
    summary="Ask for an InvokeAction or RestartK8sResource task, now or at `execute_at`",
    description=WRITERS
    + " The chart's action must exist and allow the deployment's status (409); a restart names "
    "a Deployment or StatefulSet the cluster reported for this deployment. A future "
    "`execute_at` waits for the scheduler (every minute).",
    responses=responses(201, DeploymentTask, 403, 404, 409, headers=("Location",)),
)
def create_deployment_task(
    projectId: ProjectIdPath, body: TaskCreate, idempotency_key: IdempotencyKey = None
) -> Response[DeploymentTask]:
    principal = caller(app)
    return idempotency.created(
        app,
        idempotency_key,
        principal.id,
        body,
        lambda: deployments.create_task(principal, projectId, body),
        f"/projects/{projectId}/deployment-tasks",
    )


@app.get(
    "/projects/<projectId>/deployment-tasks/<taskId>",
    tags=["deployments"],
    summary="A deployment task (members)",
    responses=responses(200, DeploymentTask, 404),
)
def get_deployment_task(projectId: ProjectIdPath, taskId: TaskId) -> DeploymentTask:
    return deployments.get_task(caller(app), projectId, taskId)


@app.delete(
    "/projects/<projectId>/deployment-tasks/<taskId>",
    tags=["deployments"],
    summary="Cancel a Pending task (its creator, " + WRITERS[4:].rstrip(".") + ")",
    description="Only while Pending: 409 after.",
    responses=responses(200, DeploymentTask, 403, 404, 409),
)
def cancel_deployment_task(
    projectId: ProjectIdPath,
    taskId: TaskId,
    reason: Annotated[Reason | None, Query(description="Why it is canceled")] = None,
) -> DeploymentTask:
    return deployments.cancel(caller(app), projectId, taskId, reason)


# --- k8s resources, as the agents report them ---------------------------------------------


@app.get(
    "/projects/<projectId>/k8s-resources",
    tags=["deployments"],
    summary="Kubernetes resources of the project's deployments, as their agents report them",
    responses=responses(200, Page[K8sResource], 404),
)
def list_k8s_resources(
    projectId: ProjectIdPath,
    limit: Limit = 25,
    cursor: Cursor = None,
    deployment_id: id_query("Only this deployment's") = None,
) -> Page[K8sResource]:
    principal = caller(app)
    return paged(
        K8sResource,
        cursor,
        ("k8s-resources", projectId, deployment_id),
        lambda key: deployments.list_k8s_resources(principal, projectId, deployment_id, limit, key),
    )


@app.get(
    "/projects/<projectId>/k8s-resources/<resourceId>",
    tags=["deployments"],
    summary="A Kubernetes resource (its uid), as its agent reported it",
    responses=responses(200, K8sResource, 404),
)
def get_k8s_resource(projectId: ProjectIdPath, resourceId: IdPath) -> K8sResource:
    return deployments.get_k8s_resource(caller(app), projectId, resourceId)


# --- deployment permissions -----------------------------------------------------------------

PermissionId = IdPath


@app.get(
    "/projects/<projectId>/deployment-permissions",
    tags=["deployments"],
    summary="Who holds a role on which kind of deployment in which environment (members)",
    responses=responses(200, Page[DeploymentPermission], 404),
)
def list_deployment_permissions(
    projectId: ProjectIdPath,
    limit: Limit = 25,
    cursor: Cursor = None,
    env_id: id_query("Only this environment's") = None,
) -> Page[DeploymentPermission]:
    principal = caller(app)
    return paged(
        DeploymentPermission,
        cursor,
        ("deployment-permissions", projectId, env_id),
        lambda key: deployments.list_permissions(principal, projectId, env_id, limit, key),
    )


@app.post(
    "/projects/<projectId>/deployment-permissions",
    tags=["deployments"],
    summary="Give a member or a bot a role on one kind of deployment in one environment",
    description="By the environment's Admins, the project's owner and admins, platform admins. "
    "Owner creates and deletes deployments of the kind in the env; Maintainer changes them, "
    "restarts and invokes actions. One role per principal, kind and env (409). A bot also "
    "needs a role on the environment to see it, as a user needs to be a member.",
    responses=responses(201, DeploymentPermission, 403, 404, 409, headers=("Location",)),
)
def create_deployment_permission(
    projectId: ProjectIdPath, body: DeploymentPermissionCreate
) -> Response[DeploymentPermission]:
    granted = deployments.grant(caller(app), projectId, body)
    return respond(
        granted, 201, location=f"/projects/{projectId}/deployment-permissions/{granted.id}"
    )


@app.get(
    "/projects/<projectId>/deployment-permissions/<permId>",
    tags=["deployments"],
    summary="A deployment permission (members)",
    responses=responses(200, DeploymentPermission, 404),
)
def get_deployment_permission(
    projectId: ProjectIdPath, permId: PermissionId
) -> DeploymentPermission:
    return deployments.get_permission(caller(app), projectId, permId)


@app.delete(
    "/projects/<projectId>/deployment-permissions/<permId>",
    tags=["deployments"],
    summary="Revoke a deployment permission",
    description="By the environment's Admins, the project's owner and admins, platform admins.",
    responses=responses(204, None, 403, 404, 409, description="Revoked"),
)
def delete_deployment_permission(projectId: ProjectIdPath, permId: PermissionId) -> Response[None]:
    deployments.revoke(caller(app), projectId, permId)
    return no_content()


lambda_handler = lambda_handler_for(app)
