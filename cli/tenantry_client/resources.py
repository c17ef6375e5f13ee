"""The client's resource groups (`client.projects`, `client.deployments`, ...): one method
per route, typed answers, and the conventions done for you:

- `list(...)` iterates every item, following the cursor page after page; `page(...)` reads
  one page (`cursor=`, `limit=`).
- creates send an `Idempotency-Key` (a new uuid4 per call unless `idempotency_key=` names
  one; the same key on every retry of the call).
- `get` answers carry their ETag (`model.etag`); conditional writes take `if_match=` (the
  model you read, its etag, a version number, or '*').
- `NULL` (tenantry_client.NULL) sends a JSON null in a PATCH: it removes an optional field.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from tenantry_client.errors import TenantryError
from tenantry_client.models import (
    AgentToken,
    Application,
    Cluster,
    ClusterCreated,
    Deployment,
    DeploymentTask,
    Environment,
    History,
    HistoryItem,
    Invite,
    InviteList,
    K8sResource,
    Me,
    Member,
    Membership,
    Page,
    Project,
    ProjectUser,
    Quota,
    Secret,
    TokenCreated,
    User,
    UserToken,
)
from tenantry_client.util import IfMatch, clean, new_idempotency_key, path

if TYPE_CHECKING:
    from tenantry_client.client import Tenantry

SETTLED = frozenset({"active", "failed", "deleted", "uninitialized", "suspended", "terminated"})


class WaitTimeout(TenantryError):
    """A wait for a status ran out of time; `last` is the last thing read."""

    def __init__(self, message: str, last: Any) -> None:
        super().__init__(message)
        self.last = last


class Group:
    def __init__(self, client: Tenantry) -> None:
        self._c = client

    def _key(self, key: str | None) -> str:
        return key if key is not None else new_idempotency_key()


class Projects(Group):
    def list(
        self,
        *,
        state: str | None = None,
        owner: str | None = None,
        name: str | None = None,
        mode: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        sort_by: str | None = None,
        filter_by: str | None = None,
        limit: int | None = None,
        max_items: int | None = None,
    ) -> Iterator[Project]:
        params = _filters(locals(), "limit", "max_items")
        return self._c.iterate("/projects", Project, params, limit=limit, max_items=max_items)

    def page(
        self, *, cursor: str | None = None, limit: int | None = None, **filters: Any
    ) -> Page[Project]:
        return self._c.page("/projects", Project, filters, cursor=cursor, limit=limit)

    def get(self, project_id: str) -> Project:
        return self._c.get(path("/projects/{}", project_id), Project)

    def create(self, name: str, *, idempotency_key: str | None = None, **fields: Any) -> Project:
        """POST /projects (202: provisioning runs; see `wait`). `fields`: id, description,
        homepage, labels, environments, org_id, clusters, join_policy, leave_policy,
        max_members, resources, template_id, owner_id, initial_user, init_git_repository."""
        body = clean({"name": name, **fields})
        return self._c.send(
            "POST", "/projects", Project, json=body, idempotency_key=self._key(idempotency_key)
        )

    def update(self, project_id: str, *, if_match: IfMatch = None, **fields: Any) -> Project:
        """PATCH (200; 202 when governed fields became an application)."""
        return self._c.send(
            "PATCH",
            path("/projects/{}", project_id),
            Project,
            json=clean(fields),
            if_match=if_match,
        )

    def delete(
        self, project_id: str, *, reclaim: bool = False, if_match: IfMatch = None
    ) -> Project:
        return self._c.send(
            "DELETE",
            path("/projects/{}", project_id),
            Project,
            params={"reclaim": True} if reclaim else None,
            if_match=if_match,
        )

    def action(
        self,
        project_id: str,
        action: str,
        *,
        reason: str | None = None,
        app_id: str | None = None,
        if_match: IfMatch = None,
    ) -> Project:
        """POST /projects/{id}/actions: suspend, unsuspend, terminate, reinstate, retry,
        approve, deny, cancel, dismiss."""
        body = clean({"action": action, "reason": reason, "app_id": app_id})
        return self._c.send(
            "POST", path("/projects/{}/actions", project_id), Project, json=body, if_match=if_match
        )

    def history(self, project_id: str, *, limit: int | None = None) -> Iterator[HistoryItem]:
        """The project's history, oldest first, every page."""
        url = path("/projects/{}/history", project_id)
        return self._c.iterate(url, HistoryItem, limit=limit, page_model=History)

    def history_page(
        self, project_id: str, *, cursor: str | None = None, limit: int | None = None
    ) -> History:
        url = path("/projects/{}/history", project_id)
        return self._c.page(url, HistoryItem, cursor=cursor, limit=limit, page_model=History)

    def members(self, project_id: str) -> Iterator[Member]:
        return self._c.iterate(path("/projects/{}/members", project_id), Member)

    def users(self, project_id: str) -> Iterator[ProjectUser]:
        """The project's people: current members with display names and membership ids."""
        return self._c.iterate(path("/projects/{}/users", project_id), ProjectUser)

    def quotas(self, project_id: str) -> dict[str, Quota]:
        r = self._c.request("GET", path("/projects/{}/quotas", project_id))
        return {name: Quota.model_validate(q) for name, q in r.json().items()}

    def wait(
        self,
        project_id: str,
        *,
        until: Iterable[str] = SETTLED,
        timeout: float = 300.0,
        interval: float = 1.0,
    ) -> Project:
        """Read the project until its status is one of `until` (default: any settled
        status); WaitTimeout after `timeout` seconds."""
        wanted = frozenset(until)
        deadline = time.monotonic() + timeout
        while True:
            project = self.get(project_id)
            if project.status in wanted:
                return project
            if time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"project {project_id} still {project.status} after {timeout:g}s", project
                )
            time.sleep(interval)


