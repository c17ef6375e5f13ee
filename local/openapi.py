"""openapi.json from the code: every route group's Powertools resolver, merged into one
OpenAPI document. The functions come from template.yaml (those with HttpApi events).

    python -m local.openapi           write openapi.json
    python -m local.openapi --check   exit 1 (with a diff summary) if openapi.json is stale

The handlers do not call `configure_openapi` at runtime (its models cost cold-start
imports); the metadata lives here and is passed to `get_openapi_schema`.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from local import template

OUTPUT = template.ROOT / "openapi.json"
TITLE = "Tenantry"
SECURITY_SCHEME = "bearer"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

DESCRIPTION = """\
Tenantry: an open control plane for PaaS projects (projects, their members, environments
and workflows), on AWS serverless.

## Conventions (every route)

- **JSON** in and out, UTF-8. Timestamps are ISO 8601 UTC with `Z`. Ids are UUID v4
  strings, except a project's `id`, which is a DNS label.
- **Authentication**: `Authorization: Bearer <token>`, an API token (user or bot, shown
  once at creation) or, where configured, a JWT from the OIDC issuer. Every route needs
  one except those marked with no security (`GET /health`). No or bad token: 401.
  Authenticated but not allowed: 403 when the caller may see the resource, 404 when it
  may not even see it.
- **Errors** are RFC 9457 `application/problem+json` documents (schema `Problem`):
  `{"type", "title", "status", "detail", "errors": [{"loc", "msg"}]?, "request_id"}`.
  400 malformed input (including a bad cursor), 401, 403, 404, 409 conflict or invalid
  state transition, 412 failed `If-Match`, 413 over quota, 422 validation, 429 throttled,
  503 backend busy (with `Retry-After`). A 500 never carries internals.
- **Idempotency**: writes that create something accept an `Idempotency-Key` header (1 to
  255 characters). A retry with the same key and body returns the first response and
  creates nothing more; the same key with another body is 422; a retry while the first is
  still running is 409 with `Retry-After`. API token creation is the exception: replaying
  it would mean storing the secret, so every call issues a new token.
- **Concurrency**: every mutable resource has an integer `version`, returned as the `ETag`
  header (`"<version>"`). Send it back as `If-Match` on PATCH/PUT/DELETE (and project
  actions) to make the write conditional: 412 when the resource changed meanwhile.
- **Pagination**: lists take `?limit=` (1 to 100, default 25) and `?cursor=` (opaque, from
  the previous page) and answer `{"items": [...], "next_cursor": "<opaque>" | null}`.
  A cursor is only valid for the same list and filters it came from.
