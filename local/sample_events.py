"""Sample events, one per HttpApi route, per workflow step and for the authorizer, written
from template.yaml into events/ (tests replay every one through its real handler).

    python -m local.sample_events           (re)write events/
    python -m local.sample_events --check   exit 1 if events/ is out of date

Layout (the group is the function's CodeUri folder):
    events/<group>/<RouteEvent>.json        API Gateway HTTP API payload 2.0, one per route,
                                            named by the route's event key in the template
    events/<group>/<FunctionLogicalId>.json a workflow step's input (the execution input)
    events/<group>/Request.json             the HTTP API Lambda authorizer's REQUEST event
    events/<group>/<ScheduleEvent>.json     an EventBridge schedule's Scheduled Event,
                                            named by the event key in the template
    events/<group>/<SqsEvent>.json          a batch from an SQS event source (the queue's
                                            messages as the function gets them), named by
                                            the event key in the template
    events/<group>/<Mapping>.json           a batch from a DynamoDB stream event source
                                            mapping (AWS::Lambda::EventSourceMapping),
                                            named by the mapping's logical id
    events/<group>/<Operation>.json         a WebSocket API route's event ($connect,
                                            $disconnect, a message), named by the route's
                                            OperationName
    events/<group>/ConnectRequest.json      the WebSocket API's $connect authorizer's
                                            REQUEST event
    events/<group>/<Rule>.json              what an EventBridge rule hands its Lambda
                                            target (a lifecycle event), named by the rule

Routes and functions come from the template; only what a template cannot say is here: the
request bodies and query strings of the samples, and the ids they use. Those ids are the
ones the replay test seeds (admin user, project `demo`, a bot, tokens), so every sample is
a request that succeeds against that state.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import re
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from local import template

EVENTS_DIR = template.ROOT / "events"

# --- the world the samples live in ----------------------------------------------------------
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
API_ID = "a1b2c3d4e5"
SOURCE_IP = "203.0.113.10"
USER_AGENT = "tenantry-cli/0.1.0"
TIME = "15/Jan/2025:10:00:00 +0000"
TIME_EPOCH = 1736935200000
TOKEN = "tnt_example"  # the admin's API token in the samples (seed with ensure_admin(TOKEN))
PROJECT_ID = "demo"
_IDS = uuid.UUID("0b6a3c1e-5d2f-4c8e-9a71-3e0f6d2b8c45")
ADMIN_TOKEN_ID = str(uuid.uuid5(_IDS, "token/admin"))  # the id of TOKEN
USER_TOKEN_ID = str(uuid.uuid5(_IDS, "token/admin-ci"))  # a second token of the admin
BOT_ID = str(uuid.uuid5(_IDS, "bot/ci-deployer"))
BOT_TOKEN_ID = str(uuid.uuid5(_IDS, "token/ci-deployer"))
MEMBER_USER_ID = str(uuid.uuid5(_IDS, "user/sam"))  # a member of the demo project
MEMBER_EMAIL = "sam@example.com"
CANDIDATE_USER_ID = str(uuid.uuid5(_IDS, "user/kim"))  # a user not (yet) in it
CANDIDATE_EMAIL = "kim@example.com"
APPLICATION_ID = str(uuid.uuid5(_IDS, "application/demo-quota"))  # pending, on demo
TEMPLATE_ID = str(uuid.uuid5(_IDS, "template/standard"))
ORG_ID = str(uuid.uuid5(_IDS, "org/platform"))  # the admin owns it
INVITE_ID = str(uuid.uuid5(_IDS, "invite/admin-to-platform"))  # pending, for the admin's email
CLUSTER_NAME = "edge"  # a registered cluster; demo has a namespace on it
CLUSTER_ID = str(uuid.uuid5(_IDS, "cluster/edge"))
AGENT_TOKEN = "tnt_example-agent"  # the edge cluster's agent token in the samples
AGENT_TOKEN_ID = str(uuid.uuid5(_IDS, "token/edge-agent"))
SPARE_CLUSTER_ID = str(uuid.uuid5(_IDS, "cluster/spare"))  # no namespaces: deletable
SPARE_AGENT_TOKEN_ID = str(uuid.uuid5(_IDS, "token/spare-agent"))
WORK_ID = str(uuid.uuid5(_IDS, "work/demo-namespace"))  # leased to edge's agent
QUEUED_WORK_ID = str(uuid.uuid5(_IDS, "work/queued"))  # waiting for a claim
LEASE_TOKEN = "lease-example-0123456789abcdef"
TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAexampletasktoken"  # what Step Functions passes
DEPLOYMENT_ID = str(uuid.uuid5(_IDS, "deployment/web-front"))  # its next task Pending
TASK_ID = str(uuid.uuid5(_IDS, "task/web-front-upgrade"))  # Pending, holding the slot
STARTED_DEPLOYMENT_ID = str(uuid.uuid5(_IDS, "deployment/web-back"))
STARTED_TASK_ID = str(uuid.uuid5(_IDS, "task/web-back-install"))  # Started
K8S_UID = "5f0c7a3e-2b1d-4c8e-9a6f-web-front-dep"  # web-front's Deployment, as edge reported it
PROJECT_APP_ID = str(uuid.uuid5(_IDS, "project-app/demo-console"))  # an OAuth client of demo
NOTIFICATION_TOPIC, NOTIFICATION_TOPIC_ID = "build", "ci-1234"  # an active one on demo
DEPLOYMENT_RESOURCE_ID = str(uuid.uuid5(_IDS, "resource/back-redirect"))  # of web-back


def prod_env_id() -> str:
    """demo's `prod` environment, where the samples' deployments are."""
    template.add_layers_to_path()
    from tenantry.domain.provisioning import environment_id

    return environment_id(PROJECT_ID, "prod")


def resource_type_id() -> str:
    """The demo chart's `redirect` type in prod (upserted by web-back's install)."""
    template.add_layers_to_path()
    from tenantry.domain.resources import type_id

    return type_id(prod_env_id(), KIND_ID, "redirect")


GATEWAY_SERVICE_ID = str(uuid.uuid5(_IDS, "gateway-service/geocoding"))  # demo subscribes
OPEN_GATEWAY_SERVICE_ID = str(uuid.uuid5(_IDS, "gateway-service/weather"))  # to enable
SPARE_GATEWAY_SERVICE_ID = str(uuid.uuid5(_IDS, "gateway-service/retired"))  # to delete


def deployment_permission_id() -> str:
    """Sam's Owner role on kind web in demo's prod environment."""
    template.add_layers_to_path()
    from tenantry.domain.deployments import permission_id
    from tenantry.domain.provisioning import environment_id

    return permission_id(environment_id(PROJECT_ID, "prod"), KIND_ID, "user", MEMBER_USER_ID)


ENV_NAME = "dev"  # an initial environment of demo: Sam holds Admin on it
SECRET_ID = str(uuid.uuid5(_IDS, "secret/dev-db-password"))  # in dev: collection db, name password
# The catalog: the demo chart (local/charts/web-frontend) discovered from its ECR push, its
# kind (web-frontend) and registry, and a tag format that parsed its tag.
KIND_ID = str(uuid.uuid5(_IDS, "kind/web-frontend"))
TAG_FORMAT_PATTERN = (
    r"^(?P<version>\d+\.\d+\.\d+)-(?P<branch>[a-z0-9-]+)-(?P<commit>[0-9a-f]{7,40})$"
)


def member_membership_id() -> str:
    template.add_layers_to_path()
    from tenantry.domain.memberships import membership_id

    return membership_id(PROJECT_ID, MEMBER_USER_ID)


def env_id() -> str:
    """The id provisioning gives demo's `dev` environment."""
    template.add_layers_to_path()
    from tenantry.domain.provisioning import environment_id

    return environment_id(PROJECT_ID, ENV_NAME)


