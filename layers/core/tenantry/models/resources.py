"""Deployment resource types (from charts' `platz/resources.yaml`) and deployment resources
(instances of a type, attached to a deployment, synced to its cluster by the agent)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tenantry.models.common import Change, Input, Omittable, Output, Reference

SyncStatus = Literal["Creating", "Updating", "Deleting", "Ready", "Error"]
# A resource's name: what people call it (`Main shop`): letters, digits, spaces, `.`, `_`,
# `-`, starting and ending with a letter or digit; unique per type in a project.
RESOURCE_NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9 ._-]{0,126}[A-Za-z0-9])?$"
ResourceName = Annotated[str, StringConstraints(pattern=RESOURCE_NAME_PATTERN)]
# A resource's props: a JSON object (its depth and size bounded by the request body's).
Props = dict[str, Any]


class DeploymentResourceType(Output):
    id: str
    created_at: str
    updated_at: str | None = None
    env_id: str | None = Field(
        None, description="The environment whose deployments may use it; null for a global type"
    )
    deployment_kind_id: str
    key: str
    spec: dict[str, Any] = Field(
        description="The chart's declaration: name_singular, name_plural, fontawesome_icon, "
        "global, values_ui (the props' inputs; `sensitive: true` ones are write-only), "
        "lifecycle (allowed_role per create, update, delete)"
    )


class DeploymentResourceCreate(Input):
    type_id: Reference
    deployment_id: Reference
    name: ResourceName
    props: Props = Field(
        default_factory=dict,
        description="Valid against the type's values UI; its sensitive inputs are never returned",
    )


class DeploymentResourcePatch(Change):
    name: Omittable[ResourceName] = None
    props: Omittable[Props] = Field(
        None,
        description="Replaces the props; a sensitive prop left out keeps its value (it cannot "
        "be read back)",
    )


class DeploymentResource(Output):
    id: str
    project_id: str
    created_at: str
    updated_at: str | None = None
    type_id: str
    deployment_id: str
    name: str
    props: Props = Field(description="Without the type's sensitive props")
    exists: bool = Field(description="False once its DELETE has been synced")
    sync_status: SyncStatus
    sync_reason: str | None = None
    version: int


# --- what a chart declares (platz/resources.yaml), read leniently ----------------------------

# A type's key becomes a Kubernetes label value (tenantry.io/resource-type): at most 63
# letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit.
TYPE_KEY_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$"
Text = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class DeclaredLifecycleStep(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    allowed_role: Literal["Owner", "Maintainer"] | None = None


class DeclaredLifecycle(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    create: DeclaredLifecycleStep | None = None
    update: DeclaredLifecycleStep | None = None
    delete: DeclaredLifecycleStep | None = None


class DeclaredValuesUi(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    inputs: list[dict[str, Any]] = Field(default_factory=list, max_length=200)


class DeclaredSpec(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    name_singular: Text
    name_plural: Text
    fontawesome_icon: Text
    global_: bool = Field(False, alias="global")
    values_ui: DeclaredValuesUi
    lifecycle: DeclaredLifecycle = Field(default_factory=DeclaredLifecycle)


class DeclaredResourceType(BaseModel):
    """One entry of a chart's platz/resources.yaml (Platz's `ResourceType`, v1beta1 or v1)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    kind: Literal["ResourceType"] | None = None
    key: Annotated[str, StringConstraints(pattern=TYPE_KEY_PATTERN)]
    spec: DeclaredSpec