"""


class SpecConflict(Exception):
    """Two route groups disagree: the same path and method, or one schema name for two
    different schemas."""


def _app_routes(app: Any) -> list[Any]:
    return [*app._static_routes, *app._dynamic_routes]


def metadata() -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    from tenantry import __version__

    return {
        "title": TITLE,
        "version": __version__,
        "description": DESCRIPTION,
        "security_schemes": {
            SECURITY_SCHEME: HTTPBearer(
                description="An API token (`tnt_...`) or, where configured, an OIDC JWT.",
            )
        },
        "security": [{SECURITY_SCHEME: []}],
    }


def function_spec(fn: template.TemplateFunction) -> dict[str, Any]:
    """One route group's OpenAPI document, with its public routes marked `security: []`
    (Powertools drops an empty per-route `security`, which would make the global bearer
    requirement apply to them)."""
    app = fn.module().app
    doc: dict[str, Any] = app.get_openapi_schema(**metadata()).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    for route in _app_routes(app):
        if not route.include_in_schema:
            continue
        op = doc["paths"][route.openapi_path][route.method.lower()]
        op["operationId"] = operation_id(route.func.__name__)
        if route.security == []:
            op["security"] = []
    _add_examples(fn, doc)
    _check_public_routes(fn, doc)
    return tidy(doc)


def _add_examples(fn: template.TemplateFunction, doc: dict[str, Any]) -> None:
    """Each request body's example is its route's sample event body (events/, written by
    local/sample_events.py and replayed by a test, so every example is a request that
    succeeds): one source for both."""
    from local import sample_events

    values = sample_events.path_values()
    for route in fn.routes:
        sample = sample_events.SAMPLES.get(route.event)
        op = doc["paths"].get(route.path, {}).get(route.method.lower(), {})
        content = op.get("requestBody", {}).get("content", {}).get("application/json")
        if sample is not None and sample.body and content is not None:
            content["example"] = sample_events.fill(sample.body, values)


def operation_id(function_name: str) -> str:
    """A route handler's name in camelCase (`list_projects` -> `listProjects`): short,
    stable while the handler keeps its name, and natural in a generated client."""
    first, *rest = function_name.split("_")
    return first + "".join(word.capitalize() for word in rest)


# --- what the generator says that Powertools does not ------------------------------------

GATEWAY_MESSAGE = {
    "type": "object",
    "description": "API Gateway's own answer (stage throttling, payload limit): not problem+json",
    "properties": {"message": {"type": "string"}},
    "required": ["message"],
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# Statuses API Gateway answers itself, before any function runs, with `{"message"}`: a path
# it cannot decode (400), no route (404), a body over 10 MiB (413), stage throttling (429).
GATEWAY_STATUSES = ("400", "404", "413", "429")
BODY_RESPONSES = {
    "413": "Request body over 256 KiB",  # tenantry.request_body.MAX_BODY_BYTES
    "415": "Content-Type is not application/json (UTF-8)",
}


def tidy(doc: dict[str, Any]) -> dict[str, Any]:
    """Make the document say exactly what the server does, where Powertools' generator
    says something else or nothing."""
    for op in _operations(doc):
        _tidy_operation(op)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for schema in schemas.values():
        _key_patterns_as_property_names(schema)
    schemas["GatewayMessage"] = GATEWAY_MESSAGE
    return doc


def _operations(doc: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for item in doc.get("paths", {}).values():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield op


def _tidy_operation(op: dict[str, Any]) -> None:
    responses = op.setdefault("responses", {})
    for status, response in responses.items():
        if status == "204":
            response.pop("content", None)  # 204 has no body, not a JSON null
    for param in op.get("parameters", []):
        # An optional parameter is absent or has a value; it is never "null".
        param["schema"] = _without_null(param.get("schema", {}))
    if "requestBody" in op:
        for status, description in BODY_RESPONSES.items():
            responses.setdefault(status, _problem(description))
    if op.get("security") != []:
        responses.setdefault(
            "429",
            {
                "description": "Throttled: a per-caller limit (problem+json) or the API "
                "stage's rate limit (API Gateway's own message)",
                "content": {"application/problem+json": {"schema": PROBLEM_REF}},
            },
        )
    for status in GATEWAY_STATUSES:
        if status in responses:
            responses[status].setdefault("content", {})["application/json"] = {
                "schema": {"$ref": "#/components/schemas/GatewayMessage"}
            }
    op["responses"] = dict(sorted(responses.items()))
    for content in op.get("requestBody", {}).get("content", {}).values():
        _key_patterns_as_property_names(content.get("schema", {}))


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": PROBLEM_REF}},
    }


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    branches = schema.get("anyOf")
    if not branches:
        return schema
    kept = [b for b in branches if b != {"type": "null"}]
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    if rest.get("default", ...) is None:
        del rest["default"]
    return {**rest, **kept[0]} if len(kept) == 1 else {**rest, "anyOf": kept}


def _key_patterns_as_property_names(schema: Any) -> None:
    """pydantic writes a dict with constrained keys as `patternProperties`, which still
    admits any other key; the server refuses those, so say `propertyNames` instead."""
    if isinstance(schema, list):
        for item in schema:
            _key_patterns_as_property_names(item)
        return
    if not isinstance(schema, dict):
        return
    patterns = schema.get("patternProperties")
    if isinstance(patterns, dict) and len(patterns) == 1 and "properties" not in schema:
        ((pattern, values),) = patterns.items()
        del schema["patternProperties"]
        schema["propertyNames"] = {"pattern": pattern}
        schema["additionalProperties"] = values
    for value in schema.values():
        _key_patterns_as_property_names(value)


def _check_public_routes(fn: template.TemplateFunction, doc: dict[str, Any]) -> None:
    """A route is public in the spec exactly when the template gives it no authorizer."""
    for route in fn.routes:
        op = doc.get("paths", {}).get(route.path, {}).get(route.method.lower())
        if op is None:
            continue  # a missing route is the contract test's business, not a spec error
        public_in_spec = op.get("security") == []
        if public_in_spec != (route.authorizer is None):
            raise SpecConflict(
                f"{fn.logical_id} {route.key}: the template says "
                f"{'no authorizer' if route.authorizer is None else 'authorizer ' + route.authorizer}"
                f" but the route {'declares' if public_in_spec else 'does not declare'} security=[]"
            )


def merge(docs: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One document from several: paths and components are united; a path+method or an
    operationId served twice, or a schema name used for two different schemas, is an error."""
    merged: dict[str, Any] | None = None
    owner: dict[str, str] = {}  # "GET /x", "schema X", "operationId y" -> function
    for source, doc in docs:
        if merged is None:
            merged = {k: v for k, v in doc.items() if k not in ("paths", "components")}
            merged["paths"], merged["components"] = {}, {}
        for path, item in doc.get("paths", {}).items():
            target = merged["paths"].setdefault(path, {})
            for method, op in item.items():
                if method not in HTTP_METHODS:
                    if target.setdefault(method, op) != op:
                        raise SpecConflict(f"{path} {method!r} differs between route groups")
                    continue
                key = f"{method.upper()} {path}"
                if key in owner:
                    raise SpecConflict(f"{key} is served by both {owner[key]} and {source}")
                owner[key] = source
                op_id = op.get("operationId")
                if op_id:
                    if f"operationId {op_id}" in owner:
                        raise SpecConflict(
                            f"operationId {op_id} is used by both "
                            f"{owner[f'operationId {op_id}']} and {source}"
                        )
                    owner[f"operationId {op_id}"] = source
                target[method] = op
        for section, entries in doc.get("components", {}).items():
            target = merged["components"].setdefault(section, {})
            for name, value in entries.items():
                if name in target and target[name] != value:
                    raise SpecConflict(
                        f"components.{section}.{name} differs between {owner[f'{section} {name}']}"
                        f" and {source}:\n{_diff(target[name], value)}"
                    )
                target[name] = value
                owner.setdefault(f"{section} {name}", source)
    if merged is None:
        raise SpecConflict("template.yaml has no function with HttpApi routes")
    if not merged["components"]:
        del merged["components"]
    return merged


