"""Bad input is a 4xx problem+json, never a 500, and nothing is written: bytes that are
not UTF-8, a body that is not JSON, JSON nested too deep or with absurd numbers, numbers
over the models' bounds, headers and cursors out of shape, a registry that fails."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tenantry import registry
from tests.harness import Api
from tests.integration.helpers import assert_problem, assert_validation, create_active, make_user

ROOT = Path(__file__).resolve().parents[2]
SPEC = json.loads((ROOT / "openapi.json").read_text())
BODY_ROUTES = sorted(
    (method.upper(), path)
    for path, item in SPEC["paths"].items()
    for method, op in item.items()
    if isinstance(op, dict) and "requestBody" in op
)


def _concrete(path: str) -> str:
    return path.replace("{", "x-").replace("}", "")


def _table_items(api: Api) -> int:
    table = api.stack.client("dynamodb")
    name = next(iter(api.stack.table_names().values()))
    return int(table.scan(TableName=name, Select="COUNT")["Count"])


@pytest.fixture
def plain(api: Api, admin_token: str) -> str:
    return make_user(api, admin_token, "Plain")[1]


def test_every_json_route_refuses_bytes_that_are_not_utf8(api: Api, plain: str) -> None:
    before = _table_items(api)
    for method, path in BODY_ROUTES:
        r = api.request(method, _concrete(path), token=plain, body=b'{"name": "\xff\xfe"}')
        assert_problem(r, 400, "bad-request", loc=["body"])
        assert "UTF-8" in r.json()["detail"], (method, path, r)
    assert _table_items(api) == before


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/merge-patch+json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
    ],
)
def test_a_body_that_is_not_json_is_415(api: Api, plain: str, content_type: str) -> None:
    before = _table_items(api)
    for method, path in BODY_ROUTES:
        r = api.request(
            method,
            _concrete(path),
            token=plain,
            body='{"name": "x"}',
            headers={"content-type": content_type},
        )
        assert_problem(r, 415, "unsupported-media-type")
    assert _table_items(api) == before


def test_json_with_a_charset_or_no_content_type_is_read(api: Api, plain: str) -> None:
    r = api.post(
        "/orgs",
        token=plain,
        body='{"name": "Acme"}',
        headers={"content-type": "application/json; charset=UTF-8"},
    )
    assert r.status == 201, r
    r = api.request("POST", "/orgs", token=plain, body='{"name": "Acme 2"}', headers={})
    assert r.status == 201, r


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("[" * 5000 + "]" * 5000, "nests too deeply"),
        ('{"name": ' + "[" * 40 + "]" * 40 + "}", "nests too deeply"),
        ('{"name": "x", "max_members": ' + "9" * 5000 + "}", "digits"),
        ('{"name": "x", "max_members": NaN}', "not a JSON number"),
        ('{"name": "x", "max_members": 1e400}', "out of range"),
        ('{"name": "x"', "not valid JSON"),
        ('{"name": "x"} trailing', "not valid JSON"),
    ],
)
def test_hostile_json_is_400(api: Api, plain: str, body: str, why: str) -> None:
    r = api.post("/projects", token=plain, body=body)
    assert_problem(r, 400, "bad-request", loc=["body"])
    assert why in r.json()["detail"], r


def test_a_body_over_256_kib_is_413(api: Api, plain: str) -> None:
    r = api.post("/orgs", token=plain, body=json.dumps({"name": "x" * (300 * 1024)}))
    assert_problem(r, 413, "payload-too-large")


def test_a_bad_base64_body_is_400(api: Api, plain: str) -> None:
    event = api.stack._event(  # what API Gateway sends for a binary body
        "POST",
        "/orgs",
        "",
        {"authorization": "Bearer x"},
        b"\xff",
        *api.stack.match("POST", "/orgs"),
    )
    event["body"] = "***not base64***"
    event["requestContext"]["authorizer"] = {
        "lambda": {"principal_id": "u1", "principal_kind": "user", "is_admin": False}
    }
    before = _table_items(api)
    result = api.invoke("OrgsFunction", event)
    assert result["statusCode"] == 400, result
    problem = json.loads(result["body"])
    assert "flagged base64" in problem["detail"], problem  # not read as text instead
    assert problem["errors"][0]["loc"] == ["body"], problem
    assert _table_items(api) == before


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        (
            "/projects",
            {"name": "n", "resources": {"cpu": {"project_capacity": 10**30, "member_capacity": 1}}},
            ["body", "resources", "cpu", "project_capacity"],
        ),
        (
            "/projects",
            {"name": "n", "resources": {"cpu": {"project_capacity": -1, "member_capacity": 1}}},
            ["body", "resources", "cpu", "project_capacity"],
        ),
        (
            "/projects",
            {"name": "n", "resources": {"CPU!": {"project_capacity": 1, "member_capacity": 1}}},
            ["body", "resources", "CPU!", "[key]"],
        ),
        ("/projects", {"name": "n", "max_members": 10**20}, ["body", "max_members"]),
        (
            "/projects",
            {"name": "n", "clusters": [{"name": "c", "quota": {"cpu": 1e300}}]},
            ["body", "clusters", 0, "quota", "cpu"],
        ),
        ("/projects", {"name": "n", "environments": ["dev", "dev"]}, ["body", "environments"]),
        ("/projects", {"name": "n", "template_id": None}, ["body", "template_id"]),
        ("/users", {"email": " padded@example.com", "display_name": "P"}, ["body", "email"]),
        ("/users", {"email": "ünï@example.com", "display_name": "P"}, ["body", "email"]),
        ("/templates", {"name": "t", "join_policy": None}, ["body", "join_policy"]),
    ],
)
def test_numbers_and_strings_out_of_bounds_are_422(
    api: Api, admin_token: str, path: str, body: dict[str, Any], loc: list[Any]
) -> None:
    before = _table_items(api)
    r = api.post(path, token=admin_token, json=body)
    assert r.status == 422, r
    locs = [[str(x) for x in e["loc"]][: len(loc)] for e in r.json()["errors"]]
    assert [str(x) for x in loc] in locs, r
    assert _table_items(api) == before


def test_patch_bodies_need_a_field_and_no_meaningless_nulls(
    api: Api, admin_token: str, wait_until: Any
) -> None:
    user, _ = make_user(api, admin_token)
    assert_validation(api.patch(f"/users/{user['id']}", token=admin_token, json={}), ["body"])
    for body in ({"is_admin": None}, {"is_active": None, "is_admin": None}):
        r = api.patch(f"/users/{user['id']}", token=admin_token, json=body)
        assert_validation(r, ["body", "is_admin"])
    project = create_active(api, admin_token, wait_until, name="Patchy")
    path = f"/projects/{project['id']}"
    assert_validation(api.patch(path, token=admin_token, json={}), ["body"])
    assert_validation(
        api.patch(path, token=admin_token, json={"join_policy": None}), ["body", "join_policy"]
    )
    # null where it means "remove" stays allowed
    r = api.patch(path, token=admin_token, json={"homepage": None, "max_members": None})
    assert r.status == 200, r


def test_if_match_out_of_shape_or_beyond_any_version(
    api: Api, admin_token: str, wait_until: Any
) -> None:
    project = create_active(api, admin_token, wait_until, name="Matchy")
    path = f"/projects/{project['id']}"
    r = api.patch(
        path, token=admin_token, json={"description": "d"}, headers={"If-Match": "9" * 40}
    )
    assert_validation(r, ["header", "if-match"])
    r = api.patch(
        path,
        token=admin_token,
        json={"description": "d"},
        headers={"If-Match": '"' + "9" * 18 + '"'},
    )
    assert_problem(r, 412)
    r = api.delete(path, token=admin_token, query={"reclaim": "maybe"})
    assert_problem(r, 400, loc=["query", "reclaim"])


def test_a_weak_etag_never_matches_if_match(api: Api, admin_token: str, wait_until: Any) -> None:
    """RFC 9110 (13.1.1): If-Match uses the strong comparison, so a weak ETag (`W/"3"`)
    never matches, not even the current version's: 412 and nothing written, on every
    route that takes If-Match. The same tag without W/ does."""
    user, _ = make_user(api, admin_token, "Weakly")
    bot = api.post("/bots", token=admin_token, json={"display_name": "Weak bot"}).json()
    project = create_active(api, admin_token, wait_until, name="Weakly Tagged")
    pid = project["id"]

    def current(path: str) -> str:
        r = api.get(path, token=admin_token)
        assert r.status == 200, r
        return r.headers["etag"]

    writes = [
        ("PATCH", f"/projects/{pid}", f"/projects/{pid}", {"description": "w"}, None),
        ("PUT", f"/projects/{pid}/profile", f"/projects/{pid}", {"description": "w"}, None),
        ("POST", f"/projects/{pid}/actions", f"/projects/{pid}", {"action": "suspend"}, None),
        ("PATCH", f"/users/{user['id']}", f"/users/{user['id']}", {"is_admin": True}, None),
        ("PATCH", f"/bots/{bot['id']}", f"/bots/{bot['id']}", {"display_name": "W"}, None),
        ("DELETE", f"/bots/{bot['id']}", f"/bots/{bot['id']}", None, None),
        ("DELETE", f"/projects/{pid}", f"/projects/{pid}", None, {"reclaim": "false"}),
    ]
    for method, path, read, body, query in writes:
        etag = current(read)
        assert not etag.startswith("W/"), etag
        r = api.request(
            method,
            path,
            token=admin_token,
            json=body,
            query=query,
            headers={"If-Match": f"W/{etag}"},
        )
        assert_problem(r, 412, "precondition-failed")
        assert current(read) == etag, (method, path)  # nothing written
        r = api.request(
            method, path, token=admin_token, json=body, query=query, headers={"If-Match": etag}
        )
        assert r.status in (200, 202, 204), (method, path, r)
    wait_until(lambda: api.get(f"/projects/{pid}", token=admin_token).json()["status"] == "deleted")


def _cursor(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_cursors_out_of_shape_are_400(api: Api, admin_token: str, wait_until: Any) -> None:
    project = create_active(api, admin_token, wait_until, name="Cursory")
    deep = base64.urlsafe_b64encode(b"[" * 700 + b"]" * 700).decode().rstrip("=")
    for path in (
        "/projects",
        f"/projects/{project['id']}/history",
        f"/projects/{project['id']}/images",
    ):
        for cursor in (deep, _cursor({"k": {}, "s": "x"}), "%%%", _cursor([1, 2])):
            assert_problem(
                api.get(path, token=admin_token, query={"cursor": cursor}),
                400,
                loc=["query", "cursor"],
            )


def test_an_images_cursor_without_its_token_is_400(
    api: Api, admin_token: str, wait_until: Any
) -> None:
    from tenantry.pagination import encode_cursor, fingerprint

    project = create_active(api, admin_token, wait_until, name="Imagery")
    path = f"/projects/{project['id']}/images"
    forged = encode_cursor({"x": "y"}, fingerprint("images", project["id"]))
    assert_problem(
        api.get(path, token=admin_token, query={"cursor": forged}), 400, loc=["query", "cursor"]
    )
    # a token the registry refuses: 400 for the cursor that carried it
    unknown = encode_cursor({"t": "not-a-token"}, fingerprint("images", project["id"]))
    with mock.patch.object(registry, "_ecr", return_value=_refusing_registry()):
        r = api.get(path, token=admin_token, query={"cursor": unknown})
        assert_problem(r, 400, loc=["query", "cursor"])
        # the same refusal without a token of ours is the registry's fault: 503
        assert_problem(api.get(path, token=admin_token), 503, "unavailable")


def _refusing_registry() -> Any:
    """An ECR client whose DescribeImages answers InvalidParameterException, as ECR does
    for a nextToken it did not issue."""
    from types import SimpleNamespace

    from botocore.exceptions import ClientError

    def describe_images(**_kwargs: Any) -> Any:
        raise ClientError(
            {
                "Error": {"Code": "InvalidParameterException", "Message": "bad nextToken"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            },
            "DescribeImages",
        )

    missing = type("RepositoryNotFoundException", (Exception,), {})
    return SimpleNamespace(
        describe_images=describe_images,
        exceptions=SimpleNamespace(RepositoryNotFoundException=missing),
    )


@pytest.mark.parametrize(
    "failure",
    [
        registry.TransientError("busy"),
        registry.RegistryError("AccessDenied", "AccessDeniedException"),
    ],
)
def test_a_registry_failure_is_a_retryable_503(
    api: Api, admin_token: str, wait_until: Any, failure: Exception
) -> None:
    project = create_active(api, admin_token, wait_until, name="Registry down")
    with mock.patch.object(registry, "list_images", side_effect=failure):
        r = api.get(f"/projects/{project['id']}/images", token=admin_token)
    assert_problem(r, 503, "unavailable")
    assert r.headers.get("retry-after"), r
    assert "AccessDenied" not in r.json()["detail"], r
