"""local/moto_routing.py: the stubber answers each request as moto's process_request does
(the same handler, status, headers and body), and request ids reach responses as moto's
_enrich_response writes them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import ClientError

from local.moto_direct import as_http
from local.stack import Stack

VARYING = {"date"}  # the time of the response


def _captured(clients: list[Any], calls: list[Callable[[], Any]]) -> list[AWSPreparedRequest]:
    """The prepared requests `clients` send for `calls` (each also answered once), sent
    as HTTP requests (local/moto_direct.py answers some services' calls without one)."""
    sent: list[AWSPreparedRequest] = []

    def keep(request: AWSPreparedRequest, **_: Any) -> None:
        sent.append(request)

    for client in clients:
        client.meta.events.register("before-send", keep)
    try:
        with as_http():
            for call in calls:
                try:
                    call()
                except ClientError:
                    pass  # an error answer is compared as well
    finally:
        for client in clients:
            client.meta.events.unregister("before-send", keep)
    return sent


def _fixed_ids() -> Any:
    """moto's request ids drawn from a counter: both answers to a request get the same."""
    from moto.core import responses

    ids = iter(range(1_000_000))

    def fixed_id(headerdict: dict[str, Any] | None = None) -> str:
        req_id = f"id-{next(ids)}"
        if headerdict is not None:
            headerdict["x-amzn-requestid"] = req_id
        return req_id

    return mock.patch.object(responses, "gen_amzn_requestid_long", fixed_id)


def _answer(process_request: Any, request: AWSPreparedRequest) -> Any:
    from moto.core.botocore_stubber import BotocoreStubber

    with _fixed_ids():
        answer = process_request(BotocoreStubber(), request)
    if answer is None:
        return None
    status, headers, body = answer
    headers = {k.lower(): v for k, v in headers.items() if k.lower() not in VARYING}
    if isinstance(body, bytes):
        body = body.decode()
    try:
        body = json.loads(body)
    except ValueError:
        pass
    return status, headers, body


@pytest.fixture
def process_requests(stack: Stack) -> Iterator[tuple[Any, Any]]:
    """(the patched process_request, moto's), while the emulation runs."""
    from moto.core.botocore_stubber import BotocoreStubber

    patched = BotocoreStubber.process_request
    yield patched, patched.__wrapped__


def test_read_only_calls_are_answered_as_moto_answers_them(
    stack: Stack, process_requests: tuple[Any, Any]
) -> None:
    ddb, sfn, ecr = stack.client("dynamodb"), stack.client("stepfunctions"), stack.client("ecr")
    s3, sts = stack.client("s3"), stack.client("sts")
    table = stack.table_names()["TenantryTable"]
    key = {"PK": {"S": "P#1"}, "SK": {"S": "META"}}
    ddb.put_item(TableName=table, Item={**key, "n": {"N": "1"}, "s": {"S": "é"}})
    calls = [
        lambda: ddb.get_item(TableName=table, Key=key),
        lambda: ddb.describe_table(TableName=table),
        lambda: ddb.get_item(TableName="no-such-table", Key=key),  # 400
        lambda: sfn.list_state_machines(),
        lambda: ecr.describe_repositories(),
        lambda: s3.list_buckets(),
        lambda: sts.get_caller_identity(),  # XML, with a RequestId element
    ]
    requests = _captured([ddb, sfn, ecr, s3, sts], calls)
    assert len(requests) == len(calls)
    patched, original = process_requests
    for request in requests:
        assert _answer(patched, request) == _answer(original, request), request.url


def test_urls_no_service_answers(process_requests: tuple[Any, Any]) -> None:
    patched, original = process_requests
    for url in (
        "https://not-a-service.us-east-1.amazonaws.com/x",  # 404 Not yet implemented
        "https://example.com/path",  # not AWS: None, botocore sends it on
    ):
        request = AWSPreparedRequest("GET", url, {}, b"", stream_output=False)
        for _ in range(2):  # first walked, then remembered
            assert _answer(patched, request) == _answer(original, request), url


def test_settings_still_checked_on_each_call(
    stack: Stack, process_requests: tuple[Any, Any]
) -> None:
    from moto.core import botocore_stubber

    patched, _ = process_requests
    table = stack.table_names()["TenantryTable"]
    ddb = stack.client("dynamodb")
    (request,) = _captured([ddb], [lambda: ddb.describe_table(TableName=table)])
    assert _answer(patched, request)[0] == 200
    with mock.patch.object(botocore_stubber, "passthrough_service", lambda s: s == "dynamodb"):
        assert _answer(patched, request) is None
    with (
        mock.patch.object(botocore_stubber, "service_whitelisted", lambda s: False),
        pytest.raises(botocore_stubber.ServiceNotWhitelisted),
    ):
        _answer(patched, request)


@pytest.mark.parametrize(
    "headers, body",
    [
        ({"status": 200}, '{"Item": {"PK": {"S": "<RequestId>x"}}}'),
        ({"status": 400}, "<Response><RequestId>old</RequestId></Response>"),
        ({}, "<R><RequestId>a</RequestId>\n<RequestId>b</RequestId></R>"),
        ({"status": 200}, '{"TableNames": []}'),
        ({"status": 202}, b"\x00bytes"),
        ({}, ""),
        ({"status": "200"}, None),
    ],
)
def test_request_ids_written_as_moto_writes_them(
    stack: Stack, headers: dict[str, Any], body: Any
) -> None:
    from moto.core.responses import BaseResponse

    patched = BaseResponse._enrich_response
    with _fixed_ids():
        ours = patched(dict(headers), body)
    with _fixed_ids():
        theirs = patched.__wrapped__(dict(headers), body)
    assert ours == theirs
