"""Clusters (a project's namespaces: models.namespaces; the agent protocol's bodies:
models.agent)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from tenantry.models.common import Change, Input, Omittable, Output
from tenantry.models.project_fields import CLUSTER_NAME_PATTERN, Url

ClusterName = Annotated[str, StringConstraints(pattern=CLUSTER_NAME_PATTERN)]
Text = Annotated[str, StringConstraints(max_length=256)]
DnsName = Annotated[
    str,
    StringConstraints(
        max_length=253,
        pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
    ),
]
K8sName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")]


class ClusterSettings(Input):
    """What an admin may set on a cluster after registering it (PATCH)."""

    ingress_domain: DnsName | None = None
    ingress_class: K8sName | None = None
    ingress_tls_secret_name: K8sName | None = None
    grafana_url: Url | None = None
    grafana_datasource_name: Text | None = None


class ClusterCreate(ClusterSettings):
    name: ClusterName = Field(description="A DNS label; what projects name in `clusters[].name`")
    provider_id: Text | None = None
    region_name: Text | None = None


class ClusterPatch(Change):
    ignore: Omittable[bool] = Field(
        None, description="An ignored cluster cannot be named by a project (its agent still works)"
    )
    ingress_domain: DnsName | None = None
    ingress_class: K8sName | None = None
    ingress_tls_secret_name: K8sName | None = None
    grafana_url: Url | None = None
    grafana_datasource_name: Text | None = None


class Cluster(Output):
    id: str
    name: str
    provider_id: str | None = None
    region_name: str | None = None
    created_at: str
    last_seen_at: str | None = None
    is_ok: bool = Field(
        description="The agent's last report, and false when it has not been seen for 3 "
        "heartbeat intervals (or ever)"
    )
    not_ok_reason: str | None = None
    agent_version: str | None = None
    ignore: bool = False
    ingress_domain: str | None = None
    ingress_class: str | None = None
    ingress_tls_secret_name: str | None = None
    grafana_url: str | None = None
    grafana_datasource_name: str | None = None
    version: int


class ClusterCreated(Cluster):
    agent_token: str | None = Field(
        description="The agent's token; shown only in this response (null when an "
        "Idempotency-Key replays it)"
    )


class AgentToken(Output):
    cluster_id: str
    agent_token: str = Field(description="The new token; shown only in this response")
