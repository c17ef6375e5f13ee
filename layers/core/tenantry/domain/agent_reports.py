"""What a cluster's agent reports: that it is alive (its heartbeat, the cluster's health)
and its deployments' Kubernetes resources and reported status (PUT /agent/k8s-resources,
/agent/deployments/{id}/reported-status). An agent reaches only deployments on its own
cluster. Apart from tenantry.domain.clusters and tenantry.domain.deployments, whose users'
side (clusters, environments, permissions, charts, their models) the agent function never
needs."""

from __future__ import annotations

from typing import Any

from tenantry.clock import now_iso
from tenantry.dal import clusters as cluster_store
from tenantry.dal import deployments as store
from tenantry.errors import NotFound
from tenantry.models.agent import K8sResourcesReport, ReportedStatus
from tenantry.settings import get_settings


def heartbeat(
    cluster_id: str, is_ok: bool, reason: str | None, agent_version: str | None
) -> dict[str, Any]:
    now = now_iso()
    fields: dict[str, Any] = {"last_seen_at": now, "reported_ok": is_ok}
    remove: list[str] = []
    for name, value in (("reported_reason", reason), ("agent_version", agent_version)):
        if value:
            fields[name] = value
        else:
            remove.append(name)
    cluster_store.heartbeat(cluster_id, fields, tuple(remove))
    return {
        "cluster_id": cluster_id,
        "server_time": now,
        "heartbeat_seconds": get_settings().agent_heartbeat_seconds,
    }


def _reported_deployment(cluster_id: str, deployment_id: str) -> dict[str, Any]:
    """The deployment an agent reports on: one on its own cluster (else 404)."""
    ref = store.locate(deployment_id)
    if ref is None or ref.get("cluster_id") != cluster_id:
        raise NotFound("deployment not found")
    return ref


def report_k8s_resources(cluster_id: str, body: K8sResourcesReport) -> int:
    ref = _reported_deployment(cluster_id, body.deployment_id)
    now = now_iso()
    items = [
        {
            "id": r.uid,
            "last_updated_at": now,
            "cluster_id": cluster_id,
            "deployment_id": body.deployment_id,
            "kind": r.kind,
            "api_version": r.api_version,
            "name": r.name,
            "status_color": list(r.status_color),
            "metadata": r.metadata,
        }
        for r in body.items
    ]
    store.replace_k8s(ref["project_id"], body.deployment_id, items)
    return len(items)


def report_status(cluster_id: str, deployment_id: str, body: ReportedStatus) -> None:
    ref = _reported_deployment(cluster_id, deployment_id)
    reported = {"timestamp": now_iso(), **body.model_dump(exclude_none=True)}
    store.set_reported_status(ref["project_id"], deployment_id, reported)
