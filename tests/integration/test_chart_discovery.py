"""Chart discovery end to end in the emulated stack: a push to the emulated ECR registry
(local/ecr_registry.py) announces ECR's `ECR Image Action` event on EventBridge, the
template's rule sends what matches to the chart discovery queue, and the queue's event
source (local/sqs_delivery.py) hands batches to ChartDiscoveryFunction, which pulls the
chart back over the OCI distribution API (tenantry/chart_registry.py, the production code
path) and writes the catalog."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local import ecr_registry, eventbridge, sqs_delivery
from local.ecr_registry import (
    DEMO_REPOSITORY,
    DEMO_TAG,
    Registry,
    archive,
    image_action,
    image_action_event,
)
from tests.harness import Api, deliver, emulated_ecr
from tests.integration.helpers import sqs_batch

SEMVER_BRANCH = r"^(?P<version>\d+\.\d+\.\d+)-(?P<branch>[a-z0-9-]+)-(?P<commit>[0-9a-f]{7,40})$"


@pytest.fixture
def ecr(api: Api) -> Iterator[Registry]:
    with emulated_ecr(api) as registry:
        yield registry


def charts(api: Api, token: str, **query: Any) -> list[dict[str, Any]]:
    r = api.get("/helm-charts", token=token, query={"limit": 100, **query})
    assert r.status == 200, r
    return list(r.json()["items"])


def table_items(api: Api) -> int:
    name = next(iter(api.stack.table_names().values()))
    return int(api.stack.client("dynamodb").scan(TableName=name, Select="COUNT")["Count"])


def chart_archive(name: str = "web", **files: str | bytes) -> bytes:
    return archive(
        {f"{name}/Chart.yaml": f"name: {name}\n", **{f"{name}/{k}": v for k, v in files.items()}}
    )


def put(api: Api, detail: dict[str, Any], *, later: int = 0) -> None:
    """ECR's event on EventBridge; `later`: that many seconds after now (event times have
    seconds: a DELETE wins a tie with a PUSH)."""
    entry: dict[str, Any] = {
        "Source": "aws.ecr",
        "DetailType": "ECR Image Action",
        "Detail": json.dumps(detail),
    }
    if later:
        entry["Time"] = datetime.now(UTC) + timedelta(seconds=later)
    assert eventbridge.put_events(api.stack, [entry])["FailedEntryCount"] == 0


def push_detail(repo: str, digest: str, tag: str | None, action: str = "PUSH") -> dict[str, Any]:
    return image_action(repo, digest, action, tag)


def event(detail: dict[str, Any], time: str, event_id: str = "ev") -> dict[str, Any]:
    return image_action_event(detail, time=time, event_id=event_id)


def dead_letters(api: Api) -> list[dict[str, Any]]:
    sqs = api.stack.client("sqs")
    url = sqs.get_queue_url(QueueName="ChartDiscoveryDeadLetterQueue")["QueueUrl"]
    return list(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))


def test_a_push_makes_the_registry_its_kind_and_the_chart(
    api: Api, admin_token: str, ecr: Registry
) -> None:
    r = api.post("/helm-tag-formats", token=admin_token, json={"pattern": SEMVER_BRANCH})
    assert r.status == 201, r
    digest = ecr_registry.push_demo_chart(ecr)
    assert deliver(api) == 1

    (chart,) = charts(api, admin_token)
    assert chart["image_digest"] == digest and chart["image_tag"] == DEMO_TAG
    assert chart["available"] is True and chart["error"] is None
    assert chart["values_ui"]["inputs"][0]["id"] == "greeting"
    assert chart["values_ui"]["inputs"][1]["minimum"] == 0
    assert chart["actions_schema"]["actions"][0]["id"] == "purge-cache"
    assert chart["features"]["spec"]["ingress"]["enabled"] is True
    assert chart["resource_types"]["key"] == "redirect"
    assert (chart["parsed_version"], chart["parsed_branch"], chart["parsed_commit"]) == (
        "1.4.0",
        "main",
        "3f9a2c1",
    )
    assert chart["tag_format_id"] == r.json()["id"] and chart["parsed_revision"] is None

    registry = api.get(f"/helm-registries/{chart['helm_registry_id']}", token=admin_token).json()
    assert registry["domain_name"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert registry["repo_name"] == DEMO_REPOSITORY and registry["available"] is True
    kind = api.get(f"/deployment-kinds/{registry['kind_id']}", token=admin_token).json()
    assert kind["name"] == "web-frontend"
    # pulled with the emulated ECR's login; the blob's presigned URL without it
    manifest, blob, presigned = ecr.requests
    assert manifest["path"] == f"/v2/{DEMO_REPOSITORY}/manifests/{digest}"
    assert manifest["authorization"].startswith("Basic ")
    assert blob["path"].startswith(f"/v2/{DEMO_REPOSITORY}/blobs/sha256:")
    assert presigned["authorization"] is None


def test_a_redelivered_push_creates_nothing_new(api: Api, admin_token: str, ecr: Registry) -> None:
    digest = ecr_registry.push_demo_chart(ecr)
    deliver(api)
    before, pulls = table_items(api), len(ecr.requests)
    detail = push_detail(DEMO_REPOSITORY, digest, DEMO_TAG)
    put(api, detail)
    put(api, detail)
    assert deliver(api) == 2
    assert table_items(api) == before  # no item more, none rewritten to a second chart
    assert len(ecr.requests) == pulls  # a known chart is not pulled again
    assert len(charts(api, admin_token)) == 1
    assert len(api.get("/helm-registries", token=admin_token).json()["items"]) == 1
    assert len(api.get("/deployment-kinds", token=admin_token).json()["items"]) == 1


def test_the_same_batch_twice_is_one_chart(api: Api, admin_token: str, ecr: Registry) -> None:
    """Two deliveries of one message (at-least-once), straight to the function."""
    digest = ecr_registry.push_demo_chart(ecr, announce=False)
    batch = sqs_batch(event(push_detail(DEMO_REPOSITORY, digest, DEMO_TAG), "2025-01-15T09:58:00Z"))
    assert api.invoke("ChartDiscoveryFunction", batch) == {"batchItemFailures": []}
    once = table_items(api)
    assert api.invoke("ChartDiscoveryFunction", batch) == {"batchItemFailures": []}
    assert table_items(api) == once
    (chart,) = charts(api, admin_token)
    assert chart["created_at"] == "2025-01-15T09:58:00.000000Z"  # the push's time


def test_another_tag_of_the_same_image_is_another_chart(
    api: Api, admin_token: str, ecr: Registry
) -> None:
    digest = ecr_registry.push_demo_chart(ecr)
    put(api, push_detail(DEMO_REPOSITORY, digest, "latest"))
    deliver(api)
    assert sorted(c["image_tag"] for c in charts(api, admin_token)) == [DEMO_TAG, "latest"]


def test_a_bad_file_is_named_in_error_and_the_others_count(
    api: Api, admin_token: str, ecr: Registry
) -> None:
    ecr.push_chart(
        "charts/api-charts",
        "2.0.0",
        chart_archive(
            "api",
            **{
                "platz/values-ui.yaml": "inputs: []\n",
                "platz/actions.yaml": "- spec: {id: a\n",
                "platz/features.yaml": "spec: {cardinality: OnePerCluster}\n",
            },
        ),
    )
    deliver(api)
    (chart,) = charts(api, admin_token)
    assert chart["error"].startswith("platz/actions.yaml: not valid YAML")
    assert chart["values_ui"] == {"inputs": []}
    assert chart["features"] == {"spec": {"cardinality": "OnePerCluster"}}
    assert chart["actions_schema"] is None and chart["resource_types"] is None
    kinds = api.get("/deployment-kinds", token=admin_token).json()["items"]
    assert [k["name"] for k in kinds] == ["api"]  # `-charts` goes too


def test_repositories_of_one_kind_name_share_the_kind(
    api: Api, admin_token: str, ecr: Registry
) -> None:
    ecr.push_chart("charts/web-chart", "1", chart_archive())
    ecr.push_chart("charts/web", "1", chart_archive())
    deliver(api)
    registries = api.get("/helm-registries", token=admin_token).json()["items"]
    assert [r["repo_name"] for r in registries] == ["charts/web", "charts/web-chart"]
    assert len({r["kind_id"] for r in registries}) == 1


def test_a_registry_keeps_its_kind_when_an_admin_renames_it(
    api: Api, admin_token: str, ecr: Registry
) -> None:
    ecr.push_chart("charts/web-chart", "1", chart_archive())
    deliver(api)
    (registry,) = api.get("/helm-registries", token=admin_token).json()["items"]
    r = api.patch(
        f"/deployment-kinds/{registry['kind_id']}", token=admin_token, json={"name": "website"}
    )
    assert r.status == 200, r
    ecr.push_chart("charts/web-chart", "2", chart_archive(**{"values.yaml": "a: 1\n"}))
    ecr.push_chart("charts/web-charts", "1", chart_archive())  # derives `web` again: a new kind
    deliver(api)
    kinds = {
        k["name"]: k["id"] for k in api.get("/deployment-kinds", token=admin_token).json()["items"]
    }
    assert kinds.keys() == {"web", "website"}
    assert {c["image_tag"] for c in charts(api, admin_token, kind_id=kinds["website"])} == {
        "1",
        "2",
    }
    assert len(charts(api, admin_token, kind_id=kinds["web"])) == 1


def test_what_is_not_a_chart_push_is_left_alone(api: Api, admin_token: str, ecr: Registry) -> None:
    image = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "1" * 64,
            "size": 2,
        },
        "layers": [],
    }
    ecr.push("charts/web-chart", "an-image", image)  # a container image, not a chart
    ecr.push_chart("tenantry/demo", "1", chart_archive())  # outside the charts prefix
    put(api, {**push_detail("charts/web-chart", "sha256:" + "2" * 64, "x"), "result": "FAILURE"})
    put(api, push_detail("charts/web-chart", "sha256:" + "3" * 64, "gone"))  # deleted since
    put(api, push_detail("charts/web-chart", "sha256:" + "4" * 64, None))  # untagged
    before = table_items(api)
    # the rule's pattern lets through the image, the deleted one and the untagged one
    assert deliver(api) == 3
    assert table_items(api) == before
    assert charts(api, admin_token) == []
    assert api.get("/helm-registries", token=admin_token).json()["items"] == []
    assert dead_letters(api) == []


def test_a_delete_makes_the_chart_unavailable_and_a_push_brings_it_back(
    api: Api, admin_token: str, ecr: Registry
) -> None:
    digest = ecr_registry.push_demo_chart(ecr)
    put(api, push_detail(DEMO_REPOSITORY, digest, "latest"))
    deliver(api)
    put(api, push_detail(DEMO_REPOSITORY, digest, "latest", "DELETE"))  # untag one
    deliver(api)
    by_tag = {c["image_tag"]: c["available"] for c in charts(api, admin_token)}
    assert by_tag == {DEMO_TAG: True, "latest": False}
    assert [c["image_tag"] for c in charts(api, admin_token, available="false")] == ["latest"]

    ecr.delete(DEMO_REPOSITORY, digest)  # the image: every tag it still has
    deliver(api)
    assert charts(api, admin_token, available="true") == []

    put(api, push_detail(DEMO_REPOSITORY, digest, DEMO_TAG), later=5)  # pushed again
    deliver(api)
    by_tag = {c["image_tag"]: c["available"] for c in charts(api, admin_token)}
    assert by_tag == {DEMO_TAG: True, "latest": False}


def test_a_delete_without_a_tag_takes_every_tag_of_the_digest(
    api: Api, admin_token: str, ecr: Registry
) -> None:
    digest = ecr_registry.push_demo_chart(ecr)
    put(api, push_detail(DEMO_REPOSITORY, digest, "latest"))
    deliver(api)
    put(api, push_detail(DEMO_REPOSITORY, digest, None, "DELETE"))
    deliver(api)
    assert {c["available"] for c in charts(api, admin_token)} == {False}


def test_a_late_push_does_not_undo_a_later_delete(
    api: Api, admin_token: str, ecr: Registry
) -> None:
    """SQS keeps no order: the events' times decide."""
    digest = ecr_registry.push_demo_chart(ecr, announce=False)

    def message(action: str, time: str) -> dict[str, Any]:
        detail = push_detail(DEMO_REPOSITORY, digest, DEMO_TAG, action)
        return sqs_batch(event(detail, time, f"{action}-{time}"))

    for action, time in (
        ("PUSH", "2025-01-15T10:00:00Z"),
        ("DELETE", "2025-01-15T10:05:00Z"),
        ("PUSH", "2025-01-15T10:00:00Z"),  # redelivered late
    ):
        assert api.invoke("ChartDiscoveryFunction", message(action, time)) == {
            "batchItemFailures": []
        }
    (chart,) = charts(api, admin_token)
    assert chart["available"] is False


