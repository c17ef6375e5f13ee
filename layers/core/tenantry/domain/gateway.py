"""API subscriptions (Klustr's console gateway): platform admins keep a catalog of gateway
services, each an API Gateway usage plan with the service's rate, burst and quota
(tenantry.api_gateway); a project's owner and admins enable a service for the project,
which issues the project an API key in that plan, shown once, and disable it, which
revokes the key.

Who (platform admins may do everything, in every project): anyone signed in lists the
enabled services and reads any service (the limits a subscription gets); platform admins
also see disabled ones, their usage plans and subscription counts, and create, change and
delete them. A project's members (any role) list and read its subscriptions, never a key;
its owner and admins ("managers") enable and disable them; anyone else gets 404.

How it stays right when API Gateway and the table are two systems:
- enable issues the key first (named after the subscription, so a retry takes over a key
  an earlier try made), then commits the subscription, the service's count and the
  history entry in one transaction; a commit that fails revokes the key again, unless
  the subscription that won holds it. Enabling twice answers the subscription there is
  (no second key, and the key is not shown again).
- disable revokes the key first, then removes the subscription: a failure in between
  leaves a subscription whose key no longer works, never a working key nobody sees.
- a project's deletion revokes every key of the project (revoke_with_project: the
  subscriptions' and any key an interrupted enable left under the project's name prefix).
- a service's limits go to its usage plan before the table's write; a write that then
  fails puts the plan back to what the table says.
"""

from __future__ import annotations

from typing import Any

from tenantry import api_gateway
from tenantry.api_gateway import ApiGatewayError
from tenantry.clock import new_id, now_iso
from tenantry.dal import gateway as store
from tenantry.dal import history
from tenantry.dal import projects as projects_store
from tenantry.domain import project_access
from tenantry.domain.admins import require_admin
from tenantry.domain.lifecycle import DELETABLE
from tenantry.domain.membership_rules import MANAGER_ROLES
from tenantry.errors import (
    ChangedMeanwhile,
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    ServiceUnavailable,
    TenantryError,
    Unprocessable,
)
from tenantry.models.gateway import (
    GatewayService,
    GatewayServiceCreate,
    GatewayServicePatch,
    GatewayServiceSummary,
    GatewaySubscription,
    GatewaySubscriptionCreated,
)
from tenantry.models.principal import Principal
from tenantry.observability import logger

WRITERS = "only the project's owner and admins and platform admins enable and disable services"
ENABLE_STATUSES = ("active",)
# A key can be revoked in any status but while the project's deletion revokes them all.
DISABLE_STATUSES = DELETABLE
ADMIN_ONLY = ("usage_plan_id", "subscriptions")
PLAN_FIELDS = ("name", "description", "rate_limit", "quota")

retried_when_raced = project_access.retried_when_raced


# --- the catalog ------------------------------------------------------------------------------


def to_service(item: dict[str, Any], principal: Principal) -> GatewayService:
    data = store.public(item)
    if principal.is_admin:
        data.setdefault("subscriptions", 0)
    else:
        data = {k: v for k, v in data.items() if k not in ADMIN_ONLY}
    return GatewayService.model_validate(data)


def _service_or_404(service_id: str, *, consistent: bool = True) -> dict[str, Any]:
    service = store.get_service(service_id, consistent=consistent)
    if service is None:
        raise NotFound(f"gateway service {service_id!r} not found")
    return service


def _refused(exc: ApiGatewayError, what: str) -> TenantryError:
    """API Gateway's refusal as a problem: invalid values are the request's (422); any
    other is a state of API Gateway the platform's admins must look at (409)."""
    if exc.code == "BadRequestException":
        return Unprocessable(f"API Gateway refused {what}: {exc}")
    return Conflict(f"API Gateway refused {what} ({exc.code}); a platform admin has to check it")


