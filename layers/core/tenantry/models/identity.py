from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from tenantry.models.common import Change, Input, Omittable, Output

PrincipalKind = Literal["user", "bot"]
# Who can call at all: people and bots (PrincipalKind), and a cluster's agent (its token
# opens only the agent routes, see tenantry.http CALLERS).
CallerKind = Literal["user", "bot", "agent"]
DisplayName = Field(min_length=1, max_length=128)
# An ASCII address, the same in every regex dialect (no \s): a local part of the
# characters RFC 5322 allows unquoted, @, and a domain of DNS labels with at least one dot.
# Delivery proves the rest. Stored lower case.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
Email = Annotated[str, StringConstraints(to_lower=True, max_length=254, pattern=EMAIL_PATTERN)]


class Principal(Output):
    """Who is calling, as the authorizer resolved it."""

    kind: CallerKind
    id: str
    is_admin: bool = False


class Me(Output):
    kind: PrincipalKind
    id: str
    display_name: str
    email: str | None = None
    is_admin: bool


class ServerInfo(Output):
    version: str


class Health(Output):
    status: Literal["ok"]


class UserCreate(Input):
    email: Email
    display_name: str = DisplayName
    is_admin: bool = False


class UserPatch(Change):
    is_admin: Omittable[bool] = None
    is_active: Omittable[bool] = None


class User(Output):
    id: str
    created_at: str
    display_name: str
    email: str
    is_admin: bool
    is_active: bool
    version: int


class UserTokenCreate(Input):
    user_id: str = Field(min_length=1, max_length=64)


class BotTokenCreate(Input):
    bot_id: str = Field(min_length=1, max_length=64)


class TokenCreated(Output):
    id: str
    created_token: str = Field(description="The secret; shown only in this response")


class UserToken(Output):
    id: str
    user_id: str
    created_at: str
    last_used_at: str | None = None


class BotToken(Output):
    id: str
    bot_id: str
    created_at: str
    last_used_at: str | None = None


class BotCreate(Input):
    display_name: str = DisplayName


class BotPatch(Change):
    display_name: Omittable[Annotated[str, StringConstraints(min_length=1, max_length=128)]] = (
        Field(None)
    )


class Bot(Output):
    id: str
    created_at: str
    display_name: str
    version: int
