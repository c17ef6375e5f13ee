"""API Gateway usage plans and API keys (REST APIs' metering), behind which Tenantry's API
subscriptions live (tenantry.domain.gateway): one usage plan per gateway service (its rate,
burst and quota), one API key per (project, service) subscription, attached to the
service's plan. API Gateway holds the keys' values; Tenantry keeps a key's id and its last
four characters only.

Every call here is safe to repeat, because the callers (an API request, a workflow step)
are retried:
- a key is named after its subscription (key_name), and issuing one first looks for a
  key of that name: a retry after a crash between the key's creation and the
  subscription's commit takes that key over instead of leaving a working key nobody
  knows about;
- revoking or deleting what is already gone is done (False), never an error.

Throttling and API Gateway's own failures are ServiceUnavailable (503 with Retry-After on
a route; retried by name in the workflows); any other refusal is ApiGatewayError, with
API Gateway's code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from tenantry.errors import ServiceUnavailable

TRANSIENT = {
    "TooManyRequestsException",
    "LimitExceededException",  # API Gateway's 429: its control plane's rate limit
    "ServiceUnavailableException",
    "InternalFailure",
    "RequestTimeout",
    "ThrottlingException",
}
KEY_NAME_PREFIX = "tenantry/"
KEYS_PAGE = 500  # GetApiKeys' largest page


class ApiGatewayError(Exception):
    """API Gateway refused; retrying will not help."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class IssuedKey:
    id: str
    value: str
    adopted: bool  # found under its subscription's name (made by an earlier try)


@cache
def _client() -> Any:
    import boto3

    return boto3.client("apigateway")


@contextmanager
def _mapped(action: str, *, missing_ok: bool = False) -> Iterator[list[bool]]:
    """API Gateway's errors as ours. With `missing_ok`, a NotFoundException is no error:
    the yielded list then holds False (what the caller reports as "was not there")."""
    from botocore.exceptions import BotoCoreError, ClientError

    found = [True]
    try:
        yield found
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if missing_ok and code == "NotFoundException":
            found[0] = False
            return
        if code in TRANSIENT or status >= 500:
            raise ServiceUnavailable(
                f"{action}: API Gateway is busy ({code}); retry", headers={"Retry-After": "1"}
            ) from exc
        raise ApiGatewayError(f"{action}: {code}: {error.get('Message', exc)}", code) from exc
    except BotoCoreError as exc:
        raise ServiceUnavailable(
            f"{action}: API Gateway did not answer; retry", headers={"Retry-After": "1"}
        ) from exc


# --- usage plans (one per gateway service) -----------------------------------------------------


def _throttle(rate_limit: dict[str, Any]) -> dict[str, Any]:
    return {"rateLimit": float(rate_limit["rate"]), "burstLimit": int(rate_limit["burst"])}


def _quota(quota: dict[str, Any]) -> dict[str, Any]:
    return {"limit": int(quota["limit"]), "period": quota["period"]}


def plan_description(service_id: str, description: str | None) -> str:
    text = f"Tenantry gateway service {service_id}"
    return f"{text}: {description}" if description else text


def create_usage_plan(
    service_id: str,
    name: str,
    description: str | None,
    rate_limit: dict[str, Any],
    quota: dict[str, Any] | None,
) -> str:
    """A usage plan with the service's limits; its id."""
    kwargs: dict[str, Any] = {
        "name": name,
        "description": plan_description(service_id, description),
        "throttle": _throttle(rate_limit),
    }
    if quota:
        kwargs["quota"] = _quota(quota)
    with _mapped("create usage plan"):
        plan = _client().create_usage_plan(**kwargs)
    return str(plan["id"])


def update_usage_plan(plan_id: str, service_id: str, service: dict[str, Any]) -> None:
    """Make the plan say what the service says now (name, description, rate, burst,
    quota): one UpdateUsagePlan, whatever changed, so a repeat or a later call converges."""
    ops = [
        {"op": "replace", "path": "/name", "value": service["name"]},
        {
            "op": "replace",
            "path": "/description",
            "value": plan_description(service_id, service.get("description")),
        },
    ]
    rate = service["rate_limit"]  # whole numbers (models/gateway.py): "10", never "10.0"
    ops += [
        {"op": "replace", "path": "/throttle/rateLimit", "value": str(int(rate["rate"]))},
        {"op": "replace", "path": "/throttle/burstLimit", "value": str(int(rate["burst"]))},
    ]
    quota = service.get("quota")
    if quota:
        ops += [
            {"op": "replace", "path": "/quota/limit", "value": str(int(quota["limit"]))},
            {"op": "replace", "path": "/quota/period", "value": quota["period"]},
        ]
    else:
        ops.append({"op": "remove", "path": "/quota"})
    with _mapped("update usage plan"):
        _client().update_usage_plan(usagePlanId=plan_id, patchOperations=ops)


