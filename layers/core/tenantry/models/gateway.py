"""API subscriptions: the platform's catalog of gateway services (each an API Gateway usage
plan: rate, burst, quota) and a project's subscriptions to them (each an API key in that
plan, shown once)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from tenantry.models.common import Change, Input, Int, Omittable, Output

MAX_RATE = 10_000  # requests per second: API Gateway's default account-level rate
MAX_BURST = 5_000  # API Gateway's default account-level burst
MAX_QUOTA = 2_000_000_000  # requests per period: API Gateway keeps it as a 32-bit integer

# Shown in consoles (and as the usage plan's name): printable, at most 128 characters.
ServiceName = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")
]
ServiceDescription = Annotated[
    str, StringConstraints(max_length=1024, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")
]
QuotaPeriod = Literal["DAY", "WEEK", "MONTH"]


class GatewayRateLimit(Input):
    """What each subscribing project may send (API Gateway's token bucket, per API key)."""

    rate: Int(1, MAX_RATE) = Field(description="Steady requests per second")
    burst: Int(1, MAX_BURST) = Field(description="Requests accepted at once above the rate")


class GatewayQuota(Input):
    """How many requests each subscribing project may send per period."""

    limit: Int(1, MAX_QUOTA) = Field(description="Requests per period")
    period: QuotaPeriod = Field(description="The period, starting at 00:00 UTC")


class GatewayServiceCreate(Input):
    name: ServiceName = Field(description="Unique regardless of case")
    description: Omittable[ServiceDescription] = None
    rate_limit: GatewayRateLimit
    quota: Omittable[GatewayQuota] = Field(None, description="No quota: no limit per period")
    enabled: bool = Field(True, description="Whether projects may subscribe to it")


class GatewayServicePatch(Change):
    """Fields given replace the service's; `description: null` clears it, `quota: null`
    removes the quota. The usage plan follows at once, for every subscribed project."""

    name: Omittable[ServiceName] = None
    description: ServiceDescription | None = None
    rate_limit: Omittable[GatewayRateLimit] = None
    quota: GatewayQuota | None = None
    enabled: Omittable[bool] = Field(
        None,
        description="false: no project may subscribe any more; existing subscriptions stay",
    )


class GatewayServiceSummary(Output):
    id: str
    name: str
    description: str | None = None
    rate_limit: GatewayRateLimit
    quota: GatewayQuota | None = None
    enabled: bool


class GatewayService(GatewayServiceSummary):
    created_at: str
    updated_at: str
    version: int
    usage_plan_id: str | None = Field(
        None,
        description="The API Gateway usage plan holding the subscriptions' keys; attach the "
        "service's REST API stages to it (platform admins only; null for others)",
    )
    subscriptions: int | None = Field(
        None, description="How many projects subscribe (platform admins only; null for others)"
    )


class GatewayKey(Output):
    """The subscription's API key as Tenantry knows it: never its value."""

    id: str = Field(description="The API Gateway API key's id")
    created_at: str
    last4: str = Field(description="The key's last four characters, to tell keys apart")
    enabled: bool = Field(
        True,
        description="Whether API Gateway accepts the key: only while the project is active "
        "(suspending or terminating the project turns its keys off, unsuspending or "
        "reinstating it turns them on again, within moments)",
    )


class GatewaySubscription(Output):
    project_id: str
    service_id: str
    service: GatewayServiceSummary | None = Field(
        description="The service as it is now (its limits apply to the key)"
    )
    created_at: str = Field(description="When the project enabled the service")
    api_key: GatewayKey


class GatewaySubscriptionCreated(GatewaySubscription):
    api_key_value: str = Field(
        description="The API key: send it as the `x-api-key` header to the service. Shown "
        "only in this response; Tenantry does not keep it"
    )
