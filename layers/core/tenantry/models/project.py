from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from tenantry.models.common import (
    Change,
    Input,
    Omittable,
    Output,
    Reason,
    Reference,
)
from tenantry.models.principal import DisplayName, Email
from tenantry.models.project_fields import (
    MAX_CLUSTERS,
    MAX_ENVIRONMENTS,
    MAX_LABELS,
    MAX_RESOURCES,
    Capacity,
    ClusterDeletePolicy,
    ClusterQuota,
    EnvName,
    LabelKey,
    LabelValue,
    MaxMembers,
    Policy,
    ProjectActionName,
    ProjectAllowedAction,
    ProjectId,
    ProjectStatus,
    ResourceName,
    Url,
)


class InitialUser(Input):
    """The project's first user: found by email, or created (platform admins only)."""

    email: Email
    display_name: str = DisplayName


class GitRepository(Output):
    name: str
    full_name: str
    html_url: str
    clone_url: str
    archived: bool = False


class ProjectCreate(Input):
    name: str = Field(min_length=1, max_length=128)
    id: ProjectId | None = Field(None, description="DNS label; derived from name when absent")
    description: str = Field("", max_length=2048)
    homepage: Url | None = None
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=MAX_LABELS)
    environments: list[EnvName] = Field(
        default_factory=list, max_length=MAX_ENVIRONMENTS, json_schema_extra={"uniqueItems": True}
    )
    clusters: list[ClusterQuota] = Field(default_factory=list, max_length=MAX_CLUSTERS)
    join_policy: Policy = "moderated"
    leave_policy: Policy = "auto"
    max_members: MaxMembers | None = None
    resources: dict[ResourceName, Capacity] = Field(default_factory=dict, max_length=MAX_RESOURCES)
    template_id: Omittable[Reference] = Field(None)
    org_id: Omittable[Reference] = Field(None)
    owner_id: Omittable[Reference] = Field(
        None, description="Platform admins only: create on behalf"
    )
    initial_user: Omittable[InitialUser] = Field(
        None,
        description="Platform admins only: the project's owner, found by email or created "
        "(not with owner_id)",
    )
    init_git_repository: bool = Field(
        False,
        description="Make a repository for the project at the platform's Git provider, as a "
        "provisioning step (422 when the platform has none)",
    )

    @field_validator("environments")
    @classmethod
    def _unique_envs(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("environment names must be unique")
        return v

    @field_validator("clusters")
    @classmethod
    def _unique_clusters(cls, v: list[ClusterQuota]) -> list[ClusterQuota]:
        if len({c.name for c in v}) != len(v):
            raise ValueError("cluster names must be unique")
        return v


class ProjectPatch(Change):
    """Null removes a field (homepage, labels, max_members: unlimited, ...); a project
    always has both policies, so those may be left out but are never null."""

    description: str | None = Field(None, max_length=2048)
    homepage: Url | None = None
    labels: dict[LabelKey, LabelValue] | None = Field(None, max_length=MAX_LABELS)
    join_policy: Omittable[Policy] = None
    leave_policy: Omittable[Policy] = None
    max_members: MaxMembers | None = None
    resources: dict[ResourceName, Capacity] | None = Field(None, max_length=MAX_RESOURCES)
    clusters: list[ClusterQuota] | None = Field(None, max_length=MAX_CLUSTERS)


class ProjectAction(Input):
    action: ProjectActionName
    reason: Omittable[Reason] = Field(None)
    app_id: Omittable[Reference] = Field(
        None, description="approve, deny, dismiss, cancel: the application"
    )


class Condition(Output):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: str
    detail: dict[str, Any] | None = None


class Project(Output):
    id: str
    name: str
    description: str = ""
    homepage: str | None = None
    owner_id: str
    org_id: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    status: ProjectStatus
    reason: str | None = None
    created_at: str
    updated_at: str
    deleted_at: str | None = None
    version: int
    join_policy: Policy
    leave_policy: Policy
    max_members: int | None = None
    resources: dict[str, dict[str, int]] = Field(default_factory=dict)
    clusters: list[dict[str, Any]] = Field(default_factory=list)
    cluster_delete_policy: ClusterDeletePolicy = "Retain"
    environments: list[str] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    last_application: dict[str, Any] | None = None
    init_git_repository: bool = False
    git_repository: GitRepository | None = None
    allowed_actions: list[ProjectAllowedAction] = Field(
        default_factory=list,
        description="What the caller may ask for now: the actions of POST "
        "/projects/{projectId}/actions, and delete (DELETE /projects/{projectId})",
    )


class HistoryItem(Output):
    at: str
    actor: str
    event: str
    from_: str | None = Field(None, alias="from", serialization_alias="from")
    to: str | None = None
    detail: dict[str, Any] | None = None

    model_config = {"populate_by_name": True}


class History(Output):
    project_id: str
    created_at: str
    deleted_at: str | None = None
    items: list[HistoryItem]
    next_cursor: str | None = None


class Image(Output):
    repository: str
    tag: str | None = None
    digest: str
    pushed_at: str
    size_bytes: int
