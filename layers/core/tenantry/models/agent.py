"""The agent protocol's bodies: what a cluster's agent sends and is sent (heartbeat, work
items with their leases and outcomes) and what it reports of its deployments. Apart from
models.clusters and models.deployments so that the agent function, which needs only
these, builds none of the user-facing cluster and deployment models."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from tenantry.models.common import Input, Int, Omittable, Output, Reason, Reference, StorableObject

LeaseToken = Annotated[str, StringConstraints(min_length=1, max_length=64)]
WorkKind = Literal["CreateNamespace", "DeleteNamespace", "DeploymentTask", "ResourceSync"]


class AgentHeartbeat(Input):
    is_ok: bool
    not_ok_reason: Reason | None = None
    agent_version: Annotated[str, StringConstraints(max_length=256)] | None = None


class AgentHeartbeatAck(Output):
    cluster_id: str
    server_time: str
    heartbeat_seconds: int = Field(description="Send the next heartbeat within this many seconds")


class WorkClaim(Input):
    limit: Int(1, 10) = 1


class WorkItem(Output):
    """What an agent is asked to do. Safe to do twice (delivery is at least once)."""

    id: str
    kind: WorkKind
    lease_token: str = Field(description="Send it with every heartbeat, result and release")
    attempt: int = Field(description="1 for the first lease, +1 for each later one")
    lease_expires_at: str
    project_id: str
    namespace: str
    labels: dict[str, str] = Field(default_factory=dict)
    release_name: str | None = None
    task: dict[str, Any] | None = None
    deployment: dict[str, Any] | None = None
    helm_chart: dict[str, Any] | None = None
    secrets: list[dict[str, Any]] | None = None
    resource: dict[str, Any] | None = None


class WorkLease(Input):
    lease_token: LeaseToken


class WorkLeaseExtended(Output):
    lease_expires_at: str
    cancel_requested: bool


class WorkResult(Input):
    lease_token: LeaseToken
    status: Literal["Done", "Failed"]
    reason: Reason | None = None
    reported_status: dict[str, Any] | None = None


class WorkOutcome(Output):
    id: str
    status: Literal["Done", "Failed"]
    reason: str | None = None
    finished_at: str


class WorkRelease(Input):
    lease_token: LeaseToken
    reason: Reason | None = None


# --- what it reports of its deployments ----------------------------------------------------------

StatusColor = Literal["primary", "success", "danger", "warning", "secondary"]
K8sName = Annotated[str, StringConstraints(min_length=1, max_length=253)]


class K8sResourceReport(Input):
    uid: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._~-]+$")
    ]
    kind: Annotated[str, StringConstraints(min_length=1, max_length=63)]
    api_version: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    name: K8sName
    status_color: list[StatusColor] = Field(default_factory=list, max_length=5)
    metadata: StorableObject = Field(default_factory=dict)


class K8sResourcesReport(Input):
    deployment_id: Reference
    items: list[K8sResourceReport] = Field(max_length=200)


class ReportedStatus(Input):
    get_successful: bool
    content: Omittable[StorableObject] = None
    error: Omittable[Annotated[str, StringConstraints(max_length=4096)]] = None