def member_permission_id() -> str:
    """Sam's permission on dev."""
    template.add_layers_to_path()
    from tenantry.domain.env_permissions import permission_id

    return permission_id(env_id(), "user", MEMBER_USER_ID)


def registry_id() -> str:
    """The demo chart's registry (its id is made from the registry's domain and repository)."""
    template.add_layers_to_path()
    from local.ecr_registry import DEMO_REPOSITORY
    from tenantry.chart_registry import registry_domain
    from tenantry.domain.catalog import registry_id as make

    return make(registry_domain(ACCOUNT_ID, REGION), DEMO_REPOSITORY)


def chart_id() -> str:
    """The demo chart's id: its registry, digest and tag."""
    template.add_layers_to_path()
    from local.ecr_registry import DEMO_TAG, demo_chart_digest
    from tenantry.domain.catalog import chart_id as make

    return make(registry_id(), demo_chart_digest(), DEMO_TAG)


def tag_format_id() -> str:
    template.add_layers_to_path()
    from tenantry.domain.catalog import tag_format_id as make

    return make(TAG_FORMAT_PATTERN)


def admin_user_id() -> str:
    template.add_layers_to_path()
    from tenantry.domain.identity import ADMIN_USER_ID

    return ADMIN_USER_ID


def authorizer_context() -> dict[str, Any]:
    """What the authorizer returns for TOKEN (requestContext.authorizer.lambda)."""
    return {
        "principal_kind": "user",
        "principal_id": admin_user_id(),
        "is_admin": True,
        "token_id": ADMIN_TOKEN_ID,
    }


def agent_context() -> dict[str, Any]:
    """What the authorizer returns for AGENT_TOKEN: the edge cluster's agent."""
    return {
        "principal_kind": "agent",
        "principal_id": CLUSTER_ID,
        "is_admin": False,
        "token_id": AGENT_TOKEN_ID,
    }


def path_values() -> dict[str, str]:
    """The default value of each path parameter, by name."""
    return {
        "userId": admin_user_id(),
        "projectId": PROJECT_ID,
        "botId": BOT_ID,
        "tokenId": USER_TOKEN_ID,
        "appId": APPLICATION_ID,
        "templateId": TEMPLATE_ID,
        "orgId": ORG_ID,
        "inviteId": INVITE_ID,
        "membershipId": member_membership_id(),
        "clusterId": CLUSTER_ID,
        "cluster": CLUSTER_NAME,
        "workId": WORK_ID,
        "deploymentId": DEPLOYMENT_ID,
        "taskId": TASK_ID,
        "deploymentPermission": deployment_permission_id(),  # a value for Sample.path only
        "resourceId": K8S_UID,
        "envId": env_id(),
        "permId": member_permission_id(),
        "secretId": SECRET_ID,
        "kindId": KIND_ID,
        "registryId": registry_id(),
        "formatId": tag_format_id(),
        "chartId": chart_id(),
        "topic": NOTIFICATION_TOPIC,
        "topicId": NOTIFICATION_TOPIC_ID,
        "typeId": resource_type_id(),
        "deploymentResourceId": DEPLOYMENT_RESOURCE_ID,
        "serviceId": GATEWAY_SERVICE_ID,
    }


@dataclass(frozen=True)
class Sample:
    body: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    path: dict[str, str] = field(default_factory=dict)  # overrides path_values()
    headers: dict[str, str] = field(default_factory=dict)
    agent: bool = False  # sent with the edge cluster's agent token, not the admin's


