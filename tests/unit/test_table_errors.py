"""tenantry.dal.table.errors_mapped: what a DynamoDB failure becomes in the domain."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from tenantry.dal import table
from tenantry.errors import Conflict, ServiceUnavailable


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_no_answer_from_dynamodb_is_retryable(error: Exception) -> None:
    """A BotoCoreError (no HTTP answer at all) is 503 with Retry-After for a request, and
    ServiceUnavailable, which the workflows' Retry names, for a step."""
    with pytest.raises(ServiceUnavailable) as raised, table.errors_mapped():
        raise error
    assert raised.value.headers == {"Retry-After": "1"}


def test_a_failed_condition_is_the_callers_error() -> None:
    failed = ClientError(
        {"Error": {"Code": "ConditionalCheckFailedException", "Message": "no"}}, "PutItem"
    )
    with pytest.raises(Conflict, match="taken"), table.errors_mapped(lambda: Conflict("taken")):
        raise failed
