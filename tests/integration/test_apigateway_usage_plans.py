"""local/apigateway_usage_plans.py: deleting a usage plan, or a key from a usage plan, that
is not there answers NotFoundException, as API Gateway does, where moto 5.2 fails with a
KeyError; what is there is deleted as moto deletes it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from local.apigateway_usage_plans import usage_plans_not_found
from local.stack import fake_aws_env


@pytest.fixture
def apigateway() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    with mock.patch.dict("os.environ", fake_aws_env()), mock_aws():
        yield boto3.client("apigateway", region_name="us-east-1")


def _plan_with_key(client: Any) -> tuple[str, str]:
    plan = client.create_usage_plan(name="p", throttle={"rateLimit": 1.0, "burstLimit": 1})
    key = client.create_api_key(name="k", enabled=True)
    client.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    return plan["id"], key["id"]


def _code(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def test_moto_alone_fails_on_what_is_not_there(apigateway: Any) -> None:
    """Why the patch exists: when this fails, moto answers as AWS does and it can go."""
    plan_id, key_id = _plan_with_key(apigateway)
    apigateway.delete_usage_plan_key(usagePlanId=plan_id, keyId=key_id)
    with pytest.raises(KeyError):
        apigateway.delete_usage_plan_key(usagePlanId=plan_id, keyId=key_id)
    with pytest.raises(KeyError):
        apigateway.delete_usage_plan(usagePlanId="nosuchplan")


def test_what_is_not_there_is_not_found(apigateway: Any) -> None:
    plan_id, key_id = _plan_with_key(apigateway)
    with usage_plans_not_found():
        apigateway.delete_usage_plan_key(usagePlanId=plan_id, keyId=key_id)
        assert apigateway.get_usage_plan_keys(usagePlanId=plan_id)["items"] == []
        assert _code(
            lambda: apigateway.delete_usage_plan_key(usagePlanId=plan_id, keyId=key_id)
        ) == ("NotFoundException")
        assert _code(
            lambda: apigateway.delete_usage_plan_key(usagePlanId="nosuchplan", keyId=key_id)
        ) == ("NotFoundException")
        apigateway.delete_usage_plan(usagePlanId=plan_id)
        assert apigateway.get_usage_plans()["items"] == []
        assert _code(lambda: apigateway.delete_usage_plan(usagePlanId=plan_id)) == (
            "NotFoundException"
        )
