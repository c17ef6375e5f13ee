"""Chart discovery: ECR push and delete events of the charts' repositories, delivered by an
EventBridge rule through an SQS queue (template.yaml ChartPushRule, ChartDiscoveryQueue),
turned into the catalog's registries, deployment kinds and charts.

A PUSH (result SUCCESS, a tag, a repository under the charts prefix) of a helm chart
upserts the registry (domain, repository), its deployment kind (the repository's name
without the prefix and a `-chart`/`-charts` suffix) and the chart, keyed by (registry,
digest, tag): the ids are made from those (tenantry.domain.catalog), so a re-delivered
event finds the chart and writes nothing; what only a first delivery does (the pull from
the registry) happens only when the chart is new. The tag is parsed by the first tag
format (oldest first) found in it. The chart's extensions are its `platz/` files, read from
the pushed archive with size limits; a file that cannot be read or parsed is named in
`error` and the others still count. A DELETE marks the tag's chart (no tag: every chart of
the digest) unavailable; a PUSH of a deleted chart makes it available again, unless a
later event already decided (SQS does not keep order: events compare their times).

What may pass with time (the registry or DynamoDB not answering) raises, so the message
is retried and, after the queue's maxReceiveCount, lands in its dead-letter queue. An
event that is not ours to act on (another repository, a failed push, an image that is not
a chart, one deleted since) is skipped.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
import zlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tenantry import chart_registry
from tenantry.clock import now_iso
from tenantry.dal import catalog as store
from tenantry.domain import catalog
from tenantry.errors import Conflict
from tenantry.models.catalog import EcrImageAction
from tenantry.models.common import number_problem
from tenantry.observability import logger
from tenantry.settings import get_settings

# The chart's extension files (in its own platz/ folder, not a subchart's) -> chart fields.
EXTENSIONS = {
    "values-ui.yaml": "values_ui",
    "actions.yaml": "actions_schema",
    "features.yaml": "features",
    "resources.yaml": "resource_types",
}
MAPPINGS_ONLY = ("values-ui.yaml", "features.yaml")  # the others may list several documents
PLATZ_FILE = re.compile(r"(?:\./)?[^/]+/platz/(values-ui|actions|features|resources)\.yaml")
MAX_FILE_BYTES = 256 * 1024
MAX_UNPACKED_BYTES = 64 * 1024 * 1024  # what the archive may unpack to (a gzip bomb stops)
MAX_MEMBERS = 10_000
MAX_NODES = 20_000  # values a file's YAML may hold (aliases counted each time they appear)
MAX_DEPTH = 24
MAX_STORED_BYTES = 75_000  # a file's parse as JSON: four of them fit a DynamoDB item
KIND_SUFFIXES = ("-charts", "-chart")


def handle(message: dict[str, Any]) -> str:
    """Act on one queue message; a word saying what happened (for the log and tests)."""
    if catalog.REPARSE in message:
        after = (message[catalog.REPARSE] or {}).get("after")
        if after is not None and not (
            isinstance(after, dict) and all(isinstance(v, str) for v in after.values())
        ):
            raise ValueError("a re-parse message names no place to go on from")
        parsed = catalog.reparse(after, inline_pages=1)
        return f"reparsed {parsed}"
    event = EcrImageAction.model_validate(message)
    detail = event.detail
    prefix = get_settings().charts_repository_prefix
    if detail.result != "SUCCESS":
        return "skipped: not a successful action"
    if not detail.repository_name.startswith(prefix):
        return "skipped: not a charts repository"
    domain = chart_registry.registry_domain(event.account, event.region)
    registry_id = catalog.registry_id(domain, detail.repository_name)
    at = event_time(event.time)
    if detail.action_type == "DELETE":
        return discard(registry_id, detail.image_digest, detail.image_tag, at)
    if not detail.image_tag:
        return "skipped: an untagged push"
    if detail.artifact_media_type not in (None, chart_registry.HELM_CONFIG_MEDIA_TYPE):
        return "skipped: not a helm chart"
    return discover(event, domain, registry_id, detail.image_tag, at)


def event_time(text: str | None) -> str:
    """The event's time in the catalog's format (now when it has none)."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return now_iso()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def discover(event: EcrImageAction, domain: str, registry_id: str, tag: str, at: str) -> str:
    detail = event.detail
    chart_id = catalog.chart_id(registry_id, detail.image_digest, tag)
    known = store.get_chart_consistent(chart_id)
    if known is not None:
        if not known.get("available") and store.set_available(chart_id, True, at):
            return "available again"
        return "known"
    try:
        pulled = chart_registry.pull(
            event.account, event.region, detail.repository_name, detail.image_digest
        )
    except chart_registry.ChartTooLarge as exc:
        extensions = failed_extensions(str(exc))
    else:
        if pulled is None:
            return "skipped: the image is no longer in the registry"
        if not pulled.is_helm_chart:
            return "skipped: not a helm chart"
        if pulled.archive is None:
            extensions = failed_extensions("the chart has no chart layer")
        else:
            extensions = read_extensions(pulled.archive)
    registry = ensure_registry(domain, detail.repository_name, at)
    chart = {
        "id": chart_id,
        "created_at": at,
        "updated_at": at,
        "version": 1,
        "helm_registry_id": registry["id"],
        "image_digest": detail.image_digest,
        "image_tag": tag,
        "available": True,
        **extensions,
        **catalog.parse_tag(tag, catalog.tag_formats()),
    }
    if store.put_chart(chart, registry["kind_id"], at):
        logger.info("chart discovered", extra={"chart_id": chart_id, "error": chart["error"]})
        return "discovered"
    return "known"


