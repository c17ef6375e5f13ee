"""Governance: applications, memberships, orgs, invites, quotas, templates, profiles."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from tenantry.models.common import (
    Change,
    Input,
    Int,
    Omittable,
    Output,
    Reason,
    Reference,
    no_null_defaults,
)
from tenantry.models.principal import Email
from tenantry.models.project_fields import (
    MAX_CLUSTERS,
    MAX_ENVIRONMENTS,
    MAX_RESOURCES,
    Capacity,
    ClusterQuota,
    EnvName,
    MaxMembers,
    Policy,
    ProjectId,
    ResourceName,
    Url,
)

ProjectRole = Literal["owner", "admin", "member", "viewer"]
GrantableRole = Literal["admin", "member", "viewer"]
OrgRole = Literal["owner", "admin", "member"]
MembershipState = Literal[
    "requested", "accepted", "leave_requested", "rejected", "cancelled", "removed"
]
MembershipActionName = Literal["accept", "reject", "remove", "leave", "cancel"]
ApplicationState = Literal["pending", "approved", "replaced", "denied", "dismissed", "cancelled"]
ApplicationType = Literal["create", "modify"]
InviteStatus = Literal["pending", "accepted", "revoked", "expired"]

MAX_INVITE_DAYS = 30


# --- applications -----------------------------------------------------------------------------


class Application(Output):
    id: str
    project_id: str
    type: ApplicationType
    state: ApplicationState
    applicant_id: str
    owner_id: str
    name: str
    changes: dict[str, Any] = Field(default_factory=dict, description="What approval applies")
    comments: str | None = None
    reason: str | None = Field(None, description="Why it was denied, cancelled or replaced")
    decided_by: str | None = None
    created_at: str
    updated_at: str


# --- memberships -----------------------------------------------------------------------------


def _one_of_the_three_shapes(schema: dict[str, Any]) -> None:
    """join names nobody; enroll names exactly one of user_id or email. Said in the schema
    (oneOf), so a client sees the rule the server applies in `_who` below."""
    no_null_defaults(schema)
    schema["oneOf"] = [
        {
            "title": "join",
            "properties": {"action": {"const": "join"}},
            "not": {"anyOf": [{"required": [f]} for f in ("user_id", "email", "role")]},
        },
        {
            "title": "enroll a user",
            "properties": {"action": {"const": "enroll"}},
            "required": ["user_id"],
            "not": {"required": ["email"]},
        },
        {
            "title": "enroll by email",
            "properties": {"action": {"const": "enroll"}},
            "required": ["email"],
            "not": {"required": ["user_id"]},
        },
    ]


class MembershipCreate(Input):
    """`{project_id, action: "join"}` for the caller, or `{project_id, action: "enroll",
    user_id | email, role?}` by the project's owner or admins."""

    model_config = ConfigDict(json_schema_extra=_one_of_the_three_shapes)

    project_id: ProjectId
    action: Literal["join", "enroll"]
    user_id: Omittable[Reference] = Field(None, description="enroll: the user, or give email")
    email: Omittable[Email] = Field(
        None,
        description="enroll: invite this address instead of giving user_id. The answer is "
        "202 with the invite, the same whether the address has an account or not; the "
        "membership exists once the invitee accepts (POST /invites/{inviteId}/accept)",
    )
    role: Omittable[GrantableRole] = Field(None, description="enroll only; default member")

    @model_validator(mode="after")
    def _who(self) -> MembershipCreate:
        named = [f for f in ("user_id", "email", "role") if getattr(self, f) is not None]
        if self.action == "join" and named:
            raise ValueError("join is for the caller: give no user_id, email or role")
        if self.action == "enroll" and (self.user_id is None) == (self.email is None):
            raise ValueError("enroll needs exactly one of user_id or email")
        return self


class MembershipAction(Input):
    action: MembershipActionName
    reason: Omittable[Reason] = Field(None)


class Membership(Output):
    id: str
    project_id: str
    user_id: str
    state: MembershipState
    role: ProjectRole
    allowed_actions: list[MembershipActionName] = Field(
        description="What the caller may do to this membership now"
    )
    created_at: str
    updated_at: str