class Memberships(Group):
    def list(self, *, project_id: str | None = None) -> Iterator[Membership]:
        return self._c.iterate("/memberships", Membership, {"project_id": project_id})

    def get(self, membership_id: str) -> Membership:
        return self._c.get(path("/memberships/{}", membership_id), Membership)

    def join(self, project_id: str, *, idempotency_key: str | None = None) -> Membership:
        body = {"project_id": project_id, "action": "join"}
        return self._c.send(
            "POST",
            "/memberships",
            Membership,
            json=body,
            idempotency_key=self._key(idempotency_key),
        )

    def enroll(
        self,
        project_id: str,
        *,
        user_id: str | None = None,
        email: str | None = None,
        role: str | None = None,
        idempotency_key: str | None = None,
    ) -> Membership | Invite:
        """Add a registered user (201: the membership) or invite an address (202: the
        invite; the membership exists once the invite is accepted)."""
        body = clean(
            {
                "project_id": project_id,
                "action": "enroll",
                "user_id": user_id,
                "email": email,
                "role": role,
            }
        )
        r = self._c.request(
            "POST", "/memberships", json=body, idempotency_key=self._key(idempotency_key)
        )
        return self._c.parse(r, Invite if r.status_code == 202 else Membership)

    def action(self, membership_id: str, action: str, *, reason: str | None = None) -> Membership:
        """accept, reject, remove (managers); leave, cancel (the member)."""
        return self._c.send(
            "POST",
            path("/memberships/{}/actions", membership_id),
            Membership,
            json=clean({"action": action, "reason": reason}),
        )

    def accept(self, membership_id: str, *, reason: str | None = None) -> Membership:
        return self.action(membership_id, "accept", reason=reason)

    def reject(self, membership_id: str, *, reason: str | None = None) -> Membership:
        return self.action(membership_id, "reject", reason=reason)

    def remove(self, membership_id: str, *, reason: str | None = None) -> Membership:
        return self.action(membership_id, "remove", reason=reason)

    def leave(self, membership_id: str, *, reason: str | None = None) -> Membership:
        return self.action(membership_id, "leave", reason=reason)

    def cancel(self, membership_id: str, *, reason: str | None = None) -> Membership:
        return self.action(membership_id, "cancel", reason=reason)


