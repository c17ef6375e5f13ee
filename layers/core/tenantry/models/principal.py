"""Who is calling (Principal, as the authorizer resolved it), and the identity field types
other models share: a person's email and display name.

Every route module needs Principal. Apart from tenantry.models.identity (users, bots,
tokens: the identity routes' models) so that importing it builds none of those."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from tenantry.models.common import Output

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
