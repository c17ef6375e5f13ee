"""`make run`: the whole stack from template.yaml on http://127.0.0.1:${PORT:-3000}.

AWS is emulated in this process (moto); every request goes through API Gateway's route
match and the Lambda authorizer to the function's handler, as deployed.

Environment:
  PORT                  listen port (default 3000), loopback only
  TENANTRY_ADMIN_TOKEN  API token of the platform admin (generated and printed if unset)
  PARAMETER_OVERRIDES   template parameters, e.g. "ApprovalPolicy=moderated Stage=dev"
  WAIT_SCALE            scale Step Functions Wait/Retry sleeps (e.g. 0.01); default real time
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.stack import Stack, fake_aws_env, parse_overrides

log = logging.getLogger("local.runner")


class Handler(BaseHTTPRequestHandler):
    server_version = "tenantry-local"
    protocol_version = "HTTP/1.1"
    stack: Stack

    def _serve(self) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers: dict[str, str] = {}
        for key, value in self.headers.items():  # repeated headers are comma-joined
            k = key.lower()
            headers[k] = f"{headers[k]},{value}" if k in headers else value
        headers.setdefault("x-forwarded-for", self.client_address[0])
        try:
            status, out_headers, text = self.stack.http(self.command, self.path, headers, body=body)
        except Exception:
            log.exception("%s %s failed", self.command, self.path)
            status, out_headers, text = 500, {}, '{"message":"Internal Server Error"}'
        data = text.encode("utf-8", "surrogateescape")
        self.send_response(status)
        for key, value in out_headers.items():
            if key.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            for v in value.split("\n") if key.lower() == "set-cookie" else [value]:
                self.send_header(key, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        ms = (time.perf_counter() - started) * 1000
        log.info("%s %s -> %d (%.1f ms)", self.command, self.path, status, ms)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, *args: Any) -> None:
        pass  # one line per request is logged by _serve


def _bootstrap_admin() -> tuple[str, bool]:
    from tenantry.domain.identity import ensure_admin  # the layer is on sys.path now

    token = os.environ.get("TENANTRY_ADMIN_TOKEN", "")
    generated = not token
    if generated:
        from tenantry.auth import new_token_secret

        token = new_token_secret()
    ensure_admin(token)
    return token, generated


def _stop(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # moto logs whole ASL trees on every failed state; the execution history has it all.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    os.environ.update(fake_aws_env())  # before any boto3 client exists
    port = int(os.environ.get("PORT", "3000"))
    scale = os.environ.get("WAIT_SCALE")
    stack = Stack(parse_overrides(os.environ.get("PARAMETER_OVERRIDES")))
    signal.signal(signal.SIGTERM, _stop)
    with stack.emulate(wait_scale=float(scale) if scale else None):
        for fn, error in stack.import_handlers().items():
            log.error("%s cannot be imported, its routes will answer 500: %s", fn, error)
        token, generated = _bootstrap_admin()
        Handler.stack = stack
        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        params = " ".join(f"{k}={v}" for k, v in stack.parameters.items() if v)
        print(f"Tenantry on http://127.0.0.1:{server.server_port}  ({params})", flush=True)
        if generated:
            print(f"Admin token (generated): {token}", flush=True)
        else:
            print("Admin token: the value of TENANTRY_ADMIN_TOKEN", flush=True)
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            print("stopping", flush=True)
        finally:
            server.server_close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
