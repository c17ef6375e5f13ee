"""moto's routing of a request to its handler, and the request ids in its responses, made
cheaper (dev emulation only).

- For every call, moto's stubber (BotocoreStubber.process_request) walks its list of
  services' URL patterns (DynamoDB's is about the sixtieth), then the service's table of
  URLs, to find the function that answers the request: a tenth of a small DynamoDB call.
  What answers a URL does not change while the emulation runs, so the result of that walk
  is kept per URL (without its query string, which moto never matches on); everything
  else process_request does (passthrough and whitelist settings, the request it builds,
  the recorder, errors) is moto's code, run as before.
- Every answer goes through BaseResponse._enrich_response, which writes the request id
  into `<RequestId>` elements with a regular expression over the whole body: for a JSON
  body (DynamoDB, Lambda, Step Functions) a scan of every byte that never finds one. It
  now runs only when the body holds `<RequestId>`, which the expression needs to match.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple
from unittest import mock

MAX_URLS = 4096  # URLs kept; past that the memo starts again (S3 keys would be unbounded)


class Route(NamedTuple):
    """Where moto's walk goes for a URL: the services whose pattern matches, in the order
    it tries them, up to the one with a URL that matches; that URL's handler (None: no
    service answers the URL)."""

    services: tuple[str, ...]
    handler: Callable[..., Any] | None


def find_route(clean_url: str) -> Route:
    """moto's process_request walk for `clean_url`, its settings checks left out."""
    import moto.backend_index as backend_index
    import moto.backends as backends
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.base_backend import BackendDict

    services: list[str] = []
    for service, pattern in backend_index.backend_url_patterns:
        if pattern.match(clean_url):
            services.append(service)
            backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
            if isinstance(backend_dict, BackendDict):
                if "us-east-1" in backend_dict[DEFAULT_ACCOUNT_ID]:
                    backend = backend_dict[DEFAULT_ACCOUNT_ID]["us-east-1"]
                else:
                    backend = backend_dict[DEFAULT_ACCOUNT_ID]["aws"]
            else:
                backend = backend_dict["global"]
            for url, method_to_execute in backend.urls.items():
                if re.compile(url).match(clean_url):
                    return Route(tuple(services), method_to_execute)
    return Route(tuple(services), None)


_routes: dict[str, Route] = {}  # within routes_once: clean URL -> its route


def route_for(clean_url: str) -> Route:
    """find_route's answer for the URL, kept (within routes_once) for the next call."""
    route = _routes.get(clean_url)
    if route is None:
        if len(_routes) >= MAX_URLS:
            _routes.clear()
        route = _routes[clean_url] = find_route(clean_url)
    return route


@contextlib.contextmanager
def routes_once() -> Iterator[None]:
    """Patch BotocoreStubber.process_request and BaseResponse._enrich_response for the
    duration (see the module doc)."""
    from moto.core import botocore_stubber, responses
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.responses import BaseResponse

    def process_request(self: Any, request: Any) -> Any:
        # moto's process_request, the walk replaced by find_route's answer for the URL
        from moto.core.exceptions import HTTPException
        from moto.moto_api import recorder

        parsed_url, _ = botocore_stubber.get_equivalent_url_in_aws_domain(request.url)
        clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
        if botocore_stubber.passthrough_url(clean_url):
            return None
        route = route_for(clean_url)
        for service in route.services:  # moto checks each before trying its URLs
            if botocore_stubber.passthrough_service(service):
                return None
            if not botocore_stubber.service_whitelisted(service):
                raise botocore_stubber.ServiceNotWhitelisted(service)
        if route.handler is None:
            if re.compile(r"https?://.+\.amazonaws.com/.*").match(clean_url):
                return 404, {}, "Not yet implemented"
            return None
        normalized_request = botocore_stubber.normalize_request(request)
        try:
            recorder._record_request(normalized_request)
            status, headers, body = route.handler(
                normalized_request, normalized_request.raw_url, normalized_request.headers
            )
        except HTTPException as e:
            status = e.code
            headers = e.get_headers()
            body = e.get_body()
        return status, headers, body

    enrich = BaseResponse._enrich_response

    def enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if isinstance(body, str) and "<RequestId>" in body:
            return enrich(headers, body)  # type: ignore[no-any-return]
        if "status" in headers:  # what moto's does to the headers, then the body is left
            headers["status"] = str(headers["status"])
        responses.gen_amzn_requestid_long(headers)
        return headers, body

    process_request.__wrapped__ = BotocoreStubber.process_request  # type: ignore[attr-defined]
    enrich_response.__wrapped__ = enrich  # type: ignore[attr-defined]  # moto's, for tests
    _routes.clear()
    try:
        with (
            mock.patch.object(BotocoreStubber, "process_request", process_request),
            mock.patch.object(BaseResponse, "_enrich_response", staticmethod(enrich_response)),
        ):
            yield
    finally:
        _routes.clear()