# By the route's event key in template.yaml. A route not listed gets an empty Sample; a
# route that takes a body (POST, PUT, PATCH) must be listed with one.
SAMPLES: dict[str, Sample] = {
    "ListUsers": Sample(query={"is_active": "true", "limit": "25"}),
    "CreateUser": Sample(
        body={"email": "jane.doe@example.com", "display_name": "Jane Doe"},
        headers={"idempotency-key": "6c1f3a52-create-user-jane"},
    ),
    "PatchUser": Sample(body={"is_active": True}, headers={"if-match": '"1"'}),
    "CreateUserToken": Sample(body={"user_id": "{userId}"}),
    "GetBotToken": Sample(path={"tokenId": BOT_TOKEN_ID}),
    "DeleteBotToken": Sample(path={"tokenId": BOT_TOKEN_ID}),
    "CreateBot": Sample(
        body={"display_name": "release-bot"},
        headers={"idempotency-key": "0d94be27-create-bot-release"},
    ),
    "PatchBot": Sample(body={"display_name": "ci-deployer-eu"}, headers={"if-match": '"1"'}),
    "CreateBotToken": Sample(body={"bot_id": BOT_ID}),
    "ListBotTokens": Sample(query={"bot_id": BOT_ID}),
    "CreateProject": Sample(
        body={
            "name": "Payments API",
            "id": "payments-api",
            "description": "Card payments and refunds",
            "homepage": "https://payments.example.com",
            "labels": {"team": "payments", "tier": "gold"},
            "environments": ["dev", "prod"],
            "join_policy": "moderated",
        },
        headers={"idempotency-key": "3f2a9c8e-create-project-payments"},
    ),
    "ListProjects": Sample(query={"state": "active", "mode": "default", "limit": "10"}),
    "ListUserProjects": Sample(
        query={"sort_by": "-created_at", "field_selector": "status.phase!=failed", "limit": "10"}
    ),
    "PatchProject": Sample(
        body={"description": "Demo project for the API samples", "labels": {"team": "platform"}}
    ),
    "DeleteProject": Sample(query={"reclaim": "false"}),
    "ProjectNamespaces": Sample(query={"field_selector": "status.phase!=Deleted"}),
    "ProjectAction": Sample(body={"action": "suspend", "reason": "maintenance window"}),
    "ProjectHistory": Sample(query={"limit": "50"}),
    "ListApplications": Sample(query={"project_id": PROJECT_ID}),
    "CreateMembership": Sample(
        body={
            "project_id": PROJECT_ID,
            "action": "enroll",
            "email": CANDIDATE_EMAIL,
            "role": "viewer",
        },
        headers={"idempotency-key": "9a1d-enroll-kim"},
    ),
    "ListMemberships": Sample(query={"project_id": PROJECT_ID}),
    "MembershipAction": Sample(body={"action": "remove", "reason": "moved to another team"}),
    "CreateTemplate": Sample(
        body={
            "name": "Standard web service",
            "description": "dev and prod, moderated joins, 20 members",
            "environments": ["dev", "prod"],
            "join_policy": "moderated",
            "max_members": 20,
            "approval": "auto",
        },
        headers={"idempotency-key": "c2e1-template-standard-web"},
    ),
    "CreateOrg": Sample(
        body={"name": "Payments Guild"}, headers={"idempotency-key": "77aa-org-guild"}
    ),
    "InviteToOrg": Sample(
        body={"emails": [CANDIDATE_EMAIL], "roles": ["member"], "expire_days": 7}
    ),
    "InviteToProject": Sample(
        body={
            "emails": [CANDIDATE_EMAIL, "lee@example.com"],
            "roles": ["member"],
            "expire_days": 14,
            "secure": True,
        }
    ),
    "AcceptInvite": Sample(body={}),
    "CreateCluster": Sample(
        body={
            "name": "eu-west-prod",
            "provider_id": "arn:aws:eks:eu-west-1:123456789012:cluster/prod",
            "region_name": "eu-west-1",
            "ingress_domain": "apps.example.com",
            "ingress_class": "nginx",
        },
        headers={"idempotency-key": "5b7e-cluster-eu-west-prod"},
    ),
    "ListClusters": Sample(query={"limit": "25"}),
    "UpdateCluster": Sample(
        body={"grafana_url": "https://grafana.example.com", "ingress_class": "nginx"},
        headers={"if-match": '"1"'},
    ),
    "DeleteCluster": Sample(path={"clusterId": SPARE_CLUSTER_ID}, headers={"if-match": '"1"'}),
    "RotateAgentToken": Sample(body={}, path={"clusterId": SPARE_CLUSTER_ID}),
    "AgentHeartbeat": Sample(body={"is_ok": True, "agent_version": "0.1.0"}, agent=True),
    "ClaimWork": Sample(body={"limit": 5}, agent=True),
    "ExtendLease": Sample(body={"lease_token": LEASE_TOKEN}, agent=True),
    "ReportResult": Sample(body={"lease_token": LEASE_TOKEN, "status": "Done"}, agent=True),
    "ReleaseWork": Sample(
        body={"lease_token": LEASE_TOKEN, "reason": "the agent is shutting down"}, agent=True
    ),
    "CreateDeployment": Sample(
        body={
            "name": "api",
            "kind_id": KIND_ID,
            "cluster_id": CLUSTER_ID,
            "env_id": "{envId}",
            "helm_chart_id": "{chartId}",
            "config": {"greeting": "Hello"},
        },
        headers={"idempotency-key": "41d0-deploy-web-api"},
    ),
    "UpdateDeployment": Sample(body={"config": {"greeting": "Hi"}}, headers={"if-match": '"1"'}),
    "DeleteDeployment": Sample(headers={"if-match": '"1"'}),
    "CreateDeploymentTask": Sample(
        body={
            "deployment_id": DEPLOYMENT_ID,
            "operation": {"InvokeAction": {"action_id": "purge-cache", "body": {}}},
            "execute_at": "2030-01-01T03:00:00Z",
        },
    ),
    "CancelDeploymentTask": Sample(query={"reason": "not before the release"}),
    "ListDeploymentPermissions": Sample(query={"limit": "25"}),
    "ListDeploymentResourceTypes": Sample(
        query={"env_id": prod_env_id(), "deployment_kind_id": KIND_ID, "limit": "25"}
    ),
    "ListDeploymentResources": Sample(query={"type_id": resource_type_id()}),
    "CreateDeploymentResource": Sample(
        body={
            "type_id": resource_type_id(),
            "deployment_id": STARTED_DEPLOYMENT_ID,
            "name": "docs",
            "props": {"from_path": "/docs", "to_url": "https://docs.example.com/"},
        },
        headers={"idempotency-key": "91c4-resource-docs-redirect"},
    ),
    "UpdateDeploymentResource": Sample(
        body={"props": {"from_path": "/old", "to_url": "https://example.com/newer"}},
        headers={"if-match": '"1"'},
    ),
    "DeleteDeploymentResource": Sample(headers={"if-match": '"1"'}),
    "ReportK8sResources": Sample(
        body={
            "deployment_id": DEPLOYMENT_ID,
            "items": [
                {
                    "uid": K8S_UID,
                    "kind": "Deployment",
                    "api_version": "apps/v1",
                    "name": "web-frontend-front",
                    "status_color": ["success"],
                    "metadata": {"replicas": 2, "ready_replicas": 2},
                }
            ],
        },
        agent=True,
    ),
    "ReportDeploymentStatus": Sample(
        body={"get_successful": True, "content": {"version": "1.4.0", "healthy": True}},
        agent=True,
    ),
    "CreateDeploymentPermission": Sample(
        body={
            "env_id": "{envId}",
            "kind_id": KIND_ID,
            "user_id": MEMBER_USER_ID,
            "role": "Maintainer",
        }
    ),
    "GetDeploymentPermission": Sample(path={"permId": "{deploymentPermission}"}),
    "DeleteDeploymentPermission": Sample(path={"permId": "{deploymentPermission}"}),
    "PutProfile": Sample(
        body={
            "description": "Payments for the whole company",
            "homepage": "https://pay.example.com",
        }
    ),
    "CreateEnvironment": Sample(
        body={
            "name": "staging",
            "node_selector": {"pool": "general"},
            "tolerations": [
                {
                    "key": "dedicated",
                    "operator": "Equal",
                    "value": "staging",
                    "effect": "NoSchedule",
                }
            ],
            "auto_add_new_users": True,
        },
        headers={"idempotency-key": "5be0-create-env-staging"},
    ),
    "UpdateEnvironment": Sample(
        body={"node_selector": {"pool": "spot"}, "auto_add_new_users": True},
        headers={"if-match": '"1"'},
    ),
    "DeleteEnvironment": Sample(headers={"if-match": '"1"'}),
    "CreateEnvironmentPermission": Sample(
        body={"bot_id": BOT_ID, "role": "User"},
        headers={"idempotency-key": "e41c-grant-ci-deployer-dev"},
    ),
    "ListSecrets": Sample(query={"collection": "db", "limit": "25"}),
    "CreateSecret": Sample(
        body={"collection": "db", "name": "username", "contents": "sample-not-a-secret"},
        headers={"idempotency-key": "a7d2-secret-db-username"},
    ),
    "UpdateSecret": Sample(
        body={"contents": "sample-rotated-not-a-secret"}, headers={"if-match": '"1"'}
    ),
    "ListDeploymentKinds": Sample(query={"limit": "25"}),
    "CreateDeploymentKind": Sample(
        body={"name": "worker"}, headers={"idempotency-key": "4d1e-kind-worker"}
    ),
    "UpdateDeploymentKind": Sample(body={"name": "web"}, headers={"if-match": '"1"'}),
    "ListHelmRegistries": Sample(query={"kind_id": KIND_ID}),
    "UpdateHelmRegistry": Sample(body={"fa_icon": "globe"}, headers={"if-match": '"1"'}),
    "CreateHelmTagFormat": Sample(
        body={"pattern": r"^v(?P<version>\d+\.\d+\.\d+)$"},
        headers={"idempotency-key": "8b2f-tag-format-semver"},
    ),
    "ListHelmCharts": Sample(query={"parsed_branch": "main", "available": "true"}),
    "ListProjectUsers": Sample(query={"limit": "25"}),
    "ListProjectApps": Sample(query={"limit": "25"}),
    "CreateProjectApp": Sample(
        body={
            "name": "Demo CLI",
            "description": "The command line client, signing in through a browser",
            "redirect_uris": ["http://127.0.0.1:8400/callback", "https://cli.example.com/done"],
        },
        headers={"idempotency-key": "2e9b-app-demo-cli"},
    ),
    "GetProjectApp": Sample(path={"appId": PROJECT_APP_ID}),
    "UpdateProjectApp": Sample(
        body={"redirect_uris": ["https://console.example.com/oauth/callback"]},
        path={"appId": PROJECT_APP_ID},
        headers={"if-match": '"1"'},
    ),
    "DeleteProjectApp": Sample(path={"appId": PROJECT_APP_ID}, headers={"if-match": '"1"'}),
    "RotateProjectAppSecret": Sample(body={}, path={"appId": PROJECT_APP_ID}),
    "ListNotifications": Sample(query={"limit": "25"}),
    "PostNotification": Sample(
        body={
            "title": "Build 1234 failed",
            "description": "The unit tests failed on main",
            "url": "https://ci.example.com/builds/1234",
            "level": "error",
            "status": "active",
            "source": "ci",
        },
        headers={"idempotency-key": "2f6b-notify-build-1234"},
    ),
    "ListGatewayServices": Sample(query={"enabled": "true", "limit": "25"}),
    "CreateGatewayService": Sample(
        body={
            "name": "Maps",
            "description": "Tiles and routing",
            "rate_limit": {"rate": 50, "burst": 100},
            "quota": {"limit": 100000, "period": "MONTH"},
        },
        headers={"idempotency-key": "7c3e-gateway-service-maps"},
    ),
    "UpdateGatewayService": Sample(
        body={"rate_limit": {"rate": 20, "burst": 40}, "quota": None},
        headers={"if-match": '"1"'},
    ),
    "DeleteGatewayService": Sample(
        path={"serviceId": SPARE_GATEWAY_SERVICE_ID}, headers={"if-match": '"1"'}
    ),
    "ListGatewaySubscriptions": Sample(query={"limit": "25"}),
    "EnableGatewaySubscription": Sample(body={}, path={"serviceId": OPEN_GATEWAY_SERVICE_ID}),
}

