"""ResourceSync: a deployment resource as a ConfigMap (or, with sensitive props, a Secret) in
the release's namespace, through the real loop, the real executor and the real `kubernetes`
client against the fake API server: create-or-replace, delete, safe to do twice, never an
object that is not the resource's, never a sensitive prop in a reason or a log line."""

from __future__ import annotations

import base64
import logging

import pytest

from tenantry_agent.client import WorkItem
from tenantry_agent.executor import ExecutorError, Redactor, resource_of
from tests.fake_kube import FakeKube
from tests.fake_tenantry import RESOURCE_ID, SECRET, FakeTenantry, resource_sync, wait_until

NAME = f"tenantry-resource-{RESOURCE_ID}"
DEPLOYER = "system:serviceaccount:payments:tenantry-deployer"
CONFIGMAP = f"/api/v1/namespaces/payments/configmaps/{NAME}"
SECRET_PATH = f"/api/v1/namespaces/payments/secrets/{NAME}"


def finished(tenantry: FakeTenantry, item_id: str, timeout: float = 10.0):
    wait_until(lambda: tenantry.item(item_id).outcome is not None, timeout=timeout)
    return tenantry.item(item_id).outcome


@pytest.fixture
def project(kube: FakeKube) -> None:
    kube.add_namespace("payments", {"tenantry.io/project": "payments"})


def test_apply_creates_a_labelled_configmap_as_the_deployer(
    tenantry: FakeTenantry, kube: FakeKube, project, cluster, start_agent
):
    item_id = tenantry.add("ResourceSync", "payments", **resource_sync())
    start_agent(cluster)
    assert finished(tenantry, item_id) == ("Done", None)
    obj = kube.object("payments", "ConfigMap", NAME)
    assert obj is not None and kube.object("payments", "Secret", NAME) is None
    assert obj["data"] == {"to_url": "https://example.com/", "code": "301"}  # text, or JSON
    assert obj["metadata"]["labels"] == {
        "tenantry.io/project": "payments",
        "app.kubernetes.io/managed-by": "tenantry",
        "tenantry.io/release": "web",
        "tenantry.io/resource": RESOURCE_ID,
        "tenantry.io/resource-type": "redirect",
    }
    assert obj["metadata"]["annotations"] == {
        "tenantry.io/resource-name": "Home page",
        "tenantry.io/resource-version": "1",
        "tenantry.io/deployment": "dep-1",
    }
    assert ("POST", "/api/v1/namespaces/payments/configmaps", DEPLOYER) in kube.impersonated


def test_apply_again_replaces_it_in_place(
    tenantry: FakeTenantry, kube: FakeKube, project, cluster, start_agent
):
    first = tenantry.add("ResourceSync", "payments", **resource_sync())
    start_agent(cluster)
    finished(tenantry, first)
    uid = kube.object("payments", "ConfigMap", NAME)["metadata"]["uid"]
    tenantry.redeliver(first)  # at least once: the same item again
    assert finished(tenantry, first) == ("Done", None)
    newer = resource_sync(props={"to_url": "https://example.org/"}, version=2, name="Home")
    second = tenantry.add("ResourceSync", "payments", **newer)
    assert finished(tenantry, second) == ("Done", None)
    obj = kube.object("payments", "ConfigMap", NAME)
    assert obj["metadata"]["uid"] == uid
    assert obj["data"] == {"to_url": "https://example.org/"}
    assert obj["metadata"]["annotations"]["tenantry.io/resource-version"] == "2"
    assert ("PUT", CONFIGMAP, DEPLOYER) in kube.impersonated


def test_sensitive_props_make_a_secret_and_stay_out_of_reasons_and_logs(
    tenantry: FakeTenantry, kube: FakeKube, project, cluster, start_agent, caplog
):
    caplog.set_level(logging.DEBUG)
    kube.add_object(  # an earlier version of the type had no sensitive prop
        "payments", "ConfigMap", NAME, {"tenantry.io/resource": RESOURCE_ID}
    )
    sync = resource_sync(props={"user": "shop", "alarm_code": SECRET}, sensitive=["alarm_code"])
    item_id = tenantry.add("ResourceSync", "payments", **sync)
    start_agent(cluster)
    assert finished(tenantry, item_id) == ("Done", None)
    secret = kube.object("payments", "Secret", NAME)
    assert secret is not None and secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["alarm_code"]).decode() == SECRET
    assert base64.b64decode(secret["data"]["user"]).decode() == "shop"
    assert kube.object("payments", "ConfigMap", NAME) is None  # the other kind went
    assert SECRET not in caplog.text

    # a failure whose message would carry it (an API server echoing the data): redacted
    kube.fail_next(1, 422)
    original = kube.handle

    def echoing(method, path, body, impersonate=None):
        code, payload = original(method, path, body, impersonate)
        if code == 422:
            payload["message"] = f"Secret is invalid: data[alarm_code]: {SECRET}"
        return code, payload

    kube.handle = echoing
    again = tenantry.add("ResourceSync", "payments", **{**sync, "release_name": "web"})
    status, reason = finished(tenantry, again)
    assert status == "Failed" and SECRET not in reason and "[redacted]" in reason
    assert SECRET not in caplog.text