def build() -> dict[str, Any]:
    functions = template.http_functions()
    return merge((lid, function_spec(fn)) for lid, fn in functions.items())


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _diff(a: Any, b: Any) -> str:
    left = json.dumps(a, indent=2, sort_keys=True).splitlines()
    right = json.dumps(b, indent=2, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(left, right, lineterm="", n=1))


def diff_summary(old: str, new: str, limit: int = 60) -> str:
    lines = list(
        difflib.unified_diff(
            old.splitlines(),
            new.splitlines(),
            "openapi.json (checked in)",
            "generated",
            n=1,
            lineterm="",
        )
    )
    added = sum(1 for x in lines if x.startswith("+") and not x.startswith("+++"))
    removed = sum(1 for x in lines if x.startswith("-") and not x.startswith("---"))
    shown = "\n".join(lines[:limit])
    more = f"\n... {len(lines) - limit} more diff lines" if len(lines) > limit else ""
    return f"{added} line(s) added, {removed} removed:\n{shown}{more}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.openapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if openapi.json is stale")
    parser.add_argument(
        "--output", default=str(OUTPUT), help="where to write (default: %(default)s)"
    )
    args = parser.parse_args(argv)

    text = render(build())
    output = Path(args.output)
    if args.check:
        current = output.read_text() if output.exists() else ""
        if current != text:
            print(f"{output} is out of date; run `make openapi`.", file=sys.stderr)
            print(diff_summary(current, text), file=sys.stderr)
            return 1
        print(f"{output} is up to date")
        return 0
    output.write_text(text)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
