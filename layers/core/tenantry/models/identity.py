from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from tenantry.models.common import Input, Output

PrincipalKind = Literal["user", "bot"]
DisplayName = Field(min_length=1, max_length=128)
# Deliberately simple: one @, a dot in the domain, no spaces. Delivery proves the rest.
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]


class Principal(Output):
    """Who is calling, as the authorizer resolved it."""

    kind: PrincipalKind
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


class UserPatch(Input):
    is_admin: bool | None = None
    is_active: bool | None = None


class User(Output):
    id: str
    created_at: str
    display_name: str
    email: str
    is_admin: bool
    is_active: bool
    version: int


class UserTokenCreate(Input):
    user_id: str


class BotTokenCreate(Input):
    bot_id: str


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


class BotPatch(Input):
    display_name: str | None = Field(None, min_length=1, max_length=128)


class Bot(Output):
    id: str
    created_at: str
    display_name: str
    version: int
