"""Users, bots and their tokens: the identity routes' models (who is calling: models.principal)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from tenantry.models.common import Change, Input, Omittable, Output
from tenantry.models.principal import DisplayName, Email, PrincipalKind


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
