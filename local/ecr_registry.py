"""The ECR registry endpoint, emulated (dev and tests only): an OCI distribution API server
on 127.0.0.1 holding images in memory, for what moto's ECR does not serve (manifests and
blobs over HTTP). Chart discovery pulls from it through its real code path
(tenantry/chart_registry.py) when settings.chart_registry_url names it.

    GET|HEAD /v2/                               200 (authenticated) or 401 with a challenge
    GET|HEAD /v2/<repository>/manifests/<ref>   a manifest by digest or tag
    GET|HEAD /v2/<repository>/blobs/<digest>    307 to a presigned-style URL, as ECR does
    GET /_blobs/<digest>?X-Amz-Signature=...    the blob; refuses an Authorization header
                                                (S3 does: a presigned URL carries its own)
    GET /token?service=&scope=                  a Bearer token (auth="bearer" only)

Credentials: with auth="basic" the registry takes the login ECR's GetAuthorizationToken
gives (`AWS:<password>`, as ECR's endpoint does); with auth="bearer" it answers 401 with
a Bearer challenge and takes only tokens from its /token endpoint (for those credentials).
`push_chart`/`push` store an image and call `on_push` (the runner turns that into the ECR
push event, as ECR would); `delete` calls `on_delete`. `faults` makes the next requests of
a path fail with a status (tests). Every request is recorded in `requests`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import struct
import tarfile
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local import loopback

ROOT = Path(__file__).resolve().parents[1]
DEMO_CHARTS = ROOT / "local" / "charts"
# The demo chart `make run` pushes at start (local/charts/web-frontend).
DEMO_REPOSITORY = "charts/web-frontend-chart"
DEMO_TAG = "1.4.0-main-3f9a2c1"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
PushHook = Callable[[str, str, str, str, str], None]  # repository, tag, digest, types


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def package_chart(directory: Path) -> bytes:
    """A chart folder as `helm package` makes it: a .tgz with the folder at its root. The
    bytes depend only on the files (sorted names, no times or owners, and a gzip stream
    of stored blocks, which no zlib build can write differently), so its digest is stable."""
    files = {
        f"{directory.name}/{path.relative_to(directory).as_posix()}": path.read_bytes()
        for path in sorted(p for p in directory.rglob("*") if p.is_file())
    }
    return archive(files)


def archive(files: dict[str, bytes | str]) -> bytes:
    """A .tgz of {path: content} in that order (tests: charts with any files, broken ones
    too), byte for byte the same for the same files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return stored_gzip(buffer.getvalue())


