"""A project's deletion revokes its gateway subscriptions' API keys (RevokeProjectCredentials,
tenantry.domain.gateway.revoke_with_project), through the delete workflow as real ASL under
moto: API Gateway busy is retried, a refusal ends the project `failed` with a reason and
keeps the subscription (and its count) for the next DELETE, which revokes it."""

from __future__ import annotations

from typing import Any

from tests.workflows.support import Faults, Workflow, assert_no_internals, client_error


def subscribed(workflow: Workflow, project_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """An active project subscribed to a new gateway service: (service, subscription)."""
    workflow.create(project_id)
    workflow.settle()
    body = {"name": f"API of {project_id}", "rate_limit": {"rate": 5, "burst": 5}}
    r = workflow.api.post("/gateway-services", token=workflow.token, json=body)
    assert r.status == 201, r
    service = r.json()
    r = workflow.api.post(f"/projects/{project_id}/gateway/{service['id']}", token=workflow.token)
    assert r.status == 201, r
    return service, r.json()


def api_keys(workflow: Workflow) -> set[str]:
    client = workflow.stack.client("apigateway")
    return {k["id"] for k in client.get_api_keys(limit=500)["items"]}


def subscriptions(workflow: Workflow, service_id: str) -> int:
    r = workflow.api.get(f"/gateway-services/{service_id}", token=workflow.token)
    assert r.status == 200, r
    return int(r.json()["subscriptions"])


def _client() -> Any:
    from tenantry import api_gateway

    return api_gateway._client()


def test_api_gateway_busy_while_revoking_is_retried(workflow: Workflow, faults: Faults) -> None:
    service, sub = subscribed(workflow, "kappa")
    fault = faults.inject(
        _client(),
        "delete_api_key",
        lambda: client_error("TooManyRequestsException", "DeleteApiKey", 429),
        times=2,
    )
    workflow.delete("kappa")
    workflow.settle()

    assert workflow.step_attempts("kappa-delete-1", "RevokeProjectCredentials") == [
        "ServiceUnavailable",
        "ServiceUnavailable",
        "ok",
    ]
    assert fault.failures == 2
    assert workflow.project("kappa")["status"] == "deleted"
    assert sub["api_key"]["id"] not in api_keys(workflow)
    assert subscriptions(workflow, service["id"]) == 0
    assert workflow.items("kappa", "GATEWAY#") == []
    revoked = [h for h in workflow.history("kappa") if h["event"] == "gateway_keys_revoked"]
    assert [h["detail"] for h in revoked] == [
        {"gateway_subscriptions_revoked": 1, "stray_api_keys_deleted": 0}
    ]


def test_a_refused_revocation_fails_the_deletion_until_it_can_be_done(
    workflow: Workflow, faults: Faults
) -> None:
    service, sub = subscribed(workflow, "lambda")
    client = _client()
    faults.inject(
        client,
        "delete_api_key",
        lambda: client_error("AccessDeniedException", "DeleteApiKey", 403, "not authorized"),
    )
    workflow.delete("lambda")
    workflow.settle()

    assert workflow.step_attempts("lambda-delete-1", "RevokeProjectCredentials") == [
        "ApiGatewayError"
    ]
    project = workflow.project("lambda")
    assert project["status"] == "failed", project
    assert project["reason"] == (
        "the gateway refused to revoke the project's API keys; a platform admin has to check "
        "Tenantry's permissions on API Gateway, then delete the project again"
    )
    assert_no_internals(project["reason"])
    # nothing is lost: the subscription, its key and the service's count stay for the retry
    assert len(workflow.items("lambda", "GATEWAY#")) == 1
    assert sub["api_key"]["id"] in api_keys(workflow)
    assert subscriptions(workflow, service["id"]) == 1

    faults.remove(client, "delete_api_key")
    workflow.delete("lambda")
    workflow.settle()
    assert workflow.project("lambda")["status"] == "deleted"
    assert sub["api_key"]["id"] not in api_keys(workflow)
    assert subscriptions(workflow, service["id"]) == 0
    r = workflow.api.delete(f"/gateway-services/{service['id']}", token=workflow.token)
    assert r.status == 204, r
