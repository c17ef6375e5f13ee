"""Environments of a project, their permissions and their secrets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, SecretStr, StringConstraints, model_validator

from tenantry.models.common import (
    Change,
    Input,
    Int,
    Omittable,
    Output,
    Reference,
    no_null_defaults,
    user_or_bot,
)
from tenantry.models.project_fields import EnvName, LabelKey, LabelValue

EnvRole = Literal["Admin", "User"]
MAX_NODE_SELECTOR = 32
MAX_TOLERATIONS = 32
# A secret's contents: at most 16,384 characters. Any such body fits the request cap
# (tenantry.request_body, 256 KiB) however its characters are escaped in JSON (up to 12
# bytes each: a surrogate pair), so a valid request is never refused as too large; and its
# ciphertext stays far below DynamoDB's 400 KB item limit.
MAX_SECRET_CHARS = 16384
# A collection is the Kubernetes Secret its secrets go into (a DNS subdomain); a name is a
# key of that Secret's data.
Collection = Annotated[
    str, StringConstraints(max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
]
SecretName = Annotated[str, StringConstraints(pattern=r"^[-._a-zA-Z0-9]{1,253}$")]
NodeSelector = Annotated[
    dict[LabelKey, LabelValue],
    Field(max_length=MAX_NODE_SELECTOR, description="Kubernetes node labels the env's pods need"),
]


def _toleration_rules(schema: dict[str, Any]) -> None:
    """The rules of `_consistent` below, said in the schema so a client sees them."""
    no_null_defaults(schema)
    schema["allOf"] = [
        {  # operator Exists takes no value
            "not": {
                "required": ["operator", "value"],
                "properties": {"operator": {"const": "Exists"}},
            }
        },
        {  # no key: every taint, so operator Exists
            "anyOf": [
                {"required": ["key"]},
                {"required": ["operator"], "properties": {"operator": {"const": "Exists"}}},
            ]
        },
        {  # tolerationSeconds only with effect NoExecute
            "anyOf": [
                {"not": {"required": ["tolerationSeconds"]}},
                {"required": ["effect"], "properties": {"effect": {"const": "NoExecute"}}},
            ]
        },
    ]


class Toleration(Input):
    """A Kubernetes toleration, as in a pod spec (its field names included)."""

    model_config = ConfigDict(json_schema_extra=_toleration_rules)

    key: Omittable[LabelKey] = Field(None, description="Absent: every taint (operator Exists)")
    operator: Omittable[Literal["Exists", "Equal"]] = Field(None, description="Default Equal")
    value: Omittable[LabelValue] = Field(None, description="Equal only")
    effect: Omittable[Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]] = Field(
        None, description="Absent: every effect"
    )
    tolerationSeconds: Omittable[Int(0, 10**9)] = Field(None, description="NoExecute only")

    @model_validator(mode="after")
    def _consistent(self) -> Toleration:
        exists = self.operator == "Exists"
        if exists and self.value is not None:
            raise ValueError("operator Exists takes no value")
        if self.key is None and not exists:
            raise ValueError("a toleration without a key needs operator Exists")
        if self.tolerationSeconds is not None and self.effect != "NoExecute":
            raise ValueError("tolerationSeconds needs effect NoExecute")
        return self


Tolerations = Annotated[list[Toleration], Field(max_length=MAX_TOLERATIONS)]


class EnvironmentCreate(Input):
    name: EnvName = Field(description="A DNS label, unique in the project")
    node_selector: NodeSelector = Field(default_factory=dict)
    tolerations: Tolerations = Field(default_factory=list)
    auto_add_new_users: bool = Field(
        False, description="Every member who joins the project later gets `User` here"
    )


class EnvironmentPatch(Change):
    """Fields given replace the env's (node_selector and tolerations whole)."""

    name: Omittable[EnvName] = None
    node_selector: Omittable[NodeSelector] = None
    tolerations: Omittable[Tolerations] = None
    auto_add_new_users: Omittable[bool] = None


class Environment(Output):
    id: str
    project_id: str
    name: str
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    auto_add_new_users: bool = False
    created_at: str
    updated_at: str
    version: int


# --- permissions -------------------------------------------------------------------------


class EnvironmentPermissionCreate(Input):
    """`{user_id | bot_id, role}`: a user must be a current member of the project."""

    model_config = ConfigDict(json_schema_extra=user_or_bot)

    user_id: Omittable[Reference] = Field(None, description="A current member of the project")
    bot_id: Omittable[Reference] = None
    role: EnvRole = Field(
        description="Admin: manages the env's permissions and secrets; User: lists its secrets"
    )

    @model_validator(mode="after")
    def _one_principal(self) -> EnvironmentPermissionCreate:
        if (self.user_id is None) == (self.bot_id is None):
            raise ValueError("give exactly one of user_id or bot_id")
        return self


class EnvironmentPermission(Output):
    id: str
    project_id: str
    env_id: str
    user_id: str | None = None
    bot_id: str | None = None
    role: EnvRole
    created_at: str
    version: int


# --- secrets -----------------------------------------------------------------------------

Contents = Annotated[
    SecretStr,
    Field(
        max_length=MAX_SECRET_CHARS,
        description="Write-only: never returned, logged or kept in plaintext",
    ),
]


class SecretCreate(Input):
    collection: Collection = Field(description="The Kubernetes Secret it goes into")
    name: SecretName = Field(description="Its key in that Secret; unique per collection")
    contents: Contents


class SecretPatch(Change):
    name: Omittable[SecretName] = None
    contents: Omittable[Contents] = None


class Secret(Output):
    id: str
    project_id: str
    env_id: str
    collection: str
    name: str
    created_at: str
    updated_at: str
    version: int
