"""The projects' container image registry (ECR): one repository per project, named
<prefix><project id>. Throttling and server errors become TransientError, which the
workflows retry; anything else is a real failure with a readable message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


# A page of images reads the registry at most this often: the entries left in the page it
# started in, then the next registry page when those do not fill it.
REGISTRY_READS_PER_PAGE = 2
MAX_REGISTRY_PAGE = 1000  # ECR's maxResults
MAX_SKIP = 10**6


@dataclass(frozen=True)
class Position:
    """Where a page of images starts. The list has one entry per tag, while the registry
    pages by image (an image with three tags is three entries), so a page can end inside
    one registry page: the position is that registry page (its token, None for the first,
    and the size it was read with, so reading it again gives the same images) and how
    many of its entries came before."""

    token: str | None
    size: int
    skip: int = 0

    def key(self) -> dict[str, str]:
        """The position as a cursor's key (strings only)."""
        return {"t": self.token or "", "n": str(self.size), "o": str(self.skip)}

    @classmethod
    def from_key(cls, key: dict[str, str], limit: int) -> Position:
        """The position of a cursor's key; InvalidPageToken when it is not one. A key with
        only "t" (cursors issued before positions) starts at that registry page."""
        size, skip = key.get("n", str(limit)), key.get("o", "0")
        ok = (
            set(key) <= {"t", "n", "o"}
            and "t" in key
            and size.isascii()
            and size.isdigit()
            and 1 <= int(size) <= MAX_REGISTRY_PAGE
            and skip.isascii()
            and skip.isdigit()
            and int(skip) < MAX_SKIP
        )
        if not ok:
            raise InvalidPageToken("not a position in the image list")
        return cls(key["t"] or None, int(size), int(skip))


def list_images(
    project_id: str, limit: int, start: Position | None
) -> tuple[list[dict[str, Any]], Position | None]:
    """At most `limit` of the repository's images, one entry per tag (untagged: tag None),
    from `start`; and where the next page starts (None: this was the last)."""
    at = start or Position(None, limit)
    out: list[dict[str, Any]] = []
    for _ in range(REGISTRY_READS_PER_PAGE):
        entries, token = _registry_page(project_id, at)
        room = limit - len(out)
        rest = entries[at.skip :]
        if len(rest) > room:  # the page ends inside this registry page
            out += rest[:room]
            return out, Position(at.token, at.size, at.skip + room)
        out += rest
        if not token:
            return out, None
        at = Position(token, limit)
        if len(out) == limit:
            break
    return out, at


def _registry_page(project_id: str, at: Position) -> tuple[list[dict[str, Any]], str | None]:
    """The entries of one registry page, in the registry's order, and the next page's token."""
    name = repository_name(project_id)
    kwargs: dict[str, Any] = {"repositoryName": name, "maxResults": at.size}
    if at.token:
        kwargs["nextToken"] = at.token
    try:
        with _mapped("list images"):
            try:
                resp = _ecr().describe_images(**kwargs)
            except _ecr().exceptions.RepositoryNotFoundException:
                return [], None
    except RegistryError as exc:
        if at.token and exc.code == "InvalidParameterException":
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
