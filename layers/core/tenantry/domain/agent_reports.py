"""What a cluster's agent reports of its deployments: their Kubernetes resources and
their reported status (PUT /agent/k8s-resources, /agent/deployments/{id}/reported-status).
An agent reaches only deployments on its own cluster. Apart from tenantry.domain.deployments,
whose users' side (environments, permissions, charts) the agent function never needs."""

from __future__ import annotations

from typing import Any

from tenantry.clock import now_iso
from tenantry.dal import deployments as store
from tenantry.errors import NotFound
from tenantry.models.deployments import K8sResourcesReport, ReportedStatus


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
