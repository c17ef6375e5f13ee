"""Who may call what: the status every kind of caller gets on every route of openapi.json.

The expectations are derived from ../shared/design/API.md, not from what the app answers:

* no token: 401 on every route but GET /health.
* a route the contract reserves for platform admins (users, bots and their tokens, template
  writes, the `/users/{userId}/...` views, lifecycle actions such as `suspend`): 403 for
  every other authenticated caller. The answer does not depend on the resource, so it
  leaks nothing. Exception, by the next rule: a user's own record (GET /users/{self} is
  theirs to see, so PATCH on it is 403, and 404 on anybody else's).
* inside a tenant (a project and what belongs to it, a membership, an application, an
  org, an invite): 404 for a caller who may not see the resource, 403 for one who may see
  it but not do this ("403 when the caller may see the resource, 404 when it may not").
* "owner, admin" in API.md's Projects table means the project's owner or a *platform*
  admin (the contract says "project admin" where it means that role: "owner or project
  admin" for enroll). So a project admin may read, enroll and invite, not PATCH or DELETE
  the project.
* the public profile of an active project is visible to every authenticated caller
  (bots too), so PUT on it by anyone but the owner and platform admins is 403.
* where API.md is silent, the choice written into openapi.json's summaries counts:
  applications are seen by the applicant, the project's owner/admins and platform admins;
  memberships by the member, the project's members and platform admins; invites are
  revoked by their inviter, the target's managers and platform admins, listed per target
  for those managers (its members: 403), and accepted only by the invitee (anybody else:
  404; GET /invites shows no one else's); bots create no
  projects or orgs and have no user tokens (403).

* the deployment catalog (API.md, "Deployments and tasks"): platform-level; every
  authenticated user or bot reads it, only platform admins write (kinds, a registry's
  icon, tag formats): 403 for everybody else, whatever the resource.
* a project's apps and users (API.md, "Console extras"): members read the apps (never a
  secret) and the project's people; the project's owner and admins create, change,
  rotate and delete apps, so a member or viewer gets 403 there.
* notifications (API.md, "Console extras"): the project's members read the active ones;
  its owner and admins post (a member or viewer sees the project: 403), and bots only
  with Admin on one of its environments, which the matrix's bot lacks (404; see
  tests/integration/test_notification_routes.py for the bots that may).
* deployment resource types (API.md, "Deployment resource types"): the global ones are
  read by everybody signed in, an environment's by whoever sees the environment (the
  project's members, platform admins); `GET /deployment-resource-types?env_id=` of an
  environment one does not see is an empty page, not a 404 (docs/api.md). Deployment
  resources: members read them, whoever may change the deployment writes them.
* API subscriptions (API.md, "Console extras"): the catalog of gateway services is
  platform-level, read by every authenticated user or bot and written by platform admins
  only (403 for everybody else); a project's subscriptions are read by its members and
  enabled and disabled by its owner and admins, so a member or viewer gets 403 there.
* environments (API.md, "Environments", "Secrets"): members read them and their
  permissions, the project's owner and admins manage them; a secret's names are read by
  the environment's Admins and Users and the managers, so a member without a role on the
  environment gets 403 there (they see the environment). ENV_MATRIX_TABLE checks the
  environment roles themselves.

Callers: `admin` the platform admin (no project role), `owner` the project's owner (and
the org's), `padmin` a project admin (an org admin), `member` a member (an org member),
`viewer` a viewer (an org member), `outsider` a user in neither, `bot` a bot in neither,
`agent` a cluster's agent (its token opens the agent routes and nothing else, and nothing
else opens them: 403 either way, before any resource is read), `anon` no token. Each cell sends a valid body, so the status is about who calls. Cells
that should fail run first; every cell that should succeed at a write gets its own fresh
target (a new project, member, token, template, invite), so no cell depends on another.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.contract.permission_matrix import ENV_KINDS, KINDS, Call, World
from tests.harness import emulated, ensure_test_admin

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.json"

# fmt: off
MATRIX_TABLE = """
#                                                 admin  owner padmin member viewer outsider  bot  agent   anon
GET    /health                                            200    200    200    200    200    200    200    200    200
GET    /auth/me                                           200    200    200    200    200    200    200    403    401
GET    /server/info                                       200    200    200    200    200    200    200    403    401
POST   /users                                             201    403    403    403    403    403    403    403    401
GET    /users                                             200    403    403    403    403    403    403    403    401
GET    /users/{userId}                                    200    200    404    404    404    404    404    403    401
PATCH  /users/{userId}                                    200    403    404    404    404    404    404    403    401
POST   /user-tokens                                       201    201    404    404    404    404    404    403    401
GET    /user-tokens                                       200    200    200    200    200    200    403    403    401
GET    /user-tokens/{tokenId}                             200    200    404    404    404    404    404    403    401
DELETE /user-tokens/{tokenId}                             204    204    404    404    404    404    404    403    401
POST   /bots                                              201    403    403    403    403    403    403    403    401
GET    /bots                                              200    403    403    403    403    403    403    403    401
GET    /bots/{botId}                                      200    403    403    403    403    403    403    403    401
PATCH  /bots/{botId}                                      200    403    403    403    403    403    403    403    401
DELETE /bots/{botId}                                      204    403    403    403    403    403    403    403    401
POST   /bot-tokens                                        201    403    403    403    403    403    403    403    401
GET    /bot-tokens                                        200    403    403    403    403    403    403    403    401
GET    /bot-tokens/{tokenId}                              200    403    403    403    403    403    403    403    401
DELETE /bot-tokens/{tokenId}                              204    403    403    403    403    403    403    403    401
POST   /projects                                          202    202    202    202    202    202    403    403    401
GET    /projects                                          200    200    200    200    200    200    200    403    401
GET    /users/{userId}/projects                           200    403    403    403    403    403    403    403    401
GET    /projects/{projectId}                              200    200    200    200    200    404    404    403    401
PATCH  /projects/{projectId}                              200    200    403    403    403    404    404    403    401
DELETE /projects/{projectId}                              202    202    403    403    403    404    404    403    401
POST   /projects/{projectId}/actions                      200    403    403    403    403    404    404    403    401
GET    /projects/{projectId}/history                      200    200    200    200    200    404    404    403    401
GET    /projects/{projectId}/images                       200    200    200    200    200    404    404    403    401
GET    /users/{userId}/projects/{projectId}/images        200    403    403    403    403    403    403    403    401
GET    /applications                                      200    200    200    200    200    200    200    403    401
GET    /applications/{appId}                              200    200    200    404    404    404    404    403    401
POST   /memberships                                       201    201    201    403    403    404    404    403    401
GET    /memberships                                       200    200    200    200    200    200    200    403    401
GET    /memberships/{membershipId}                        200    200    200    200    200    404    404    403    401
POST   /memberships/{membershipId}/actions                200    200    200    403    403    404    404    403    401
GET    /projects/{projectId}/members                      200    200    200    200    200    404    404    403    401
GET    /projects/{projectId}/users                        200    200    200    200    200    404    404    403    401
GET    /projects/{projectId}/apps                         200    200    200    200    200    404    404    403    401
POST   /projects/{projectId}/apps                         201    201    201    403    403    404    404    403    401
GET    /projects/{projectId}/apps/{appId}                 200    200    200    200    200    404    404    403    401
PATCH  /projects/{projectId}/apps/{appId}                 200    200    200    403    403    404    404    403    401
DELETE /projects/{projectId}/apps/{appId}                 204    204    204    403    403    404    404    403    401
POST   /projects/{projectId}/apps/{appId}/secret          200    200    200    403    403    404    404    403    401
GET    /projects/{projectId}/quotas                       200    200    200    200    200    404    404    403    401
GET    /projects/{projectId}/profile                      200    200    200    200    200    200    200    403    401
PUT    /projects/{projectId}/profile                      200    200    403    403    403    403    403    403    401
GET    /templates                                         200    200    200    200    200    200    200    403    401
POST   /templates                                         201    403    403    403    403    403    403    403    401
GET    /templates/{templateId}                            200    200    200    200    200    200    200    403    401
DELETE /templates/{templateId}                            204    403    403    403    403    403    403    403    401
POST   /orgs                                              201    201    201    201    201    201    403    403    401
GET    /orgs                                              200    200    200    200    200    200    200    403    401
GET    /orgs/{orgId}                                      200    200    200    200    200    404    404    403    401
GET    /orgs/{orgId}/members                              200    200    200    200    200    404    404    403    401
PUT    /orgs/{orgId}/invites                              201    201    201    403    403    404    404    403    401
PUT    /projects/{projectId}/invites                      201    201    201    403    403    404    404    403    401
GET    /orgs/{orgId}/invites                              200    200    200    403    403    404    404    403    401
GET    /projects/{projectId}/invites                      200    200    200    403    403    404    404    403    401
GET    /invites                                           200    200    200    200    200    200    200    403    401
POST   /invites/{inviteId}/accept                         404    404    404    404    404    200    404    403    401
DELETE /invites/{inviteId}                                204    204    204    404    404    404    404    403    401
GET    /projects/{projectId}/clusters/{cluster}/namespaces   200    200    200    200    200    404    404    403    401
POST   /clusters                                          201    403    403    403    403    403    403    403    401
GET    /clusters                                          200    403    403    403    403    403    403    403    401
GET    /clusters/{clusterId}                              200    403    403    403    403    403    403    403    401
PATCH  /clusters/{clusterId}                              200    403    403    403    403    403    403    403    401
DELETE /clusters/{clusterId}                              204    403    403    403    403    403    403    403    401
POST   /clusters/{clusterId}/agent-token                  201    403    403    403    403    403    403    403    401
POST   /agent/heartbeat                                   403    403    403    403    403    403    403    200    401
POST   /agent/work/claim                                  403    403    403    403    403    403    403    200    401
POST   /agent/work/{workId}/heartbeat                     403    403    403    403    403    403    403    200    401
POST   /agent/work/{workId}/result                        403    403    403    403    403    403    403    200    401
POST   /agent/work/{workId}/release                       403    403    403    403    403    403    403    204    401
GET    /projects/{projectId}/environments                 200    200    200    200    200    404    404    403    401
POST   /projects/{projectId}/environments                 201    201    201    403    403    404    404    403    401
GET    /projects/{projectId}/environments/{envId}         200    200    200    200    200    404    404    403    401
PATCH  /projects/{projectId}/environments/{envId}         200    200    200    403    403    404    404    403    401
DELETE /projects/{projectId}/environments/{envId}         204    204    204    403    403    404    404    403    401
GET    {env}/permissions                                  200    200    200    200    200    404    404    403    401
POST   {env}/permissions                                  201    201    201    403    403    404    404    403    401
GET    {env}/permissions/{permId}                         200    200    200    200    200    404    404    403    401
DELETE {env}/permissions/{permId}                         204    204    204    403    403    404    404    403    401
GET    {env}/secrets                                      200    200    200    403    403    404    404    403    401
POST   {env}/secrets                                      201    201    201    403    403    404    404    403    401
GET    {env}/secrets/{secretId}                           200    200    200    403    403    404    404    403    401
PATCH  {env}/secrets/{secretId}                           200    200    200    403    403    404    404    403    401
DELETE {env}/secrets/{secretId}                           204    204    204    403    403    404    404    403    401
GET    /projects/{projectId}/deployments                  200    200    200    200    200    404    404    403    401
POST   /projects/{projectId}/deployments                  201    201    201    403    403    404    404    403    401
GET    /projects/{projectId}/deployments/{deploymentId}   200    200    200    200    200    404    404    403    401
PATCH  /projects/{projectId}/deployments/{deploymentId}   200    200    200    403    403    404    404    403    401
DELETE /projects/{projectId}/deployments/{deploymentId}   202    202    202    403    403    404    404    403    401
GET    /projects/{projectId}/deployment-tasks             200    200    200    200    200    404    404    403    401
POST   /projects/{projectId}/deployment-tasks             201    201    201    403    403    404    404    403    401
GET    /projects/{projectId}/deployment-tasks/{taskId}    200    200    200    200    200    404    404    403    401
DELETE /projects/{projectId}/deployment-tasks/{taskId}    200    200    200    403    403    404    404    403    401
GET    /projects/{projectId}/deployment-permissions       200    200    200    200    200    404    404    403    401
POST   /projects/{projectId}/deployment-permissions       201    201    201    403    403    404    404    403    401
GET    /projects/{projectId}/deployment-permissions/{permId}   200    200    200    200    200    404    404    403    401
DELETE /projects/{projectId}/deployment-permissions/{permId}   204    204    204    403    403    404    404    403    401
GET    /deployment-resource-types                         200    200    200    200    200    200    200    403    401
GET    /deployment-resource-types/{typeId}                200    200    200    200    200    404    404    403    401
GET    /projects/{projectId}/deployment-resources         200    200    200    200    200    404    404    403    401
POST   /projects/{projectId}/deployment-resources         201    201    201    403    403    404    404    403    401
GET    /projects/{projectId}/deployment-resources/{deploymentResourceId}   200    200    200    200    200    404    404    403    401
PATCH  /projects/{projectId}/deployment-resources/{deploymentResourceId}   200    200    200    403    403    404    404    403    401
DELETE /projects/{projectId}/deployment-resources/{deploymentResourceId}   202    202    202    403    403    404    404    403    401
GET    /projects/{projectId}/k8s-resources                200    200    200    200    200    404    404    403    401
GET    /projects/{projectId}/k8s-resources/{resourceId}   200    200    200    200    200    404    404    403    401
PUT    /agent/k8s-resources                               403    403    403    403    403    403    403    204    401
PUT    /agent/deployments/{deploymentId}/reported-status   403    403    403    403    403    403    403    204    401
GET    /deployment-kinds                                  200    200    200    200    200    200    200    403    401
POST   /deployment-kinds                                  201    403    403    403    403    403    403    403    401
GET    /deployment-kinds/{kindId}                         200    200    200    200    200    200    200    403    401
PATCH  /deployment-kinds/{kindId}                         200    403    403    403    403    403    403    403    401
GET    /helm-registries                                   200    200    200    200    200    200    200    403    401
GET    /helm-registries/{registryId}                      200    200    200    200    200    200    200    403    401
PATCH  /helm-registries/{registryId}                      200    403    403    403    403    403    403    403    401
GET    /helm-tag-formats                                  200    200    200    200    200    200    200    403    401
POST   /helm-tag-formats                                  201    403    403    403    403    403    403    403    401
GET    /helm-tag-formats/{formatId}                       200    200    200    200    200    200    200    403    401
DELETE /helm-tag-formats/{formatId}                       204    403    403    403    403    403    403    403    401
GET    /helm-charts                                       200    200    200    200    200    200    200    403    401
GET    /helm-charts/{chartId}                             200    200    200    200    200    200    200    403    401
GET    /projects/{projectId}/notifications                200    200    200    200    200    404    404    403    401
POST   /projects/{projectId}/notifications/{topic}/{topicId}   201    201    201    403    403    404    404    403    401
GET    /gateway-services                                  200    200    200    200    200    200    200    403    401
POST   /gateway-services                                  201    403    403    403    403    403    403    403    401
GET    /gateway-services/{serviceId}                      200    200    200    200    200    200    200    403    401
PATCH  /gateway-services/{serviceId}                      200    403    403    403    403    403    403    403    401
DELETE /gateway-services/{serviceId}                      204    403    403    403    403    403    403    403    401
GET    /projects/{projectId}/gateway                      200    200    200    200    200    404    404    403    401
GET    /projects/{projectId}/gateway/{serviceId}          200    200    200    200    200    404    404    403    401
POST   /projects/{projectId}/gateway/{serviceId}          201    201    201    403    403    404    404    403    401
DELETE /projects/{projectId}/gateway/{serviceId}          204    204    204    403    403    404    404    403    401
"""

# The environment routes by the caller's role on the environment (API.md, "Environments",
# "Secrets"): Admin manages its permissions and secrets, User reads its secrets' names; a
# user's role counts as a member of the project (envadmin is a member, envuser a viewer),
# a bot's (never a member) shows it that environment only.
ENV_MATRIX_TABLE = """
#                                                      envadmin envuser botuser botadmin
GET    /projects/{projectId}/environments                200    200    404    404
POST   /projects/{projectId}/environments                403    403    404    404
GET    /projects/{projectId}/environments/{envId}        200    200    200    200
PATCH  /projects/{projectId}/environments/{envId}        403    403    403    403
DELETE /projects/{projectId}/environments/{envId}        403    403    403    403
GET    {env}/permissions                                 200    200    200    200
POST   {env}/permissions                                 201    403    403    201
GET    {env}/permissions/{permId}                        200    200    200    200
DELETE {env}/permissions/{permId}                        204    403    403    204
GET    {env}/secrets                                     200    200    200    200
POST   {env}/secrets                                     201    403    403    201
GET    {env}/secrets/{secretId}                          200    200    200    200
PATCH  {env}/secrets/{secretId}                          200    403    403    200
DELETE {env}/secrets/{secretId}                          204    403    403    204
"""
# fmt: on
ENVIRONMENTS = "/projects/{projectId}/environments"
ENV = f"{ENVIRONMENTS}/{{envId}}"


def parse(table: str, kinds: tuple[str, ...] = KINDS) -> dict[str, tuple[int, ...]]:
    rows: dict[str, tuple[int, ...]] = {}
    for line in table.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        method, path, *statuses = line.split()
        path = path.replace("{env}", ENV)
        assert len(statuses) == len(kinds), line
        assert f"{method} {path}" not in rows, f"two rows for {method} {path}"
        rows[f"{method} {path}"] = tuple(int(s) for s in statuses)
    return rows


MATRIX = parse(MATRIX_TABLE)
ENV_MATRIX = parse(ENV_MATRIX_TABLE, ENV_KINDS)

# How each route is called: (world, this cell should succeed) -> path params, body, query.
Prepare = Callable[[World, bool], Call]


def same(**path: str) -> Prepare:
    """No body; path parameters by world attribute name."""
    return lambda w, ok: Call({k: getattr(w, v) for k, v in path.items()})


def owner_id(w: World) -> str:
    return w.ids["owner"]


CALLS: dict[str, Prepare] = {
    "GET /health": same(),
    "GET /auth/me": same(),
    "GET /server/info": same(),
    "POST /users": lambda w, ok: Call(
        body={"email": w.unique_email(), "display_name": "Made By The Matrix"}
    ),
    "GET /users": same(),
    "GET /users/{userId}": lambda w, ok: Call({"userId": owner_id(w)}),
    "PATCH /users/{userId}": lambda w, ok: Call({"userId": owner_id(w)}, {"is_active": True}),
    "POST /user-tokens": lambda w, ok: Call(body={"user_id": owner_id(w)}),
    "GET /user-tokens": same(),
    "GET /user-tokens/{tokenId}": same(tokenId="owner_token_id"),
    "DELETE /user-tokens/{tokenId}": lambda w, ok: Call(
        {"tokenId": w.fresh_user_token() if ok else w.owner_token_id}
    ),
    "POST /bots": lambda w, ok: Call(body={"display_name": "Made By The Matrix"}),
    "GET /bots": same(),
    "GET /bots/{botId}": same(botId="subject_bot"),
    "PATCH /bots/{botId}": lambda w, ok: Call(
        {"botId": w.subject_bot}, {"display_name": "Renamed"}
    ),
    "DELETE /bots/{botId}": lambda w, ok: Call({"botId": w.fresh_bot() if ok else w.subject_bot}),
    "POST /bot-tokens": lambda w, ok: Call(body={"bot_id": w.subject_bot}),
    "GET /bot-tokens": lambda w, ok: Call(query={"bot_id": w.subject_bot}),
    "GET /bot-tokens/{tokenId}": same(tokenId="subject_bot_token"),
    "DELETE /bot-tokens/{tokenId}": lambda w, ok: Call(
        {"tokenId": w.fresh_bot_token() if ok else w.subject_bot_token}
    ),
    "POST /projects": lambda w, ok: Call(body={"name": w.unique("Made By The Matrix")}),
    "GET /projects": same(),
    "GET /users/{userId}/projects": lambda w, ok: Call({"userId": owner_id(w)}),
    "GET /projects/{projectId}": same(projectId="pid"),
    "PATCH /projects/{projectId}": lambda w, ok: Call(
        {"projectId": w.pid}, {"description": "changed by the matrix"}
    ),
    "DELETE /projects/{projectId}": lambda w, ok: Call(
        {"projectId": w.fresh_project() if ok else w.victim}
    ),
    "POST /projects/{projectId}/actions": lambda w, ok: Call(
        {"projectId": w.fresh_project() if ok else w.victim}, {"action": "suspend"}
    ),
    "GET /projects/{projectId}/history": same(projectId="pid"),
    "GET /projects/{projectId}/images": same(projectId="pid"),
    "GET /users/{userId}/projects/{projectId}/images": lambda w, ok: Call(
        {"userId": owner_id(w), "projectId": w.pid}
    ),
    "GET /applications": same(),
    "GET /applications/{appId}": same(appId="app_id"),
    "POST /memberships": lambda w, ok: Call(
        body={"project_id": w.pid, "action": "enroll", "user_id": w.fresh_user()}
    ),
    "GET /memberships": same(),
    "GET /memberships/{membershipId}": same(membershipId="member_membership"),
    "POST /memberships/{membershipId}/actions": lambda w, ok: Call(
        {"membershipId": w.fresh_member() if ok else w.extra_membership}, {"action": "remove"}
    ),
    "GET /projects/{projectId}/members": same(projectId="pid"),
    "GET /projects/{projectId}/users": same(projectId="pid"),
    "GET /projects/{projectId}/apps": same(projectId="pid"),
    "POST /projects/{projectId}/apps": lambda w, ok: Call({"projectId": w.pid}, w.app_body()),
    "GET /projects/{projectId}/apps/{appId}": same(projectId="pid", appId="project_app"),
    "PATCH /projects/{projectId}/apps/{appId}": lambda w, ok: Call(
        {"projectId": w.pid, "appId": w.project_app}, {"description": "changed by the matrix"}
    ),
    "DELETE /projects/{projectId}/apps/{appId}": lambda w, ok: Call(
        {"projectId": w.pid, "appId": w.fresh_project_app() if ok else w.project_app}
    ),
    "POST /projects/{projectId}/apps/{appId}/secret": lambda w, ok: Call(
        {"projectId": w.pid, "appId": w.project_app}
    ),
    "GET /projects/{projectId}/quotas": same(projectId="pid"),
    "GET /projects/{projectId}/profile": same(projectId="pid"),
    "PUT /projects/{projectId}/profile": lambda w, ok: Call(
        {"projectId": w.pid}, {"description": "profile by the matrix"}
    ),
    "GET /templates": same(),
    "POST /templates": lambda w, ok: Call(body={"name": "Made By The Matrix"}),
    "GET /templates/{templateId}": same(templateId="template"),
    "DELETE /templates/{templateId}": lambda w, ok: Call(
        {"templateId": w.fresh_template() if ok else w.template}
    ),
    "POST /orgs": lambda w, ok: Call(body={"name": "Made By The Matrix"}),
    "GET /orgs": same(),
    "GET /orgs/{orgId}": same(orgId="org"),
    "GET /orgs/{orgId}/members": same(orgId="org"),
    "PUT /orgs/{orgId}/invites": lambda w, ok: Call(
        {"orgId": w.org}, {"emails": [w.unique_email()], "roles": ["member"]}
    ),
    "PUT /projects/{projectId}/invites": lambda w, ok: Call(
        {"projectId": w.pid}, {"emails": [w.unique_email()], "roles": ["member"]}
    ),
    "GET /orgs/{orgId}/invites": same(orgId="org"),
    "GET /projects/{projectId}/invites": same(projectId="pid"),
    "GET /invites": same(),
    "POST /invites/{inviteId}/accept": lambda w, ok: Call(
        {"inviteId": w.fresh_side_invite() if ok else w.side_invite}, {}
    ),
    "DELETE /invites/{inviteId}": lambda w, ok: Call(
        {"inviteId": w.fresh_project_invite() if ok else w.project_invite}
    ),
    "GET /projects/{projectId}/clusters/{cluster}/namespaces": lambda w, ok: Call(
        {"projectId": w.pid, "cluster": w.cluster_name}
    ),
    "POST /clusters": lambda w, ok: Call(body={"name": w.unique_dns("matrix")}),
    "GET /clusters": same(),
    "GET /clusters/{clusterId}": same(clusterId="cluster"),
    "PATCH /clusters/{clusterId}": lambda w, ok: Call(
        {"clusterId": w.cluster}, {"ingress_class": "nginx"}
    ),
    "DELETE /clusters/{clusterId}": lambda w, ok: Call(
        {"clusterId": w.fresh_cluster()[0] if ok else w.cluster}
    ),
    "POST /clusters/{clusterId}/agent-token": lambda w, ok: Call(
        {"clusterId": w.fresh_cluster()[0] if ok else w.cluster}, {}
    ),
    "POST /agent/heartbeat": lambda w, ok: Call(body={"is_ok": True}),
    "POST /agent/work/claim": lambda w, ok: Call(body={"limit": 1}),
    "POST /agent/work/{workId}/heartbeat": lambda w, ok: w.lease_call({}, fresh=ok),
    "POST /agent/work/{workId}/result": lambda w, ok: w.lease_call({"status": "Done"}, fresh=ok),
    "POST /agent/work/{workId}/release": lambda w, ok: w.lease_call({}, fresh=ok),
    "GET /projects/{projectId}/environments": same(projectId="pid"),
    "POST /projects/{projectId}/environments": lambda w, ok: Call(
        {"projectId": w.pid}, {"name": w.unique_name("made")}
    ),
    f"GET {ENV}": same(projectId="pid", envId="env"),
    f"PATCH {ENV}": lambda w, ok: Call(
        {"projectId": w.pid, "envId": w.env}, {"auto_add_new_users": False}
    ),
    f"DELETE {ENV}": lambda w, ok: Call(
        {"projectId": w.pid, "envId": w.fresh_env() if ok else w.env}
    ),
    f"GET {ENV}/permissions": same(projectId="pid", envId="env"),
    f"POST {ENV}/permissions": lambda w, ok: Call(
        {"projectId": w.pid, "envId": w.env}, {"bot_id": w.fresh_bot(), "role": "User"}
    ),
    f"GET {ENV}/permissions/{{permId}}": same(
        projectId="pid", envId="env", permId="env_permission"
    ),
    f"DELETE {ENV}/permissions/{{permId}}": lambda w, ok: Call(
        {
            "projectId": w.pid,
            "envId": w.env,
            "permId": w.fresh_permission() if ok else w.env_permission,
        }
    ),
    f"GET {ENV}/secrets": same(projectId="pid", envId="env"),
    f"POST {ENV}/secrets": lambda w, ok: Call(
        {"projectId": w.pid, "envId": w.env}, w.secret_body()
    ),
    f"GET {ENV}/secrets/{{secretId}}": same(projectId="pid", envId="env", secretId="env_secret"),
    f"PATCH {ENV}/secrets/{{secretId}}": lambda w, ok: Call(
        {"projectId": w.pid, "envId": w.env, "secretId": w.env_secret}, {"contents": "rotated"}
    ),
    f"DELETE {ENV}/secrets/{{secretId}}": lambda w, ok: Call(
        {
            "projectId": w.pid,
            "envId": w.env,
            "secretId": w.fresh_secret() if ok else w.env_secret,
        }
    ),
    "GET /projects/{projectId}/deployments": same(projectId="pid"),
    "POST /projects/{projectId}/deployments": lambda w, ok: Call(
        {"projectId": w.pid}, w.deployment_body()
    ),
    "GET /projects/{projectId}/deployments/{deploymentId}": same(
        projectId="pid", deploymentId="deployment"
    ),
    "PATCH /projects/{projectId}/deployments/{deploymentId}": lambda w, ok: Call(
        {"projectId": w.pid, "deploymentId": w.deployment}, {"description_md": "by the matrix"}
    ),
    "DELETE /projects/{projectId}/deployments/{deploymentId}": lambda w, ok: Call(
        {"projectId": w.pid, "deploymentId": w.fresh_deployment() if ok else w.deployment}
    ),
    "GET /projects/{projectId}/deployment-tasks": same(projectId="pid"),
    "POST /projects/{projectId}/deployment-tasks": lambda w, ok: Call(
        {"projectId": w.pid}, w.task_body()
    ),
    "GET /projects/{projectId}/deployment-tasks/{taskId}": same(projectId="pid", taskId="task"),
    "DELETE /projects/{projectId}/deployment-tasks/{taskId}": lambda w, ok: Call(
        {"projectId": w.pid, "taskId": w.fresh_task() if ok else w.task}
    ),
    "GET /deployment-resource-types": lambda w, ok: Call(query={"env_id": w.env}),
    "GET /deployment-resource-types/{typeId}": same(typeId="resource_type"),
    "GET /projects/{projectId}/deployment-resources": same(projectId="pid"),
    "POST /projects/{projectId}/deployment-resources": lambda w, ok: Call(
        {"projectId": w.pid}, w.resource_body()
    ),
    "GET /projects/{projectId}/deployment-resources/{deploymentResourceId}": same(
        projectId="pid", deploymentResourceId="resource"
    ),
    "PATCH /projects/{projectId}/deployment-resources/{deploymentResourceId}": lambda w, ok: Call(
        {"projectId": w.pid, "deploymentResourceId": w.resource}, {"props": {"to_url": "/m"}}
    ),
    "DELETE /projects/{projectId}/deployment-resources/{deploymentResourceId}": lambda w, ok: Call(
        {"projectId": w.pid, "deploymentResourceId": w.fresh_resource() if ok else w.resource}
    ),
    "GET /projects/{projectId}/deployment-permissions": same(projectId="pid"),
    "POST /projects/{projectId}/deployment-permissions": lambda w, ok: Call(
        {"projectId": w.pid}, w.permission_body()
    ),
    "GET /projects/{projectId}/deployment-permissions/{permId}": same(
        projectId="pid", permId="deployment_permission"
    ),
    "DELETE /projects/{projectId}/deployment-permissions/{permId}": lambda w, ok: Call(
        {
            "projectId": w.pid,
            "permId": w.fresh_deployment_permission() if ok else w.deployment_permission,
        }
    ),
    "GET /projects/{projectId}/k8s-resources": same(projectId="pid"),
    "GET /projects/{projectId}/k8s-resources/{resourceId}": lambda w, ok: Call(
        {"projectId": w.pid, "resourceId": "matrix-uid-1"}
    ),
    "PUT /agent/k8s-resources": lambda w, ok: Call(body=w.k8s_report()),
    "PUT /agent/deployments/{deploymentId}/reported-status": lambda w, ok: Call(
        {"deploymentId": w.deployment}, {"get_successful": True}
    ),
    "GET /deployment-kinds": same(),
    "POST /deployment-kinds": lambda w, ok: Call(body={"name": w.unique_name("matrix")}),
    "GET /deployment-kinds/{kindId}": same(kindId="kind"),
    "PATCH /deployment-kinds/{kindId}": lambda w, ok: Call(
        {"kindId": w.kind}, {"name": w.unique_name("matrix-kind")}
    ),
    "GET /helm-registries": same(),
    "GET /helm-registries/{registryId}": same(registryId="registry"),
    "PATCH /helm-registries/{registryId}": lambda w, ok: Call(
        {"registryId": w.registry}, {"fa_icon": "globe"}
    ),
    "GET /helm-tag-formats": same(),
    "POST /helm-tag-formats": lambda w, ok: Call(body=w.tag_format_body()),
    "GET /helm-tag-formats/{formatId}": same(formatId="tag_format"),
    "DELETE /helm-tag-formats/{formatId}": lambda w, ok: Call(
        {"formatId": w.fresh_tag_format() if ok else w.tag_format}
    ),
    "GET /helm-charts": same(),
    "GET /helm-charts/{chartId}": same(chartId="chart"),
    "GET /projects/{projectId}/notifications": same(projectId="pid"),
    "POST /projects/{projectId}/notifications/{topic}/{topicId}": lambda w, ok: Call(
        {"projectId": w.pid, "topic": "build", "topicId": w.unique_name("matrix")},
        {"title": "posted by the matrix", "level": "warning"},
    ),
    "GET /gateway-services": same(),
    "POST /gateway-services": lambda w, ok: Call(
        body={"name": w.unique("Matrix API"), "rate_limit": {"rate": 5, "burst": 5}}
    ),
    "GET /gateway-services/{serviceId}": same(serviceId="gateway_service"),
    "PATCH /gateway-services/{serviceId}": lambda w, ok: Call(
        {"serviceId": w.gateway_service}, {"description": "changed by the matrix"}
    ),
    "DELETE /gateway-services/{serviceId}": lambda w, ok: Call(
        {"serviceId": w.fresh_gateway_service() if ok else w.gateway_service}
    ),
    "GET /projects/{projectId}/gateway": same(projectId="pid"),
    "GET /projects/{projectId}/gateway/{serviceId}": same(
        projectId="pid", serviceId="gateway_service"
    ),
    "POST /projects/{projectId}/gateway/{serviceId}": lambda w, ok: Call(
        {"projectId": w.pid, "serviceId": w.fresh_gateway_service() if ok else w.gateway_service}
    ),
    "DELETE /projects/{projectId}/gateway/{serviceId}": lambda w, ok: Call(
        {
            "projectId": w.pid,
            "serviceId": w.fresh_gateway_subscription() if ok else w.gateway_service,
        }
    ),
}


def openapi_routes() -> dict[str, set[str]]:
    """'METHOD /path' -> the statuses openapi.json documents for it."""
    spec = json.loads(OPENAPI.read_text())
    return {
        f"{method.upper()} {path}": set(op.get("responses", {}))
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    }


# --- the matrix covers the API -------------------------------------------------------------------


def test_every_route_has_a_row_and_a_call() -> None:
    routes = set(openapi_routes())
    assert sorted(routes - MATRIX.keys()) == [], "routes without a row in MATRIX_TABLE"
    assert sorted(MATRIX.keys() - routes) == [], "rows for routes openapi.json does not have"
    assert CALLS.keys() == MATRIX.keys(), sorted(CALLS.keys() ^ MATRIX.keys())
    environment_routes = {r for r in routes if r.split(" ", 1)[1].startswith(ENVIRONMENTS)}
    assert ENV_MATRIX.keys() == environment_routes, sorted(ENV_MATRIX.keys() ^ environment_routes)


def test_openapi_documents_every_expected_status() -> None:
    documented = openapi_routes()
    missing = [
        f"{route}: {status} ({kind})"
        for matrix, kinds in ((MATRIX, KINDS), (ENV_MATRIX, ENV_KINDS))
        for route, statuses in matrix.items()
        for kind, status in zip(kinds, statuses, strict=True)
        if str(status) not in documented.get(route, set())
    ]
    assert missing == [], "statuses the matrix expects but openapi.json does not document"


# --- the matrix holds --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with emulated({}) as api:
        w = World.build(api, ensure_test_admin())
        w.settle()
        yield w


@pytest.mark.parametrize("route", list(MATRIX))
def test_permission_matrix(world: World, route: str) -> None:
    check(world, route, dict(zip(KINDS, MATRIX[route], strict=True)))


@pytest.mark.parametrize("route", list(ENV_MATRIX))
def test_environment_role_matrix(world: World, route: str) -> None:
    check(world, route, dict(zip(ENV_KINDS, ENV_MATRIX[route], strict=True)))


def check(world: World, route: str, expected: dict[str, int]) -> None:
    method, template = route.split(" ", 1)
    # cells that should fail first: they must not change anything the others act on
    order = sorted(expected, key=lambda kind: expected[kind] < 300)
    got: dict[str, int] = {}
    wrong: list[str] = []
    for kind in order:
        call = CALLS[route](world, expected[kind] < 300)
        world.settle()
        path = re.sub(r"\{(\w+)\}", lambda m, c=call: c.path[m.group(1)], template)
        r = world.api.request(
            method, path, token=world.tokens[kind], json=call.body, query=call.query
        )
        world.settle()
        got[kind] = r.status
        if r.status != expected[kind]:
            wrong.append(f"  {kind:<8} expected {expected[kind]}, got {r.status}: {r.body[:300]}")
    assert not wrong, (
        f"{route}\n  expected {[expected[k] for k in expected]}\n"
        f"  got      {[got[k] for k in expected]}\n" + "\n".join(wrong)
    )
