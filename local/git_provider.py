"""The Git provider, emulated (dev and tests only): the part of GitHub's REST API that
tenantry/git_provider.py speaks, on 127.0.0.1, repositories in memory.

    POST   /orgs/<org>/repos        201 the repository; 422 "name already exists"; 404 no org
    GET    /repos/<org>/<name>      200 | 404
    PATCH  /repos/<org>/<name>      {"archived": true} 200 | 404
    DELETE /repos/<org>/<name>      204 | 404

Every request needs `Authorization: Bearer <token>` with the provider's token (401 "Bad
credentials" otherwise, as GitHub answers). `faults` makes the next requests of a method
and path prefix answer a status (tests: 500, 503, 403, ...); every request is recorded in
`requests` (method, path, body). `attach` stores the token in the emulated Secrets Manager
under the name the template reads, as an operator would.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from local import loopback

DEFAULT_ORG = "tenantry-local"
SECRET_NAME = "tenantry/git-provider-token"  # template parameter GitProviderTokenSecretName
REPOS = re.compile(r"^/orgs/(?P<org>[^/]+)/repos$")
REPO = re.compile(r"^/repos/(?P<org>[^/]+)/(?P<name>[^/]+)$")


@dataclass
class Provider:
    org: str = DEFAULT_ORG
    token: str = field(default_factory=lambda: "ghp_" + secrets.token_urlsafe(24))
    url: str = ""
    repositories: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[tuple[str, str, int]] = field(default_factory=list)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, method: str, path_prefix: str, status: int, times: int = 1) -> None:
        """The next `times` requests of `method` under `path_prefix` answer `status`."""
        with self.lock:
            self.faults += [(method, path_prefix, status)] * times

    def parameters(self) -> dict[str, str]:
        """The template parameters naming this provider (its secret: `attach`)."""
        return {"GitProviderApiUrl": self.url, "GitProviderOrg": self.org}

    @contextlib.contextmanager
    def serving(self) -> Iterator[Provider]:
        provider = self

        class Handler(_Handler):
            pass

        Handler.provider = provider
        with loopback.serving(Handler) as url:
            self.url = url
            yield self

    # --- the API ------------------------------------------------------------------------
    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((method, path, body))
            for i, (m, prefix, status) in enumerate(self.faults):
                if m == method and path.startswith(prefix):
                    del self.faults[i]
                    return status, {"message": f"injected {status}"}
            if found := REPOS.match(path):
                if method != "POST":
                    return 405, {"message": "Not Found"}
                return self._create(found["org"], body)
            if found := REPO.match(path):
                return self._repository(method, found["org"], found["name"], body)
        return 404, {"message": "Not Found"}

    def _create(self, org: str, body: Any) -> tuple[int, Any]:
        if org != self.org:
            return 404, {"message": "Not Found"}
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", name):
            return 422, {"message": "Repository creation failed.", "errors": [{"field": "name"}]}
        if name in self.repositories:
            return 422, {
                "message": "Repository creation failed.",
                "errors": [
                    {
                        "resource": "Repository",
                        "code": "custom",
                        "field": "name",
                        "message": "name already exists on this account",
                    }
                ],
            }
        repo = {
            "name": name,
            "full_name": f"{org}/{name}",
            "private": bool(body.get("private", False)),
            "description": body.get("description") or None,
            "html_url": f"{self.url}/{org}/{name}",
            "clone_url": f"{self.url}/{org}/{name}.git",
            "archived": False,
            "default_branch": "main" if body.get("auto_init") else None,
        }
        self.repositories[name] = repo
        return 201, repo

    def _repository(self, method: str, org: str, name: str, body: Any) -> tuple[int, Any]:
        repo = self.repositories.get(name) if org == self.org else None
        if repo is None:
            return 404, {"message": "Not Found"}
        if method == "GET":
            return 200, repo
        if method == "PATCH":
            if isinstance(body, dict) and "archived" in body:
                repo["archived"] = bool(body["archived"])
            return 200, repo
        if method == "DELETE":
            del self.repositories[name]
            return 204, None
        return 405, {"message": "Not Found"}


class _Handler(BaseHTTPRequestHandler):
    provider: Provider
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("Authorization") != f"Bearer {self.provider.token}":
            self._send(401, {"message": "Bad credentials"})
            return
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._send(400, {"message": "Problems parsing JSON"})
            return
        status, answer = self.provider.answer(self.command, self.path.split("?")[0], body)
        self._send(status, answer)

    def _send(self, status: int, body: Any) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve


def attach(provider: Provider, stack: Any) -> None:
    """Store the provider's token where the template says the Git steps read it."""
    name = stack.parameters.get("GitProviderTokenSecretName") or SECRET_NAME
    client = stack.client("secretsmanager")
    try:
        client.create_secret(Name=name, SecretString=provider.token)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=provider.token)


@contextlib.contextmanager
def standing_in(overrides: dict[str, str]) -> Iterator[tuple[Provider | None, dict[str, str]]]:
    """For `make run` and `make invoke`: the emulated provider serving, and the template
    parameters with it named, unless the overrides name a provider of their own
    (GitProviderOrg), which is then used as given (its token secret must exist)."""
    if overrides.get("GitProviderOrg"):
        yield None, overrides
        return
    with Provider().serving() as provider:
        yield provider, {**overrides, **provider.parameters()}
