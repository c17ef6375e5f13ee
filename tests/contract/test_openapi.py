"""The API contract: openapi.json is what the code generates, it is valid OpenAPI, the
template's HttpApi routes are exactly the routes the function apps serve, errors are
documented as problem+json, and every route has a sample event."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from local import openapi, sample_events, template

FUNCTIONS = template.http_functions()
PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return openapi.build()


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in openapi.HTTP_METHODS
    }


def _template_routes() -> dict[tuple[str, str], template.HttpRoute]:
    return {(r.method, r.path): r for fn in FUNCTIONS.values() for r in fn.routes}


# --- (a) the checked-in document is the generated one ---------------------------------------


def test_checked_in_openapi_json_is_current(spec: dict[str, Any]) -> None:
    generated = openapi.render(spec)
    current = openapi.OUTPUT.read_text() if openapi.OUTPUT.exists() else ""
    assert current == generated, (
        "openapi.json does not match the code: run `make openapi` "
        "(python -m local.openapi) and commit the result.\n"
        + openapi.diff_summary(current, generated)
    )


# --- (b) it is valid OpenAPI ----------------------------------------------------------------


def test_spec_is_valid_openapi(spec: dict[str, Any]) -> None:
    from openapi_spec_validator import validate

    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_spec_metadata(spec: dict[str, Any]) -> None:
    from tenantry import __version__

    assert spec["info"]["title"] == "Tenantry"
    assert spec["info"]["version"] == __version__
    description = spec["info"]["description"]
    for convention in ("problem+json", "Idempotency-Key", "ETag", "If-Match", "cursor"):
        assert convention in description
    assert spec["security"] == [{"bearer": []}]
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": openapi.metadata()["security_schemes"]["bearer"].description,
    }


def test_public_routes_are_exactly_the_template_routes_without_authorizer(
    spec: dict[str, Any],
) -> None:
    public_in_spec = {key for key, op in _operations(spec).items() if op.get("security") == []}
    public_in_template = {key for key, r in _template_routes().items() if r.authorizer is None}
    assert public_in_spec == public_in_template
    assert ("GET", "/health") in public_in_spec


# --- (c) template routes == the function apps' routes ---------------------------------------


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_template_routes_are_the_apps_routes(logical_id: str) -> None:
    fn = FUNCTIONS[logical_id]
    declared = {(r.method, r.path) for r in fn.routes}
    served = template.registered_routes(fn.module().app)
    assert declared == served, (
        f"{logical_id} ({fn.module_name}): "
        f"in template.yaml only: {sorted(declared - served)}; "
        f"in the app only: {sorted(served - declared)}"
    )


def test_each_route_key_is_declared_once_in_the_template() -> None:
    keys = [(r.method, r.path) for fn in FUNCTIONS.values() for r in fn.routes]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


def test_spec_documents_exactly_the_template_routes(spec: dict[str, Any]) -> None:
    assert set(_operations(spec)) == set(_template_routes())


def test_merge_refuses_conflicts() -> None:
    op = {"operationId": "x", "responses": {"200": {"description": "ok"}}}
    doc = {"openapi": "3.1.0", "info": {}, "paths": {"/x": {"get": op}}}
    with pytest.raises(openapi.SpecConflict, match="GET /x"):
        openapi.merge([("A", doc), ("B", doc)])
    schema_a = {**doc, "components": {"schemas": {"S": {"type": "string"}}}}
    schema_b = {
        "openapi": "3.1.0",
        "info": {},
        "paths": {},
        "components": {"schemas": {"S": {"type": "integer"}}},
    }
    with pytest.raises(openapi.SpecConflict, match=r"schemas\.S"):
        openapi.merge([("A", schema_a), ("B", schema_b)])
    same = {**schema_b, "components": {"schemas": {"S": {"type": "string"}}}}
    assert openapi.merge([("A", schema_a), ("B", same)])["components"]["schemas"] == {
        "S": {"type": "string"}
    }


# --- (d) errors are documented as problem+json ----------------------------------------------


def test_every_route_documents_a_4xx_problem(spec: dict[str, Any]) -> None:
    public = {key for key, r in _template_routes().items() if r.authorizer is None}
    missing = []
    for key, op in sorted(_operations(spec).items()):
        if key in public:
            continue
        problems = [
            code
            for code, resp in op["responses"].items()
            if code.startswith("4")
            and resp.get("content", {}).get(PROBLEM_JSON, {}).get("schema", {}).get("$ref")
            == PROBLEM_REF
        ]
        if not problems:
            missing.append(" ".join(key))
    assert not missing, f"no 4xx application/problem+json response documented: {missing}"


def test_every_route_documents_a_success_response(spec: dict[str, Any]) -> None:
    missing = [
        " ".join(key)
        for key, op in sorted(_operations(spec).items())
        if not any(code.startswith("2") for code in op["responses"])
    ]
    assert not missing, f"no 2xx response documented: {missing}"


# --- (e) every route has a sample event -----------------------------------------------------


def test_every_template_route_has_a_sample_event() -> None:
    missing = [
        f"events/{fn.group}/{r.event}.json ({r.key})"
        for fn in FUNCTIONS.values()
        for r in fn.routes
        if not (sample_events.EVENTS_DIR / fn.group / f"{r.event}.json").is_file()
    ]
    assert not missing, f"missing sample events (python -m local.sample_events): {missing}"


def test_sample_events_are_current() -> None:
    """events/ is what local/sample_events.py writes from the template: nothing stale,
    nothing extra, so every function (routes, workflow steps, authorizer) has its sample."""
    wanted = {
        sample_events.EVENTS_DIR / rel: sample_events.render(entry.event)
        for rel, entry in sample_events.build().items()
    }
    present = set(sample_events.EVENTS_DIR.rglob("*.json"))
    stale = sorted(str(p) for p in wanted if not p.is_file() or p.read_text() != wanted[p])
    extra = sorted(str(p) for p in present - set(wanted))
    assert not stale and not extra, (
        f"run `python -m local.sample_events`: out of date {stale}, no longer generated {extra}"
    )


def test_every_function_has_a_sample_event() -> None:
    covered = {entry.function for entry in sample_events.build().values()}
    assert covered == set(template.functions())
    for path in sample_events.EVENTS_DIR.rglob("*.json"):
        json.loads(path.read_text())


def test_operation_ids_are_short_stable_camel_case(spec: dict[str, Any]) -> None:
    """A client generated from the spec names its functions after these."""
    ids = [
        op["operationId"]
        for item in spec["paths"].values()
        for method, op in item.items()
        if method in openapi.HTTP_METHODS
    ]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for op_id in ids:
        assert re.fullmatch(r"[a-z][a-zA-Z0-9]{2,29}", op_id), op_id
    assert {"listProjects", "createProject", "getProject", "deleteProject"} <= set(ids)


def test_no_response_says_204_has_a_body(spec: dict[str, Any]) -> None:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in openapi.HTTP_METHODS and "204" in op["responses"]:
                assert "content" not in op["responses"]["204"], (method, path)


def test_optional_parameters_are_never_null(spec: dict[str, Any]) -> None:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in openapi.HTTP_METHODS:
                continue
            for param in op.get("parameters", []):
                assert {"type": "null"} not in param["schema"].get("anyOf", []), (
                    method,
                    path,
                    param["name"],
                )


def test_dicts_with_constrained_keys_say_property_names(spec: dict[str, Any]) -> None:
    text = json.dumps(spec)
    assert "patternProperties" not in text
    resources = spec["components"]["schemas"]["ProjectCreate"]["properties"]["resources"]
    assert resources["propertyNames"] == {"pattern": "^[a-z][a-z0-9_.-]{0,62}$"}
    assert resources["additionalProperties"] == {"$ref": "#/components/schemas/Capacity"}


def test_the_documented_body_limit_is_the_servers() -> None:
    from tenantry.request_body import MAX_BODY_BYTES

    assert openapi.BODY_RESPONSES["413"].startswith(
        f"Request body over {MAX_BODY_BYTES // 1024} KiB"
    )


# --- (f) filters applied after the Query say so ----------------------------------------------

# Filters no index serves: each page applies them to a bounded number of reads, so a page
# may be short, even empty, with a cursor (issue 7, item 5). `state` and `owner` of the
# project lists are served by an index for platform admins only.
FILTERED_AFTER_READING = {
    ("GET", "/projects"): ("name", "label_selector", "state", "owner"),
    ("GET", "/users/{userId}/projects"): ("name", "label_selector", "state", "owner"),
    ("GET", "/applications"): ("state",),
    ("GET", "/users"): ("display_name", "is_active"),
    ("GET", "/projects/{projectId}/environments/{envId}/secrets"): ("collection", "name"),
}


def test_filters_applied_after_reading_say_a_page_may_be_short(spec: dict[str, Any]) -> None:
    operations = _operations(spec)
    for (method, path), names in FILTERED_AFTER_READING.items():
        params = {p["name"]: p for p in operations[(method, path)]["parameters"]}
        for name in names:
            text = params[name].get("description", "")
            assert "bounded" in text and "next_cursor" in text, (path, name, text)