def stored_gzip(data: bytes) -> bytes:
    """RFC 1952 gzip of DEFLATE stored (uncompressed) blocks: no mtime, OS unknown."""
    out = bytearray(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
    chunks = [data[i : i + 0xFFFF] for i in range(0, len(data), 0xFFFF)] or [b""]
    for i, chunk in enumerate(chunks):
        final = 1 if i == len(chunks) - 1 else 0
        out += bytes([final]) + struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk
    out += struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return bytes(out)


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()


def helm_image(
    repository: str, tag: str, chart_archive: bytes
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A chart as `helm push` stores it: (manifest, blobs): a helm config and the chart layer."""
    config = json.dumps({"name": repository.rsplit("/", 1)[-1], "version": tag}).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": HELM_CONFIG, "digest": digest_of(config), "size": len(config)},
        "layers": [
            {
                "mediaType": HELM_LAYER,
                "digest": digest_of(chart_archive),
                "size": len(chart_archive),
            }
        ],
    }
    return manifest, {"config": config, "chart": chart_archive}


def demo_chart() -> tuple[dict[str, Any], dict[str, bytes]]:
    """local/charts/web-frontend as DEMO_REPOSITORY:DEMO_TAG: (manifest, blobs)."""
    return helm_image(DEMO_REPOSITORY, DEMO_TAG, package_chart(DEMO_CHARTS / "web-frontend"))


@cache
def demo_chart_digest() -> str:
    """The demo image's digest (the sample events name it: computed once a process)."""
    return digest_of(manifest_bytes(demo_chart()[0]))


@dataclass
class Image:
    manifest: bytes
    media_type: str


@dataclass
class Registry:
    auth: str = "basic"  # or "bearer"
    credentials: tuple[str, str] | None = None  # (user, password) it takes; None: any
    on_push: PushHook | None = None
    on_delete: Callable[[str, str, str | None], None] | None = None
    images: dict[tuple[str, str], Image] = field(default_factory=dict)  # (repo, digest)
    tags: dict[tuple[str, str], str] = field(default_factory=dict)  # (repo, tag) -> digest
    blobs: dict[str, bytes] = field(default_factory=dict)
    faults: dict[str, list[int]] = field(default_factory=dict)  # path part -> statuses
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _tokens: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what a client pushes ------------------------------------------------------------
    def push(
        self,
        repository: str,
        tag: str,
        manifest: dict[str, Any],
        blobs: dict[str, bytes] | None = None,
        *,
        announce: bool = True,
    ) -> str:
        """Store an image (its manifest and blobs); its digest. `announce`: call on_push."""
        data = manifest_bytes(manifest)
        digest = digest_of(data)
        media_type = str(manifest.get("mediaType") or OCI_MANIFEST)
        with self._lock:
            for blob in (blobs or {}).values():
                self.blobs[digest_of(blob)] = blob
            self.images[(repository, digest)] = Image(data, media_type)
            self.tags[(repository, tag)] = digest
        if announce and self.on_push:
            artifact = str((manifest.get("config") or {}).get("mediaType", ""))
            self.on_push(repository, tag, digest, media_type, artifact)
        return digest

    def push_chart(
        self, repository: str, tag: str, chart_archive: bytes, *, announce: bool = True
    ) -> str:
        manifest, blobs = helm_image(repository, tag, chart_archive)
        return self.push(repository, tag, manifest, blobs, announce=announce)

    def delete(self, repository: str, digest: str) -> None:
        with self._lock:
            self.images.pop((repository, digest), None)
            gone = [t for (r, t), d in self.tags.items() if r == repository and d == digest]
            for tag in gone:
                del self.tags[(repository, tag)]
        if self.on_delete:
            for tag in gone or [None]:
                self.on_delete(repository, digest, tag)

    # --- serving -------------------------------------------------------------------------
    @contextlib.contextmanager
    def serving(self) -> Iterator[Registry]:
        """Serve on a free loopback port (`url`) until the block ends."""
        registry = self

        class Handler(_Handler):
            pass

        Handler.registry = registry
        with loopback.serving(Handler) as url:
            self.url = url
            yield self

    def authorized(self, header: str | None) -> bool:
        if self.auth == "bearer":
            return bool(header) and header.startswith("Bearer ") and header[7:] in self._tokens
        return self.basic_ok(header)

    def basic_ok(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        if self.credentials is None:
            return True
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (user, password) == self.credentials

    def new_token(self) -> str:
        token = secrets.token_urlsafe(24)
        self._tokens.add(token)
        return token

    def fault(self, path: str) -> int | None:
        with self._lock:
            for part, statuses in self.faults.items():
                if part in path and statuses:
                    return statuses.pop(0)
        return None


_MANIFEST = re.compile(r"/v2/(?P<repo>.+)/manifests/(?P<ref>[^/]+)")
_BLOB = re.compile(r"/v2/(?P<repo>.+)/blobs/(?P<digest>[^/]+)")


class _Handler(BaseHTTPRequestHandler):
    registry: Registry
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        reg = self.registry
        parts = urlsplit(self.path)
        path = parts.path
        auth = self.headers.get("Authorization")
        reg.requests.append({"method": self.command, "path": path, "authorization": auth})
        status = reg.fault(path)
        if status is not None:
            return self._send(status, b'{"errors":[{"code":"UNAVAILABLE"}]}')
        if path == "/token":
            if reg.auth != "bearer" or not reg.basic_ok(auth):
                return self._send(401, b'{"errors":[{"code":"DENIED"}]}')
            return self._send(200, json.dumps({"token": reg.new_token()}).encode())
        if path.startswith("/_blobs/"):
            if auth:  # S3: "Only one auth mechanism allowed"
                return self._send(400, b"<Error><Code>InvalidArgument</Code></Error>")
            if "X-Amz-Signature" not in parse_qs(parts.query):
                return self._send(403, b"<Error><Code>AccessDenied</Code></Error>")
            blob = reg.blobs.get(path.removeprefix("/_blobs/"))
            return self._send(200, blob) if blob is not None else self._send(404, b"")
        if not path.startswith("/v2/"):
            return self._send(404, b"")
        if not reg.authorized(auth):
            return self._challenge()
        if path in ("/v2", "/v2/"):
            return self._send(200, b"{}")
        if m := _MANIFEST.fullmatch(path):
            ref = m.group("ref")
            digest = ref if ref.startswith("sha256:") else reg.tags.get((m.group("repo"), ref))
            image = reg.images.get((m.group("repo"), digest or ""))
            if image is None:
                return self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
            return self._send(
                200,
                image.manifest,
                {"Content-Type": image.media_type, "Docker-Content-Digest": str(digest)},
            )
        if m := _BLOB.fullmatch(path):
            digest = m.group("digest")
            if digest not in reg.blobs:
                return self._send(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
            signed = f"/_blobs/{digest}?X-Amz-Signature={secrets.token_hex(8)}"
            return self._send(307, b"", {"Location": signed})
        return self._send(404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}')

    def _challenge(self) -> None:
        if self.registry.auth == "bearer":
            host = self.headers.get("Host", "127.0.0.1")
            value = f'Bearer realm="http://{host}/token",service="ecr.local",scope="pull"'
        else:
            value = 'Basic realm="https://ecr.local/",service="ecr.amazonaws.com"'
        self._send(401, b'{"errors":[{"code":"DENIED"}]}', {"WWW-Authenticate": value})

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


# --- the emulated stack's side ---------------------------------------------------------------

URL_VARIABLE = "CHART_REGISTRY_URL"  # tenantry.settings.chart_registry_url


@contextlib.contextmanager
def named(registry: Registry) -> Iterator[None]:
    """The functions' settings name the (serving) registry for the block: enter it before
    the emulation, whose environment the functions' settings are read from."""
    saved = os.environ.get(URL_VARIABLE)
    os.environ[URL_VARIABLE] = registry.url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(URL_VARIABLE, None)
        else:
            os.environ[URL_VARIABLE] = saved


def attach(registry: Registry, stack: Any) -> None:
    """Take the emulated ECR's login, and announce pushes and deletions as ECR does."""
    registry.credentials = login(stack)
    registry.on_push, registry.on_delete = announcing(stack)


def login(stack: Any) -> tuple[str, str]:
    """The registry login the emulated ECR issues (moto's GetAuthorizationToken)."""
    data = stack.client("ecr").get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return user, password


def image_action(
    repository: str,
    digest: str,
    action: str = "PUSH",
    tag: str | None = None,
    *,
    result: str = "SUCCESS",
    **media_types: str,
) -> dict[str, Any]:
    """The `detail` of ECR's `ECR Image Action` event (`manifest_media_type`,
    `artifact_media_type` as `manifest-media-type`, `artifact-media-type`)."""
    detail = {
        "result": result,
        "repository-name": repository,
        "image-digest": digest,
        "action-type": action,
    }
    if tag is not None:
        detail["image-tag"] = tag
    return detail | {k.replace("_", "-"): v for k, v in media_types.items()}


def image_action_event(
    detail: dict[str, Any],
    *,
    time: str,
    event_id: str,
    account: str = "123456789012",
    region: str = "us-east-1",
) -> dict[str, Any]:
    """The event EventBridge hands a rule's target for ECR's `detail`."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "ECR Image Action",
        "source": "aws.ecr",
        "account": account,
        "time": time,
        "region": region,
        "resources": [],
        "detail": detail,
    }


def announcing(stack: Any) -> tuple[PushHook, Callable[[str, str, str | None], None]]:
    """(on_push, on_delete) that put the ECR `ECR Image Action` events on the emulated
    EventBridge, as ECR does after a push or a deletion."""
    from local import eventbridge

    def put(detail: dict[str, Any]) -> None:
        entry = {
            "Source": "aws.ecr",
            "DetailType": "ECR Image Action",
            "Detail": json.dumps(detail),
        }
        eventbridge.put_events(stack, [entry])

    def pushed(repository: str, tag: str, digest: str, media_type: str, artifact: str) -> None:
        put(
            image_action(
                repository,
                digest,
                "PUSH",
                tag,
                manifest_media_type=media_type,
                artifact_media_type=artifact,
            )
        )

    def deleted(repository: str, digest: str, tag: str | None) -> None:
        put(image_action(repository, digest, "DELETE", tag))

    return pushed, deleted


def push_demo_chart(registry: Registry, *, announce: bool = True) -> str:
    """local/charts/web-frontend as DEMO_REPOSITORY:DEMO_TAG; its digest."""
    manifest, blobs = demo_chart()
    return registry.push(DEMO_REPOSITORY, DEMO_TAG, manifest, blobs, announce=announce)