def test_a_registry_asking_for_a_bearer_token_gets_one(api: Api, admin_token: str) -> None:
    with emulated_ecr(api, auth="bearer") as ecr:
        ecr_registry.push_demo_chart(ecr)
        deliver(api)
        paths = [r["path"] for r in ecr.requests]
    assert [c["image_tag"] for c in charts(api, admin_token)] == [DEMO_TAG]
    assert paths[:3] == [paths[0], "/token", paths[0]]  # challenged, token, again
    assert ecr.requests[2]["authorization"].startswith("Bearer ")


def test_a_failing_message_is_named_and_the_others_are_done(
    api: Api, admin_token: str, ecr: Registry
) -> None:
    """Powertools' batch processing: one bad message never blocks the others."""
    digest = ecr_registry.push_demo_chart(ecr, announce=False)
    good = event(push_detail(DEMO_REPOSITORY, digest, DEMO_TAG), "2025-01-15T09:58:00Z", "ok")
    batch = sqs_batch("{nope", {"detail-type": "Other"}, good)
    result = api.invoke("ChartDiscoveryFunction", batch)
    assert result == {"batchItemFailures": [{"itemIdentifier": "0"}, {"itemIdentifier": "1"}]}
    assert len(charts(api, admin_token)) == 1


def test_a_registry_that_fails_once_is_tried_again(
    api: Api, admin_token: str, ecr: Registry
) -> None:
    ecr.faults["/manifests/"] = [503]
    ecr_registry.push_demo_chart(ecr)
    assert deliver(api) == 2  # received twice: failed, then done
    assert len(charts(api, admin_token)) == 1
    assert dead_letters(api) == []


