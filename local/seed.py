"""The world the sample events (events/, local/sample_events.py) live in, built through the
domain code on an emulated stack: the admin with the samples' token and a second token, a
bot with a token, project `demo` owned by the admin (with an image, a member, a user
outside it, a pending application, the member's Admin permission on demo's `dev`
environment and a secret there, an app, an active notification, a gateway subscription,
deployments in `prod` with the demo chart's resource types and a resource), a template, an
org and invites (to the admin, and from its org and project), three gateway services; in the
catalog, a tag format and the demo chart,
discovered from its push to an emulated ECR registry (with its registry and kind). Ids are
pinned to the samples' ones by patching the id factories around each creation.

Used by the sample-event replay test, `make invoke` (local/invoke.py) and `make moto`
(local/moto_server.py), so a sample event succeeds in all three.

    seed(stack, "active")     the full world, project demo active
    seed(stack, "creating")   demo as the create workflow's steps find it
    seed(stack, "deleting")   demo as the delete workflow's steps find it
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any
from unittest import mock

from local import sample_events as samples

OPERATION_STATUS = {"create": "creating", "delete": "deleting"}  # what a workflow works on


class SeedError(Exception):
    pass


def project_status_for(event: Any) -> str:
    """The status project demo must have for `event`: a workflow step's input names its
    operation; every other sample wants the project active."""
    if isinstance(event, dict) and event.get("operation") in OPERATION_STATUS:
        return OPERATION_STATUS[event["operation"]]
    return "active"


def admin() -> Any:
    from tenantry.models.principal import Principal

    return Principal(kind="user", id=samples.admin_user_id(), is_admin=True)


def wait_for_executions(stack: Any, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Wait until no execution of the stack's state machines runs; returns them all
    (describe_execution of each)."""
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        executions = [
            sfn.describe_execution(executionArn=e["executionArn"])
            for arn in stack.state_machine_arns().values()
            for e in sfn.list_executions(stateMachineArn=arn)["executions"]
        ]
        if all(e["status"] != "RUNNING" for e in executions):
            return executions
        if time.monotonic() >= deadline:
            raise SeedError(f"executions still running after {timeout}s")
        time.sleep(0.05)


def seed(stack: Any, project_status: str = "active") -> None:
    """Build the samples' world on `stack` (deployed and emulated)."""
    from tenantry.domain import identity, projects
    from tenantry.models.identity import BotCreate
    from tenantry.models.project import ProjectCreate

    def with_id(new_id: str) -> Any:
        return mock.patch.object(identity, "new_id", return_value=new_id)

    principal = admin()
    with with_id(samples.ADMIN_TOKEN_ID):
        identity.ensure_admin(samples.TOKEN)
    with with_id(samples.USER_TOKEN_ID):
        identity.create_user_token(principal, principal.id)
    with with_id(samples.BOT_ID):
        identity.create_bot(principal, BotCreate(display_name="ci-deployer"))
    with with_id(samples.BOT_TOKEN_ID):
        identity.create_bot_token(principal, samples.BOT_ID)
    _seed_clusters(principal)
    _seed_catalog(stack, principal)

    demo = ProjectCreate(
        name="Demo",
        id=samples.PROJECT_ID,
        description="The project the sample events use",
        labels={"team": "platform"},
        environments=["dev", "prod"],
    )
    if project_status == "creating":  # as the create workflow's steps find it
        with mock.patch("tenantry.workflows.start"):
            projects.create_project(principal, demo)
        _expect_status("creating")
        return
    projects.create_project(principal, demo)  # the real create workflow runs
    failed = [e for e in wait_for_executions(stack) if e["status"] != "SUCCEEDED"]
    if failed:
        raise SeedError(f"the create workflow of {samples.PROJECT_ID} failed: {failed}")
    _push_image(stack)
    _expect_status("active")
    _seed_governance(principal)
    _seed_agent_work()
    _seed_environments(principal)
    _seed_project_app(principal)
    _seed_gateway(principal)
    _seed_deployments()
    _seed_deployment_permission()
    _seed_k8s_resources()
    _seed_notification(principal)
    _seed_deployment_resources(principal)
    if project_status == "deleting":  # as the delete workflow's steps find it
        with mock.patch("tenantry.workflows.start"):
            projects.delete_project(principal, samples.PROJECT_ID, True, None)
        _expect_status("deleting")


