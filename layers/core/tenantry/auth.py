"""API token secrets and their hashes. A secret is shown once, at creation; the table only
ever holds its SHA-256 (a 256-bit random secret needs no slow hash or salt)."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "tnt_"


def new_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 4096:
        return None
    return value