# Workflow inputs beyond {project_id, operation, attempt}, by operation (what
# tenantry.domain.projects passes to tenantry.workflows.start).
WORKFLOW_INPUT: dict[str, dict[str, Any]] = {"delete": {"reclaim": True}}
# What a Catch puts at its ResultPath: a step failing with a registry error.
CAUGHT_ERROR = {
    "Error": "RegistryError",
    "Cause": json.dumps(
        {"errorMessage": "create image repository: AccessDenied", "errorType": "RegistryError"}
    ),
}
BODY_METHODS = {"POST", "PUT", "PATCH"}


class SampleError(Exception):
    pass


# --- HTTP API events ------------------------------------------------------------------------


def _request_id(name: str) -> str:
    return base64.b64encode(hashlib.sha256(name.encode()).digest()[:10]).decode()


def _trace_id(name: str) -> str:
    digest = hashlib.sha256(name.encode()).hexdigest()
    return f"Root=1-{TIME_EPOCH // 1000:08x}-{digest[:24]}"


def fill(value: Any, params: Mapping[str, str]) -> Any:
    """`{param}` placeholders in sample bodies -> the sample path parameter values."""
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: params.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: fill(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, params) for v in value]
    return value


def _request(route: template.HttpRoute, sample: Sample, name: str) -> dict[str, Any]:
    """The parts an HTTP API request event and an authorizer REQUEST event share."""
    names = re.findall(r"\{(\w+)\+?\}", route.path)
    defaults = path_values()
    values = {**defaults, **{k: fill(v, defaults) for k, v in sample.path.items()}}
    missing = [n for n in names if n not in values]
    if missing:
        raise SampleError(f"{route.event}: no sample value for path parameter(s) {missing}")
    params = {n: values[n] for n in names}
    raw_path = re.sub(r"\{(\w+)\+?\}", lambda m: params[m.group(1)], route.path)
    body = None if sample.body is None else json.dumps(fill(sample.body, values))
    headers = {
        "accept": "application/json",
        "content-type": "application/json",
        "host": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
        "user-agent": USER_AGENT,
        "x-amzn-trace-id": _trace_id(name),
        "x-forwarded-for": SOURCE_IP,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if route.authorizer is not None:
        headers["authorization"] = f"Bearer {AGENT_TOKEN if sample.agent else TOKEN}"
    if body is not None:
        headers["content-length"] = str(len(body.encode()))
    headers.update(sample.headers)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": raw_path,
        "rawQueryString": urlencode(sample.query),
        "headers": dict(sorted(headers.items())),
    }
    if sample.query:
        event["queryStringParameters"] = dict(sample.query)
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": headers["host"],
        "domainPrefix": API_ID,
        "http": {
            "method": route.method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": SOURCE_IP,
            "userAgent": USER_AGENT,
        },
        "requestId": _request_id(name),
        "routeKey": route.key,
        "stage": "$default",
        "time": TIME,
        "timeEpoch": TIME_EPOCH,
    }
    if params:
        event["pathParameters"] = params
    if body is not None:
        event["body"] = body
    return event


