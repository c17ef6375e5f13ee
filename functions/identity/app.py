"""Identity routes: health, the caller, users, bots and their API tokens."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from tenantry import __version__, idempotency
from tenantry.domain import identity
from tenantry.http import (
    Cursor,
    IdempotencyKey,
    IdPath,
    IfMatch,
    Limit,
    caller,
    expected_version,
    lambda_handler_for,
    make_app,
    no_content,
    paged,
    respond,
    responses,
)
from tenantry.models.common import Page
from tenantry.models.identity import (
    Bot,
    BotCreate,
    BotPatch,
    BotToken,
    BotTokenCreate,
    Health,
    Me,
    ServerInfo,
    TokenCreated,
    User,
    UserCreate,
    UserPatch,
    UserToken,
    UserTokenCreate,
)
from tenantry.pagination import FILTERED_AFTER_READING

app = make_app()

UserId = IdPath
BotId = IdPath
TokenId = IdPath
CREATED = ("ETag", "Location")
NO_SECRET_REPLAY = (
    "The secret is in `created_token`, in this response only; only its hash is stored. "
    "Not idempotent: replaying a creation would mean storing the secret."
)


@app.get("/health", tags=["meta"], summary="Liveness; no token needed", security=[])
def health() -> Health:
    return Health(status="ok")


@app.get("/auth/me", tags=["identity"], summary="The caller", responses=responses(200, Me))
def get_me() -> Me:
    return identity.me(caller(app))


@app.get(
    "/server/info", tags=["meta"], summary="Server version", responses=responses(200, ServerInfo)
)
def server_info() -> ServerInfo:
    return ServerInfo(version=__version__)


# --- users ----------------------------------------------------------------------------------


@app.post(
    "/users",
    tags=["users"],
    summary="Create a user (platform admin)",
    responses=responses(201, User, 403, 409, headers=CREATED),
)
def create_user(body: UserCreate, idempotency_key: IdempotencyKey = None) -> Response[User]:
    principal = caller(app)
    return idempotency.created(
        app,
        idempotency_key,
        principal.id,
        body,
        lambda: identity.create_user(principal, body),
        "/users",
    )


@app.get(
    "/users",
    tags=["users"],
    summary="List users (platform admin)",
    responses=responses(200, Page[User], 403),
)
def list_users(
    limit: Limit = 25,
    cursor: Cursor = None,
    display_name: Annotated[
        str | None,
        Query(max_length=128, description="Substring of the name. " + FILTERED_AFTER_READING),
    ] = None,
    email: Annotated[
        str | None, Query(max_length=254, description="Exact email (one read by its key)")
    ] = None,
    is_active: Annotated[bool | None, Query(description=FILTERED_AFTER_READING)] = None,
) -> Page[User]:
    principal = caller(app)
    return paged(
        User,
        cursor,
        ("users", display_name, email, is_active),
        lambda key: identity.list_users(
            principal,
            limit,
            key,
            display_name=display_name,
            email=email.lower() if email else None,
            is_active=is_active,
        ),
    )


@app.get(
    "/users/<userId>",
    tags=["users"],
    summary="A user (platform admin or self)",
    responses=responses(200, User, 404, headers=("ETag",)),
)
def get_user(userId: UserId) -> Response[User]:
    user = identity.get_user(caller(app), userId)
    return respond(user, version=user.version)


@app.patch(
    "/users/<userId>",
    tags=["users"],
    summary="Change a user (platform admin); an inactive user's tokens stop working",
    responses=responses(200, User, 403, 404, 412, headers=("ETag",)),
)
def patch_user(userId: UserId, body: UserPatch, if_match: IfMatch = None) -> Response[User]:
    user = identity.patch_user(caller(app), userId, body, expected_version(if_match))
    return respond(user, version=user.version)


# --- user tokens ----------------------------------------------------------------------------


@app.post(
    "/user-tokens",
    tags=["tokens"],
    summary="Create an API token for a user (self or platform admin)",
    description=NO_SECRET_REPLAY,
    responses=responses(201, TokenCreated, 404, headers=("Location",)),
)
def create_user_token(body: UserTokenCreate) -> Response[TokenCreated]:
    token = identity.create_user_token(caller(app), body.user_id)
    return respond(token, 201, location=f"/user-tokens/{token.id}")


@app.get(
    "/user-tokens",
    tags=["tokens"],
    summary="A user's tokens (self; platform admin with user_id)",
    responses=responses(200, Page[UserToken], 403),
)
def list_user_tokens(
    limit: Limit = 25,
    cursor: Cursor = None,
    user_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[UserToken]:
    principal = caller(app)
    return paged(
        UserToken,
        cursor,
        ("user-tokens", user_id or principal.id),
        lambda key: identity.list_user_tokens(principal, user_id, limit, key),
    )


@app.get(
    "/user-tokens/<tokenId>",
    tags=["tokens"],
    summary="A user token (owner or platform admin)",
    responses=responses(200, UserToken, 404),
)
def get_user_token(tokenId: TokenId) -> UserToken:
    return identity.get_user_token(caller(app), tokenId)


@app.delete(
    "/user-tokens/<tokenId>",
    tags=["tokens"],
    summary="Revoke a user token, at once",
    responses=responses(204, None, 404, description="Revoked"),
)
def delete_user_token(tokenId: TokenId) -> Response[None]:
    identity.delete_user_token(caller(app), tokenId)
    return no_content()


# --- bots -----------------------------------------------------------------------------------


@app.post(
    "/bots",
    tags=["bots"],
    summary="Create a bot (platform admin)",
    responses=responses(201, Bot, 403, headers=CREATED),
)
def create_bot(body: BotCreate, idempotency_key: IdempotencyKey = None) -> Response[Bot]:
    principal = caller(app)
    return idempotency.created(
        app,
        idempotency_key,
        principal.id,
        body,
        lambda: identity.create_bot(principal, body),
        "/bots",
    )


@app.get(
    "/bots",
    tags=["bots"],
    summary="List bots (platform admin)",
    responses=responses(200, Page[Bot], 403),
)
def list_bots(limit: Limit = 25, cursor: Cursor = None) -> Page[Bot]:
    principal = caller(app)
    return paged(
        Bot,
        cursor,
        ("bots",),
        lambda key: identity.list_bots(principal, limit, key),
    )


@app.get(
    "/bots/<botId>",
    tags=["bots"],
    summary="A bot (platform admin)",
    responses=responses(200, Bot, 403, 404, headers=("ETag",)),
)
def get_bot(botId: BotId) -> Response[Bot]:
    bot = identity.get_bot(caller(app), botId)
    return respond(bot, version=bot.version)


@app.patch(
    "/bots/<botId>",
    tags=["bots"],
    summary="Rename a bot (platform admin)",
    responses=responses(200, Bot, 403, 404, 412, headers=("ETag",)),
)
def patch_bot(botId: BotId, body: BotPatch, if_match: IfMatch = None) -> Response[Bot]:
    bot = identity.patch_bot(caller(app), botId, body, expected_version(if_match))
    return respond(bot, version=bot.version)


@app.delete(
    "/bots/<botId>",
    tags=["bots"],
    summary="Delete a bot and revoke its tokens (platform admin)",
    responses=responses(204, None, 403, 404, 412, description="Deleted"),
)
def delete_bot(botId: BotId, if_match: IfMatch = None) -> Response[None]:
    identity.delete_bot(caller(app), botId, expected_version(if_match))
    return no_content()


# --- bot tokens -----------------------------------------------------------------------------


@app.post(
    "/bot-tokens",
    tags=["tokens"],
    summary="Create an API token for a bot (platform admin)",
    description=NO_SECRET_REPLAY,
    responses=responses(201, TokenCreated, 403, 404, headers=("Location",)),
)
def create_bot_token(body: BotTokenCreate) -> Response[TokenCreated]:
    token = identity.create_bot_token(caller(app), body.bot_id)
    return respond(token, 201, location=f"/bot-tokens/{token.id}")


@app.get(
    "/bot-tokens",
    tags=["tokens"],
    summary="A bot's tokens (platform admin)",
    responses=responses(200, Page[BotToken], 403),
)
def list_bot_tokens(
    bot_id: Annotated[str, Query(min_length=1, max_length=64)],
    limit: Limit = 25,
    cursor: Cursor = None,
) -> Page[BotToken]:
    principal = caller(app)
    return paged(
        BotToken,
        cursor,
        ("bot-tokens", bot_id),
        lambda key: identity.list_bot_tokens(principal, bot_id, limit, key),
    )


@app.get(
    "/bot-tokens/<tokenId>",
    tags=["tokens"],
    summary="A bot token (platform admin)",
    responses=responses(200, BotToken, 403, 404),
)
def get_bot_token(tokenId: TokenId) -> BotToken:
    return identity.get_bot_token(caller(app), tokenId)


@app.delete(
    "/bot-tokens/<tokenId>",
    tags=["tokens"],
    summary="Revoke a bot token (platform admin)",
    responses=responses(204, None, 403, 404, description="Revoked"),
)
def delete_bot_token(tokenId: TokenId) -> Response[None]:
    identity.delete_bot_token(caller(app), tokenId)
    return no_content()


lambda_handler = lambda_handler_for(app)