def _seed_notification(principal: Any) -> None:
    """An active notification on demo, of the pair the PostNotification sample posts to."""
    from tenantry.domain import notifications
    from tenantry.models.notifications import NotificationPost

    notifications.post(
        principal,
        samples.PROJECT_ID,
        samples.NOTIFICATION_TOPIC,
        samples.NOTIFICATION_TOPIC_ID,
        NotificationPost(title="Build 1234 is running", level="info", source="ci"),
    )


def _expect_status(status: str) -> None:
    from tenantry.domain import projects

    project = projects.get_project(admin(), samples.PROJECT_ID)
    if project.status != status:
        raise SeedError(f"project {samples.PROJECT_ID} is {project.status}, not {status}")


def _seed_governance(principal: Any) -> None:
    """A member (Sam), a user outside the project (Kim), a pending application, a
    template, the admin's org and an invite of the admin to Kim's org; the admin's org and
    the demo project have each invited a newcomer."""
    from tenantry.dal import projects as project_store
    from tenantry.domain import applications, identity, invites, memberships, orgs, templates
    from tenantry.models.governance import (
        InvitesCreate,
        MembershipCreate,
        OrgCreate,
        TemplateCreate,
    )
    from tenantry.models.identity import UserCreate
    from tenantry.models.principal import Principal

    for user_id, email, name in (
        (samples.MEMBER_USER_ID, samples.MEMBER_EMAIL, "Sam"),
        (samples.CANDIDATE_USER_ID, samples.CANDIDATE_EMAIL, "Kim"),
    ):
        with mock.patch.object(identity, "new_id", return_value=user_id):
            identity.create_user(principal, UserCreate(email=email, display_name=name))
    memberships.create(
        principal,
        MembershipCreate(
            project_id=samples.PROJECT_ID, action="enroll", user_id=samples.MEMBER_USER_ID
        ),
    )
    project = project_store.get(samples.PROJECT_ID)
    with mock.patch.object(applications, "new_id", return_value=samples.APPLICATION_ID):
        applications.submit_modify(principal, project, {"max_members": 50}, None)

    with mock.patch.object(templates, "new_id", return_value=samples.TEMPLATE_ID):
        templates.create(principal, TemplateCreate(name="Standard", environments=["dev"]))
    with mock.patch.object(orgs, "new_id", return_value=samples.ORG_ID):
        orgs.create(principal, OrgCreate(name="Platform"))
    kim = Principal(kind="user", id=samples.CANDIDATE_USER_ID)
    kim_org = orgs.create(kim, OrgCreate(name="Kim's guild"))
    with mock.patch.object(invites, "new_id", return_value=samples.INVITE_ID):
        invites.create(
            kim, "org", kim_org.id, InvitesCreate(emails=[identity.ADMIN_EMAIL], roles=["member"])
        )
    # what the admin's org and the demo project have invited (their invites' lists)
    newcomer = InvitesCreate(emails=["newcomer@example.com"], roles=["member"])
    invites.create(principal, "org", samples.ORG_ID, newcomer)
    invites.create(principal, "project", samples.PROJECT_ID, newcomer)


def _seed_clusters(principal: Any) -> None:
    """Cluster edge (its agent token is the samples' AGENT_TOKEN) and a spare one."""
    from tenantry.domain import clusters
    from tenantry.models.clusters import ClusterCreate

    for name, cluster_id, token, token_id in (
        (samples.CLUSTER_NAME, samples.CLUSTER_ID, samples.AGENT_TOKEN, samples.AGENT_TOKEN_ID),
        (
            "spare",
            samples.SPARE_CLUSTER_ID,
            samples.AGENT_TOKEN + "-spare",
            samples.SPARE_AGENT_TOKEN_ID,
        ),
    ):
        with (
            mock.patch.object(clusters, "new_id", side_effect=[cluster_id, token_id]),
            mock.patch.object(clusters.auth, "new_token_secret", return_value=token),
        ):
            clusters.register(principal, ClusterCreate(name=name, region_name="eu-west-1"))