def http_event(route: template.HttpRoute) -> dict[str, Any]:
    sample = SAMPLES.get(route.event, Sample())
    if route.method in BODY_METHODS and sample.body is None:
        raise SampleError(
            f"{route.key} ({route.event}) takes a body: add a Sample with one to "
            "SAMPLES in local/sample_events.py"
        )
    event = _request(route, sample, route.event)
    if route.authorizer is not None:
        # API Gateway puts the authorizer's context here (payload 2.0, simple responses).
        ctx = event["requestContext"]
        event["requestContext"] = {
            "accountId": ctx.pop("accountId"),
            "apiId": ctx.pop("apiId"),
            "authorizer": {"lambda": agent_context() if sample.agent else authorizer_context()},
            **ctx,
        }
    event["isBase64Encoded"] = False
    return event


def authorizer_event(route: template.HttpRoute) -> dict[str, Any]:
    """The REQUEST event (payload 2.0) API Gateway sends the Lambda authorizer for `route`.
    The template configures no identity source (every request is authorized afresh)."""
    sample = SAMPLES.get(route.event, Sample())
    request = _request(route, sample, f"authorizer/{route.event}")
    request.pop("body", None)  # an authorizer never sees the body
    path = route.path.lstrip("/")
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": (
            f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/$default/{route.method}/{path}"
        ),
        **request,
    }


# --- workflow step events -------------------------------------------------------------------


def _machine_operations(tpl: Mapping[str, Any]) -> dict[str, str]:
    """{state machine logical id: operation} from the functions' environments, where
    `<OPERATION>_PROJECT_STATE_MACHINE_ARN: !Ref <Machine>` tells the app which to start."""
    out: dict[str, str] = {}
    for lid in template.functions(tpl):
        variables = template.function_properties(lid, tpl).get("Environment", {})
        for name, value in variables.get("Variables", {}).items():
            m = re.fullmatch(r"([A-Z]+)_PROJECT_STATE_MACHINE_ARN", name)
            if m and isinstance(value, Mapping) and "Ref" in value:
                out[value["Ref"]] = m.group(1).lower()
    # RunDeploymentTask is named by ARN (its steps start the next task: a Ref would be a
    # cycle); its executions run a deployment task.
    for lid, res in template.resources(tpl).items():
        name = str(res.get("Properties", {}).get("Name", ""))
        if res.get("Type") == "AWS::Serverless::StateMachine" and "run-deployment-task" in name:
            out[lid] = "task"
    return out


