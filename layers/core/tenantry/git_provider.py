"""A project's Git repository at the platform's Git provider (the GitHub REST API shape:
GitHub, GitHub Enterprise Server, or any provider that speaks it), in one organization.

    POST   /orgs/{org}/repos            create (private, initialized); 422 "name already
                                        exists" means a retried step made it: found again
    GET    /repos/{org}/{name}          read
    PATCH  /repos/{org}/{name}          {"archived": true}: archive (reclaiming deletion,
                                        GitRepositoryOnDelete=Archive)
    DELETE /repos/{org}/{name}          delete (GitRepositoryOnDelete=Delete); 404 is done

The token comes from Secrets Manager (template parameter GitProviderTokenSecretName: the
secret's string is the token, or JSON with a `token` key), read through Powertools'
parameters with a short cache, never logged. Throttling, 5xx and connection errors are
GitProviderUnavailable, which the workflows retry with backoff; any other refusal is
GitProviderError, with a message a platform admin can act on (the provider's own message
goes to the logs only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from tenantry.settings import get_settings

TIMEOUT_SECONDS = 5.0  # below a workflow step's timeout (statemachines/asl.py STEP_TIMEOUT)
TOKEN_CACHE_SECONDS = 300
RETRYABLE_STATUSES = (408, 425, 429, 500, 502, 503, 504)


class GitProviderError(Exception):
    """The provider refused; retrying will not help (a bad token, a missing organization,
    a name taken by something that is not the project's)."""


class GitProviderUnavailable(Exception):
    """The provider is busy or unreachable: worth retrying."""


@dataclass(frozen=True)
class Repository:
    name: str
    full_name: str
    html_url: str
    clone_url: str
    archived: bool = False

    @classmethod
    def of(cls, body: dict[str, Any]) -> Repository:
        return cls(
            name=str(body.get("name", "")),
            full_name=str(body.get("full_name", "")),
            html_url=str(body.get("html_url", "")),
            clone_url=str(body.get("clone_url", "")),
            archived=bool(body.get("archived", False)),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "full_name": self.full_name,
            "html_url": self.html_url,
            "clone_url": self.clone_url,
        }


def configured() -> bool:
    """Whether the platform has a Git provider (an organization and a token secret)."""
    settings = get_settings()
    return bool(settings.git_provider_org and settings.git_provider_token_secret_name)


def repository_name(project_id: str) -> str:
    return f"{get_settings().git_repository_prefix}{project_id}"


@cache
def _secrets() -> Any:
    """Powertools' Secrets Manager provider (it caches the token for TOKEN_CACHE_SECONDS)."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider()


def _token() -> str:
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    name = get_settings().git_provider_token_secret_name
    try:
        value = _secrets().get(name, max_age=TOKEN_CACHE_SECONDS)
    except GetParameterError as exc:
        code = getattr(exc.__cause__, "response", {}).get("Error", {}).get("Code", "")
        if code in ("ThrottlingException", "InternalServiceError"):
            raise GitProviderUnavailable("the Git provider's token could not be read") from exc
        raise GitProviderError(
            "the Git provider's token secret cannot be read; a platform admin has to check "
            "GitProviderTokenSecretName"
        ) from exc
    text = value.decode() if isinstance(value, bytes) else str(value)
    if text.lstrip().startswith("{"):
        try:
            text = str(json.loads(text).get("token", ""))
        except (ValueError, AttributeError):
            text = ""
    if not text.strip():
        raise GitProviderError("the Git provider's token secret holds no token")
    return text.strip()


def _client() -> Any:
    import httpx

    if not configured():
        raise GitProviderError(
            "this platform has no Git provider configured (GitProviderOrg); a platform admin "
            "has to configure one"
        )
    settings = get_settings()
    return httpx.Client(
        base_url=settings.git_provider_api_url.rstrip("/"),
        timeout=TIMEOUT_SECONDS,
        headers={
            "Authorization": f"Bearer {_token()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "tenantry",
        },
    )


def _call(method: str, path: str, action: str, **kwargs: Any) -> Any:
    """The provider's answer (status, JSON body), retryable failures raised as
    GitProviderUnavailable."""
    import httpx

    try:
        with _client() as client:
            response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise GitProviderUnavailable(f"{action}: the Git provider is unreachable") from exc
    if response.status_code in RETRYABLE_STATUSES or (
        response.status_code == 403 and response.headers.get("x-ratelimit-remaining") == "0"
    ):
        raise GitProviderUnavailable(f"{action}: the Git provider is busy ({response.status_code})")
    try:
        body = response.json() if response.content else {}
    except ValueError:
        body = {}
    return response.status_code, body


def _refused(action: str, status: int, body: Any) -> GitProviderError:
    from tenantry.observability import logger

    logger.warning(
        "the Git provider refused",
        extra={"action": action, "status": status, "provider_message": _message(body)},
    )
    why = {
        401: "its token was not accepted",
        403: "its token may not do this",
        404: "the organization was not found",
    }.get(status, f"it answered {status}")
    return GitProviderError(
        f"{action}: the Git provider refused ({why}); a platform admin has to check the "
        "provider's token and organization"
    )


def _message(body: Any) -> str:
    return str(body.get("message", ""))[:200] if isinstance(body, dict) else ""


def create_repository(project_id: str, description: str = "") -> Repository:
    """The project's repository, made if absent: a retried step finds the one it made."""
    org, name = get_settings().git_provider_org, repository_name(project_id)
    action = "create the Git repository"
    status, body = _call(
        "POST",
        f"/orgs/{org}/repos",
        action,
        json={
            "name": name,
            "description": description[:350],
            "private": True,
            "auto_init": True,
        },
    )
    if status == 201:
        return Repository.of(body)
    if status == 422 and "already exists" in json.dumps(body):
        found = get_repository(project_id)
        if found is not None:
            return found
    raise _refused(action, status, body)


def get_repository(project_id: str) -> Repository | None:
    org, name = get_settings().git_provider_org, repository_name(project_id)
    status, body = _call("GET", f"/repos/{org}/{name}", "read the Git repository")
    if status == 404:
        return None
    if status != 200:
        raise _refused("read the Git repository", status, body)
    return Repository.of(body)


def archive_repository(project_id: str) -> bool:
    """Archived (read-only, kept). False when there is no such repository."""
    org, name = get_settings().git_provider_org, repository_name(project_id)
    action = "archive the Git repository"
    status, body = _call("PATCH", f"/repos/{org}/{name}", action, json={"archived": True})
    if status == 404:
        return False
    if status != 200:
        raise _refused(action, status, body)
    return True


def delete_repository(project_id: str) -> bool:
    """Deleted. False when there was no such repository (a retried step)."""
    org, name = get_settings().git_provider_org, repository_name(project_id)
    action = "delete the Git repository"
    status, body = _call("DELETE", f"/repos/{org}/{name}", action)
    if status == 404:
        return False
    if status != 204:
        raise _refused(action, status, body)
    return True