class Member(Output):
    user_id: str
    role: ProjectRole
    state: MembershipState


class ProjectUser(Output):
    """A person of the project (a current member) as the console's members page shows them."""

    user_id: str
    display_name: str | None = Field(
        description="The user's display name (null only if their record cannot be read)"
    )
    role: ProjectRole
    state: MembershipState = Field(description="accepted, or leave_requested")
    membership_id: str
    is_active: bool | None = Field(
        description="False when a platform admin has deactivated the user (null as display_name)"
    )


# --- orgs and invites ---------------------------------------------------------------------------


class OrgCreate(Input):
    name: str = Field(min_length=1, max_length=128)


class Org(Output):
    id: str
    name: str
    created_by: str
    created_at: str


class OrgMember(Output):
    user_id: str
    role: OrgRole
    created_at: str


class InvitesCreate(Input):
    emails: list[Email] = Field(min_length=1, max_length=50)
    roles: list[GrantableRole] = Field(min_length=1, max_length=3)
    expire_days: Int(1, MAX_INVITE_DAYS) = 7
    secure: bool = Field(False, description="Require a one-time code, shown to the inviter once")

    @field_validator("emails", "roles")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))


class OrgInvitesCreate(InvitesCreate):
    """An org grants admin or member (an org has no viewers)."""

    roles: list[Literal["admin", "member"]] = Field(min_length=1, max_length=2)


class Invite(Output):
    id: str
    email: str
    scope: Literal["org", "project"]
    target_id: str
    roles: list[str]
    status: InviteStatus
    expires_at: str
    created_at: str
    invited_by: str
    secure: bool = False
    code: str | None = Field(
        None,
        description="Secure invites: in the creating response (and its replay to a retry "
        "with the same Idempotency-Key) only",
    )
    version: int = Field(description="1 when created; one more when accepted or revoked")


class InviteAccept(Input):
    code: Omittable[Annotated[str, StringConstraints(max_length=128)]] = Field(
        None, description="Secure invites only"
    )


# --- quotas, templates, profiles ---------------------------------------------------------------


class Quota(Output):
    limit: int | None = Field(description="The project's capacity; null when unlimited")
    usage: int
    member_limit: int | None = Field(
        None, description="Each member's capacity (member_capacity); null when unlimited"
    )
    member_usage: dict[str, int] = Field(
        default_factory=dict,
        description="What each member (user id) holds of a resource allocated per member. "
        "Nothing is allocated per member yet (members count per project): always empty.",
    )


class TemplateCreate(Input):
    name: str = Field(min_length=1, max_length=128)
    description: str = Field("", max_length=2048)
    environments: list[EnvName] = Field(
        default_factory=list, max_length=MAX_ENVIRONMENTS, json_schema_extra={"uniqueItems": True}
    )
    clusters: list[ClusterQuota] = Field(default_factory=list, max_length=MAX_CLUSTERS)
    join_policy: Omittable[Policy] = None
    leave_policy: Omittable[Policy] = None
    max_members: MaxMembers | None = None
    resources: dict[ResourceName, Capacity] = Field(default_factory=dict, max_length=MAX_RESOURCES)
    approval: Literal["auto", "moderated"] = "auto"

    @field_validator("environments")
    @classmethod
    def _unique_envs(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("environment names must be unique")
        return v


class Template(Output):
    id: str
    name: str
    description: str = ""
    environments: list[str] = Field(default_factory=list)
    clusters: list[dict[str, Any]] = Field(default_factory=list)
    join_policy: Policy | None = None
    leave_policy: Policy | None = None
    max_members: int | None = None
    resources: dict[str, dict[str, int]] = Field(default_factory=dict)
    approval: Literal["auto", "moderated"]
    created_at: str
    version: int = Field(description="Always 1 (a template does not change); its ETag")


class Profile(Output):
    id: str
    name: str
    description: str = ""
    homepage: str | None = None
    owner_display_name: str


class ProfileUpdate(Change):
    description: str | None = Field(None, max_length=2048)
    homepage: Url | None = None
