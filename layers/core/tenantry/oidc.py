"""OIDC JWTs as an alternative to API tokens (AWS deployments with an identity provider).

A JWT is accepted when it is signed by a key of the configured issuer's JWKS, its `iss`
is the issuer, its `aud` contains the configured audience and it has not expired. It
identifies a Tenantry user by its `email` claim, which the provider must vouch for:
`email_verified` must be the boolean true (or the string "true", as some providers send
it); a missing or false claim is refused. Identity providers authenticate, Tenantry
authorizes.
PyJWT is imported only here, on the first JWT.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from tenantry.settings import get_settings


class InvalidJwt(Exception):
    pass


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


def enabled() -> bool:
    settings = get_settings()
    return bool(settings.oidc_issuer and settings.oidc_audience)


@cache
def _jwks_client(issuer: str) -> Any:
    import json
    import urllib.request

    import jwt

    config_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    with urllib.request.urlopen(config_url, timeout=3) as resp:  # noqa: S310 - issuer is an https URL from config
        jwks_uri = json.load(resp)["jwks_uri"]
    return jwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=3600)


def verify(token: str) -> dict[str, Any]:
    """The verified claims, or InvalidJwt saying why not."""
    import jwt

    settings = get_settings()
    try:
        key = _jwks_client(settings.oidc_issuer).get_signing_key_from_jwt(token).key
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256", "RS384", "RS512", "ES256", "ES384"],
            audience=settings.oidc_audience,
            issuer=settings.oidc_issuer,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidJwt(f"invalid JWT: {exc}") from exc
    except OSError as exc:
        raise InvalidJwt("the OIDC issuer's keys could not be fetched") from exc
    if not claims.get("email"):
        raise InvalidJwt("the JWT carries no email claim")
    verified = claims.get("email_verified")
    if not (verified is True or verified == "true"):  # not `in (True, ...)`: 1 == True
        raise InvalidJwt("the JWT's email is not verified (email_verified must be true)")
    return claims
