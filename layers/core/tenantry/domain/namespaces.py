"""A project's namespaces on its clusters, as its members list them, and the labels a
namespace is made with. Apart from tenantry.domain.clusters (registration, agent tokens,
the cluster models) so that the projects function lists namespaces without those."""

from __future__ import annotations

from typing import Any

from tenantry.dal import namespaces as ns_store
from tenantry.domain.selectors import NamespaceFilter
from tenantry.errors import NotFound
from tenantry.models.namespaces import Namespace

PROJECT_LABEL = "tenantry.io/project"


def namespace_labels(project_id: str) -> dict[str, str]:
    """The labels a project's namespace is made with (the agent's CreateNamespace work
    item carries them; it refuses to adopt or delete a namespace without them)."""
    return {PROJECT_LABEL: project_id}


def namespaces(
    project: dict[str, Any],
    cluster_name: str,
    flt: NamespaceFilter | None = None,
    limit: int = 1,
) -> list[Namespace]:
    """The project's namespaces on one cluster that match `flt` (at most one: a project
    has one per cluster, named after it), for a caller who may see the project; a cluster
    the project never named is 404. The list is one page. One GetItem, whatever the
    options."""
    flt = flt or NamespaceFilter()
    record = ns_store.get(project["id"], cluster_name)
    named = any(c.get("name") == cluster_name for c in project.get("clusters", []))
    if record is None and not named:
        raise NotFound(f"the project has no namespace on cluster {cluster_name!r}")
    if record is None:  # named, not asked for yet (awaiting approval, say)
        record = {
            "name": project["id"],
            "cluster": cluster_name,
            "status": "Pending",
            "created_at": project["created_at"],
        }
    found = [{**record, "labels": namespace_labels(project["id"])}]
    kept = flt.sorted([n for n in found if flt.matches(n, project)])[:limit]
    return [Namespace(**n) for n in kept]