def workflow_steps(tpl: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """{function logical id: {"operation", "catch_path"?}} for every function a state
    machine's Task invokes; a function in several machines takes the first one's operation.
    `catch_path` is set for a Catch target (its input carries the caught error)."""
    tpl = tpl or template.load()
    operations = _machine_operations(tpl)
    steps: dict[str, dict[str, Any]] = {}
    for lid, res in template.resources(tpl).items():
        if res.get("Type") != "AWS::Serverless::StateMachine":
            continue
        props = res.get("Properties", {})
        if lid not in operations:
            raise SampleError(f"no function environment says which operation {lid} runs")
        if "DefinitionUri" in props:
            definition = json.loads((template.ROOT / props["DefinitionUri"]).read_text())
        else:
            definition = props["Definition"]
        substitutions = {
            k: template.getatt_target(v)
            for k, v in props.get("DefinitionSubstitutions", {}).items()
        }
        for states, in_map in _state_sets(definition.get("States", {})):
            caught = {
                c["Next"]: c.get("ResultPath")
                for state in states.values()
                for c in state.get("Catch", [])
            }
            for state_name, state in states.items():
                fn = substitutions.get(_function_substitution(state) or "")
                if not fn:
                    continue
                step = steps.setdefault(fn, {"operation": operations[lid]})
                if in_map:
                    step["map_item"] = True
                if str(state.get("Resource", "")).endswith(".waitForTaskToken"):
                    step["task_token"] = True
                if caught.get(state_name):
                    step.setdefault("catch_path", caught[state_name])
    return steps


def _state_sets(states: Mapping[str, Any], in_map: bool = False) -> Any:
    """(states, whether they run per item of a Map) for a definition's top level and every
    Map's item processor below it."""
    yield states, in_map
    for state in states.values():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from _state_sets(processor.get("States", {}), True)


def _function_substitution(state: Mapping[str, Any]) -> str | None:
    """The `${...}` substitution naming the function a Task invokes: its Resource, or the
    FunctionName of a lambda:invoke integration."""
    target = str(state.get("Resource", ""))
    if target.startswith("arn:aws:states:::lambda:invoke"):
        target = str(state.get("Parameters", {}).get("FunctionName", ""))
    m = re.fullmatch(r"\$\{(\w+)\}", target)
    return m.group(1) if m else None


def workflow_event(step: Mapping[str, Any]) -> dict[str, Any]:
    operation = step["operation"]
    if operation == "task":  # RunDeploymentTask: a task Pending (StartTask) or Started
        started = bool(step.get("task_token") or step.get("catch_path"))
        event = {"project_id": PROJECT_ID, "task_id": STARTED_TASK_ID if started else TASK_ID}
        if step.get("task_token"):
            event["task_token"] = TASK_TOKEN
        if step.get("catch_path") and not step.get("task_token"):
            event[step["catch_path"][2:]] = {"Error": "States.Timeout", "Cause": ""}
        return event
    event: dict[str, Any] = {"project_id": PROJECT_ID, "operation": operation, "attempt": 1}
    event.update(copy.deepcopy(WORKFLOW_INPUT.get(operation, {})))
    if step.get("map_item"):  # one cluster of the namespaces Map
        event.update(cluster=CLUSTER_NAME, cluster_id=CLUSTER_ID)
    if step.get("task_token"):
        event["task_token"] = TASK_TOKEN
    path = step.get("catch_path")
    if path:
        if not re.fullmatch(r"\$\.\w+", path):
            raise SampleError(f"Catch ResultPath {path!r} is not a top-level field")
        event[path[2:]] = dict(CAUGHT_ERROR)
    return event


# --- schedules ------------------------------------------------------------------------------


def schedule_event(rule: str) -> dict[str, Any]:
    """What EventBridge sends a scheduled rule's target."""
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"tenantry-sample/{rule}")),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule}"],
        "detail": {},
    }


# --- SQS event sources ----------------------------------------------------------------------


def ecr_push_event() -> dict[str, Any]:
    """The demo chart's push, as ChartPushRule hands it to its queue (EventBridge's event)."""
    from local.ecr_registry import (
        DEMO_REPOSITORY,
        DEMO_TAG,
        HELM_CONFIG,
        OCI_MANIFEST,
        demo_chart_digest,
        image_action,
        image_action_event,
    )

    detail = image_action(
        DEMO_REPOSITORY,
        demo_chart_digest(),
        "PUSH",
        DEMO_TAG,
        manifest_media_type=OCI_MANIFEST,
        artifact_media_type=HELM_CONFIG,
    )
    return image_action_event(
        detail,
        time="2025-01-15T09:58:00Z",
        event_id=str(uuid.uuid5(_IDS, "event/demo-chart-push")),
        account=ACCOUNT_ID,
        region=REGION,
    )


# The messages of each function's SQS event source in its sample (by logical id).
def project_suspended_event() -> dict[str, Any]:
    """Project demo's suspension, as GatewayKeysRule hands it to its queue (the lifecycle
    event StreamFunction put on the stack's bus, as EventBridge delivers it)."""
    return {
        "version": "0",
        "id": str(uuid.uuid5(_IDS, "event/demo-suspended")),
        "detail-type": "Project Status Changed",
        "source": "tenantry",
        "account": ACCOUNT_ID,
        "time": "2025-01-15T09:58:00Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "id": f"{PROJECT_ID}/7",
            "project_id": PROJECT_ID,
            "seq": 7,
            "event": "suspend",
            "from": "active",
            "to": "suspended",
            "actor": "user:admin",
            "at": "2025-01-15T09:58:00.000000Z",
            "detail": None,
        },
    }


