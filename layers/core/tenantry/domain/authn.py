"""Who is calling: the authorizer's token resolution. Kept apart from domain.identity so the
authorizer imports no pydantic models (a cold start it does not need)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from tenantry import auth, oidc
from tenantry.clock import now_iso
from tenantry.dal import identity as store
from tenantry.observability import logger
from tenantry.settings import get_settings

# The bootstrap admin (local run, first deployment: domain.identity.ensure_admin) signs in
# with its API token only. Its email is in the reserved `.invalid` TLD (RFC 2606), which no
# identity provider can verify, and the user is marked `oidc_linkable: false`; a JWT that
# resolves to it is refused all the same (admins bootstrapped before carry another email).
# For an OIDC-signed-in admin, create a user with your real email and is_admin: true.
BOOTSTRAP_ADMIN_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://tenantry.dev/users/admin"))
BOOTSTRAP_ADMIN_EMAIL = "admin@tenantry.invalid"


def resolve_token(secret: str) -> tuple[dict[str, Any] | None, str | None]:
    """The authorizer's lookup: (context for the request, or None and why not)."""
    if oidc.looks_like_jwt(secret) and oidc.enabled():
        return _resolve_jwt(secret)
    token_hash = auth.hash_token(secret)
    found = store.token_by_hash(token_hash)
    if not found:
        return None, "unknown or revoked token"
    kind, owner_id = found["owner_kind"], found["owner_id"]
    if "owner_active" in found:
        # One read: the hash item carries its owner's flags, rewritten in the same
        # transaction as the owner (dal/keys.py), so they are never behind it.
        if not found["owner_active"]:
            return None, f"the token's {kind} is inactive"
        is_admin = bool(found["owner_admin"])
    else:  # a token created before the flags were copied: read its owner
        owner_ok, is_admin, why = _legacy_owner(kind, owner_id)
        if not owner_ok:
            return None, why
    if kind != "agent":  # an agent's use is its cluster's last_seen_at (its heartbeats)
        _record_use(found, token_hash)
    return {
        "principal_kind": kind,
        "principal_id": owner_id,
        "is_admin": is_admin,
        "token_id": found["token_id"],
    }, None


def _legacy_owner(kind: str, owner_id: str) -> tuple[bool, bool, str | None]:
    if kind == "user":
        user = store.get_user(owner_id)
        if not user or not user.get("is_active", True):
            return False, False, "the token's user is inactive"
        return True, bool(user.get("is_admin")), None
    if not store.get_bot(owner_id):
        return False, False, "the token's bot no longer exists"
    return True, False, None


def _record_use(found: dict[str, Any], token_hash: str) -> None:
    """Record use at most once a window (most requests then cost no write at all). Never
    the request's failure: a throttled or failed write is logged and the request goes on."""
    older_than = now_iso(-timedelta(seconds=get_settings().token_last_used_resolution_seconds))
    if found.get("last_used_at", "") >= older_than:
        return
    try:
        store.touch_token(token_hash, found["token_id"], now_iso(), older_than)
    except Exception:
        logger.warning("could not record the token's use", exc_info=True)


def _resolve_jwt(token: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        claims = oidc.verify(token)
    except oidc.InvalidJwt as exc:
        return None, str(exc)
    user_id = store.user_id_by_email(str(claims["email"]).lower())
    user = store.get_user(user_id) if user_id else None
    if not user:
        return None, "no Tenantry user has this identity's email"
    if user["id"] == BOOTSTRAP_ADMIN_ID or user.get("oidc_linkable") is False:
        return None, "this user signs in with an API token only, not with an OIDC identity"
    if not user.get("is_active", True):
        return None, "the user is inactive"
    return {
        "principal_kind": "user",
        "principal_id": user["id"],
        "is_admin": bool(user.get("is_admin")),
        "token_id": "oidc",
        "token_expires_at": int(claims["exp"]),  # a realtime connection ends with it
    }, None