def test_an_event_that_keeps_failing_lands_in_the_dead_letter_queue(
    api: Api, admin_token: str, ecr: Registry
) -> None:
    ecr.credentials = ("AWS", "not-what-ecr-issued")  # every pull is refused: 401
    ecr_registry.push_demo_chart(ecr)
    received = deliver(api)
    assert received == 5  # the queue's maxReceiveCount
    manifests = [r for r in ecr.requests if "/manifests/" in r["path"]]
    assert len(manifests) == 5
    (dead,) = dead_letters(api)
    assert json.loads(dead["Body"])["detail"]["repository-name"] == DEMO_REPOSITORY
    assert charts(api, admin_token) == []


def test_a_chart_over_the_size_limit_is_recorded_with_the_reason(
    api: Api, admin_token: str, ecr: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantry import chart_registry

    monkeypatch.setattr(chart_registry, "MAX_CHART_BYTES", 1000)
    ecr_registry.push_demo_chart(ecr)
    deliver(api)
    (chart,) = charts(api, admin_token)
    assert "over 1000" in chart["error"] and chart["values_ui"] is None
    assert not [r for r in ecr.requests if "/blobs/" in r["path"]]  # not downloaded


def test_a_corrupt_transfer_is_retried_not_recorded(
    api: Api, admin_token: str, ecr: Registry
) -> None:
    digest = ecr_registry.push_demo_chart(ecr, announce=False)
    layer = json.loads(ecr.images[(DEMO_REPOSITORY, digest)].manifest)["layers"][0]["digest"]
    good = ecr.blobs[layer]
    ecr.blobs[layer] = good[:-10]  # truncated
    put(api, push_detail(DEMO_REPOSITORY, digest, DEMO_TAG))
    sources = sqs_delivery.event_sources(api.stack)
    assert sqs_delivery.deliver(api.stack, sources[0]) == 1  # failed: kept
    assert charts(api, admin_token) == []
    ecr.blobs[layer] = good
    deliver(api)
    (chart,) = charts(api, admin_token)
    assert chart["error"] is None


def test_a_new_tag_format_parses_the_unparsed_charts_a_page_at_a_time(
    api: Api, admin_token: str, ecr: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantry.domain import catalog

    monkeypatch.setattr(catalog, "REPARSE_PAGE", 2)
    for i in range(5):
        ecr.push_chart("charts/web-chart", f"1.0.{i}-main-abcdef{i}", chart_archive())
    ecr.push_chart("charts/web-chart", "latest", chart_archive())
    deliver(api)
    assert all(c["tag_format_id"] is None for c in charts(api, admin_token))

    r = api.post("/helm-tag-formats", token=admin_token, json={"pattern": SEMVER_BRANCH})
    assert r.status == 201, r
    parsed = [c for c in charts(api, admin_token) if c["tag_format_id"]]
    assert len(parsed) == 2  # the first page, in the request
    assert deliver(api) >= 2  # the rest, a page per message
    by_tag = {c["image_tag"]: c for c in charts(api, admin_token)}
    assert {t for t, c in by_tag.items() if c["tag_format_id"] is None} == {"latest"}
    assert by_tag["1.0.3-main-abcdef3"]["parsed_commit"] == "abcdef3"
    assert {c["image_tag"] for c in charts(api, admin_token, parsed_branch="main")} == {
        f"1.0.{i}-main-abcdef{i}" for i in range(5)
    }

    # a later format parses what the first did not, and leaves the others as they are
    r = api.post("/helm-tag-formats", token=admin_token, json={"pattern": r"^(?P<branch>latest)$"})
    assert r.status == 201, r
    assert by_tag["1.0.3-main-abcdef3"] == next(
        c for c in charts(api, admin_token) if c["image_tag"] == "1.0.3-main-abcdef3"
    )
    (latest,) = charts(api, admin_token, parsed_branch="latest")
    assert latest["tag_format_id"] == r.json()["id"]
