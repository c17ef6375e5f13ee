"""The catalog's routes: deployment kinds, helm registries, helm tag formats and helm charts.
Success, bad input (4xx, never 500), the wrong caller and a missing resource for each;
lists paged by cursor and filtered, by Query on their index."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.ecr_registry import Registry, archive, image_action, image_action_event
from tests.harness import Api, emulated_ecr
from tests.integration.helpers import (
    assert_problem,
    assert_validation,
    make_bot,
    make_user,
    sqs_batch,
)
from tests.integration.lists import reads

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def plain(api: Api, admin_token: str) -> str:
    return make_user(api, admin_token, "Plain")[1]


@pytest.fixture
def bot(api: Api, admin_token: str) -> str:
    return make_bot(api, admin_token, "Reader")[1]


@pytest.fixture
def agent(api: Api, admin_token: str) -> str:
    r = api.post("/clusters", token=admin_token, json={"name": "catalog-edge"})
    assert r.status == 201, r
    return str(r.json()["agent_token"])


@pytest.fixture
def ecr(api: Api) -> Iterator[Registry]:
    with emulated_ecr(api) as registry:
        yield registry


def discover(api: Api, ecr: Registry, repo: str, tag: str, time: str) -> dict[str, Any]:
    """A chart pushed to `repo:tag` and its push event, of that time, handed to discovery."""
    digest = ecr.push_chart(repo, tag, archive({"c/Chart.yaml": tag}), announce=False)
    event = image_action_event(image_action(repo, digest, "PUSH", tag), time=time, event_id=tag)
    assert api.invoke("ChartDiscoveryFunction", sqs_batch(event)) == {"batchItemFailures": []}
    return event


@pytest.fixture
def catalog(api: Api, admin_token: str, ecr: Registry) -> dict[str, Any]:
    """Two registries of two kinds: web (4 charts, branches main and dev, one deleted) and
    api (1 chart); a tag format parsing `<version>-<branch>`."""
    r = api.post(
        "/helm-tag-formats",
        token=admin_token,
        json={"pattern": r"^(?P<version>\d+\.\d+)-(?P<branch>[a-z]+)$"},
    )
    assert r.status == 201, r
    for tag, minute in (("1.0-main", 1), ("1.1-dev", 2), ("1.2-main", 3)):
        discover(api, ecr, "charts/web-chart", tag, f"2025-01-15T10:0{minute}:00Z")
    discover(api, ecr, "charts/web-chart", "nightly", "2025-01-15T10:04:00Z")
    discover(api, ecr, "charts/api", "2.0-main", "2025-01-15T10:05:00Z")
    charts = api.get("/helm-charts", token=admin_token).json()["items"]
    regs = {
        r["repo_name"]: r for r in api.get("/helm-registries", token=admin_token).json()["items"]
    }
    return {
        "charts": {c["image_tag"]: c for c in charts},
        "web": regs["charts/web-chart"],
        "api": regs["charts/api"],
        "format": r.json()["id"],
    }


# --- deployment kinds ---------------------------------------------------------------------------


def test_an_admin_creates_and_renames_a_kind(api: Api, admin_token: str) -> None:
    r = api.post("/deployment-kinds", token=admin_token, json={"name": "Worker"})
    assert r.status == 201, r
    kind = r.json()
    assert kind["name"] == "Worker" and kind["version"] == 1
    assert r.headers["location"] == f"/deployment-kinds/{kind['id']}"
    assert r.headers["etag"] == '"1"'

    r = api.get(f"/deployment-kinds/{kind['id']}", token=admin_token)
    assert (r.status, r.json(), r.headers["etag"]) == (200, kind, '"1"')

    r = api.patch(
        f"/deployment-kinds/{kind['id']}",
        token=admin_token,
        json={"name": "worker"},  # the same name in another case: its own name
        headers={"if-match": '"1"'},
    )
    assert (r.status, r.json()["name"], r.json()["version"]) == (200, "worker", 2), r
    r = api.patch(f"/deployment-kinds/{kind['id']}", token=admin_token, json={"name": "jobs"})
    assert (r.status, r.headers["etag"]) == (200, '"3"'), r
    # the old name is free again, the new one taken
    assert api.post("/deployment-kinds", token=admin_token, json={"name": "worker"}).status == 201
    r = api.post("/deployment-kinds", token=admin_token, json={"name": "JOBS"})
    assert_problem(r, 409, "conflict")


def test_kind_names_are_unique_regardless_of_case(api: Api, admin_token: str) -> None:
    assert api.post("/deployment-kinds", token=admin_token, json={"name": "web"}).status == 201
    other = api.post("/deployment-kinds", token=admin_token, json={"name": "api"}).json()
    assert_problem(api.post("/deployment-kinds", token=admin_token, json={"name": "Web"}), 409)
    r = api.patch(f"/deployment-kinds/{other['id']}", token=admin_token, json={"name": "WEB"})
    assert_problem(r, 409, "conflict")
    assert api.get(f"/deployment-kinds/{other['id']}", token=admin_token).json()["name"] == "api"


def test_a_kind_create_is_idempotent_with_a_key(api: Api, admin_token: str) -> None:
    headers = {"idempotency-key": "kind-1"}
    first = api.post("/deployment-kinds", token=admin_token, json={"name": "a"}, headers=headers)
    again = api.post("/deployment-kinds", token=admin_token, json={"name": "a"}, headers=headers)
    assert (first.status, again.status, first.json()) == (201, 201, again.json())
    assert len(api.get("/deployment-kinds", token=admin_token).json()["items"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "has space"},
        {"name": "-dash"},
        {"name": "a" * 54},
        {"name": 7},
        {"name": "ok", "extra": 1},
    ],
)
def test_a_bad_kind_is_422(api: Api, admin_token: str, body: dict[str, Any]) -> None:
    r = api.post("/deployment-kinds", token=admin_token, json=body)
    assert_problem(r, 422, "validation")
    kind = api.post("/deployment-kinds", token=admin_token, json={"name": "k"}).json()
    r = api.patch(f"/deployment-kinds/{kind['id']}", token=admin_token, json=body)
    assert_problem(r, 422, "validation")


def test_a_kind_rename_with_a_stale_if_match_is_412(api: Api, admin_token: str) -> None:
    kind = api.post("/deployment-kinds", token=admin_token, json={"name": "k"}).json()
    r = api.patch(
        f"/deployment-kinds/{kind['id']}",
        token=admin_token,
        json={"name": "k2"},
        headers={"if-match": '"7"'},
    )
    assert_problem(r, 412, "precondition-failed")


def test_a_missing_kind_is_404(api: Api, admin_token: str) -> None:
    assert_problem(api.get(f"/deployment-kinds/{MISSING}", token=admin_token), 404, "not-found")
    r = api.patch(f"/deployment-kinds/{MISSING}", token=admin_token, json={"name": "x"})
    assert_problem(r, 404, "not-found")
    assert_problem(api.get("/deployment-kinds/a%20b", token=admin_token), 422)


def test_kinds_are_listed_by_name_and_paged(api: Api, admin_token: str) -> None:
    for name in ("delta", "alpha", "charlie", "bravo"):
        api.post("/deployment-kinds", token=admin_token, json={"name": name})
    r = api.get("/deployment-kinds", token=admin_token, query={"limit": 3})
    first = r.json()
    assert [k["name"] for k in first["items"]] == ["alpha", "bravo", "charlie"]
    r = api.get(
        "/deployment-kinds", token=admin_token, query={"limit": 3, "cursor": first["next_cursor"]}
    )
    assert [k["name"] for k in r.json()["items"]] == ["delta"]
    assert r.json()["next_cursor"] is None
    r = api.get("/deployment-kinds", token=admin_token, query={"name": "charlie"})
    assert [k["name"] for k in r.json()["items"]] == ["charlie"]
    r = api.get("/deployment-kinds", token=admin_token, query={"name": "Charlie"})
    assert r.json()["items"] == []  # a name is matched as written
    r = api.get(
        "/deployment-kinds", token=admin_token, query={"cursor": first["next_cursor"], "name": "x"}
    )
    assert_problem(r, 400, "bad-request", loc=["query", "cursor"])
    assert_problem(api.get("/deployment-kinds", token=admin_token, query={"limit": 0}), 422)


def test_only_platform_admins_write_kinds(
    api: Api, admin_token: str, plain: str, bot: str, agent: str
) -> None:
    kind = api.post("/deployment-kinds", token=admin_token, json={"name": "k"}).json()
    for token in (plain, bot):
        assert_problem(api.post("/deployment-kinds", token=token, json={"name": "x"}), 403)
        r = api.patch(f"/deployment-kinds/{kind['id']}", token=token, json={"name": "x"})
        assert_problem(r, 403, "forbidden")
        # and a missing one is 403 too: the answer does not depend on the resource
        r = api.patch(f"/deployment-kinds/{MISSING}", token=token, json={"name": "x"})
        assert_problem(r, 403, "forbidden")
        assert api.get(f"/deployment-kinds/{kind['id']}", token=token).status == 200
        assert api.get("/deployment-kinds", token=token).json()["items"] == [kind]
    assert_problem(api.get("/deployment-kinds", token=agent), 403, "forbidden")
    assert_problem(api.get("/deployment-kinds"), 401, "unauthorized")


# --- helm registries ----------------------------------------------------------------------------


def test_registries_are_listed_by_repository_and_kind(
    api: Api, admin_token: str, catalog: dict[str, Any], ecr: Registry
) -> None:
    web, api_reg = catalog["web"], catalog["api"]
    discover(api, ecr, "charts/web-charts", "1.0-main", "2025-01-15T11:00:00Z")  # kind web too
    r = api.get("/helm-registries", token=admin_token, query={"repo_name": "charts/web-chart"})
    assert [x["id"] for x in r.json()["items"]] == [web["id"]]
    r = api.get("/helm-registries", token=admin_token, query={"kind_id": web["kind_id"]})
    assert [x["repo_name"] for x in r.json()["items"]] == ["charts/web-chart", "charts/web-charts"]
    r = api.get(
        "/helm-registries",
        token=admin_token,
        query={"kind_id": web["kind_id"], "repo_name": "charts/web-charts"},
    )
    assert [x["repo_name"] for x in r.json()["items"]] == ["charts/web-charts"]
    r = api.get("/helm-registries", token=admin_token, query={"kind_id": api_reg["kind_id"]})
    assert [x["id"] for x in r.json()["items"]] == [api_reg["id"]]
    r = api.get("/helm-registries", token=admin_token, query={"limit": 2})
    page = r.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    r = api.get("/helm-registries", token=admin_token, query={"cursor": page["next_cursor"]})
    assert [x["repo_name"] for x in r.json()["items"]] == ["charts/web-charts"]
    assert (
        api.get("/helm-registries", token=admin_token, query={"kind_id": MISSING}).json()["items"]
        == []
    )
    r = api.get("/helm-registries", token=admin_token, query={"repo_name": "Not Valid"})
    assert_problem(r, 422, "validation")


def test_an_admin_sets_and_clears_a_registrys_icon(
    api: Api, admin_token: str, plain: str, catalog: dict[str, Any]
) -> None:
    path = f"/helm-registries/{catalog['web']['id']}"
    r = api.patch(path, token=admin_token, json={"fa_icon": "globe"}, headers={"if-match": '"1"'})
    assert (r.status, r.json()["fa_icon"], r.headers["etag"]) == (200, "globe", '"2"'), r
    assert api.get(path, token=plain).json()["fa_icon"] == "globe"
    r = api.patch(path, token=admin_token, json={"fa_icon": None})
    assert (r.status, r.json()["fa_icon"], r.json()["version"]) == (200, None, 3), r
    r = api.patch(path, token=admin_token, json={"fa_icon": "x"}, headers={"if-match": '"1"'})
    assert_problem(r, 412, "precondition-failed")
    for body in ({}, {"fa_icon": "Not An Icon"}, {"fa_icon": 3}, {"repo_name": "x"}):
        assert_validation(
            api.patch(path, token=admin_token, json=body),
            ["body"] if not body else ["body", next(iter(body))],
        )
    assert_problem(api.patch(path, token=plain, json={"fa_icon": "x"}), 403, "forbidden")
    r = api.patch(f"/helm-registries/{MISSING}", token=admin_token, json={"fa_icon": "x"})
    assert_problem(r, 404, "not-found")
    assert_problem(api.get(f"/helm-registries/{MISSING}", token=plain), 404, "not-found")


# --- helm tag formats ---------------------------------------------------------------------------


def test_tag_formats_are_created_listed_oldest_first_and_deleted(
    api: Api, admin_token: str, plain: str
) -> None:
    made = []
    for pattern in (r"^(?P<version>\d+)$", r"^v(?P<version>\d+)$", r"(?P<commit>[0-9a-f]{40})"):
        r = api.post("/helm-tag-formats", token=admin_token, json={"pattern": pattern})
        assert r.status == 201, r
        assert r.headers["location"] == f"/helm-tag-formats/{r.json()['id']}"
        made.append(r.json())
    r = api.get("/helm-tag-formats", token=plain, query={"limit": 2})
    assert r.json()["items"] == made[:2]
    r = api.get("/helm-tag-formats", token=plain, query={"cursor": r.json()["next_cursor"]})
    assert r.json()["items"] == made[2:]
    assert api.get(f"/helm-tag-formats/{made[1]['id']}", token=plain).json() == made[1]
    assert api.delete(f"/helm-tag-formats/{made[1]['id']}", token=admin_token).status == 204
    assert_problem(api.get(f"/helm-tag-formats/{made[1]['id']}", token=plain), 404, "not-found")
    r = api.delete(f"/helm-tag-formats/{made[1]['id']}", token=admin_token)
    assert_problem(r, 404, "not-found")
    assert_problem(api.delete(f"/helm-tag-formats/{made[0]['id']}", token=plain), 403)
    assert_problem(
        api.post("/helm-tag-formats", token=plain, json={"pattern": "(?P<version>x)"}), 403
    )


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(?P<version>[0-9+)", "not a valid regular expression"),
        ("^[0-9]+$", "should match pattern"),
        ("(?P<version>x)(?P<size>y)", "not size"),
        ("(?P<version>" + "x" * 600 + ")", "at most 512"),
    ],
)
def test_a_tag_format_that_cannot_parse_tags_is_422(
    api: Api, admin_token: str, pattern: str, why: str
) -> None:
    r = api.post("/helm-tag-formats", token=admin_token, json={"pattern": pattern})
    body = assert_validation(r, ["body", "pattern"])
    assert why in body["errors"][0]["msg"], body
    assert api.get("/helm-tag-formats", token=admin_token).json()["items"] == []


def test_a_tag_format_twice_is_409_and_the_count_is_capped(
    api: Api, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantry.domain import catalog

    body = {"pattern": "(?P<version>.+)"}
    assert api.post("/helm-tag-formats", token=admin_token, json=body).status == 201
    assert_problem(api.post("/helm-tag-formats", token=admin_token, json=body), 409, "conflict")
    monkeypatch.setattr(catalog, "MAX_TAG_FORMATS", 2)
    assert (
        api.post("/helm-tag-formats", token=admin_token, json={"pattern": "(?P<commit>x)"}).status
        == 201
    )
    r = api.post("/helm-tag-formats", token=admin_token, json={"pattern": "(?P<branch>x)"})
    assert_problem(r, 409, "conflict")
    assert "delete one first" in r.json()["detail"]


# --- helm charts --------------------------------------------------------------------------------


def test_charts_are_listed_newest_first_and_paged(
    api: Api, admin_token: str, bot: str, catalog: dict[str, Any]
) -> None:
    newest_first = ["2.0-main", "nightly", "1.2-main", "1.1-dev", "1.0-main"]
    r = api.get("/helm-charts", token=bot)
    assert [c["image_tag"] for c in r.json()["items"]] == newest_first
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/helm-charts", token=bot, query=query).json()
        seen += [c["image_tag"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == newest_first


def test_charts_are_filtered_by_registry_kind_branch_and_availability(
    api: Api, admin_token: str, catalog: dict[str, Any], ecr: Registry
) -> None:
    web, api_reg = catalog["web"], catalog["api"]

    def tags(**query: Any) -> list[str]:
        r = api.get("/helm-charts", token=admin_token, query=query)
        assert r.status == 200, r
        return [c["image_tag"] for c in r.json()["items"]]

    assert tags(helm_registry_id=web["id"]) == ["nightly", "1.2-main", "1.1-dev", "1.0-main"]
    assert tags(kind_id=api_reg["kind_id"]) == ["2.0-main"]
    assert tags(helm_registry_id=web["id"], kind_id=web["kind_id"]) == tags(
        helm_registry_id=web["id"]
    )
    assert tags(helm_registry_id=web["id"], kind_id=api_reg["kind_id"]) == []
    assert tags(parsed_branch="main") == ["2.0-main", "1.2-main", "1.0-main"]
    assert tags(parsed_branch="main", kind_id=web["kind_id"]) == ["1.2-main", "1.0-main"]
    assert tags(helm_registry_id=MISSING) == []

    chart = catalog["charts"]["1.2-main"]
    detail = image_action("charts/web-chart", chart["image_digest"], "DELETE", "1.2-main")
    event = image_action_event(detail, time="2025-01-15T12:00:00Z", event_id="del")
    assert api.invoke("ChartDiscoveryFunction", sqs_batch(event)) == {"batchItemFailures": []}
    assert tags(available="false") == ["1.2-main"]
    assert tags(available="true", parsed_branch="main", helm_registry_id=web["id"]) == ["1.0-main"]


def test_a_filtered_chart_list_reads_a_bounded_budget_and_pages_every_match(
    api: Api, admin_token: str, catalog: dict[str, Any]
) -> None:
    got, cursor = [], None
    with reads(api) as seen:
        while True:
            query = {"limit": 1, "parsed_branch": "dev", **({"cursor": cursor} if cursor else {})}
            page = api.get("/helm-charts", token=admin_token, query=query).json()
            got += [c["image_tag"] for c in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
    assert got == ["1.1-dev"]
    queries = seen.queries()
    assert queries and all(q.params.get("IndexName") == "GSI3" for q in queries)
    assert all(q.params["ExpressionAttributeValues"][":pk"] == "CHARTS" for q in queries)


def test_a_chart_reads_with_its_extensions_and_parse(
    api: Api, plain: str, catalog: dict[str, Any]
) -> None:
    chart = catalog["charts"]["1.1-dev"]
    r = api.get(f"/helm-charts/{chart['id']}", token=plain)
    assert r.status == 200, r
    assert r.json() == chart
    assert (chart["parsed_version"], chart["parsed_branch"]) == ("1.1", "dev")
    assert chart["tag_format_id"] == catalog["format"]
    assert set(chart) == {
        "id",
        "created_at",
        "helm_registry_id",
        "image_digest",
        "image_tag",
        "available",
        "values_ui",
        "actions_schema",
        "features",
        "resource_types",
        "error",
        "tag_format_id",
        "parsed_version",
        "parsed_revision",
        "parsed_branch",
        "parsed_commit",
    }
    assert catalog["charts"]["nightly"]["tag_format_id"] is None


@pytest.mark.parametrize(
    "query",
    [
        {"available": "maybe"},
        {"helm_registry_id": "has space"},
        {"kind_id": "x" * 65},
        {"parsed_branch": ""},
        {"limit": "101"},
        {"cursor": "not-a-cursor"},
    ],
)
def test_bad_chart_list_parameters_are_4xx(
    api: Api, admin_token: str, query: dict[str, str]
) -> None:
    r = api.get("/helm-charts", token=admin_token, query=query)
    assert r.status in (400, 422), r
    assert_problem(r, r.status)


def test_a_missing_chart_is_404_and_an_agent_reads_nothing(
    api: Api, admin_token: str, agent: str
) -> None:
    assert_problem(api.get(f"/helm-charts/{MISSING}", token=admin_token), 404, "not-found")
    for path in (
        "/helm-charts",
        "/helm-registries",
        "/helm-tag-formats",
        f"/helm-charts/{MISSING}",
    ):
        assert_problem(api.get(path, token=agent), 403, "forbidden")
        assert_problem(api.get(path), 401, "unauthorized")
