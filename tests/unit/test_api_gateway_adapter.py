"""tenantry/api_gateway.py on API Gateway's answers that moto does not give: throttling and
server errors are ServiceUnavailable (503 with Retry-After, retried by the workflows), any
other refusal ApiGatewayError with its code, and "not found" on a revocation is done."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from botocore.stub import Stubber

from tenantry import api_gateway
from tenantry.api_gateway import ApiGatewayError
from tenantry.errors import ServiceUnavailable

PLAN = {
    "name": "n",
    "description": "Tenantry gateway service s",
    "throttle": {"rateLimit": 1.0, "burstLimit": 2},
}


@pytest.fixture
def stub() -> Iterator[Stubber]:
    import boto3

    client = boto3.client(
        "apigateway",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    with Stubber(client) as stubber, mock.patch.object(api_gateway, "_client", lambda: client):
        yield stubber
        stubber.assert_no_pending_responses()


def _create(stub: Stubber) -> str:
    return api_gateway.create_usage_plan("s", "n", None, {"rate": 1, "burst": 2}, None)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("TooManyRequestsException", 429),
        ("LimitExceededException", 429),
        ("ServiceUnavailableException", 503),
        ("InternalFailure", 500),
    ],
)
def test_busy_is_service_unavailable(stub: Stubber, code: str, status: int) -> None:
    stub.add_client_error("create_usage_plan", code, "busy", status, expected_params=PLAN)
    with pytest.raises(ServiceUnavailable) as caught:
        _create(stub)
    assert caught.value.headers == {"Retry-After": "1"}
    assert caught.value.status == 503 and code in caught.value.detail


@pytest.mark.parametrize(
    ("code", "status"), [("BadRequestException", 400), ("AccessDeniedException", 403)]
)
def test_a_refusal_is_an_api_gateway_error_with_its_code(
    stub: Stubber, code: str, status: int
) -> None:
    stub.add_client_error("create_usage_plan", code, "no", status, expected_params=PLAN)
    with pytest.raises(ApiGatewayError) as caught:
        _create(stub)
    assert caught.value.code == code


def test_revoking_what_is_gone_is_done(stub: Stubber) -> None:
    stub.add_client_error(
        "delete_usage_plan_key",
        "NotFoundException",
        "gone",
        404,
        expected_params={"usagePlanId": "p1", "keyId": "k1"},
    )
    stub.add_client_error(
        "delete_api_key", "NotFoundException", "gone", 404, expected_params={"apiKey": "k1"}
    )
    assert api_gateway.revoke_key("p1", "k1") is False


def test_a_revocation_that_is_refused_says_so(stub: Stubber) -> None:
    stub.add_response("delete_usage_plan_key", {}, {"usagePlanId": "p1", "keyId": "k1"})
    stub.add_client_error(
        "delete_api_key", "AccessDeniedException", "no", 403, expected_params={"apiKey": "k1"}
    )
    with pytest.raises(ApiGatewayError):
        api_gateway.revoke_key("p1", "k1")


def test_a_new_key_the_plan_refuses_is_deleted_again(stub: Stubber) -> None:
    """The service's usage plan is gone (deleted outside Tenantry): the key made for it is
    not left behind, and the refusal is the caller's to report."""
    name = api_gateway.key_name("proj", "svc")
    stub.add_response(
        "get_api_keys",
        {"items": []},
        {"nameQuery": name, "includeValues": True, "limit": api_gateway.KEYS_PAGE},
    )
    stub.add_response(
        "create_api_key",
        {"id": "k1", "value": "v" * 40, "name": name},
        {"name": name, "description": "d", "enabled": True},
    )
    stub.add_client_error(
        "create_usage_plan_key",
        "NotFoundException",
        "Invalid Usage Plan ID specified",
        404,
        expected_params={"usagePlanId": "p1", "keyId": "k1", "keyType": "API_KEY"},
    )
    stub.add_client_error(
        "delete_usage_plan_key",
        "NotFoundException",
        "gone",
        404,
        expected_params={"usagePlanId": "p1", "keyId": "k1"},
    )
    stub.add_response("delete_api_key", {}, {"apiKey": "k1"})
    with pytest.raises(ApiGatewayError) as caught:
        api_gateway.issue_key("p1", name, "d")
    assert caught.value.code == "NotFoundException"


def test_a_disabled_key_of_an_earlier_try_is_enabled_and_taken_over(stub: Stubber) -> None:
    name = api_gateway.key_name("proj", "svc")
    other: dict[str, Any] = {"id": "k0", "value": "w" * 40, "name": name + "-not-this-one"}
    earlier = {"id": "k1", "value": "v" * 40, "name": name, "enabled": False}
    stub.add_response(
        "get_api_keys",
        {"items": [other, earlier], "position": "next"},
        {"nameQuery": name, "includeValues": True, "limit": api_gateway.KEYS_PAGE},
    )
    stub.add_response(
        "get_api_keys",
        {"items": []},
        {
            "nameQuery": name,
            "includeValues": True,
            "limit": api_gateway.KEYS_PAGE,
            "position": "next",
        },
    )
    stub.add_response(
        "update_api_key",
        {"id": "k1"},
        {
            "apiKey": "k1",
            "patchOperations": [{"op": "replace", "path": "/enabled", "value": "true"}],
        },
    )
    stub.add_client_error(
        "create_usage_plan_key",
        "ConflictException",
        "in the plan already",
        409,
        expected_params={"usagePlanId": "p1", "keyId": "k1", "keyType": "API_KEY"},
    )
    key = api_gateway.issue_key("p1", name, "d")
    assert (key.id, key.value, key.adopted) == ("k1", "v" * 40, True)
