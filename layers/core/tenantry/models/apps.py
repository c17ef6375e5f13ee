"""A project's apps: its OAuth clients (a public client id, redirect URIs, and a client
secret that is shown once and stored only as a hash)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from tenantry.models.common import Change, Input, Omittable, Output

MAX_REDIRECT_URIS = 20
MAX_REDIRECT_URI_CHARS = 1024

# Where an authorization server may send a user back with a code (RFC 6749 3.1.2, and the
# OAuth 2.0 Security BCP): an absolute https URL, or a loopback http URL for native apps
# (RFC 8252 7.3: 127.0.0.1, [::1] or localhost, any port); never a fragment, user info or
# wildcard. Said entirely in the pattern, so a client (and the fuzzing gate) sees the
# exact rule: a host is DNS labels, a port 1 to 65535 without leading zeros, the path and
# query RFC 3986 characters (percent-escapes well formed).
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_PCHAR = r"([A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})"
REDIRECT_URI_PATTERN = (
    rf"^(https://{_LABEL}(\.{_LABEL})*|http://(127\.0\.0\.1|\[::1\]|localhost))"
    rf"(:{_PORT})?(/{_PCHAR}*)?(\?({_PCHAR}|\?)*)?$"
)
RedirectUri = Annotated[
    str,
    StringConstraints(max_length=MAX_REDIRECT_URI_CHARS, pattern=REDIRECT_URI_PATTERN),
]


def _distinct(uris: list[str]) -> list[str]:
    if len(set(uris)) != len(uris):
        raise ValueError("redirect URIs must be distinct")
    return uris


RedirectUris = Annotated[
    list[RedirectUri],
    Field(
        max_length=MAX_REDIRECT_URIS,
        json_schema_extra={"uniqueItems": True},
        description="Where the authorization server may send users back: https URLs, or "
        "loopback http URLs (http://127.0.0.1, http://[::1], http://localhost, any port) "
        f"for native apps; no fragment; at most {MAX_REDIRECT_URIS}, distinct, each at most "
        f"{MAX_REDIRECT_URI_CHARS} characters. Compared exactly (no wildcards).",
    ),
    AfterValidator(_distinct),
]
AppName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
AppDescription = Annotated[str, StringConstraints(max_length=1024)]


class AppCreate(Input):
    name: AppName = Field(description="Shown to people who authorize the app")
    description: Omittable[AppDescription] = None
    redirect_uris: RedirectUris = Field(default_factory=list)


class AppPatch(Change):
    """Fields given replace the app's (`redirect_uris` whole); `description: null` clears it."""

    name: Omittable[AppName] = None
    description: AppDescription | None = None
    redirect_uris: Omittable[RedirectUris] = None


class App(Output):
    id: str
    project_id: str
    client_id: str = Field(description="The app's public OAuth client id")
    name: str
    description: str | None = None
    redirect_uris: list[str] = Field(default_factory=list)
    created_at: str
    updated_at: str
    secret_created_at: str = Field(description="When the current client secret was made")
    version: int


class AppWithSecret(App):
    client_secret: str | None = Field(
        description="The client secret: shown only in this response, stored only as a hash "
        "(null when an Idempotency-Key replays the creation)"
    )
