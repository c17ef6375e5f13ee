"""Pulling a pushed helm chart from its ECR registry, over the OCI distribution API.

ECR issues a registry login (GetAuthorizationToken: `AWS:<password>`, base64) that the
registry takes as HTTP Basic credentials; a registry that answers 401 with a Bearer
challenge gets those credentials at its token endpoint instead (the distribution spec's
token flow). Then: the manifest by digest (helm's OCI media types), then the chart's layer
blob, which ECR serves by redirecting to a presigned URL (followed without our
Authorization header: that URL carries its own, and S3 refuses two).

Where the registry is: `https://<account>.dkr.ecr.<region>.amazonaws.com`, or the base URL
of settings.chart_registry_url (the local runner's and the tests' emulated registry,
local/ecr_registry.py). No other code here depends on which.

Failures: a manifest that is not there is None (the image went since the event); anything
that may pass with time (no answer, 5xx, 429, refused credentials, a truncated or corrupt
transfer) is PullFailed, and the event is retried; a chart larger than MAX_CHART_BYTES is
ChartTooLarge (retrying will not shrink it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import cache
from typing import Any

from tenantry.settings import get_settings

HELM_CONFIG_MEDIA_TYPE = "application/vnd.cncf.helm.config.v1+json"
HELM_LAYER_MEDIA_TYPES = (
    "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
    "application/tar+gzip",  # helm before 3.7
)
MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # ECR's own limit on a manifest
MAX_CHART_BYTES = 10 * 1024 * 1024
TIMEOUT = 10.0
MAX_REDIRECTS = 3
LOGIN_MARGIN = 600.0  # seconds before a login's expiry when it is asked for again


class PullFailed(Exception):
    """The registry could not be read now; the event is worth retrying."""


class ChartTooLarge(Exception):
    """The chart's layer is larger than this reads."""


@dataclass(frozen=True)
class Chart:
    manifest: dict[str, Any]
    archive: bytes | None  # the chart's .tgz; None when the manifest is not a helm chart's

    @property
    def is_helm_chart(self) -> bool:
        return (self.manifest.get("config") or {}).get("mediaType") == HELM_CONFIG_MEDIA_TYPE