def _seed_agent_work() -> None:
    """Demo's namespace on edge (Created), a work item leased to edge's agent under the
    samples' LEASE_TOKEN, and one queued for a claim."""
    from tenantry.clock import now_iso
    from tenantry.dal import namespaces, table
    from tenantry.dal import work as work_store
    from tenantry.domain.operations import later

    now = now_iso()
    edge = {"name": samples.CLUSTER_NAME, "id": samples.CLUSTER_ID}
    table.update(  # demo names edge (as an admin's change does, its namespace Created below)
        {"PK": f"PROJECT#{samples.PROJECT_ID}", "SK": "PROJECT"},
        "SET #clusters = :clusters",
        names={"#clusters": "clusters"},
        values={":clusters": [{"name": samples.CLUSTER_NAME, "quota": {}}]},
    )
    table.transact(namespaces.ask(samples.PROJECT_ID, edge, "Pending", now, None))
    record = {
        "PK": f"PROJECT#{samples.PROJECT_ID}",
        **edge,
        "cluster": edge["name"],
        "cluster_id": edge["id"],
    }
    table.transact(namespaces.settle(record, "Created", None, now, when=("Pending",)))
    for work_id in (samples.WORK_ID, samples.QUEUED_WORK_ID):
        work_store.put_new(
            {
                "id": work_id,
                "kind": "CreateNamespace",
                "cluster_id": samples.CLUSTER_ID,
                "cluster_name": samples.CLUSTER_NAME,
                "project_id": samples.PROJECT_ID,
                "namespace": samples.PROJECT_ID,
                "labels": {"tenantry.io/project": samples.PROJECT_ID},
                "state": "Queued",
                "attempt": 0,
                "expired_leases": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
    item = work_store.get(samples.WORK_ID)
    assert item is not None
    work_store.lease(item, samples.LEASE_TOKEN, later(now, timedelta(hours=1)), now, expired=False)


def _seed_environments(principal: Any) -> None:
    """Sam (a member) holds Admin on demo's dev environment, which has a secret."""
    from tenantry.domain import environments, secrets
    from tenantry.models.environments import EnvironmentPermissionCreate, SecretCreate

    env_id = samples.env_id()
    environments.grant(
        principal,
        samples.PROJECT_ID,
        env_id,
        EnvironmentPermissionCreate(user_id=samples.MEMBER_USER_ID, role="Admin"),
    )
    with mock.patch.object(secrets, "new_id", return_value=samples.SECRET_ID):
        secrets.create(
            principal,
            samples.PROJECT_ID,
            env_id,
            SecretCreate.model_validate(
                {"collection": "db", "name": "password", "contents": "sample-not-a-secret"}
            ),
        )


def _seed_project_app(principal: Any) -> None:
    """An app (OAuth client) of demo, the one the app routes' samples name."""
    from tenantry.domain import apps
    from tenantry.models.apps import AppCreate

    body = AppCreate(
        name="Demo console", redirect_uris=["https://console.example.com/oauth/callback"]
    )
    with mock.patch.object(apps, "new_id", return_value=samples.PROJECT_APP_ID):
        apps.create(principal, samples.PROJECT_ID, body)


def _seed_gateway(principal: Any) -> None:
    """Three gateway services (API subscriptions): geocoding, which demo has enabled,
    weather, which no project has (the enable sample's), and retired (the delete
    sample's), so that no sample's write gets in another's way."""
    from tenantry.domain import gateway
    from tenantry.models.gateway import GatewayServiceCreate

    services = (
        (samples.GATEWAY_SERVICE_ID, "Geocoding", {"rate": 10, "burst": 20}),
        (samples.OPEN_GATEWAY_SERVICE_ID, "Weather", {"rate": 5, "burst": 10}),
        (samples.SPARE_GATEWAY_SERVICE_ID, "Retired", {"rate": 1, "burst": 1}),
    )
    for service_id, name, rate_limit in services:
        body = GatewayServiceCreate.model_validate({"name": name, "rate_limit": rate_limit})
        with mock.patch.object(gateway, "new_id", return_value=service_id):
            gateway.create_service(principal, body)
    gateway.enable(principal, samples.PROJECT_ID, samples.GATEWAY_SERVICE_ID)


def _seed_deployments() -> None:
    """Two deployments of the discovered demo chart on edge in prod: front
    Running with an Upgrade Pending that holds its slot (StartTask's sample), back with
    its Install Started (the samples of the agent's wait and FinishTask). Written through
    the dal: a real dispatch would start executions waiting on an agent."""
    from tenantry.clock import now_iso
    from tenantry.dal import catalog, table
    from tenantry.dal import deployments as store
    from tenantry.dal import environments as env_store
    from tenantry.domain.deployments import snapshot

    now = now_iso()
    chart, registry, kind = catalog.chart_with_registry_and_kind(samples.chart_id())
    assert chart and registry and kind, "the demo chart is discovered first (_seed_catalog)"
    from tenantry.domain.provisioning import environment_id

    # in prod: dev (the samples' envId) keeps no deployment, so its DELETE sample succeeds
    env = env_store.get(samples.PROJECT_ID, environment_id(samples.PROJECT_ID, "prod"))
    assert env is not None
    for deployment_id, task_id, name, status, task_status, operation in (
        (
            samples.DEPLOYMENT_ID,
            samples.TASK_ID,
            "front",
            "Running",
            "Pending",
            {
                "Upgrade": {
                    "helm_chart_id": chart["id"],
                    "prev_helm_chart_id": chart["id"],
                    "config_delta": {"greeting": ["Hello", "Hi"]},
                    "values_override": None,
                }
            },
        ),
        (
            samples.STARTED_DEPLOYMENT_ID,
            samples.STARTED_TASK_ID,
            "back",
            "Installing",
            "Started",
            {
                "Install": {
                    "helm_chart_id": chart["id"],
                    "config": {"greeting": "Hello"},
                    "values_override": None,
                }
            },
        ),
    ):
        deployment = {
            "id": deployment_id,
            "project_id": samples.PROJECT_ID,
            "env_id": env["id"],
            "created_at": now,
            "updated_at": now,
            "name": name,
            "kind_id": kind["id"],
            "cluster_id": samples.CLUSTER_ID,
            "namespace": samples.PROJECT_ID,
            "release_name": f"{kind['name']}-{name}",
            "enabled": True,
            "status": status,
            "helm_chart_id": chart["id"],
            "config": {"greeting": "Hello"},
            "version": 1,
            "current_task_id": task_id,
        }
        task = {
            "id": task_id,
            "project_id": samples.PROJECT_ID,
            "deployment_id": deployment_id,
            "cluster_id": samples.CLUSTER_ID,
            "created_at": now,
            "execute_at": now,
            "operation": operation,
            "status": "Pending",
            "snapshot": snapshot(deployment, env, kind, chart, registry),
            "acting_user_id": samples.admin_user_id(),
        }
        table.transact(
            [
                store.deployment_put(deployment),
                store.ref_put(deployment),
                store.release_guard(
                    samples.PROJECT_ID, samples.CLUSTER_ID, f"{kind['name']}-{name}", deployment_id
                ),
                store.env_count(samples.PROJECT_ID, env["id"], 1),
                store.task_put(task),
            ]
        )
        if task_status == "Started":
            table.transact(
                [
                    store.task_update(
                        task,
                        {"status": "Started", "started_at": now},
                        from_status=("Pending",),
                        leave_queue=True,
                    )
                ]
            )


def _seed_k8s_resources() -> None:
    """What edge's agent reported of the front deployment: its Deployment."""
    from tenantry.domain.agent_reports import report_k8s_resources
    from tenantry.models.agent import K8sResourcesReport

    report_k8s_resources(
        samples.CLUSTER_ID,
        K8sResourcesReport.model_validate(
            {
                "deployment_id": samples.DEPLOYMENT_ID,
                "items": [
                    {
                        "uid": samples.K8S_UID,
                        "kind": "Deployment",
                        "api_version": "apps/v1",
                        "name": "web-frontend-front",
                        "status_color": ["success"],
                        "metadata": {},
                    }
                ],
            }
        ),
    )


def _seed_deployment_resources(principal: Any) -> None:
    """The demo chart's resource types, as web-back's install upserts them, and a redirect
    of web-back (Creating: its ResourceSync queued for edge's agent)."""
    from tenantry.clock import now_iso
    from tenantry.dal import deployments as store
    from tenantry.dal import table
    from tenantry.domain import resources
    from tenantry.models.resources import DeploymentResourceCreate

    back = store.get(samples.PROJECT_ID, samples.STARTED_DEPLOYMENT_ID)
    assert back is not None, "web-back first (_seed_deployments)"
    table.transact(resources.type_upserts(back, samples.chart_id(), now_iso()))
    body = DeploymentResourceCreate.model_validate(
        {
            "type_id": samples.resource_type_id(),
            "deployment_id": samples.STARTED_DEPLOYMENT_ID,
            "name": "home",
            "props": {"from_path": "/old", "to_url": "https://example.com/new"},
        }
    )
    ids = [samples.DEPLOYMENT_RESOURCE_ID, str(uuid.uuid5(uuid.NAMESPACE_URL, "sync/home"))]
    with mock.patch.object(resources, "new_id", side_effect=ids):  # the resource, its sync
        resources.create(principal, samples.PROJECT_ID, body)


def _seed_deployment_permission() -> None:
    """Sam (a member) is an Owner of kind web in prod."""
    from tenantry.clock import now_iso
    from tenantry.dal import deployments as store
    from tenantry.dal import table
    from tenantry.domain.provisioning import environment_id

    table.transact(
        [
            store.permission_put(
                {
                    "id": samples.deployment_permission_id(),
                    "project_id": samples.PROJECT_ID,
                    "env_id": environment_id(samples.PROJECT_ID, "prod"),
                    "kind_id": samples.KIND_ID,
                    "user_id": samples.MEMBER_USER_ID,
                    "role": "Owner",
                    "created_at": now_iso(),
                }
            )
        ]
    )


def _seed_catalog(stack: Any, principal: Any) -> None:
    """The samples' tag format, then the demo chart's push event through chart discovery
    (it pulls the chart from an emulated ECR registry, serving for the while)."""
    from local import ecr_registry
    from tenantry.dal import catalog as store
    from tenantry.domain import catalog
    from tenantry.models.catalog import HelmTagFormatCreate
    from tenantry.settings import get_settings

    catalog.create_tag_format(principal, HelmTagFormatCreate(pattern=samples.TAG_FORMAT_PATTERN))
    event = samples.queue_event("ChartDiscoveryFunction", "Seed", "arn:aws:sqs:::seed")
    registry = ecr_registry.Registry()
    with registry.serving(), ecr_registry.named(registry):
        get_settings.cache_clear()
        try:
            registry.credentials = ecr_registry.login(stack)
            ecr_registry.push_demo_chart(registry, announce=False)
            with mock.patch.object(catalog, "new_id", return_value=samples.KIND_ID):
                result = stack.invoke("ChartDiscoveryFunction", event)
        finally:
            get_settings.cache_clear()
    if result.get("batchItemFailures") or store.get_chart(samples.chart_id()) is None:
        raise SeedError(f"chart discovery did not discover the demo chart: {result}")


def _push_image(stack: Any) -> None:
    from tenantry import registry

    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1470,
            "digest": "sha256:" + "1" * 64,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 3208942,
                "digest": "sha256:" + "2" * 64,
            }
        ],
    }
    stack.client("ecr").put_image(
        repositoryName=registry.repository_name(samples.PROJECT_ID),
        imageManifest=json.dumps(manifest),
        imageTag="v1.0.0",
    )
