"""An httpx transport that sends each request through the in-process emulated stack
(local.stack.Stack.http: API Gateway's route match, the Lambda authorizer, the handler),
so the client and the CLI run their real HTTP code paths against the real routes."""

from __future__ import annotations

import httpx

from local.stack import Stack


class StackTransport(httpx.BaseTransport):
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.requests: list[httpx.Request] = []  # every request sent, for assertions

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = request.read()
        headers = {k.lower(): v for k, v in request.headers.multi_items()}
        status, out, text = self.stack.http(
            request.method,
            request.url.raw_path.decode("ascii"),
            headers,
            body=body.decode("utf-8") if body else None,
        )
        return httpx.Response(status, headers=out, content=text.encode("utf-8"), request=request)