def delete_usage_plan(plan_id: str) -> bool:
    """Delete the plan, first detaching the API stages an admin attached to it (API
    Gateway refuses to delete a plan that has some). False if there was none."""
    with _mapped("read usage plan", missing_ok=True) as found:
        plan = _client().get_usage_plan(usagePlanId=plan_id)
    if not found[0]:
        return False
    stages = [f"{s['apiId']}:{s['stage']}" for s in plan.get("apiStages") or []]
    if stages:
        ops = [{"op": "remove", "path": "/apiStages", "value": s} for s in stages]
        with _mapped("detach the usage plan's API stages"):
            _client().update_usage_plan(usagePlanId=plan_id, patchOperations=ops)
    with _mapped("delete usage plan", missing_ok=True) as found:
        _client().delete_usage_plan(usagePlanId=plan_id)
    return found[0]


# --- API keys (one per subscription) ------------------------------------------------------------


def key_name(project_id: str, service_id: str) -> str:
    """The name of a subscription's key: what a retried issue finds, and a project's
    deletion sweeps (project ids hold no `/`)."""
    return f"{KEY_NAME_PREFIX}{project_id}/{service_id}"


def project_key_prefix(project_id: str) -> str:
    return f"{KEY_NAME_PREFIX}{project_id}/"


def _keys_named(prefix: str, *, values: bool) -> list[dict[str, Any]]:
    """Every API key whose name starts with `prefix` (GetApiKeys' name query, then the
    exact prefix checked here whatever the query matched)."""
    out: list[dict[str, Any]] = []
    position: str | None = None
    while True:
        kwargs: dict[str, Any] = {"nameQuery": prefix, "includeValues": values, "limit": KEYS_PAGE}
        if position:
            kwargs["position"] = position
        with _mapped("list API keys"):
            page = _client().get_api_keys(**kwargs)
        out += [k for k in page.get("items", []) if str(k.get("name", "")).startswith(prefix)]
        position = page.get("position")
        if not position:
            return out


def issue_key(plan_id: str, name: str, description: str) -> IssuedKey:
    """An enabled API key named `name` in the usage plan: the one an earlier try made
    under that name, or a new one (API Gateway makes its value)."""
    existing = [k for k in _keys_named(name, values=True) if k.get("name") == name]
    if existing:
        found = existing[0]
        key = IssuedKey(str(found["id"]), str(found["value"]), adopted=True)
        if not found.get("enabled", True):
            with _mapped("enable API key"):
                _client().update_api_key(
                    apiKey=key.id,
                    patchOperations=[{"op": "replace", "path": "/enabled", "value": "true"}],
                )
    else:
        with _mapped("create API key"):
            made = _client().create_api_key(name=name, description=description, enabled=True)
        key = IssuedKey(str(made["id"]), str(made["value"]), adopted=False)
    try:
        with _mapped("add API key to usage plan"):
            _client().create_usage_plan_key(usagePlanId=plan_id, keyId=key.id, keyType="API_KEY")
    except ApiGatewayError as exc:
        if exc.code != "ConflictException":  # in the plan already (an earlier try)
            if not key.adopted:
                revoke_key(plan_id, key.id)
            raise
    return key


def revoke_key(plan_id: str | None, key_id: str) -> bool:
    """Take the key out of its usage plan and delete it: it stops working. False if it
    was gone already."""
    if plan_id:
        with _mapped("remove API key from usage plan", missing_ok=True):
            _client().delete_usage_plan_key(usagePlanId=plan_id, keyId=key_id)
    with _mapped("delete API key", missing_ok=True) as found:
        _client().delete_api_key(apiKey=key_id)
    return found[0]


def set_key_enabled(key_id: str, enabled: bool) -> bool:
    """Turn the key on or off: it keeps its value and its usage plan, and API Gateway
    refuses it while off. False if the key is gone."""
    action = "enable API key" if enabled else "disable API key"
    with _mapped(action, missing_ok=True) as found:
        _client().update_api_key(
            apiKey=key_id,
            patchOperations=[
                {"op": "replace", "path": "/enabled", "value": "true" if enabled else "false"}
            ],
        )
    return found[0]


def project_keys(project_id: str) -> dict[str, str]:
    """Every key made for the project's subscriptions, recorded or not: the service id its
    name holds, by key id."""
    prefix = project_key_prefix(project_id)
    return {
        str(k["id"]): str(k["name"]).removeprefix(prefix) for k in _keys_named(prefix, values=False)
    }