def discard(registry_id: str, digest: str, tag: str | None, at: str) -> str:
    if tag:
        ids = [catalog.chart_id(registry_id, digest, tag)]
    else:
        ids = store.chart_ids_of_digest(registry_id, digest)
    changed = sum(store.set_available(i, False, at) for i in ids)
    return f"unavailable {changed}"


def ensure_registry(domain: str, repo_name: str, at: str) -> dict[str, Any]:
    """The registry of (domain, repository), made with its kind when it is the first chart
    of the repository. A registry keeps the kind it was made with (an admin may rename it)."""
    registry_id = catalog.registry_id(domain, repo_name)
    existing = store.get_registry(registry_id, consistent=True)
    if existing is not None:
        return existing
    registry = {
        "id": registry_id,
        "created_at": at,
        "updated_at": at,
        "domain_name": domain,
        "repo_name": repo_name,
        "kind_id": ensure_kind(kind_name(repo_name)),
        "available": True,
        "version": 1,
    }
    if store.put_registry(registry):
        return registry
    made = store.get_registry(registry_id, consistent=True)  # by a discovery meanwhile
    assert made is not None
    return made


def ensure_kind(name: str) -> str:
    """The id of the kind of this name (in any case), made when there is none."""
    for _ in range(3):
        kind_id = store.kind_id_by_name(name)
        if kind_id:
            return kind_id
        try:
            return str(catalog.new_kind(name)["id"])
        except Conflict:
            continue  # made meanwhile: read its guard again
    raise Conflict(f"the deployment kind {name!r} could not be read or made")


def kind_name(repo_name: str) -> str:
    """`charts/web-frontend-chart` -> `web-frontend`: the repository's name without the
    charts prefix and a `-chart`/`-charts` suffix; what a kind name cannot hold (`/`, `.`,
    `_`) becomes `-`, and it is cut to 53 characters."""
    prefix = get_settings().charts_repository_prefix
    rest = repo_name.removeprefix(prefix)
    for suffix in KIND_SUFFIXES:
        if rest.endswith(suffix) and len(rest) > len(suffix):
            rest = rest[: -len(suffix)]
            break
    name = re.sub(r"[^A-Za-z0-9-]+", "-", rest)
    name = re.sub(r"-{2,}", "-", name).strip("-")[:53].strip("-")
    return name or "chart"


# --- the chart's extensions ---------------------------------------------------------------------


class _Unreadable(Exception):
    pass


def failed_extensions(why: str) -> dict[str, Any]:
    return {**{field: None for field in EXTENSIONS.values()}, "error": why}


