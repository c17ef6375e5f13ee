"""The projects' container image registry (ECR): one repository per project, named
<prefix><project id>. Throttling and server errors become TransientError, which the
workflows retry; anything else is a real failure with a readable message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from tenantry.errors import TransientError
from tenantry.settings import get_settings

TRANSIENT = {
    "ThrottlingException",
    "ServerException",
    "ServiceUnavailableException",
    "TooManyRequestsException",
    "RequestTimeout",
    "InternalFailure",
}


class RegistryError(Exception):
    """The registry refused; retrying will not help."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class InvalidPageToken(RegistryError):
    """A page token the registry did not issue (or that expired)."""


@cache
def _ecr() -> Any:
    import boto3

    return boto3.client("ecr")


def repository_name(project_id: str) -> str:
    return f"{get_settings().image_repository_prefix}{project_id}"


@contextmanager
def _mapped(action: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if code in TRANSIENT or status >= 500:
            raise TransientError(f"{action}: registry busy ({code})") from exc
        raise RegistryError(f"{action}: {code}: {message}", code) from exc
    except BotoCoreError as exc:
        raise TransientError(f"{action}: {exc}") from exc


def create_repository(project_id: str) -> str:
    """Create the project's repository; an existing one is fine (steps are retried)."""
    name = repository_name(project_id)
    with _mapped("create image repository"):
        try:
            _ecr().create_repository(
                repositoryName=name,
                imageScanningConfiguration={"scanOnPush": True},
                tags=[{"Key": "tenantry:project", "Value": project_id}],
            )
        except _ecr().exceptions.RepositoryAlreadyExistsException:
            pass
    return name


def delete_repository(project_id: str) -> bool:
    """Delete the repository and its images. False if there was none."""
    with _mapped("delete image repository"):
        try:
            _ecr().delete_repository(repositoryName=repository_name(project_id), force=True)
        except _ecr().exceptions.RepositoryNotFoundException:
            return False
    return True


def list_images(
    project_id: str, limit: int, token: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the repository's images, one entry per tag (untagged: tag None)."""
    name = repository_name(project_id)
    kwargs: dict[str, Any] = {"repositoryName": name, "maxResults": limit}
    if token:
        kwargs["nextToken"] = token
    try:
        with _mapped("list images"):
            try:
                resp = _ecr().describe_images(**kwargs)
            except _ecr().exceptions.RepositoryNotFoundException:
                return [], None
    except RegistryError as exc:
        if token and exc.code == "InvalidParameterException":
            raise InvalidPageToken(str(exc), exc.code) from exc
        raise
    images = []
    for detail in resp.get("imageDetails", []):
        pushed = detail.get("imagePushedAt")
        base = {
            "repository": name,
            "digest": detail["imageDigest"],
            "pushed_at": pushed.strftime("%Y-%m-%dT%H:%M:%SZ") if pushed else "",
            "size_bytes": int(detail.get("imageSizeInBytes", 0)),
        }
        for tag in detail.get("imageTags") or [None]:
            images.append({**base, "tag": tag})
    return images, resp.get("nextToken")