def registry_domain(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def pull(account: str, region: str, repository: str, digest: str) -> Chart | None:
    """The manifest of `repository@digest` and, for a helm chart, its layer (the chart's
    archive); None when the registry has no such manifest."""
    session = _Session(account, region)
    manifest_bytes = session.get(
        f"/v2/{repository}/manifests/{digest}",
        accept=", ".join(MANIFEST_MEDIA_TYPES),
        limit=MAX_MANIFEST_BYTES,
        missing_ok=True,
    )
    if manifest_bytes is None:
        return None
    _check_digest(manifest_bytes, digest, "manifest")
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError as exc:
        raise PullFailed(f"the manifest of {repository}@{digest} is not JSON") from exc
    if not isinstance(manifest, dict):
        raise PullFailed(f"the manifest of {repository}@{digest} is not a JSON object")
    chart = Chart(manifest, None)
    if not chart.is_helm_chart:
        return chart
    layer = next(
        (
            entry
            for entry in manifest.get("layers") or []
            if isinstance(entry, dict) and entry.get("mediaType") in HELM_LAYER_MEDIA_TYPES
        ),
        None,
    )
    if layer is None or not isinstance(layer.get("digest"), str):
        return chart  # a helm config without a chart layer: nothing to read
    size = layer.get("size")
    if isinstance(size, int) and size > MAX_CHART_BYTES:
        raise ChartTooLarge(f"the chart's archive is {size} bytes, over {MAX_CHART_BYTES}")
    archive = session.get(f"/v2/{repository}/blobs/{layer['digest']}", limit=MAX_CHART_BYTES)
    assert archive is not None
    _check_digest(archive, layer["digest"], "chart layer")
    return Chart(manifest, archive)


def _check_digest(data: bytes, digest: str, what: str) -> None:
    algorithm, _, expected = digest.partition(":")
    if algorithm != "sha256":
        return  # the registry vouches for digests of other algorithms
    if hashlib.sha256(data).hexdigest() != expected:
        raise PullFailed(f"the {what} does not match its digest {digest} (truncated transfer?)")


# --- the registry's login -------------------------------------------------------------------------


@cache
def _ecr() -> Any:
    import boto3

    return boto3.client("ecr")


@cache
def _logins() -> dict[str, tuple[str, str, float]]:
    """The registry logins this container holds, by account."""
    return {}


def login(account: str) -> tuple[str, str]:
    """(user, password) for the account's registry, from ECR (valid 12 hours; asked for
    again LOGIN_MARGIN seconds before it expires)."""
    cached = _logins().get(account)
    if cached and cached[2] - LOGIN_MARGIN > time.time():
        return cached[0], cached[1]
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        data = _ecr().get_authorization_token(registryIds=[account])["authorizationData"][0]
    except (BotoCoreError, ClientError) as exc:
        raise PullFailed(f"ECR refused a registry login: {exc}") from exc
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    expires = data.get("expiresAt")
    expiry = expires.timestamp() if hasattr(expires, "timestamp") else time.time() + 3600
    _logins()[account] = (user, password, expiry)
    return user, password


# --- HTTP -----------------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # followed by _Session.get, which decides what goes along


_opener = urllib.request.build_opener(_NoRedirects)


class _Session:
    """Requests to one registry with its credentials (Basic, or the Bearer token its
    challenge asks for, fetched once)."""

    def __init__(self, account: str, region: str) -> None:
        base = get_settings().chart_registry_url or f"https://{registry_domain(account, region)}"
        self.base = base.rstrip("/")
        self.user, self.password = login(account)
        basic = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        self.authorization = f"Basic {basic}"
        self.bearer_tried = False

    def get(
        self, path: str, *, limit: int, accept: str | None = None, missing_ok: bool = False
    ) -> bytes | None:
        url = self.base + path
        authorization: str | None = self.authorization
        for _ in range(MAX_REDIRECTS + 2):
            headers = {"Accept": accept} if accept else {}
            if authorization:
                headers["Authorization"] = authorization
            status, answer_headers, body = _request(url, headers, limit)
            if status == 200:
                return body
            if status in (301, 302, 303, 307, 308) and answer_headers.get("location"):
                url = urllib.parse.urljoin(url, answer_headers["location"])
                authorization = None  # blob storage's presigned URL carries its own
                continue
            if status == 401 and authorization and not self.bearer_tried:
                challenge = answer_headers.get("www-authenticate", "")
                if challenge.lower().startswith("bearer "):
                    self.bearer_tried = True
                    self.authorization = authorization = self._bearer(challenge)
                    continue
            if status == 404 and missing_ok:
                return None
            raise PullFailed(f"GET {path}: the registry answered {status}")
        raise PullFailed(f"GET {path}: too many redirects")

    def _bearer(self, challenge: str) -> str:
        params = _challenge_params(challenge[len("bearer ") :])
        realm = params.pop("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise PullFailed("the registry's Bearer challenge names no token endpoint")
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(params)
        status, _, body = _request(url, {"Authorization": self.authorization}, 64 * 1024)
        if status != 200:
            raise PullFailed(f"the registry's token endpoint answered {status}")
        try:
            answer = json.loads(body)
            token = answer.get("token") or answer.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise PullFailed("the registry's token endpoint gave no token")
        return f"Bearer {token}"


def _challenge_params(text: str) -> dict[str, str]:
    """`realm="https://...",service="x",scope="y"` -> {"realm": ..., ...}."""
    out: dict[str, str] = {}
    for part in _split_outside_quotes(text):
        key, _, value = part.strip().partition("=")
        if key:
            out[key.strip().lower()] = value.strip().strip('"')
    return out


def _split_outside_quotes(text: str) -> list[str]:
    parts, current, quoted = [], "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _request(url: str, headers: dict[str, str], limit: int) -> tuple[int, dict[str, str], bytes]:
    """(status, headers in lower case, body of at most `limit` bytes)."""
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise PullFailed(f"not an HTTP URL: {url[:200]}")
    request = urllib.request.Request(url, headers=headers, method="GET")  # noqa: S310 (checked)
    try:
        response = _opener.open(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as err:
        response = err
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise PullFailed(f"GET {urllib.parse.urlsplit(url).path}: no answer ({exc})") from exc
    with response:
        try:
            body = response.read(limit + 1)
        except OSError as exc:
            raise PullFailed(f"GET {urllib.parse.urlsplit(url).path}: {exc}") from exc
        status = response.status if hasattr(response, "status") else response.code
        answer_headers = {k.lower(): v for k, v in response.headers.items()}
    if status == 200 and len(body) > limit:
        raise ChartTooLarge(f"{urllib.parse.urlsplit(url).path} is over {limit} bytes")
    if status in (429,) or status >= 500:
        raise PullFailed(f"GET {urllib.parse.urlsplit(url).path}: the registry answered {status}")
    return status, answer_headers, body