def read_extensions(archive: bytes) -> dict[str, Any]:
    """The chart's `platz/` files from its archive (a .tgz), parsed: {field: value or None,
    "error": which files could not be read or parsed, and why, or None}."""
    try:
        files, problems = _platz_files(archive)
    except (_Unreadable, tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        return failed_extensions(f"the chart's archive cannot be read: {exc}")
    out: dict[str, Any] = {field: None for field in EXTENSIONS.values()}
    for name, data in files.items():
        try:
            out[EXTENSIONS[name]] = parse_extension(name, data)
        except _Unreadable as exc:
            problems[name] = str(exc)
    out["error"] = (
        "; ".join(f"platz/{name}: {why}" for name, why in sorted(problems.items())) or None
    )
    return out


def _platz_files(archive: bytes) -> tuple[dict[str, bytes], dict[str, str]]:
    files: dict[str, bytes] = {}
    problems: dict[str, str] = {}
    unpacked = _Bounded(gzip.GzipFile(fileobj=io.BytesIO(archive)), MAX_UNPACKED_BYTES)
    with tarfile.open(fileobj=unpacked, mode="r|") as tar:  # type: ignore[call-overload]
        for count, member in enumerate(tar, 1):
            if count > MAX_MEMBERS:
                raise _Unreadable(f"it holds more than {MAX_MEMBERS} entries")
            found = PLATZ_FILE.fullmatch(member.name)
            if not found:
                continue
            name = f"{found.group(1)}.yaml"
            if not member.isfile():
                problems[name] = "not a regular file"
            elif member.size > MAX_FILE_BYTES:
                problems[name] = f"{member.size} bytes, over {MAX_FILE_BYTES}"
            else:
                reader = tar.extractfile(member)
                assert reader is not None
                files[name] = reader.read()
                problems.pop(name, None)
    return files, problems


class _Bounded(io.RawIOBase):
    """A stream that refuses to give more than `limit` bytes in all."""

    def __init__(self, inner: Any, limit: int) -> None:
        self.inner, self.left = inner, limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.inner.read(size if size >= 0 else self.left + 1)
        self.left -= len(data)
        if self.left < 0:
            raise _Unreadable(f"it unpacks to more than {MAX_UNPACKED_BYTES} bytes")
        return data


def parse_extension(name: str, data: bytes) -> Any:
    """One platz/ file's YAML: its document (a file of several: the list of them), checked
    and made storable (numbers as Decimal, keys as text, timestamps as ISO text)."""
    import yaml

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Unreadable("not UTF-8 text") from None
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise _Unreadable(f"not valid YAML ({' '.join(str(exc).split())[:300]})") from None
    except RecursionError:
        raise _Unreadable(f"nested more than {MAX_DEPTH} levels deep") from None
    if not documents:
        raise _Unreadable("empty")
    value = documents[0] if len(documents) == 1 else documents
    if name in MAPPINGS_ONLY and not isinstance(value, dict):
        raise _Unreadable("not a mapping")
    if not isinstance(value, dict | list):
        raise _Unreadable("neither a mapping nor a list")
    _check_shape(value)
    try:
        text = json.dumps(value, default=str, allow_nan=False, separators=(",", ":"))
    except ValueError:
        raise _Unreadable("holds a number JSON cannot (NaN or infinity)") from None
    except TypeError:
        raise _Unreadable("has a key that is not text, a number or a boolean") from None
    if len(text) > MAX_STORED_BYTES:
        raise _Unreadable(f"{len(text)} bytes as JSON, over {MAX_STORED_BYTES}")
    return json.loads(text, parse_float=Decimal)


def _check_shape(value: Any) -> None:
    """At most MAX_NODES values, MAX_DEPTH levels (YAML aliases may repeat or nest a value
    without bound: walking it stops early)."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise _Unreadable(f"more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise _Unreadable(f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
        elif isinstance(node, int | float) and not isinstance(node, bool):
            _check_number(node)


def _check_number(number: int | float) -> None:
    """DynamoDB's numbers (tenantry.models.common.number_problem)."""
    problem = number_problem(number)
    if problem:
        raise _Unreadable(f"holds {problem} ({number})")