class Applications(Group):
    def list(
        self, *, state: str | None = None, project_id: str | None = None
    ) -> Iterator[Application]:
        """Platform admins: the queue (`state`, default pending); others: their own."""
        params = {"state": state, "project_id": project_id}
        return self._c.iterate("/applications", Application, params)

    def get(self, app_id: str) -> Application:
        return self._c.get(path("/applications/{}", app_id), Application)

    def decide(
        self, app_id: str, decision: str, *, reason: str | None = None, if_match: IfMatch = None
    ) -> Project:
        """approve, deny (platform admins), cancel, dismiss (the applicant): the decision is
        an action on the application's project; answers the project."""
        application = self.get(app_id)
        return self._c.projects.action(
            application.project_id, decision, reason=reason, app_id=app_id, if_match=if_match
        )

    def approve(self, app_id: str, *, reason: str | None = None) -> Project:
        return self.decide(app_id, "approve", reason=reason)

    def deny(self, app_id: str, *, reason: str | None = None) -> Project:
        return self.decide(app_id, "deny", reason=reason)


class Invites(Group):
    def list(self) -> Iterator[Invite]:
        """Your pending invites (to your email), soonest to expire first."""
        return self._c.iterate("/invites", Invite)

    def create(
        self,
        *,
        emails: list[str],
        roles: list[str],
        project_id: str | None = None,
        org_id: str | None = None,
        expire_days: int | None = None,
        secure: bool | None = None,
        idempotency_key: str | None = None,
    ) -> list[Invite]:
        """Invite `emails` to a project or an org (one of them); one invite per email. A
        secure invite's `code` is in this answer only."""
        if (project_id is None) == (org_id is None):
            raise ValueError("give exactly one of project_id and org_id")
        url = (
            path("/projects/{}/invites", project_id)
            if project_id is not None
            else path("/orgs/{}/invites", org_id or "")
        )
        body = clean(
            {"emails": emails, "roles": roles, "expire_days": expire_days, "secure": secure}
        )
        return self._c.send(
            "PUT", url, InviteList, json=body, idempotency_key=self._key(idempotency_key)
        ).items

    def accept(self, invite_id: str, *, code: str | None = None) -> Invite:
        return self._c.send(
            "POST", path("/invites/{}/accept", invite_id), Invite, json=clean({"code": code})
        )

    def revoke(self, invite_id: str, *, if_match: IfMatch = None) -> None:
        self._c.request("DELETE", path("/invites/{}", invite_id), if_match=if_match)


