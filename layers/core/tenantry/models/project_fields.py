"""A project's field types and limits, and the two small models its quotas are made of
(Capacity, ClusterQuota): what the models of environments, clusters and governance
(templates, quotas) and the domain's project access check need of a project. Kept apart
from tenantry.models.project so that importing them builds none of the project's own
model classes (pydantic model creation is most of a function's own import time)."""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Interval
from pydantic import AllowInfNan, Field, StringConstraints

from tenantry.models.common import Input, Int

ProjectStatus = Literal[
    "uninitialized",
    "creating",
    "active",
    "suspended",
    "terminated",
    "deleting",
    "deleted",
    "failed",
]
Policy = Literal["auto", "moderated", "closed"]
ProjectActionName = Literal[
    "suspend",
    "unsuspend",
    "terminate",
    "reinstate",
    "retry",
    "approve",
    "deny",
    "dismiss",
    "cancel",
]
# What a project's allowed_actions may hold: the actions, and DELETE
ProjectAllowedAction = Literal[ProjectActionName, "delete"]
ClusterDeletePolicy = Literal["Delete", "Retain"]

# A DNS label as Kubernetes namespaces want it, starting with a letter.
PROJECT_ID_PATTERN = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
ProjectId = Annotated[str, StringConstraints(pattern=PROJECT_ID_PATTERN)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$|^[a-z]$")]
LabelKey = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$")
]
LabelValue = Annotated[
    str, StringConstraints(pattern=r"^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$")
]
ResourceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,62}$")]
# Printable ASCII only: the same characters in every regex dialect (no \s or \S).
Url = Annotated[str, StringConstraints(max_length=512, pattern=r"^https?://[!-~]+$")]
QuotaName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$")]
QuotaQuantity = Annotated[
    str, StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)?[A-Za-z]{0,2}$", max_length=32)
]

# A cluster's name: a DNS label (what projects list in `clusters[].name`); never changes.
CLUSTER_NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"

MAX_ENVIRONMENTS = 20
MAX_LABELS = 64
MAX_RESOURCES = 32
MAX_CLUSTERS = 20
# Capacities and quotas stay far below DynamoDB's 38 digits and JSON's safe integers.
MAX_CAPACITY = 1_000_000_000
MAX_QUOTA = 10**15
MaxMembers = Int(1, 100_000)


class Capacity(Input):
    project_capacity: Int(0, MAX_CAPACITY)
    member_capacity: Int(0, MAX_CAPACITY)


class ClusterQuota(Input):
    name: str = Field(min_length=1, max_length=63)
    quota: dict[
        QuotaName,
        QuotaQuantity
        | Int(0, MAX_QUOTA)
        | Annotated[float, Interval(ge=0, le=MAX_QUOTA), AllowInfNan(False)],
    ] = Field(default_factory=dict, max_length=MAX_RESOURCES)