def test_delete_removes_it_and_again_is_done(
    tenantry: FakeTenantry, kube: FakeKube, project, cluster, start_agent
):
    created = tenantry.add("ResourceSync", "payments", **resource_sync())
    start_agent(cluster)
    finished(tenantry, created)
    deleted = tenantry.add("ResourceSync", "payments", **resource_sync("Delete", version=2))
    assert finished(tenantry, deleted) == ("Done", None)
    assert kube.object("payments", "ConfigMap", NAME) is None
    tenantry.redeliver(deleted)
    assert finished(tenantry, deleted) == ("Done", None)
    assert [m for m, p, _ in kube.impersonated if p == CONFIGMAP].count("DELETE") == 1


def test_an_object_that_is_not_the_resources_is_never_touched(
    tenantry: FakeTenantry, kube: FakeKube, project, cluster, start_agent
):
    kube.add_object("payments", "ConfigMap", NAME, {"app": "someone-else"})
    applied = tenantry.add("ResourceSync", "payments", **resource_sync())
    start_agent(cluster)
    assert finished(tenantry, applied) == (
        "Failed",
        f"ConfigMap {NAME} exists in namespace payments and is not labelled "
        f"tenantry.io/resource={RESOURCE_ID}; refusing to replace it",
    )
    deleted = tenantry.add("ResourceSync", "payments", **resource_sync("Delete"))
    status, reason = finished(tenantry, deleted)
    assert status == "Failed" and "refusing to delete it" in reason
    assert kube.object("payments", "ConfigMap", NAME)["data"] == {"someone": "else's"}


def test_without_the_namespace_apply_fails_and_delete_is_done(
    tenantry: FakeTenantry, kube: FakeKube, cluster, start_agent
):
    applied = tenantry.add("ResourceSync", "payments", **resource_sync())
    deleted = tenantry.add("ResourceSync", "payments", **resource_sync("Delete"))
    start_agent(cluster)
    assert finished(tenantry, applied) == ("Failed", "namespace payments does not exist")
    assert finished(tenantry, deleted) == ("Done", None)


def test_a_namespace_of_another_project_is_refused(
    tenantry: FakeTenantry, kube: FakeKube, cluster, start_agent
):
    kube.add_namespace("payments", {"tenantry.io/project": "other"})
    applied = tenantry.add("ResourceSync", "payments", **resource_sync())
    start_agent(cluster)
    status, reason = finished(tenantry, applied)
    assert status == "Failed" and "refusing to sync a resource in it" in reason
    assert kube.object("payments", "ConfigMap", NAME) is None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"action": "Upsert"}, "the resource's action must be Apply or Delete"),
        ({"id": "Not A Label"}, "the work item's resource has no valid id"),
        ({"type_key": "bad key"}, "the work item's resource has no valid type key"),
        ({"props": {"a/b": 1}}, "prop 'a/b' cannot be a ConfigMap or Secret key"),
        ({"props": ["x"]}, "the resource's props are not an object"),
    ],
)
def test_an_item_it_cannot_read_fails_with_a_reason(fields, reason):
    item = WorkItem.from_json(
        {
            "id": "w1",
            "kind": "ResourceSync",
            "lease_token": "t",
            "project_id": "payments",
            "namespace": "payments",
            **resource_sync(**fields),
        }
    )
    from tenantry_agent.executor import release_of

    with pytest.raises(ExecutorError) as err:
        resource_of(item, release_of(item))
    assert str(err.value) == reason


def test_the_redactor_knows_the_sensitive_props():
    item = WorkItem.from_json(
        {
            "id": "w1",
            "kind": "ResourceSync",
            "lease_token": "t",
            "project_id": "payments",
            "namespace": "payments",
            **resource_sync(props={"pin": 123456, "city": "Lyon"}, sensitive=["pin"]),
        }
    )
    redact = Redactor.for_item(item)
    assert redact("pin 123456 in Lyon") == "pin [redacted] in Lyon"