class Environments(Group):
    def list(self, project_id: str) -> Iterator[Environment]:
        return self._c.iterate(path("/projects/{}/environments", project_id), Environment)

    def get(self, project_id: str, env_id: str) -> Environment:
        return self._c.get(path("/projects/{}/environments/{}", project_id, env_id), Environment)

    def find(self, project_id: str, name_or_id: str) -> Environment:
        """The environment with that id, or else that name (a NotFound like the API's)."""
        for env in self.list(project_id):
            if name_or_id in (env.id, env.name):
                return env
        return self.get(project_id, name_or_id)  # raises the API's own 404

    def create(
        self, project_id: str, name: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> Environment:
        """`fields`: node_selector, tolerations, auto_add_new_users."""
        return self._c.send(
            "POST",
            path("/projects/{}/environments", project_id),
            Environment,
            json=clean({"name": name, **fields}),
            idempotency_key=self._key(idempotency_key),
        )

    def update(
        self, project_id: str, env_id: str, *, if_match: IfMatch = None, **fields: Any
    ) -> Environment:
        return self._c.send(
            "PATCH",
            path("/projects/{}/environments/{}", project_id, env_id),
            Environment,
            json=clean(fields),
            if_match=if_match,
        )

    def delete(self, project_id: str, env_id: str, *, if_match: IfMatch = None) -> None:
        self._c.request(
            "DELETE", path("/projects/{}/environments/{}", project_id, env_id), if_match=if_match
        )


class Secrets(Group):
    """Secrets' names and metadata; contents are write-only (no answer holds them)."""

    def list(
        self,
        project_id: str,
        env_id: str,
        *,
        collection: str | None = None,
        name: str | None = None,
    ) -> Iterator[Secret]:
        return self._c.iterate(
            path("/projects/{}/environments/{}/secrets", project_id, env_id),
            Secret,
            {"collection": collection, "name": name},
        )

    def get(self, project_id: str, env_id: str, secret_id: str) -> Secret:
        return self._c.get(
            path("/projects/{}/environments/{}/secrets/{}", project_id, env_id, secret_id), Secret
        )

    def create(
        self,
        project_id: str,
        env_id: str,
        *,
        collection: str,
        name: str,
        contents: str,
        idempotency_key: str | None = None,
    ) -> Secret:
        return self._c.send(
            "POST",
            path("/projects/{}/environments/{}/secrets", project_id, env_id),
            Secret,
            json={"collection": collection, "name": name, "contents": contents},
            idempotency_key=self._key(idempotency_key),
        )

    def update(
        self,
        project_id: str,
        env_id: str,
        secret_id: str,
        *,
        name: str | None = None,
        contents: str | None = None,
        if_match: IfMatch = None,
    ) -> Secret:
        return self._c.send(
            "PATCH",
            path("/projects/{}/environments/{}/secrets/{}", project_id, env_id, secret_id),
            Secret,
            json=clean({"name": name, "contents": contents}),
            if_match=if_match,
        )

    def delete(
        self, project_id: str, env_id: str, secret_id: str, *, if_match: IfMatch = None
    ) -> None:
        self._c.request(
            "DELETE",
            path("/projects/{}/environments/{}/secrets/{}", project_id, env_id, secret_id),
            if_match=if_match,
        )


class Deployments(Group):
    def list(self, project_id: str) -> Iterator[Deployment]:
        return self._c.iterate(path("/projects/{}/deployments", project_id), Deployment)

    def get(self, project_id: str, deployment_id: str) -> Deployment:
        return self._c.get(
            path("/projects/{}/deployments/{}", project_id, deployment_id), Deployment
        )

    def create(
        self,
        project_id: str,
        *,
        kind_id: str,
        cluster_id: str,
        env_id: str,
        helm_chart_id: str,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Deployment:
        """`fields`: name, config, values_override, description_md."""
        body = clean(
            {
                "kind_id": kind_id,
                "cluster_id": cluster_id,
                "env_id": env_id,
                "helm_chart_id": helm_chart_id,
                **fields,
            }
        )
        return self._c.send(
            "POST",
            path("/projects/{}/deployments", project_id),
            Deployment,
            json=body,
            idempotency_key=self._key(idempotency_key),
        )

    def update(
        self, project_id: str, deployment_id: str, *, if_match: IfMatch = None, **fields: Any
    ) -> Deployment:
        """`fields`: config, values_override (NULL removes it), helm_chart_id, enabled,
        name, cluster_id, description_md. Each change makes its task."""
        return self._c.send(
            "PATCH",
            path("/projects/{}/deployments/{}", project_id, deployment_id),
            Deployment,
            json=clean(fields),
            if_match=if_match,
        )

    def delete(
        self, project_id: str, deployment_id: str, *, if_match: IfMatch = None
    ) -> Deployment:
        return self._c.send(
            "DELETE",
            path("/projects/{}/deployments/{}", project_id, deployment_id),
            Deployment,
            if_match=if_match,
        )

    def k8s_resources(
        self, project_id: str, *, deployment_id: str | None = None
    ) -> Iterator[K8sResource]:
        return self._c.iterate(
            path("/projects/{}/k8s-resources", project_id),
            K8sResource,
            {"deployment_id": deployment_id},
        )


class Tasks(Group):
    """Deployment tasks."""

    def list(
        self, project_id: str, *, deployment_id: str | None = None
    ) -> Iterator[DeploymentTask]:
        """The project's tasks (`deployment_id`: that deployment's only, filtered here)."""
        tasks = self._c.iterate(path("/projects/{}/deployment-tasks", project_id), DeploymentTask)
        return (t for t in tasks if deployment_id is None or t.deployment_id == deployment_id)

    def get(self, project_id: str, task_id: str) -> DeploymentTask:
        return self._c.get(
            path("/projects/{}/deployment-tasks/{}", project_id, task_id), DeploymentTask
        )

    def create(
        self,
        project_id: str,
        *,
        deployment_id: str,
        operation: Mapping[str, Any],
        execute_at: str | None = None,
        idempotency_key: str | None = None,
    ) -> DeploymentTask:
        """`operation`: {"InvokeAction": {action_id, body?}} or
        {"RestartK8sResource": {resource_id}}; `execute_at`: a UTC time to wait for."""
        body = clean(
            {"deployment_id": deployment_id, "operation": dict(operation), "execute_at": execute_at}
        )
        return self._c.send(
            "POST",
            path("/projects/{}/deployment-tasks", project_id),
            DeploymentTask,
            json=body,
            idempotency_key=self._key(idempotency_key),
        )

    def cancel(self, project_id: str, task_id: str, *, reason: str | None = None) -> DeploymentTask:
        """A Pending task only (409 otherwise)."""
        return self._c.send(
            "DELETE",
            path("/projects/{}/deployment-tasks/{}", project_id, task_id),
            DeploymentTask,
            params={"reason": reason},
        )

    def restart(
        self,
        project_id: str,
        resource_id: str,
        *,
        deployment_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> DeploymentTask:
        """A rollout restart of a Deployment or StatefulSet the agent reported (its
        k8s-resource id); the deployment is the resource's unless given."""
        if deployment_id is None:
            resource = self._c.get(
                path("/projects/{}/k8s-resources/{}", project_id, resource_id), K8sResource
            )
            deployment_id = resource.deployment_id
        return self.create(
            project_id,
            deployment_id=deployment_id,
            operation={"RestartK8sResource": {"resource_id": resource_id}},
            idempotency_key=idempotency_key,
        )


class Clusters(Group):
    """Platform admins' (and a project's namespaces on them)."""

    def list(self, *, name: str | None = None) -> Iterator[Cluster]:
        return self._c.iterate("/clusters", Cluster, {"name": name})

    def get(self, cluster_id: str) -> Cluster:
        return self._c.get(path("/clusters/{}", cluster_id), Cluster)

    def create(
        self, name: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> ClusterCreated:
        """The answer holds the agent token, shown this once (`agent_token`)."""
        return self._c.send(
            "POST",
            "/clusters",
            ClusterCreated,
            json=clean({"name": name, **fields}),
            idempotency_key=self._key(idempotency_key),
        )

    def update(self, cluster_id: str, *, if_match: IfMatch = None, **fields: Any) -> Cluster:
        return self._c.send(
            "PATCH",
            path("/clusters/{}", cluster_id),
            Cluster,
            json=clean(fields),
            if_match=if_match,
        )

    def delete(self, cluster_id: str, *, if_match: IfMatch = None) -> None:
        self._c.request("DELETE", path("/clusters/{}", cluster_id), if_match=if_match)

    def rotate_agent_token(self, cluster_id: str) -> AgentToken:
        return self._c.send("POST", path("/clusters/{}/agent-token", cluster_id), AgentToken)


class Users(Group):
    def me(self) -> Me:
        return self._c.me()

    def list(
        self,
        *,
        email: str | None = None,
        display_name: str | None = None,
        is_active: bool | None = None,
    ) -> Iterator[User]:
        params = {"email": email, "display_name": display_name, "is_active": is_active}
        return self._c.iterate("/users", User, params)

    def get(self, user_id: str) -> User:
        return self._c.get(path("/users/{}", user_id), User)

    def create(self, email: str, display_name: str, *, idempotency_key: str | None = None) -> User:
        return self._c.send(
            "POST",
            "/users",
            User,
            json={"email": email, "display_name": display_name},
            idempotency_key=self._key(idempotency_key),
        )

    def update(self, user_id: str, *, if_match: IfMatch = None, **fields: Any) -> User:
        """`fields`: display_name, is_active, is_admin (platform admins)."""
        return self._c.send(
            "PATCH", path("/users/{}", user_id), User, json=clean(fields), if_match=if_match
        )

    def projects(self, user_id: str, **filters: Any) -> Iterator[Project]:
        """What that user would see in GET /projects (platform admins)."""
        return self._c.iterate(path("/users/{}/projects", user_id), Project, filters)


class Tokens(Group):
    """User API tokens. Creating one answers its secret once; no Idempotency-Key on
    purpose (docs/api.md: replaying it would mean storing the secret)."""

    def list(self, *, user_id: str | None = None) -> Iterator[UserToken]:
        return self._c.iterate("/user-tokens", UserToken, {"user_id": user_id})

    def create(self, user_id: str) -> TokenCreated:
        return self._c.send("POST", "/user-tokens", TokenCreated, json={"user_id": user_id})

    def delete(self, token_id: str) -> None:
        self._c.request("DELETE", path("/user-tokens/{}", token_id))


def _filters(args: dict[str, Any], *leave_out: str) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k != "self" and k not in leave_out}
