"""OIDC JWTs: signature, issuer, audience, expiry and the email → user mapping."""

import time
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tenantry import oidc
from tenantry.domain import authn as identity
from tenantry.settings import get_settings

ISSUER = "https://idp.example.com"
AUDIENCE = "tenantry"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
USER = {"id": "u-1", "email": "ann@example.com", "is_admin": False, "is_active": True}


@pytest.fixture(autouse=True)
def configured(monkeypatch):
    monkeypatch.setenv("OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("OIDC_AUDIENCE", AUDIENCE)
    get_settings.cache_clear()
    monkeypatch.setattr(
        oidc,
        "_jwks_client",
        lambda issuer: SimpleNamespace(
            get_signing_key_from_jwt=lambda token: SimpleNamespace(key=KEY.public_key())
        ),
    )
    users = {USER["id"]: dict(USER)}
    monkeypatch.setattr(
        identity.store, "user_id_by_email", lambda e: "u-1" if e == USER["email"] else None
    )
    monkeypatch.setattr(identity.store, "get_user", users.get)
    yield users
    get_settings.cache_clear()


def token(key=KEY, **overrides):
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 300,
        "sub": "x",
        "email": "Ann@example.com",
        "email_verified": True,
        **overrides,
    }
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="RS256")


def test_valid_jwt_resolves_to_the_user_with_that_email():
    expires = int(time.time()) + 300
    ctx, why = identity.resolve_token(token(exp=expires))
    assert why is None
    assert ctx == {
        "principal_kind": "user",
        "principal_id": "u-1",
        "is_admin": False,
        "token_id": "oidc",
        "token_expires_at": expires,  # a realtime connection ends with the JWT
    }


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"iss": "https://evil.example.com"}, "issuer"),
        ({"aud": "someone-else"}, "Audience"),
        ({"exp": int(time.time()) - 10}, "expired"),
        ({"email": None}, "email"),
        ({"email_verified": False}, "not verified"),
        ({"email_verified": None}, "not verified"),  # missing: the provider did not vouch
        ({"email_verified": "false"}, "not verified"),
        ({"email_verified": 1}, "not verified"),  # only true or "true", not truthy values
        ({"email_verified": "yes"}, "not verified"),
        ({"email": "nobody@example.com"}, "no Tenantry user"),
    ],
)
def test_bad_jwts_are_refused_with_a_reason(overrides, needle):
    ctx, why = identity.resolve_token(token(**overrides))
    assert ctx is None and needle in why


def test_signature_by_another_key_is_refused():
    ctx, why = identity.resolve_token(token(key=OTHER_KEY))
    assert ctx is None and "signature" in why.lower()


def test_inactive_user_is_refused(configured):
    configured["u-1"]["is_active"] = False
    ctx, why = identity.resolve_token(token())
    assert ctx is None and "inactive" in why


def test_email_verified_as_the_string_true_is_accepted():
    ctx, why = identity.resolve_token(token(email_verified="true"))
    assert why is None and ctx["principal_id"] == "u-1"


def test_the_bootstrap_admin_cannot_be_reached_by_a_jwt(monkeypatch, configured):
    """Even an IdP that asserts the bootstrap admin's email (or the email an older
    deployment gave it) gets no admin session: that user signs in with its API token."""
    admin = {
        "id": identity.BOOTSTRAP_ADMIN_ID,
        "email": "admin@tenantry.local",
        "is_admin": True,
        "is_active": True,
    }
    configured[admin["id"]] = admin
    monkeypatch.setattr(identity.store, "user_id_by_email", lambda e: admin["id"])
    ctx, why = identity.resolve_token(token(email="admin@tenantry.local"))
    assert ctx is None and "API token only" in why


def test_a_user_marked_not_oidc_linkable_is_refused(configured):
    configured["u-1"]["oidc_linkable"] = False
    ctx, why = identity.resolve_token(token())
    assert ctx is None and "API token only" in why
