"""Calls from this process to moto's JSON-protocol services answered without an HTTP
request between them (dev emulation only).

With moto in process, a DynamoDB call still went the whole way of an HTTP request: after
botocore had validated and serialized it, the request was prepared and signed, moto's
stubber (on botocore's `before-send`) rebuilt it as a WSGI request with werkzeug's test
EnvironBuilder, routed it, ran the service's handler, and wrapped the answer in an HTTP
response for botocore's endpoint to read back. For a small DynamoDB call that plumbing
was about a third of the call's CPU, and the runner makes tens of such calls per request.

botocore has a documented hook for answering a call in place: a `before-call` handler
that returns `(http_response, parsed)` (botocore.stub.Stubber uses it). `direct_calls()`
registers one for the services in SERVICES, all of them JSON-protocol (POST / with the
operation in X-Amz-Target and the JSON body botocore serialized). Within a call this
process's boto3 makes under the moto lock (local.moto_lock.in_whole_call) it builds
moto's request from a plain WSGI environ (method, path, host, headers, body), runs the
handler moto would route the URL to (local/moto_routing.route_for: moto's own walk, kept per URL),
and parses the answer with botocore's parser for the protocol, as the endpoint would
(`before-parse` emitted on the client's events, the second pass for an error's modeled
fields). Everything else is unchanged: botocore's parameter validation and serialization
before, its `after-call` handlers (boto3's deserializing) and its error raising after,
moto's handler and its passthrough and whitelist settings. What is skipped is transport: request
signing (moto reads only the access key, which the request carries as signing would
write it), retries (moto answers no throttling), HTTP header objects.

Anything else (another service, a call outside the moto lock, `make moto`'s server)
goes the usual way. tests/integration/test_moto_direct.py compares both ways on every
operation the product calls on these services, errors included.
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
import threading
import types
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSResponse
from botocore.endpoint import convert_to_response_dict
from botocore.parsers import create_parser

from local.moto_lock import in_whole_call
from local.moto_signatures import PLACEHOLDER

SERVICES = frozenset({"dynamodb", "dynamodb-streams", "sfn", "eventbridge", "sqs"})
_state = threading.local()  # .off: within as_http() in this thread
_moto = types.SimpleNamespace(enabled=False)  # while direct_calls() runs: moto's parts


@contextlib.contextmanager
def as_http() -> Iterator[None]:
    """Within, in this thread, every call goes the usual HTTP way (tests comparing both)."""
    _state.off = getattr(_state, "off", 0) + 1
    try:
        yield
    finally:
        _state.off -= 1


def wsgi_environ(request_dict: dict[str, Any], authorization: str | None) -> dict[str, Any]:
    """The WSGI environ of the HTTP request botocore would send for `request_dict` (what
    moto's werkzeug request is made of), with its Authorization header."""
    url = urlsplit(request_dict["url"])
    body = request_dict["body"]
    if isinstance(body, str):
        body = body.encode("utf-8")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request_dict["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": url.path or "/",
        "QUERY_STRING": url.query,
        "SERVER_NAME": url.hostname or "",
        "SERVER_PORT": str(url.port or (443 if url.scheme == "https" else 80)),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": url.netloc,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in request_dict["headers"].items():
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    return environ


def authorization(request_signer: Any, signing_name: str) -> str | None:
    """The Authorization header SigV4 would write, but for the signature (moto reads the
    access key and the credential scope's region from it; see local/moto_signatures.py),
    or None without credentials."""
    credentials = request_signer._credentials
    if credentials is None:
        return None
    scope = "/".join(
        (
            credentials.access_key,
            datetime.now(UTC).strftime("%Y%m%d"),
            request_signer.region_name,
            signing_name,
            "aws4_request",
        )
    )
    return (
        f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=content-type;host;x-amz-date;"
        f"x-amz-target, Signature={PLACEHOLDER}"
    )


def _answer(request_dict: dict[str, Any], authorization: str | None) -> Any:
    """moto's (status, headers, body) for the request, as its stubber would answer it;
    None where the stubber would let the request through."""
    botocore_stubber = _moto.botocore_stubber
    parsed_url, _ = botocore_stubber.get_equivalent_url_in_aws_domain(request_dict["url"])
    clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
    if botocore_stubber.passthrough_url(clean_url):
        return None
    route = _moto.route_for(clean_url)
    for service in route.services:
        if botocore_stubber.passthrough_service(service):
            return None
        if not botocore_stubber.service_whitelisted(service):
            raise botocore_stubber.ServiceNotWhitelisted(service)
    if route.handler is None:
        return None  # the usual way decides (moto's 404, or a real request)
    environ = wsgi_environ(request_dict, authorization)
    environ[_moto.PRESERVED_HEADER_NAMES_ENVIRON_KEY] = {}
    request = _moto.Request(environ)
    try:
        _moto.recorder._record_request(request)
        return route.handler(request, request.raw_url, request.headers)
    except _moto.HTTPException as e:
        return e.code, e.get_headers(), e.get_body()


_parsers: dict[str, Any] = {}


def _parser(protocol: str) -> Any:
    found = _parsers.get(protocol)
    if found is None:
        found = _parsers[protocol] = create_parser(protocol)
    return found


def before_call(model: Any, params: dict[str, Any], request_signer: Any, **_: Any) -> Any:
    """botocore's `before-call` handler: (http response, parsed) for a call answered in
    place, None to let the call go its usual way."""
    if not _moto.enabled or getattr(_state, "off", 0) or not in_whole_call():
        return None
    service_model = model.service_model
    service_id = service_model.service_id.hyphenize()
    if service_id not in SERVICES or service_model.protocol != "json":
        return None
    if not math.isinf(_moto.settings.INITIAL_NO_AUTH_ACTION_COUNT):
        return None  # moto authenticates: the request is signed, and goes the usual way
    answer = _answer(params, authorization(request_signer, service_model.signing_name))
    if answer is None:
        return None
    status, headers, body = answer
    http = AWSResponse(params["url"], status, headers, _moto.MockRawResponse(body))
    response = convert_to_response_dict(http, model)
    customized: dict[str, Any] = {}
    request_signer._event_emitter.emit(  # the client's own, as the endpoint emits it
        f"before-parse.{service_id}.{model.name}",
        operation_model=model,
        response_dict=response,
        customized_response_dict=customized,
    )
    parser = _parser(service_model.protocol)
    parsed = parser.parse(response, model.output_shape)
    parsed.update(customized)
    if http.status_code >= 300:
        _add_modeled_error_fields(response, parsed, model, parser)
    if "ResponseMetadata" in parsed:
        parsed["ResponseMetadata"]["RetryAttempts"] = 0
    return http, parsed


def _add_modeled_error_fields(response: Any, parsed: Any, model: Any, parser: Any) -> None:
    """The endpoint's second parse of an error (its modeled fields: a cancelled
    transaction's CancellationReasons)."""
    code = parsed.get("Error", {}).get("Code")
    shape = None if code is None else model.service_model.shape_for_error_code(code)
    if shape is not None:
        parsed.update(parser.parse(response, shape))


def _register() -> None:
    """Every botocore session made from now on registers the handler (as moto registers
    its stubber), whatever the session; it answers only while direct_calls() runs."""
    from botocore.handlers import BUILTIN_HANDLERS

    if not any(handler is before_call for _, handler, *_ in BUILTIN_HANDLERS):
        BUILTIN_HANDLERS.append(("before-call", before_call))


_register()


@contextlib.contextmanager
def direct_calls() -> Iterator[None]:
    """Answer this process's calls to SERVICES in place for the duration (module doc)."""
    from moto import settings
    from moto.core import botocore_stubber
    from moto.core.botocore_stubber import MockRawResponse
    from moto.core.exceptions import HTTPException
    from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY, Request
    from moto.moto_api import recorder

    from local.moto_routing import route_for

    _moto.__dict__.update(
        settings=settings,
        botocore_stubber=botocore_stubber,
        MockRawResponse=MockRawResponse,
        HTTPException=HTTPException,
        PRESERVED_HEADER_NAMES_ENVIRON_KEY=PRESERVED_HEADER_NAMES_ENVIRON_KEY,
        Request=Request,
        recorder=recorder,
        route_for=route_for,
        enabled=True,
    )
    try:
        yield
    finally:
        _moto.enabled = False
