"""The agent protocol: only a cluster's agent token opens these routes (make_app(AGENTS)),
and an agent sees only its own cluster's work (tenantry.domain.work)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from tenantry.domain import agent_reports, work
from tenantry.http import (
    AGENTS,
    IdPath,
    caller,
    lambda_handler_for,
    make_app,
    no_content,
    responses,
)
from tenantry.models.agent import (
    AgentHeartbeat,
    AgentHeartbeatAck,
    K8sResourcesReport,
    ReportedStatus,
    WorkClaim,
    WorkItem,
    WorkLease,
    WorkLeaseExtended,
    WorkOutcome,
    WorkRelease,
    WorkResult,
)
from tenantry.models.common import Page

app = make_app(AGENTS)

WorkId = IdPath


@app.post(
    "/agent/heartbeat",
    tags=["agent"],
    summary="The agent is alive and reports its cluster's health",
    responses=responses(200, AgentHeartbeatAck, 403, 404),
)
def agent_heartbeat(body: AgentHeartbeat) -> AgentHeartbeatAck:
    cluster_id = caller(app).id
    ack = agent_reports.heartbeat(cluster_id, body.is_ok, body.not_ok_reason, body.agent_version)
    return AgentHeartbeatAck(**ack)


@app.post(
    "/agent/work/claim",
    tags=["agent"],
    summary="Claim up to `limit` work items of this cluster, oldest first, each under a lease",
    description="Atomic: two agents never hold the same item. An item comes back (attempt + 1, "
    "a new lease_token) only after its lease expires or is released.",
    responses=responses(200, Page[WorkItem], 403),
)
def claim_work(body: WorkClaim) -> Page[WorkItem]:
    items = work.claim(caller(app).id, body.limit)
    return Page[WorkItem](items=[WorkItem(**i) for i in items], next_cursor=None)


@app.post(
    "/agent/work/<workId>/heartbeat",
    tags=["agent"],
    summary="Extend the lease of a claimed item",
    description="409: the lease is no longer yours (expired, released or finished): stop working.",
    responses=responses(200, WorkLeaseExtended, 403, 404, 409),
)
def extend_lease(workId: WorkId, body: WorkLease) -> WorkLeaseExtended:
    return WorkLeaseExtended(**work.extend(caller(app).id, workId, body.lease_token))


@app.post(
    "/agent/work/<workId>/result",
    tags=["agent"],
    summary="Report the outcome of a claimed item; resumes the waiting workflow",
    description="The same result again (same lease_token and status) is 200 and changes "
    "nothing; a stale lease_token, or another outcome for a finished item, is 409.",
    responses=responses(200, WorkOutcome, 403, 404, 409),
)
def report_result(workId: WorkId, body: WorkResult) -> WorkOutcome:
    outcome = work.report(
        caller(app).id, workId, body.lease_token, body.status, body.reason, body.reported_status
    )
    return WorkOutcome(id=workId, **outcome)


@app.post(
    "/agent/work/<workId>/release",
    tags=["agent"],
    summary="Hand a claimed item back at once (it is claimable again)",
    responses=responses(204, None, 403, 404, 409, description="Released"),
)
def release_work(workId: WorkId, body: WorkRelease) -> Response[None]:
    work.release(caller(app).id, workId, body.lease_token, body.reason)
    return no_content()


@app.put(
    "/agent/k8s-resources",
    tags=["agent"],
    summary="Replace what the cluster reports of a deployment's Kubernetes resources",
    responses=responses(204, None, 403, 404, description="Recorded"),
)
def report_k8s_resources(body: K8sResourcesReport) -> Response[None]:
    agent_reports.report_k8s_resources(caller(app).id, body)
    return no_content()


@app.put(
    "/agent/deployments/<deploymentId>/reported-status",
    tags=["agent"],
    summary="Set a deployment's reported status (with the server's timestamp)",
    responses=responses(204, None, 403, 404, description="Recorded"),
)
def report_deployment_status(deploymentId: IdPath, body: ReportedStatus) -> Response[None]:
    agent_reports.report_status(caller(app).id, deploymentId, body)
    return no_content()


lambda_handler = lambda_handler_for(app)
