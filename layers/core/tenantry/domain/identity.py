"""Users, bots and their API tokens (Platz-style identity)."""

from __future__ import annotations

from typing import Any

from tenantry import auth
from tenantry.clock import new_id, now_iso
from tenantry.dal import identity as store
from tenantry.dal import keys
from tenantry.domain.admins import require_admin
from tenantry.domain.authn import BOOTSTRAP_ADMIN_EMAIL, BOOTSTRAP_ADMIN_ID
from tenantry.errors import Conflict, Forbidden, NotFound, UnknownReference, Unprocessable
from tenantry.models.identity import (
    Bot,
    BotCreate,
    BotPatch,
    BotToken,
    Me,
    TokenCreated,
    User,
    UserCreate,
    UserPatch,
    UserToken,
)
from tenantry.models.principal import Principal

# Not reachable by an OIDC JWT: see domain.authn.
ADMIN_USER_ID = BOOTSTRAP_ADMIN_ID
ADMIN_EMAIL = BOOTSTRAP_ADMIN_EMAIL


# --- who is calling -------------------------------------------------------------------------


def me(principal: Principal) -> Me:
    if principal.kind == "user":
        user = _user_or_404(principal.id)
        return Me(
            kind="user",
            id=user["id"],
            display_name=user["display_name"],
            email=user["email"],
            is_admin=bool(user["is_admin"]),
        )
    bot = _bot_or_404(principal.id)
    return Me(kind="bot", id=bot["id"], display_name=bot["display_name"], is_admin=False)


# --- users ----------------------------------------------------------------------------------


def create_user(principal: Principal, body: UserCreate) -> User:
    require_admin(principal)
    return User.model_validate(_new_user(body.email, body.display_name, body.is_admin))


def _new_user(
    email: str,
    display_name: str,
    is_admin: bool,
    user_id: str | None = None,
    *,
    oidc_linkable: bool = True,
) -> dict[str, Any]:
    user = new_user_item(email, display_name, is_admin, user_id, oidc_linkable=oidc_linkable)
    store.create_user(user)
    return user


def new_user_item(
    email: str,
    display_name: str,
    is_admin: bool = False,
    user_id: str | None = None,
    *,
    oidc_linkable: bool = True,
) -> dict[str, Any]:
    """A new active user, not yet written (dal/identity.user_ops writes it)."""
    now = now_iso()
    user = {
        "id": user_id or new_id(),
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "display_name": display_name,
        "email": email.lower(),
        "is_admin": is_admin,
        "is_active": True,
    }
    if not oidc_linkable:
        user["oidc_linkable"] = False
    return user


def get_user(principal: Principal, user_id: str) -> User:
    if not principal.is_admin and not (principal.kind == "user" and principal.id == user_id):
        raise NotFound("user not found")
    return User.model_validate(_user_or_404(user_id))


def patch_user(
    principal: Principal, user_id: str, body: UserPatch, expected_version: int | None
) -> User:
    if not principal.is_admin:
        if principal.kind == "user" and principal.id == user_id:
            raise Forbidden("only platform admins may change users")
        raise NotFound("user not found")
    changes = body.model_dump(exclude_none=True)
    # The user and the copies of its flags on its tokens change together (dal/keys.py).
    return User.model_validate(
        store.update_user_flags(user_id, changes, now_iso(), expected_version)
    )


def list_users(
    principal: Principal,
    limit: int,
    start_key: dict[str, Any] | None,
    *,
    display_name: str | None,
    email: str | None,
    is_active: bool | None,
) -> tuple[list[User], dict[str, Any] | None]:
    require_admin(principal)
    if email:
        # Eventually consistent, as every list is (its index is): a filter, not a decision.
        user_id = store.user_id_by_email(email, consistent=False)
        user = store.get_user(user_id, consistent=False) if user_id else None
        matches = (
            user
            and (is_active is None or user["is_active"] == is_active)
            and (not display_name or display_name in user["display_name"])
        )
        return ([User.model_validate(user)] if matches else []), None
    items, key = store.list_users(limit, start_key, display_name=display_name, is_active=is_active)
    return [User.model_validate(i) for i in items], key


def ensure_admin(secret: str) -> None:
    """Make sure a platform admin exists whose API token is exactly `secret` (local run,
    first deployment). Safe to call again."""
    if store.token_by_hash(auth.hash_token(secret)):
        return
    owner, tokens = store.owner_with_tokens("user", ADMIN_USER_ID)
    if not owner:
        _new_user(ADMIN_EMAIL, "Platform admin", True, user_id=ADMIN_USER_ID, oidc_linkable=False)
        owner, tokens = store.owner_with_tokens("user", ADMIN_USER_ID)
    assert owner is not None
    _check_room("user", len(tokens))
    _store_token("user", owner, secret)


# --- bots -----------------------------------------------------------------------------------


def create_bot(principal: Principal, body: BotCreate) -> Bot:
    require_admin(principal)
    now = now_iso()
    bot = {
        "id": new_id(),
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "display_name": body.display_name,
    }
    store.create_bot(bot)
    return Bot.model_validate(bot)


def get_bot(principal: Principal, bot_id: str) -> Bot:
    require_admin(principal)
    return Bot.model_validate(_bot_or_404(bot_id))


