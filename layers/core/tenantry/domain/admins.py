"""Platform admins: the one check every admin-only operation makes. Apart from
tenantry.domain.identity (users, bots, tokens) so that the modules with admin-only
operations (clusters, catalog, gateway, templates) import none of the identity models."""

from __future__ import annotations

from tenantry.errors import Forbidden
from tenantry.models.principal import Principal


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only platform admins may do this")
