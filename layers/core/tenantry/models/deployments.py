"""Deployments of helm charts in a project's environments, and their tasks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from tenantry.models.common import (
    Change,
    Input,
    Omittable,
    Output,
    Reason,
    Reference,
    StorableObject,
    no_null_defaults,
    user_or_bot,
)

DeploymentStatus = Literal[
    "Unknown",
    "Installing",
    "Renaming",
    "Upgrading",
    "Running",
    "Error",
    "Uninstalling",
    "Uninstalled",
    "Deleting",
]
TaskStatus = Literal["Pending", "Started", "Failed", "Canceled", "Done"]
# A deployment's name: lower-case DNS label characters (it becomes part of the helm
# release name, `<kind>-<name>`, itself at most 53 characters).
DeploymentName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,28}[a-z0-9])?$")]
# A PATCH may also take the name away ("").
NewDeploymentName = Annotated[
    str, StringConstraints(pattern=r"^([a-z0-9]([a-z0-9-]{0,28}[a-z0-9])?)?$")
]
Markdown = Annotated[str, StringConstraints(max_length=16384)]
# A values tree (helm values, a chart's config): a JSON object; its depth and size are
# bounded by the request body's (tenantry.request_body).
Values = StorableObject
Timestamp = Annotated[
    str,
    StringConstraints(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"
    ),
]


class DeploymentCreate(Input):
    name: Omittable[DeploymentName] = Field(
        None, description="Optional; the release is `<kind>` alone when left out"
    )
    kind_id: Reference
    cluster_id: Reference
    env_id: Reference
    helm_chart_id: Reference
    config: Values = Field(
        default_factory=dict, description="Valid against the chart's values UI schema"
    )
    values_override: Omittable[Values] = None
    description_md: Omittable[Markdown] = None


class DeploymentPatch(Change):
    name: Omittable[NewDeploymentName] = Field(
        None,
        description='A new name (`""`: none, the release is `<kind>` alone); with '
        "`cluster_id`, a change recreates the release: uninstalled where it was, installed "
        "where it goes",
    )
    cluster_id: Omittable[Reference] = Field(
        None, description="Another of the project's clusters, where its namespace is Created"
    )
    helm_chart_id: Omittable[Reference] = None
    config: Omittable[Values] = None
    values_override: Values | None = Field(None, description="null removes the override")
    enabled: Omittable[bool] = None
    description_md: Omittable[Markdown] = None


class Deployment(Output):
    id: str
    project_id: str
    env_id: str
    created_at: str
    updated_at: str | None = None
    name: str
    kind_id: str
    cluster_id: str
    namespace: str
    release_name: str
    enabled: bool
    status: DeploymentStatus
    description_md: str | None = None
    reason: str | None = None
    revision_id: str | None = None
    reported_status: dict[str, Any] | None = None
    helm_chart_id: str
    config: Values
    values_override: Values | None = None
    current_task_id: str | None = None
    version: int


# --- tasks ---------------------------------------------------------------------------------


class InvokeActionInput(Input):
    action_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    body: Values = Field(default_factory=dict)


class RestartInput(Input):
    resource_id: Reference


def _exactly_one_property(schema: dict[str, Any]) -> None:
    no_null_defaults(schema)
    schema["minProperties"] = schema["maxProperties"] = 1


class TaskOperationInput(Input):
    """Exactly one: the operations a caller may ask for (the others come from changes of
    the deployment)."""

    model_config = ConfigDict(json_schema_extra=_exactly_one_property)

    InvokeAction: Omittable[InvokeActionInput] = None
    RestartK8sResource: Omittable[RestartInput] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> TaskOperationInput:
        if len(self.model_fields_set) != 1:
            raise ValueError("give exactly one operation: InvokeAction or RestartK8sResource")
        return self


class TaskCreate(Input):
    deployment_id: Reference
    operation: TaskOperationInput
    execute_at: Omittable[Timestamp] = Field(
        None, description="When to run it (UTC); left out: at once. Run by the scheduler"
    )


class DeploymentTask(Output):
    id: str
    project_id: str
    created_at: str
    execute_at: str
    first_attempted_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    cluster_id: str
    deployment_id: str
    acting_user_id: str | None = None
    acting_bot_id: str | None = None
    acting_deployment_id: str | None = None
    canceled_by_user_id: str | None = None
    canceled_by_bot_id: str | None = None
    operation: dict[str, Any]
    status: TaskStatus
    reason: str | None = None


class TaskCancel(Input):
    reason: Omittable[Reason] = None


# --- deployment permissions ------------------------------------------------------------------

DeploymentRole = Literal["Owner", "Maintainer"]


class DeploymentPermissionCreate(Input):
    """`{env_id, kind_id, user_id | bot_id, role}`: a user must be a current member."""

    model_config = ConfigDict(json_schema_extra=user_or_bot)

    env_id: Reference
    kind_id: Reference
    user_id: Omittable[Reference] = None
    bot_id: Omittable[Reference] = None
    role: DeploymentRole = Field(
        description="Owner: creates and deletes deployments of the kind in the env; "
        "Maintainer: changes them, restarts and invokes actions"
    )

    @model_validator(mode="after")
    def _one_principal(self) -> DeploymentPermissionCreate:
        if (self.user_id is None) == (self.bot_id is None):
            raise ValueError("give exactly one of user_id or bot_id")
        return self


class DeploymentPermission(Output):
    id: str
    project_id: str
    env_id: str
    kind_id: str
    user_id: str | None = None
    bot_id: str | None = None
    role: DeploymentRole
    created_at: str


# --- what the agents reported (their reports' bodies: models.agent) ---------------------------


class K8sResource(Output):
    id: str
    last_updated_at: str
    cluster_id: str
    deployment_id: str
    kind: str
    api_version: str
    name: str
    status_color: list[str]
    metadata: dict[str, Any]