QUEUE_MESSAGES: dict[str, Any] = {
    "ChartDiscoveryFunction": lambda: [ecr_push_event()],
    "GatewayKeysFunction": lambda: [project_suspended_event()],
}


def queue_event(function: str, event: str, queue_arn: str) -> dict[str, Any]:
    """The batch an SQS event source hands the function: QUEUE_MESSAGES[function]."""
    from local.sqs_delivery import EventSource, sqs_event

    if function not in QUEUE_MESSAGES:
        raise SampleError(f"{function} has an SQS event: add its messages to QUEUE_MESSAGES")
    source = EventSource(function, event, "", queue_arn, 10, report_failures=True)
    messages = [
        {
            "MessageId": str(uuid.uuid5(_IDS, f"message/{function}/{event}/{i}")),
            "ReceiptHandle": f"AQEB-sample-receipt-{i}",
            "Body": json.dumps(message),
            "Attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": str(TIME_EPOCH),
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": str(TIME_EPOCH + 5),
            },
        }
        for i, message in enumerate(QUEUE_MESSAGES[function]())
    ]
    return sqs_event(source, messages)


# --- stream event source mappings ------------------------------------------------------------


def history_record(seq: int, entry: dict[str, Any], when: int) -> dict[str, Any]:
    """The stream record of project demo's seq-th history entry, as Lambda hands it over."""
    template.add_layers_to_path()
    from boto3.dynamodb.types import TypeSerializer

    keys = {"PK": f"PROJECT#{PROJECT_ID}", "SK": f"HIST#{seq:012d}"}
    item = {**keys, "entity": "history", **entry, "seq": seq}
    image = {k: TypeSerializer().serialize(v) for k, v in item.items()}
    stream = (
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/TenantryTable/stream/2025-01-15T09:00:00.000"
    )
    return {
        "eventID": hashlib.md5(f"{PROJECT_ID}/{seq}".encode()).hexdigest(),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": {
            "ApproximateCreationDateTime": when,
            "Keys": {k: image[k] for k in keys},
            "NewImage": image,
            "SequenceNumber": str(4_000_000_000_000_000_000 + seq),
            "SizeBytes": len(json.dumps(image)),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": stream,
    }


def stream_event() -> dict[str, Any]:
    """A batch of the table's stream (new history entries, what the mapping's filter lets
    through): demo becoming active, then Sam's membership accepted."""
    at = TIME_EPOCH // 1000
    provisioned = {
        "at": "2025-01-15T10:00:00.000000Z",
        "actor": "system:workflow",
        "event": "provisioned",
        "from": "creating",
        "to": "active",
    }
    accepted = {
        "at": "2025-01-15T10:00:05.000000Z",
        "actor": "user:" + admin_user_id(),
        "event": "membership_accept",
        "from": "requested",
        "to": "accepted",
        "detail": {"user_id": MEMBER_USER_ID, "role": "member"},
    }
    return {"Records": [history_record(4, provisioned, at), history_record(5, accepted, at + 5)]}


# --- the WebSocket API and the bus's rules ----------------------------------------------------

WS_API_ID = "w1x2y3z4a5"
CONNECTION_ID = "L0SM9cOFvHcCIhw="  # API Gateway's shape of a connection id
WS_EVENT_TYPES = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}


def realtime_context() -> dict[str, Any]:
    """What the WebSocket authorizer returns for TOKEN (requestContext.authorizer, with
    API Gateway's principalId beside it)."""
    template.add_layers_to_path()
    from tenantry.auth import hash_token

    return {
        "principal_kind": "user",
        "principal_id": admin_user_id(),
        "is_admin": True,
        "token_id": ADMIN_TOKEN_ID,
        "token_hash": hash_token(TOKEN),
    }


def _websocket_request(route: template.WebSocketRoute) -> dict[str, Any]:
    kind = WS_EVENT_TYPES.get(route.key, "MESSAGE")
    name = f"websocket/{route.operation}"
    context: dict[str, Any] = {
        "routeKey": route.key,
        "eventType": kind,
        "extendedRequestId": _request_id(name)[:16],
        "requestTime": TIME,
        "messageDirection": "IN",
        "stage": "ws",
        "connectedAt": TIME_EPOCH,
        "requestTimeEpoch": TIME_EPOCH + (0 if kind == "CONNECT" else 5000),
        "identity": {"sourceIp": SOURCE_IP, "userAgent": USER_AGENT},
        "requestId": _request_id(name),
        "domainName": f"{WS_API_ID}.execute-api.{REGION}.amazonaws.com",
        "connectionId": CONNECTION_ID,
        "apiId": WS_API_ID,
    }
    event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
    if kind == "CONNECT":
        headers = {
            "Host": f"{WS_API_ID}.execute-api.{REGION}.amazonaws.com",
            "Authorization": f"Bearer {TOKEN}",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
            "User-Agent": USER_AGENT,
            "X-Forwarded-For": SOURCE_IP,
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
        }
        event["headers"] = headers
        event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    elif kind == "DISCONNECT":
        context["disconnectStatusCode"] = 1000
        context["disconnectReason"] = ""
    else:
        context["messageId"] = _request_id(f"{name}/message")[:16]
        event["body"] = json.dumps({"action": "ping"})
    return event


def websocket_event(route: template.WebSocketRoute) -> dict[str, Any]:
    """What API Gateway sends a WebSocket route's function (a ping for a message)."""
    event = _websocket_request(route)
    if route.authorizer:
        event["requestContext"]["authorizer"] = {
            "principalId": admin_user_id(),
            **realtime_context(),
        }
    return event


