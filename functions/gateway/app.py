"""API subscriptions: the catalog of gateway services (platform admins write it, everyone
signed in reads it) and a project's subscriptions to them (its managers enable and disable
them, its members read them). The only route group that calls API Gateway's usage plans
and API keys (tenantry.api_gateway)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from tenantry import idempotency
from tenantry.domain import gateway
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
from tenantry.models.gateway import (
    GatewayService,
    GatewayServiceCreate,
    GatewayServicePatch,
    GatewaySubscription,
    GatewaySubscriptionCreated,
)

app = make_app()

Id = IdPath
ADMINS = "Platform admins; anyone else: 403. "
MANAGERS = "The project's owner and admins and platform admins; other members: 403. "


# --- the catalog ------------------------------------------------------------------------------


@app.get(
    "/gateway-services",
    tags=["gateway"],
    summary="Gateway services, by name: enabled ones (platform admins: all)",
    description="Anyone signed in lists the services projects may enable. Platform admins "
    "see disabled ones too, and may pick a state with `enabled`; for anybody else "
    "`enabled=false` finds nothing.",
    responses=responses(200, Page[GatewayService]),
)
def list_gateway_services(
    limit: Limit = 25,
    cursor: Cursor = None,
    enabled: Annotated[
        bool | None, Query(description="Only enabled (true) or disabled (false) services")
    ] = None,
) -> Page[GatewayService]:
    principal = caller(app)
    return paged(
        GatewayService,
        cursor,
        ("gateway-services", principal.is_admin, enabled),
        lambda key: gateway.list_services(principal, enabled, limit, key),
    )


@app.post(
    "/gateway-services",
    tags=["gateway"],
    summary="Add a gateway service, with its API Gateway usage plan (platform admin)",
    description=ADMINS + "Makes the service's usage plan (`rate_limit`, `quota`) in API "
    "Gateway; attach the service's REST API stages to it (`usage_plan_id`) so that its keys "
    "open them. A taken name (regardless of case) is 409.",
    responses=responses(201, GatewayService, 403, 409, headers=("ETag", "Location")),
)
def create_gateway_service(
    body: GatewayServiceCreate, idempotency_key: IdempotencyKey = None
) -> Response[GatewayService]:
    principal = caller(app)
    return idempotency.created(
        app,
        idempotency_key,
        principal.id,
        body,
        lambda: gateway.create_service(principal, body),
        "/gateway-services",
    )


@app.get(
    "/gateway-services/<serviceId>",
    tags=["gateway"],
    summary="A gateway service and its limits (anyone signed in)",
    description="Disabled ones too: a project that subscribed keeps their limits. "
    "`usage_plan_id` and `subscriptions` are for platform admins (null for others).",
    responses=responses(200, GatewayService, 404, headers=("ETag",)),
)
def get_gateway_service(serviceId: Id) -> Response[GatewayService]:
    service = gateway.get_service(caller(app), serviceId)
    return respond(service, version=service.version)


@app.patch(
    "/gateway-services/<serviceId>",
    tags=["gateway"],
    summary="Change a gateway service: its usage plan follows (platform admin)",
    description=ADMINS + "New limits apply at once to every subscribed project's key. "
    "`enabled: false` stops new subscriptions; existing ones stay until their projects "
    "disable them. A taken name is 409. `If-Match` makes it conditional (412).",
    responses=responses(200, GatewayService, 403, 404, 409, 412, headers=("ETag",)),
)
def update_gateway_service(
    serviceId: Id, body: GatewayServicePatch, if_match: IfMatch = None
) -> Response[GatewayService]:
    service = gateway.update_service(caller(app), serviceId, body, expected_version(if_match))
    return respond(service, version=service.version)


@app.delete(
    "/gateway-services/<serviceId>",
    tags=["gateway"],
    summary="Delete a gateway service and its usage plan (platform admin)",
    description=ADMINS + "409 while projects subscribe to it (`subscriptions`). `If-Match` "
    "makes it conditional (412).",
    responses=responses(204, None, 403, 404, 409, 412, description="Deleted"),
)
def delete_gateway_service(serviceId: Id, if_match: IfMatch = None) -> Response[None]:
    gateway.delete_service(caller(app), serviceId, expected_version(if_match))
    return no_content()


# --- a project's subscriptions -------------------------------------------------------------------


@app.get(
    "/projects/<projectId>/gateway",
    tags=["gateway"],
    summary="The gateway services the project has enabled, with their keys' ids (members)",
    description="By service id. Each with the service as it is now and its API key's id, "
    "creation time and last four characters: never the key.",
    responses=responses(200, Page[GatewaySubscription], 404),
)
def list_gateway_subscriptions(
    projectId: Id, limit: Limit = 25, cursor: Cursor = None
) -> Page[GatewaySubscription]:
    principal = caller(app)
    return paged(
        GatewaySubscription,
        cursor,
        ("project-gateway", projectId),
        lambda key: gateway.list_subscriptions(principal, projectId, limit, key),
    )


@app.get(
    "/projects/<projectId>/gateway/<serviceId>",
    tags=["gateway"],
    summary="The project's subscription to a gateway service and its key's state (members)",
    description="404 when the project has not enabled the service. Never the key.",
    responses=responses(200, GatewaySubscription, 404),
)
def get_gateway_subscription(projectId: Id, serviceId: Id) -> GatewaySubscription:
    return gateway.get_subscription(caller(app), projectId, serviceId)


@app.post(
    "/projects/<projectId>/gateway/<serviceId>",
    tags=["gateway"],
    summary="Enable a gateway service for the project: 201 with its API key, shown once",
    description=MANAGERS + "Issues the project an API key in the service's usage plan: "
    "`api_key_value` is in this response only (Tenantry keeps its id and last four "
    "characters; API Gateway holds it). Enabling an enabled service is 200 with the "
    "subscription as it is: no second key, and the key is not shown again (disable and "
    "enable to get a new one). The project must be active and the service enabled (409).",
    responses={
        **responses(201, GatewaySubscriptionCreated, 403, 404, 409, headers=("Location",)),
        200: {
            "description": "Enabled already: the subscription, without its key",
            "content": {"application/json": {"model": GatewaySubscription}},
        },
    },
)
def enable_gateway_subscription(
    projectId: Id, serviceId: Id
) -> Response[GatewaySubscription | GatewaySubscriptionCreated]:
    subscription, created = gateway.enable(caller(app), projectId, serviceId)
    if not created:
        return respond(subscription)
    return respond(subscription, 201, location=f"/projects/{projectId}/gateway/{serviceId}")


@app.delete(
    "/projects/<projectId>/gateway/<serviceId>",
    tags=["gateway"],
    summary="Disable a gateway service for the project: its API key stops at once",
    description=MANAGERS + "Takes the key out of the service's usage plan and deletes it. "
    "404 when the project has not enabled the service; 409 while the project is being "
    "deleted (its deletion revokes every key).",
    responses=responses(204, None, 403, 404, 409, description="Disabled"),
)
def disable_gateway_subscription(projectId: Id, serviceId: Id) -> Response[None]:
    gateway.disable(caller(app), projectId, serviceId)
    return no_content()


lambda_handler = lambda_handler_for(app)
