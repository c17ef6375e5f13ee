"""A project's namespaces: one on each cluster it names, named after the project. Apart
from models.clusters so that listing them (the projects function) builds none of the
cluster models."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tenantry.models.common import Output

NamespaceStatus = Literal["Pending", "Created", "Failed", "Deleting", "Deleted", "Retained"]


class Namespace(Output):
    name: str
    cluster: str
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="The labels Tenantry asks the cluster's agent to give the namespace",
    )
    status: NamespaceStatus
    reason: str | None = None
    created_at: str
    updated_at: str | None = None