def websocket_authorizer_event(route: template.WebSocketRoute) -> dict[str, Any]:
    """The REQUEST event of the $connect authorizer (no identity source: every connect is
    authorized afresh)."""
    request = _websocket_request(route)
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{WS_API_ID}/ws/$connect",
        **{k: v for k, v in request.items() if k != "isBase64Encoded"},
    }


def rule_event(rule: str, props: Mapping[str, Any]) -> dict[str, Any]:
    """What a rule on the stack's bus hands its Lambda target: demo's `provisioned` entry
    as a lifecycle event (tenantry.domain.lifecycle_events)."""
    source = (props.get("EventPattern") or {}).get("source") or []
    if source != ["tenantry"]:
        raise SampleError(f"{rule}: no sample for a rule on {source}")
    entry = {
        "project_id": PROJECT_ID,
        "seq": 4,
        "at": "2025-01-15T10:00:00.000000Z",
        "actor": "system:workflow",
        "event": "provisioned",
        "from": "creating",
        "to": "active",
    }
    template.add_layers_to_path()
    from tenantry.domain.lifecycle_events import event_of

    event = event_of(entry)
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"tenantry-sample/{rule}")),
        "detail-type": event.detail_type,
        "source": event.source,
        "account": ACCOUNT_ID,
        "time": "2025-01-15T10:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": event.detail,
    }


# --- all of them ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One sample event and the function that handles it."""

    function: str  # logical id in template.yaml
    kind: str  # "http", "authorizer", "step", "schedule", "queue", "stream", "websocket",
    # "websocket-authorizer" or "rule"
    event: dict[str, Any]
    route: template.HttpRoute | None = None


def build() -> dict[Path, Entry]:
    """{path relative to events/: Entry} for every route, step and authorizer."""
    tpl = template.load()
    functions = template.functions(tpl)
    resources = template.resources(tpl)
    authorizers = template.authorizer_functions(tpl)
    steps = workflow_steps(tpl)
    ws_routes = template.websocket_routes(tpl)
    entries: dict[Path, Entry] = {}
    unknown = set(SAMPLES) - {r.event for fn in functions.values() for r in fn.routes}
    if unknown:
        raise SampleError(f"SAMPLES names routes the template does not have: {sorted(unknown)}")
    for lid, fn in functions.items():
        if fn.routes:
            for route in fn.routes:
                entries[Path(fn.group, f"{route.event}.json")] = Entry(
                    lid, "http", http_event(route), route
                )
        elif lid in authorizers:
            guarded = [
                r for f in functions.values() for r in f.routes if r.authorizer in authorizers[lid]
            ]
            if not guarded:
                raise SampleError(f"authorizer {lid} guards no route")
            entries[Path(fn.group, "Request.json")] = Entry(
                lid, "authorizer", authorizer_event(guarded[0]), guarded[0]
            )
        elif routes := [r for r in ws_routes if r.function == lid]:
            for ws in routes:
                entries[Path(fn.group, f"{ws.operation}.json")] = Entry(
                    lid, "websocket", websocket_event(ws)
                )
        elif guarded_ws := [r for r in ws_routes if r.authorizer == lid]:
            entries[Path(fn.group, "ConnectRequest.json")] = Entry(
                lid, "websocket-authorizer", websocket_authorizer_event(guarded_ws[0])
            )
        elif targeted := template.rule_targets(lid, tpl):
            for rule, props in targeted.items():
                entries[Path(fn.group, f"{rule}.json")] = Entry(
                    lid, "rule", rule_event(rule, props)
                )
        elif lid in steps:
            entries[Path(fn.group, f"{lid}.json")] = Entry(lid, "step", workflow_event(steps[lid]))
        elif rules := template.schedules(lid, tpl):
            for rule in rules:
                entries[Path(fn.group, f"{rule}.json")] = Entry(
                    lid, "schedule", schedule_event(rule)
                )
        elif mappings := template.event_source_mappings(lid, tpl):
            for name, props in mappings.items():
                source = template.getatt_target(props.get("EventSourceArn"))
                if source and resources.get(source, {}).get("Type") == "AWS::SQS::Queue":
                    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{source}"
                    entry = Entry(lid, "queue", queue_event(lid, name, arn))
                else:
                    entry = Entry(lid, "stream", stream_event())
                entries[Path(fn.group, f"{name}.json")] = entry
        else:
            raise SampleError(
                f"{lid} has no HttpApi or WebSocket route, schedule, SQS event, event source "
                "mapping or rule, is no authorizer and no workflow step"
            )
    return entries


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.sample_events", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if events/ is out of date")
    args = parser.parse_args(argv)

    wanted = {EVENTS_DIR / rel: render(e.event) for rel, e in build().items()}
    present = set(EVENTS_DIR.rglob("*.json")) if EVENTS_DIR.exists() else set()
    stale = sorted(p for p in wanted if not p.exists() or p.read_text() != wanted[p])
    extra = sorted(present - set(wanted))
    if args.check:
        for p in stale:
            print(f"out of date: {p.relative_to(template.ROOT)}", file=sys.stderr)
        for p in extra:
            print(f"no longer generated: {p.relative_to(template.ROOT)}", file=sys.stderr)
        if stale or extra:
            print("run `python -m local.sample_events`", file=sys.stderr)
            return 1
        print(f"{len(wanted)} sample events are up to date")
        return 0
    for p in stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(wanted[p])
        print(f"wrote {p.relative_to(template.ROOT)}")
    for p in extra:
        p.unlink()
        print(f"removed {p.relative_to(template.ROOT)}")
    print(f"{len(wanted)} sample events, {len(stale)} written, {len(extra)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
