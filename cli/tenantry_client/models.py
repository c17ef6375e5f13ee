"""The API's answers as pydantic models, written by hand after openapi.json's schemas
(tests/cli/test_models.py checks every model against its schema of the same name: the
same fields, the same required ones, the same JSON types).

Deliberately lenient where a client must be: fields the server adds later are kept
(`extra="allow"`, readable as attributes and in `model_dump()`), and the API's enums
(statuses, roles, policies) are plain strings so that a new status never breaks an older
client. Times are the API's ISO 8601 strings (UTC, with `Z`), as sent.

A model read from a versioned resource carries the answer's ETag (`etag`, e.g. '"3"'):
pass the model, its etag or its version as `if_match=` to a conditional write.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=False)

    _etag: str | None = PrivateAttr(default=None)

    @property
    def etag(self) -> str | None:
        """The answer's ETag header ('"<version>"'), when it had one."""
        return self._etag

    def json_data(self) -> dict[str, Any]:
        """The object as the API sent it (field names as in JSON, extras included)."""
        return self.model_dump(mode="json", by_alias=True)


T = TypeVar("T", bound=Model)


class Page(Model, Generic[T]):
    """One page of a list: `next_cursor` is None on the last one."""

    items: list[T]
    next_cursor: str | None = None


class Health(Model):
    status: str


class ServerInfo(Model):
    version: str


class Me(Model):
    display_name: str
    id: str
    is_admin: bool
    kind: str
    email: str | None = None


class User(Model):
    created_at: str
    display_name: str
    email: str
    id: str
    is_active: bool
    is_admin: bool
    version: int


class TokenCreated(Model):
    created_token: str
    id: str


class UserToken(Model):
    created_at: str
    id: str
    user_id: str
    last_used_at: str | None = None


class Bot(Model):
    created_at: str
    display_name: str
    id: str
    version: int


class Condition(Model):
    last_transition_time: str
    reason: str
    status: str
    type: str
    detail: dict[str, Any] | None = None
    message: str = ""


class GitRepository(Model):
    clone_url: str
    full_name: str
    html_url: str
    name: str
    archived: bool = False


class Project(Model):
    created_at: str
    id: str
    join_policy: str
    leave_policy: str
    name: str
    owner_id: str
    status: str
    updated_at: str
    version: int
    cluster_delete_policy: str = "Retain"
    clusters: list[dict[str, Any]] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    deleted_at: str | None = None
    description: str = ""
    environments: list[str] = Field(default_factory=list)
    git_repository: GitRepository | None = None
    homepage: str | None = None
    init_git_repository: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    last_application: dict[str, Any] | None = None
    max_members: int | None = None
    org_id: str | None = None
    reason: str | None = None
    resources: dict[str, dict[str, int]] = Field(default_factory=dict)
    allowed_actions: list[str] = Field(default_factory=list)  # what the caller may ask for now


class HistoryItem(Model):
    """One entry of a project's history (`from` is `from_` in Python)."""

    actor: str
    at: str
    event: str
    detail: dict[str, Any] | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None


class History(Model):
    created_at: str
    items: list[HistoryItem]
    project_id: str
    deleted_at: str | None = None
    next_cursor: str | None = None


class Member(Model):
    role: str
    state: str
    user_id: str


class ProjectUser(Model):
    display_name: str | None
    is_active: bool | None
    membership_id: str
    role: str
    state: str
    user_id: str


class Membership(Model):
    allowed_actions: list[str]
    created_at: str
    id: str
    project_id: str
    role: str
    state: str
    updated_at: str
    user_id: str


class Application(Model):
    applicant_id: str
    created_at: str
    id: str
    name: str
    owner_id: str
    project_id: str
    state: str
    type: str
    updated_at: str
    changes: dict[str, Any] = Field(default_factory=dict)
    comments: str | None = None
    decided_by: str | None = None
    reason: str | None = None


class Invite(Model):
    created_at: str
    email: str
    expires_at: str
    id: str
    invited_by: str
    roles: list[str]
    scope: str
    status: str
    target_id: str
    version: int
    code: str | None = None
    secure: bool = False


class InviteList(Model):
    items: list[Invite]


class Profile(Model):
    id: str
    name: str
    owner_display_name: str
    description: str = ""
    homepage: str | None = None


class Quota(Model):
    limit: int | None
    usage: int
    member_limit: int | None = None
    member_usage: dict[str, int] = Field(default_factory=dict)


class Environment(Model):
    created_at: str
    id: str
    name: str
    project_id: str
    updated_at: str
    version: int
    auto_add_new_users: bool = False
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)


class EnvironmentPermission(Model):
    created_at: str
    env_id: str
    id: str
    project_id: str
    role: str
    version: int
    bot_id: str | None = None
    user_id: str | None = None


class Secret(Model):
    collection: str
    created_at: str
    env_id: str
    id: str
    name: str
    project_id: str
    updated_at: str
    version: int


class Namespace(Model):
    cluster: str
    created_at: str
    name: str
    status: str
    labels: dict[str, str] = Field(default_factory=dict)
    reason: str | None = None
    updated_at: str | None = None


class Cluster(Model):
    created_at: str
    id: str
    is_ok: bool
    name: str
    version: int
    agent_version: str | None = None
    grafana_datasource_name: str | None = None
    grafana_url: str | None = None
    ignore: bool = False
    ingress_class: str | None = None
    ingress_domain: str | None = None
    ingress_tls_secret_name: str | None = None
    last_seen_at: str | None = None
    not_ok_reason: str | None = None
    provider_id: str | None = None
    region_name: str | None = None


class ClusterCreated(Cluster):
    """POST /clusters' answer: the cluster and its agent's token, shown once."""

    agent_token: str | None


class AgentToken(Model):
    agent_token: str
    cluster_id: str


class Deployment(Model):
    cluster_id: str
    config: dict[str, Any]
    created_at: str
    enabled: bool
    env_id: str
    helm_chart_id: str
    id: str
    kind_id: str
    name: str
    namespace: str
    project_id: str
    release_name: str
    status: str
    version: int
    current_task_id: str | None = None
    description_md: str | None = None
    reason: str | None = None
    reported_status: dict[str, Any] | None = None
    revision_id: str | None = None
    updated_at: str | None = None
    values_override: dict[str, Any] | None = None


class DeploymentTask(Model):
    cluster_id: str
    created_at: str
    deployment_id: str
    execute_at: str
    id: str
    operation: dict[str, Any]
    project_id: str
    status: str
    acting_bot_id: str | None = None
    acting_deployment_id: str | None = None
    acting_user_id: str | None = None
    canceled_by_bot_id: str | None = None
    canceled_by_user_id: str | None = None
    finished_at: str | None = None
    first_attempted_at: str | None = None
    reason: str | None = None
    started_at: str | None = None


class K8sResource(Model):
    api_version: str
    cluster_id: str
    deployment_id: str
    id: str
    kind: str
    last_updated_at: str
    metadata: dict[str, Any]
    name: str
    status_color: list[str]


class Org(Model):
    created_at: str
    created_by: str
    id: str
    name: str


class Template(Model):
    approval: str
    created_at: str
    id: str
    name: str
    version: int
    clusters: list[dict[str, Any]] = Field(default_factory=list)
    description: str = ""
    environments: list[str] = Field(default_factory=list)
    join_policy: str | None = None
    leave_policy: str | None = None
    max_members: int | None = None
    resources: dict[str, dict[str, int]] = Field(default_factory=dict)