def patch_bot(
    principal: Principal, bot_id: str, body: BotPatch, expected_version: int | None
) -> Bot:
    require_admin(principal)
    changes = body.model_dump(exclude_none=True)
    return Bot.model_validate(store.update_bot(bot_id, changes, now_iso(), expected_version))


def delete_bot(principal: Principal, bot_id: str, expected_version: int | None) -> None:
    """Deleting a bot revokes its tokens (the authorizer also refuses a deleted bot's)."""
    require_admin(principal)
    store.delete_bot(bot_id, expected_version)
    for record in store.all_tokens_of("bot", bot_id):  # tokens older than their pointers
        store.delete_token(record)


def list_bots(
    principal: Principal, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Bot], dict[str, Any] | None]:
    require_admin(principal)
    items, key = store.list_bots(limit, start_key)
    return [Bot.model_validate(i) for i in items], key


# --- tokens ---------------------------------------------------------------------------------


def create_user_token(principal: Principal, user_id: str) -> TokenCreated:
    is_self = principal.kind == "user" and principal.id == user_id
    if not (principal.is_admin or is_self):
        raise NotFound("user not found")
    return _issue("user", user_id)


def create_bot_token(principal: Principal, bot_id: str) -> TokenCreated:
    require_admin(principal)
    return _issue("bot", bot_id)


def _issue(kind: keys.PrincipalKind, owner_id: str) -> TokenCreated:
    secret = auth.new_token_secret()
    for _ in range(store.ATTEMPTS):
        owner, tokens = store.owner_with_tokens(kind, owner_id)
        if not owner:
            raise NotFound(f"{kind} not found")
        if kind == "user" and not owner["is_active"]:
            raise UnknownReference(
                "the user is inactive",
                errors=[{"loc": ["body", "user_id"], "msg": "user is inactive"}],
            )
        _check_room(kind, len(tokens))
        try:
            token_id = _store_token(kind, owner, secret)
        except Conflict:
            continue  # a token was created or the owner changed meanwhile: read again
        return TokenCreated(id=token_id, created_token=secret)
    raise Conflict(f"the {kind} changed meanwhile; retry")


def _check_room(kind: str, count: int) -> None:
    """At most MAX_TOKENS_PER_OWNER: changing an owner rewrites all its tokens in one
    transaction."""
    if count >= store.MAX_TOKENS_PER_OWNER:
        raise Conflict(
            f"this {kind} already has {count} tokens (at most {store.MAX_TOKENS_PER_OWNER}); "
            "delete one first"
        )


def _store_token(kind: keys.PrincipalKind, owner: dict[str, Any], secret: str) -> str:
    token_id = new_id()
    store.create_token(
        auth.hash_token(secret),
        {"id": token_id, "owner_kind": kind, "owner_id": owner["id"], "created_at": now_iso()},
        owner,
    )
    return token_id


def list_user_tokens(
    principal: Principal, user_id: str | None, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[UserToken], dict[str, Any] | None]:
    if user_id and user_id != principal.id and not principal.is_admin:
        raise Forbidden("only platform admins may list another user's tokens")
    owner = user_id or principal.id
    if principal.kind != "user" and not user_id:
        raise Forbidden("bots have no user tokens; pass user_id as an admin")
    items, key = store.list_tokens("user", owner, limit, start_key)
    return [_user_token(i) for i in items], key


def list_bot_tokens(
    principal: Principal, bot_id: str | None, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[BotToken], dict[str, Any] | None]:
    require_admin(principal)
    if not bot_id:
        raise Unprocessable(
            "bot_id is required", errors=[{"loc": ["query", "bot_id"], "msg": "required"}]
        )
    items, key = store.list_tokens("bot", bot_id, limit, start_key)
    return [_bot_token(i) for i in items], key


def get_user_token(principal: Principal, token_id: str) -> UserToken:
    return _user_token(_own_token(principal, token_id, "user"))


def delete_user_token(principal: Principal, token_id: str) -> None:
    store.delete_token(_own_token(principal, token_id, "user"))


def get_bot_token(principal: Principal, token_id: str) -> BotToken:
    require_admin(principal)
    return _bot_token(_own_token(principal, token_id, "bot"))


def delete_bot_token(principal: Principal, token_id: str) -> None:
    require_admin(principal)
    store.delete_token(_own_token(principal, token_id, "bot"))


def _own_token(principal: Principal, token_id: str, kind: str) -> dict[str, Any]:
    record = store.token_by_id(token_id)
    visible = (
        record
        and record["owner_kind"] == kind
        and (principal.is_admin or (principal.kind == kind and principal.id == record["owner_id"]))
    )
    if not visible:
        raise NotFound("token not found")
    assert record is not None
    return record


def _user_token(item: dict[str, Any]) -> UserToken:
    return UserToken(
        id=item["id"],
        user_id=item["owner_id"],
        created_at=item["created_at"],
        last_used_at=item.get("last_used_at"),
    )


def _bot_token(item: dict[str, Any]) -> BotToken:
    return BotToken(
        id=item["id"],
        bot_id=item["owner_id"],
        created_at=item["created_at"],
        last_used_at=item.get("last_used_at"),
    )


def _user_or_404(user_id: str) -> dict[str, Any]:
    user = store.get_user(user_id)
    if not user:
        raise NotFound("user not found")
    return user


def _bot_or_404(bot_id: str) -> dict[str, Any]:
    bot = store.get_bot(bot_id)
    if not bot:
        raise NotFound("bot not found")
    return bot