def create_service(principal: Principal, body: GatewayServiceCreate) -> GatewayService:
    """The service's usage plan, then the service (a taken name is 409 before the plan is
    made; a write that fails deletes the plan again)."""
    require_admin(principal)
    if store.service_id_by_name(body.name) is not None:
        raise store.name_taken(body.name)
    fields = body.model_dump(mode="json", exclude_none=True)
    service_id, now = new_id(), now_iso()
    try:
        plan_id = api_gateway.create_usage_plan(
            service_id, body.name, body.description, fields["rate_limit"], fields.get("quota")
        )
    except ApiGatewayError as exc:
        raise _refused(exc, "the usage plan") from exc
    service = {
        "id": service_id,
        **fields,
        "usage_plan_id": plan_id,
        "subscriptions": 0,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    try:
        store.create_service(service)
    except BaseException:
        _delete_plan(plan_id)
        raise
    return to_service(service, principal)


def get_service(principal: Principal, service_id: str) -> GatewayService:
    return to_service(_service_or_404(service_id, consistent=False), principal)


def list_services(
    principal: Principal, enabled: bool | None, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[GatewayService], dict[str, Any] | None]:
    """Platform admins: every service, or those `enabled` says. Others: enabled ones only
    (asking for disabled ones finds none)."""
    if not principal.is_admin and enabled is False:
        return [], None
    if principal.is_admin and enabled is None:
        state = None
    else:
        state = "disabled" if enabled is False else "enabled"
    items, last = store.page_services(state, limit, start_key)
    return [to_service(i, principal) for i in items], last


@retried_when_raced
def update_service(
    principal: Principal, service_id: str, body: GatewayServicePatch, expected: int | None
) -> GatewayService:
    require_admin(principal)
    service = _service_or_404(service_id)
    if expected is not None and expected != service["version"]:
        raise PreconditionFailed(f"the gateway service is at version {service['version']}")
    sent = body.model_dump(mode="json", exclude_unset=True)
    remove = tuple(k for k, v in sent.items() if v is None)  # description, quota
    changes = {**{k: v for k, v in sent.items() if v is not None}, "updated_at": now_iso()}
    renamed = "name" in changes and changes["name"].lower() != service["name"].lower()
    if renamed and store.service_id_by_name(changes["name"]) is not None:
        raise store.name_taken(changes["name"])
    wanted = {k: v for k, v in {**service, **changes}.items() if k not in remove}
    plan_changes = any(k in sent for k in PLAN_FIELDS)
    if plan_changes:
        _sync_plan(wanted)
    try:
        written = store.update_service(service, changes, remove, expected)
    except BaseException:
        if plan_changes:  # the plan says what the table says, whatever won
            current = store.get_service(service_id)
            if current is not None:
                _sync_plan(current, quietly=True)
        raise
    return to_service(written, principal)


def _sync_plan(service: dict[str, Any], *, quietly: bool = False) -> None:
    try:
        api_gateway.update_usage_plan(service["usage_plan_id"], service["id"], service)
    except (ApiGatewayError, ServiceUnavailable) as exc:
        if quietly:
            logger.warning(
                "usage plan not put back to the table's limits",
                extra={"service_id": service["id"], "usage_plan_id": service["usage_plan_id"]},
            )
            return
        if isinstance(exc, ApiGatewayError):
            raise _refused(exc, "the usage plan's change") from exc
        raise


def delete_service(principal: Principal, service_id: str, expected: int | None) -> None:
    """The service (only while no project subscribes: 409), then its usage plan."""
    require_admin(principal)
    service = _service_or_404(service_id)
    store.delete_service(service, expected)
    _delete_plan(service["usage_plan_id"])


def _delete_plan(plan_id: str) -> None:
    """A plan no service uses any more; one left behind holds no key, and is logged."""
    try:
        api_gateway.delete_usage_plan(plan_id)
    except (ApiGatewayError, ServiceUnavailable):
        logger.warning("usage plan left behind", extra={"usage_plan_id": plan_id})


# --- a project's subscriptions -------------------------------------------------------------------


def to_subscription(item: dict[str, Any], service: dict[str, Any] | None) -> GatewaySubscription:
    summary = (
        GatewayServiceSummary.model_validate(store.public(service)) if service is not None else None
    )
    return GatewaySubscription.model_validate({**store.public(item), "service": summary})


def _visible(principal: Principal, project_id: str) -> tuple[dict[str, Any], str | None]:
    """The project and the caller's role in it; 404 when the caller may not see it."""
    return project_access.access(principal, project_id)


def _managed(principal: Principal, project_id: str) -> dict[str, Any]:
    project, role = _visible(principal, project_id)
    if not (principal.is_admin or role in MANAGER_ROLES):
        raise Forbidden(WRITERS)
    return project


def _subscription_or_404(project_id: str, service_id: str) -> dict[str, Any]:
    item = store.get_subscription(project_id, service_id)
    if item is None:
        raise NotFound(f"project {project_id!r} has not enabled gateway service {service_id!r}")
    return item


def list_subscriptions(
    principal: Principal, project_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[GatewaySubscription], dict[str, Any] | None]:
    """A page of the project's subscriptions (one Query), with their services as they are
    now (one BatchGetItem)."""
    _visible(principal, project_id)
    items, last = store.page_subscriptions(project_id, limit, start_key)
    services = store.services_by_id([i["service_id"] for i in items]) if items else {}
    return [to_subscription(i, services.get(i["service_id"])) for i in items], last


def get_subscription(principal: Principal, project_id: str, service_id: str) -> GatewaySubscription:
    _visible(principal, project_id)
    item = _subscription_or_404(project_id, service_id)
    return to_subscription(item, store.get_service(service_id, consistent=False))


class _AlreadySubscribed(Conflict):
    """The enable lost to another one: `subscription` is the one that won."""

    def __init__(self, subscription: dict[str, Any]) -> None:
        super().__init__("the project subscribed meanwhile")
        self.subscription = subscription


def _not_enabled_because(project: dict[str, Any]) -> InvalidTransition:
    return InvalidTransition(
        f"the project is {project['status']}; services are enabled only while it is active",
        extra={"current_status": project["status"]},
    )


def _disabled_service(service: dict[str, Any]) -> InvalidTransition:
    return InvalidTransition(
        f"gateway service {service['name']!r} is disabled: no project may enable it"
    )


@retried_when_raced
def enable(
    principal: Principal, project_id: str, service_id: str
) -> tuple[GatewaySubscription, bool]:
    """(the subscription, whether this call made it). A new one carries its key's value,
    once; an existing one is answered as it is."""
    project = _managed(principal, project_id)
    if project["status"] not in ENABLE_STATUSES:
        raise _not_enabled_because(project)
    existing = store.get_subscription(project_id, service_id)
    if existing is not None:
        return to_subscription(existing, store.get_service(service_id, consistent=False)), False
    service = _service_or_404(service_id)
    if not service["enabled"]:
        raise _disabled_service(service)
    plan_id = service["usage_plan_id"]
    try:
        key = api_gateway.issue_key(
            plan_id,
            api_gateway.key_name(project_id, service_id),
            f"Tenantry: project {project_id}, gateway service {service['name']}",
        )
    except ApiGatewayError as exc:
        raise _refused(exc, "the subscription's API key") from exc
    now = now_iso()
    subscription = {
        "project_id": project_id,
        "service_id": service_id,
        "created_at": now,
        "api_key": {"id": key.id, "created_at": now, "last4": key.value[-4:]},
    }
    entry = history.entry(
        project_id,
        project_access.actor(principal),
        "gateway_enabled",
        at=now,
        detail=_detail(subscription, service),
    )
    try:
        store.commit(
            project,
            [*store.subscribe_ops(subscription), entry],
            statuses=ENABLE_STATUSES,
            why_not=lambda now_project: _why_not_enabled(now_project, project_id, service_id),
        )
    except _AlreadySubscribed as lost:
        _revoke_unless_held(project_id, service_id, plan_id, key.id)
        current = store.get_service(service_id, consistent=False)
        return to_subscription(lost.subscription, current), False
    except BaseException:
        _revoke_unless_held(project_id, service_id, plan_id, key.id)
        raise
    created = to_subscription(subscription, service)
    return GatewaySubscriptionCreated(**created.model_dump(), api_key_value=key.value), True


def _why_not_enabled(project: dict[str, Any] | None, project_id: str, service_id: str) -> Exception:
    if project is None:
        return NotFound(f"project {project_id!r} not found")
    if project["status"] not in ENABLE_STATUSES:
        return _not_enabled_because(project)
    existing = store.get_subscription(project_id, service_id)
    if existing is not None:
        return _AlreadySubscribed(existing)
    service = store.get_service(service_id)
    if service is None:
        return NotFound(f"gateway service {service_id!r} not found")
    if not service["enabled"]:
        return _disabled_service(service)
    return ChangedMeanwhile("the project changed meanwhile; retry")


def _revoke_unless_held(project_id: str, service_id: str, plan_id: str, key_id: str) -> None:
    """After a commit that did not happen: revoke the key issued for it, unless the
    subscription there is now holds that very key (another try took it over and won)."""
    current = store.get_subscription(project_id, service_id)
    if current is not None and current["api_key"]["id"] == key_id:
        return
    try:
        api_gateway.revoke_key(plan_id, key_id)
    except (ApiGatewayError, ServiceUnavailable):
        # Named after the subscription: the next enable takes it over, a deletion revokes it.
        logger.warning(
            "API key of a failed enable left for the next try",
            extra={"project_id": project_id, "service_id": service_id, "api_key_id": key_id},
        )


@retried_when_raced
def disable(principal: Principal, project_id: str, service_id: str) -> None:
    """Revoke the subscription's key, then remove the subscription."""
    project = _managed(principal, project_id)
    subscription = _subscription_or_404(project_id, service_id)
    if project["status"] not in DISABLE_STATUSES:
        raise InvalidTransition(
            f"the project is {project['status']}: its deletion revokes its keys",
            extra={"current_status": project["status"]},
        )
    service = store.get_service(service_id)
    plan_id = service["usage_plan_id"] if service else None
    try:
        api_gateway.revoke_key(plan_id, subscription["api_key"]["id"])
    except ApiGatewayError as exc:
        raise _refused(exc, "to revoke the subscription's API key") from exc
    entry = history.entry(
        project_id,
        project_access.actor(principal),
        "gateway_disabled",
        detail=_detail(subscription, service),
    )

    def why_not(now_project: dict[str, Any] | None) -> Exception:
        if now_project is None:
            return NotFound(f"project {project_id!r} not found")
        if now_project["status"] not in DISABLE_STATUSES:
            return InvalidTransition(
                f"the project is {now_project['status']}: its deletion revokes its keys",
                extra={"current_status": now_project["status"]},
            )
        if store.get_subscription(project_id, service_id) is None:
            return NotFound(f"project {project_id!r} disabled {service_id!r} meanwhile")
        return ChangedMeanwhile("the project changed meanwhile; retry")

    store.commit(
        project,
        [*store.unsubscribe_ops(subscription), entry],
        statuses=DISABLE_STATUSES,
        why_not=why_not,
    )


def _detail(subscription: dict[str, Any], service: dict[str, Any] | None) -> dict[str, Any]:
    """What a history entry says of a subscription: never its key."""
    detail = {
        "service_id": subscription["service_id"],
        "api_key_id": subscription["api_key"]["id"],
        "api_key_last4": subscription["api_key"]["last4"],
    }
    if service is not None:
        detail["service_name"] = service["name"]
    return detail


# --- a project's deletion -------------------------------------------------------------------------

PAGE = 100
KEY_SYNC_ROUNDS = 3  # a status that keeps changing under the sync is left to its own events


def keys_follow_project(project_id: str) -> dict[str, int]:
    """Turn the project's subscription keys on while it is active and off otherwise
    (GatewayKeysFunction, on each of its status changes). It reads the project's status as
    it is now, not the event's, so events handled late or out of order converge; when the
    status changed while it worked, it goes round again. A deleted project's keys are
    revoked by its deletion, not here."""
    changed = 0
    for _ in range(KEY_SYNC_ROUNDS):
        project = projects_store.get(project_id)
        if project is None or project["status"] in ("deleting", "deleted"):
            break
        enabled = project["status"] == "active"
        start: dict[str, Any] | None = None
        while True:
            items, start = store.page_subscriptions(project_id, PAGE, start)
            for item in items:
                key = item["api_key"]
                if key.get("enabled", True) == enabled:
                    continue
                if api_gateway.set_key_enabled(key["id"], enabled):
                    changed += store.set_key_enabled(
                        project_id, item["service_id"], key["id"], enabled
                    )
            if not start:
                break
        again = projects_store.get(project_id)
        if again is None or again["status"] == project["status"]:
            break
    return {"keys_changed": changed}


def revoke_with_project(project_id: str) -> dict[str, int]:
    """Revoke every key of a project being deleted (deprovisioning's
    RevokeProjectCredentials): each subscription's key, then the subscription and its
    service's count; then any key still named for the project (an enable interrupted
    between its key and its commit). Safe to repeat: what is gone is skipped, and a
    retried step goes on where the last try stopped."""
    removed = 0
    start: dict[str, Any] | None = None
    while True:
        items, start = store.page_subscriptions(project_id, PAGE, start)
        services = store.services_by_id([i["service_id"] for i in items]) if items else {}
        for item in items:
            plan_id = services.get(item["service_id"], {}).get("usage_plan_id")
            api_gateway.revoke_key(plan_id, item["api_key"]["id"])
            removed += store.remove_subscription(item)
        if not start:
            break
    strays = api_gateway.project_keys(project_id)  # named key id -> service id
    plans = store.services_by_id(list(set(strays.values()))) if strays else {}
    deleted = sum(
        api_gateway.revoke_key(plans.get(service_id, {}).get("usage_plan_id"), key_id)
        for key_id, service_id in strays.items()
    )
    return {"gateway_subscriptions_revoked": removed, "stray_api_keys_deleted": deleted}
