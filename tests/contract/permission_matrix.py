"""The world the permission matrix runs in: one stack, one caller of each kind around one
active project (and an org, a template, an application, memberships, invites, a bot with
a token), plus fresh targets for the cells whose success changes what they act on."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from tests.harness import Api, Response, deliver, emulated_ecr, wait_until
from tests.integration.helpers import create_active, make_bot, make_user, workflows_running

# The resource type the deployments' chart declares (an environment's).
RESOURCE_TYPES = {
    "kind": "ResourceType",
    "key": "redirect",
    "spec": {
        "name_singular": "Redirect",
        "name_plural": "Redirects",
        "fontawesome_icon": "arrow-right",
        "values_ui": {"inputs": [{"id": "to_url", "type": "text", "required": True}]},
    },
}
# The caller kinds, in the matrix's column order.
KINDS = ("admin", "owner", "padmin", "member", "viewer", "outsider", "bot", "agent", "anon")
PROJECT_ROLES = {"padmin": "admin", "member": "member", "viewer": "viewer"}
# Callers by their role on `env` (the env-role matrix): a member with Admin, a viewer with
# User, a bot with User, a bot with Admin. None of the KINDS has a role on it.
ENV_KINDS = ("envadmin", "envuser", "botuser", "botadmin")


@dataclass
class Call:
    """What one cell sends: path parameters, JSON body, query."""

    path: dict[str, str] = field(default_factory=dict)
    body: Any = None
    query: dict[str, Any] | None = None


@dataclass
class World:
    api: Api
    tokens: dict[str, str | None] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    # shared targets
    pid: str = ""  # the project every role is in
    victim: str = ""  # the same roles, for the failing cells of destructive routes
    app_id: str = ""  # the owner's pending modify application on `pid`
    member_membership: str = ""  # the member's membership of `pid`
    extra_membership: str = ""  # another member's, for the failing cells of remove
    org: str = ""  # owner: owner, admin: padmin, members: member and viewer
    side_org: str = ""  # the owner's other org, for invites the outsider accepts
    side_invite: str = ""  # to side_org, for the outsider's email
    project_invite: str = ""  # to `pid`, for an email of nobody here
    template: str = ""
    owner_token_id: str = ""  # a second API token of the owner's
    subject_bot: str = ""  # not the calling bot
    subject_bot_token: str = ""
    cluster: str = ""  # the cluster `pid` names; the `agent` caller is its agent
    cluster_name: str = ""
    work: tuple[str, str] = ("", "")  # an item leased to the agent: (id, lease token)
    deployment: str = ""  # a deployment in `env`, on `cluster`
    task: str = ""  # a scheduled (Pending) task of it
    deployment_permission: str = ""  # a bot's Owner role on kind web in `env`
    resource_type: str = ""  # the `redirect` type in `env` (the deployment's install made it)
    resource: str = ""  # a redirect of the deployment
    env: str = ""  # an environment of `pid`
    env_permission: str = ""  # the subject bot's User on `env`
    env_secret: str = ""  # a secret in `env`
    kind: str = ""  # the demo chart's deployment kind (from its discovery)
    registry: str = ""  # the demo chart's helm registry
    chart: str = ""  # the demo chart
    tag_format: str = ""  # a helm tag format
    project_app: str = ""  # an app (OAuth client) of `pid`
    gateway_service: str = ""  # a gateway service `pid` subscribes to
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    def build(cls, api: Api, admin_token: str) -> World:
        w = cls(api)
        me = w.ok(api.get("/auth/me", token=admin_token), 200)
        w.tokens.update(admin=admin_token, anon=None)
        w.ids["admin"] = me["id"]
        for kind in ("owner", "padmin", "member", "viewer", "outsider"):
            user, token = make_user(api, admin_token, kind.title())
            w.tokens[kind], w.ids[kind], w.emails[kind] = token, user["id"], user["email"]
        bot, w.tokens["bot"] = make_bot(api, admin_token, "Calling Bot")
        w.ids["bot"] = bot["id"]

        w.pid = w.fresh_project()
        w.victim = w.fresh_project()
        w.member_membership = w.membership_of(w.ids["member"])
        w.extra_membership = w.fresh_member()
        app = w.ok(w.as_("owner").patch(f"/projects/{w.pid}", json={"max_members": 100}), 202)
        w.app_id = app["last_application"]["id"]

        w.org = w.ok(w.as_("owner").post("/orgs", json={"name": "Matrix Org"}), 201)["id"]
        for kind, role in (("padmin", "admin"), ("member", "member"), ("viewer", "member")):
            invite_id = w.invite("org", w.org, w.emails[kind], role)
            w.ok(w.as_(kind).post(f"/invites/{invite_id}/accept", json={}), 200)
        w.side_org = w.ok(w.as_("owner").post("/orgs", json={"name": "Side Org"}), 201)["id"]
        w.side_invite = w.invite("org", w.side_org, w.emails["outsider"])
        w.project_invite = w.fresh_project_invite()

        w.template = w.fresh_template()
        w.owner_token_id = w.fresh_user_token()
        w.subject_bot = w.fresh_bot()
        w.subject_bot_token = w.fresh_bot_token()

        w.cluster, w.tokens["agent"] = w.fresh_cluster()
        w.cluster_name = w.ok(w.as_("admin").get(f"/clusters/{w.cluster}"), 200)["name"]
        # named by an admin's change (applied at once; its namespace is then Pending)
        body = {"clusters": [{"name": w.cluster_name, "quota": {}}]}
        w.ok(w.as_("admin").patch(f"/projects/{w.pid}", json=body), 200)
        w.work = w.fresh_work()
        w.env = w.fresh_env()
        w.env_permission = w.grant(w.env, bot_id=w.subject_bot, role="User")
        w.env_secret = w.fresh_secret()
        for kind, project_role, env_role in (
            ("envadmin", "member", "Admin"),
            ("envuser", "viewer", "User"),
        ):
            user, token = make_user(api, admin_token, kind.title())
            w.tokens[kind], w.ids[kind] = token, user["id"]
            body = {"project_id": w.pid, "action": "enroll", "user_id": user["id"]}
            w.ok(w.as_("owner").post("/memberships", json={**body, "role": project_role}), 201)
            w.grant(w.env, user_id=user["id"], role=env_role)
        for kind, env_role in (("botuser", "User"), ("botadmin", "Admin")):
            bot, w.tokens[kind] = make_bot(api, admin_token, kind.title())
            w.ids[kind] = bot["id"]
            w.grant(w.env, bot_id=bot["id"], role=env_role)
        w.project_app = w.fresh_project_app()
        w.gateway_service = w.fresh_gateway_subscription()
        w.discover_demo_chart()
        w.tag_format = w.fresh_tag_format()
        w.ready_for_deployments()
        return w

    # --- plumbing ------------------------------------------------------------------------

    def as_(self, kind: str) -> _As:
        return _As(self.api, self.tokens[kind])

    @staticmethod
    def ok(r: Response, status: int) -> Any:
        assert r.status == status, r
        return r.json()

    def unique(self, prefix: str) -> str:
        return f"{prefix} {next(self._seq)}"

    def unique_dns(self, prefix: str) -> str:
        return f"{prefix}-{next(self._seq)}"

    def unique_email(self) -> str:
        return f"matrix-{next(self._seq)}@example.com"

    def unique_name(self, prefix: str) -> str:
        """A DNS label (environment names), or a secret's name."""
        return f"{prefix}-{next(self._seq)}"

    def settle(self) -> None:
        """No request may overlap a workflow step (see tests.integration.helpers). The
        cluster's agent does the work deployments hand it meanwhile."""

        def idle() -> bool:
            if self.tokens.get("agent"):
                r = self.as_("agent").post("/agent/work/claim", json={"limit": 10})
                for item in r.json().get("items", []) if r.status == 200 else []:
                    body = {"lease_token": item["lease_token"], "status": "Done"}
                    self.as_("agent").post(f"/agent/work/{item['id']}/result", json=body)
            return not workflows_running(self.api)

        wait_until(idle, timeout=15)

    # --- fresh targets -------------------------------------------------------------------

    def fresh_project(self) -> str:
        """An active project of the owner's, with the project admin, member and viewer."""
        project = create_active(
            self.api,
            self.tokens["owner"] or "",
            wait_until,
            name=self.unique("Matrix World"),
            join_policy="auto",
        )
        for kind, role in PROJECT_ROLES.items():
            body = {"project_id": project["id"], "action": "enroll", "user_id": self.ids[kind]}
            self.ok(self.as_("owner").post("/memberships", json={**body, "role": role}), 201)
        return str(project["id"])

    def fresh_user(self) -> str:
        body = {"email": self.unique_email(), "display_name": self.unique("Extra")}
        return str(self.ok(self.as_("admin").post("/users", json=body), 201)["id"])

    def fresh_member(self) -> str:
        """A new member of `pid`: their membership id."""
        body = {"project_id": self.pid, "action": "enroll", "user_id": self.fresh_user()}
        return str(self.ok(self.as_("owner").post("/memberships", json=body), 201)["id"])

    def membership_of(self, user_id: str) -> str:
        r = self.as_("owner").get("/memberships", query={"project_id": self.pid, "limit": 100})
        (found,) = [m for m in self.ok(r, 200)["items"] if m["user_id"] == user_id]
        return str(found["id"])

    def invite(self, scope: str, target: str, email: str, role: str = "member") -> str:
        body = {"emails": [email], "roles": [role]}
        r = self.as_("owner").put(f"/{scope}s/{target}/invites", json=body)
        return str(self.ok(r, 201)["items"][0]["id"])

    def fresh_side_invite(self) -> str:
        return self.invite("org", self.side_org, self.emails["outsider"])

    def fresh_project_invite(self) -> str:
        return self.invite("project", self.pid, self.unique_email())

    def fresh_template(self) -> str:
        r = self.as_("admin").post("/templates", json={"name": self.unique("Matrix Template")})
        return str(self.ok(r, 201)["id"])

    def fresh_user_token(self) -> str:
        r = self.as_("admin").post("/user-tokens", json={"user_id": self.ids["owner"]})
        return str(self.ok(r, 201)["id"])

    def fresh_bot(self) -> str:
        r = self.as_("admin").post("/bots", json={"display_name": self.unique("Subject Bot")})
        return str(self.ok(r, 201)["id"])

    def fresh_cluster(self) -> tuple[str, str]:
        """A new cluster: (its id, its agent token)."""
        r = self.as_("admin").post("/clusters", json={"name": self.unique_dns("matrix")})
        cluster = self.ok(r, 201)
        return str(cluster["id"]), str(cluster["agent_token"])

    def fresh_work(self) -> tuple[str, str]:
        """A work item of the agent's cluster, claimed by the agent: (id, lease token).
        Queued through the dal (a workflow would wait on it; here nothing does)."""
        from tenantry.clock import new_id, now_iso
        from tenantry.dal import work

        now = now_iso()
        work.put_new(
            {
                "id": new_id(),
                "kind": "CreateNamespace",
                "cluster_id": self.cluster,
                "cluster_name": self.cluster_name,
                "project_id": self.pid,
                "namespace": self.pid,
                "state": "Queued",
                "attempt": 0,
                "expired_leases": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
        r = self.as_("agent").post("/agent/work/claim", json={"limit": 1})
        (item,) = self.ok(r, 200)["items"]
        return str(item["id"]), str(item["lease_token"])

    def lease_call(self, body: dict[str, Any], *, fresh: bool = False) -> Call:
        """A call on a leased item with its lease token: a fresh item for a cell that uses
        it up (result, release)."""
        work_id, token = self.fresh_work() if fresh else self.work
        return Call({"workId": work_id}, {"lease_token": token, **body})

    def fresh_bot_token(self) -> str:
        r = self.as_("admin").post("/bot-tokens", json={"bot_id": self.subject_bot})
        return str(self.ok(r, 201)["id"])

    def envs_path(self, *rest: str) -> str:
        return "/".join([f"/projects/{self.pid}/environments", *rest])

    def ready_for_deployments(self) -> None:
        """`pid`'s namespace on `cluster` Created (as its agent would report it), a chart of
        kind web in the catalog, a deployment and a scheduled task of it."""
        from tenantry.clock import now_iso
        from tenantry.dal import namespaces, table
        from tests.catalog_seed import seed_chart

        cluster = {"name": self.cluster_name, "id": self.cluster}
        table.transact(namespaces.ask(self.pid, cluster, "Pending", now_iso(), None))
        record = {
            "PK": f"PROJECT#{self.pid}",
            "cluster": self.cluster_name,
            "cluster_id": self.cluster,
        }
        table.transact(namespaces.settle(record, "Created", None, now_iso(), when=("Pending",)))
        seed_chart(actions=[{"id": "flush-cache"}], resource_types=RESOURCE_TYPES)
        self.deployment = self.fresh_deployment()
        self.resource_type = self.ok(
            self.as_("admin").get("/deployment-resource-types", query={"env_id": self.env}), 200
        )["items"][0]["id"]
        self.resource = self.fresh_resource()
        self.task = self.fresh_task()
        self.deployment_permission = self.fresh_deployment_permission()
        self.ok(self.as_("agent").put("/agent/k8s-resources", json=self.k8s_report()), 204)

    def deployment_body(self) -> dict[str, Any]:
        return {
            "name": self.unique_dns("m"),
            "kind_id": "kind-web",
            "cluster_id": self.cluster,
            "env_id": self.env,
            "helm_chart_id": "chart-1",
            "config": {"replicas": 1},
        }

    def fresh_deployment(self) -> str:
        r = self.as_("admin").post(f"/projects/{self.pid}/deployments", json=self.deployment_body())
        deployment = self.ok(r, 201)
        self.settle()
        return str(deployment["id"])

    def k8s_report(self) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment,
            "items": [
                {
                    "uid": "matrix-uid-1",
                    "kind": "Deployment",
                    "api_version": "apps/v1",
                    "name": "m",
                    "status_color": ["success"],
                    "metadata": {},
                }
            ],
        }

    def resource_body(self) -> dict[str, Any]:
        return {
            "type_id": self.resource_type,
            "deployment_id": self.deployment,
            "name": self.unique_dns("r"),
            "props": {"to_url": "https://example.com/"},
        }

    def fresh_resource(self) -> str:
        r = self.as_("admin").post(
            f"/projects/{self.pid}/deployment-resources", json=self.resource_body()
        )
        resource = self.ok(r, 201)
        self.settle()
        return str(resource["id"])

    def permission_body(self) -> dict[str, Any]:
        """A new bot's role (each call: a new principal, so no 409)."""
        return {
            "env_id": self.env,
            "kind_id": "kind-web",
            "bot_id": self.fresh_bot(),
            "role": "Maintainer",
        }

    def fresh_deployment_permission(self) -> str:
        r = self.as_("admin").post(
            f"/projects/{self.pid}/deployment-permissions", json=self.permission_body()
        )
        return str(self.ok(r, 201)["id"])

    def task_body(self) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment,
            "operation": {"InvokeAction": {"action_id": "flush-cache", "body": {}}},
            "execute_at": "2099-01-01T00:00:00Z",
        }

    def fresh_task(self) -> str:
        r = self.as_("admin").post(f"/projects/{self.pid}/deployment-tasks", json=self.task_body())
        return str(self.ok(r, 201)["id"])

    def fresh_env(self) -> str:
        r = self.as_("owner").post(self.envs_path(), json={"name": self.unique_name("env")})
        return str(self.ok(r, 201)["id"])

    def grant(self, env_id: str, **body: str) -> str:
        r = self.as_("owner").post(self.envs_path(env_id, "permissions"), json=body)
        return str(self.ok(r, 201)["id"])

    def fresh_permission(self) -> str:
        """A new bot's User on `env`."""
        return self.grant(self.env, bot_id=self.fresh_bot(), role="User")

    def secret_body(self) -> dict[str, str]:
        return {"collection": "matrix", "name": self.unique_name("s"), "contents": "matrix"}

    def fresh_secret(self) -> str:
        r = self.as_("owner").post(self.envs_path(self.env, "secrets"), json=self.secret_body())
        return str(self.ok(r, 201)["id"])

    def app_body(self) -> dict[str, Any]:
        return {"name": self.unique("Matrix App"), "redirect_uris": ["https://app.example.com/cb"]}

    def fresh_project_app(self) -> str:
        r = self.as_("owner").post(f"/projects/{self.pid}/apps", json=self.app_body())
        return str(self.ok(r, 201)["id"])

    def fresh_gateway_service(self) -> str:
        body = {"name": self.unique("Matrix API"), "rate_limit": {"rate": 10, "burst": 20}}
        return str(self.ok(self.as_("admin").post("/gateway-services", json=body), 201)["id"])

    def fresh_gateway_subscription(self) -> str:
        """A new gateway service that `pid` subscribes to; its id."""
        service = self.fresh_gateway_service()
        self.ok(self.as_("owner").post(f"/projects/{self.pid}/gateway/{service}"), 201)
        return service

    def discover_demo_chart(self) -> None:
        """The demo chart pushed to the emulated ECR and found by chart discovery."""
        from local.ecr_registry import push_demo_chart

        with emulated_ecr(self.api) as registry:
            push_demo_chart(registry)
            deliver(self.api)
        (chart,) = self.ok(self.as_("admin").get("/helm-charts"), 200)["items"]
        self.chart, self.registry = chart["id"], chart["helm_registry_id"]
        registry_item = self.ok(self.as_("admin").get(f"/helm-registries/{self.registry}"), 200)
        self.kind = registry_item["kind_id"]

    def tag_format_body(self) -> dict[str, str]:
        return {"pattern": f"^(?P<version>{next(self._seq)})\\.matrix$"}

    def fresh_tag_format(self) -> str:
        r = self.as_("admin").post("/helm-tag-formats", json=self.tag_format_body())
        return str(self.ok(r, 201)["id"])


@dataclass
class _As:
    api: Api
    token: str | None

    def get(self, path: str, **kw: Any) -> Response:
        return self.api.get(path, token=self.token, **kw)

    def post(self, path: str, **kw: Any) -> Response:
        return self.api.post(path, token=self.token, **kw)

    def put(self, path: str, **kw: Any) -> Response:
        return self.api.put(path, token=self.token, **kw)

    def patch(self, path: str, **kw: Any) -> Response:
        return self.api.patch(path, token=self.token, **kw)
