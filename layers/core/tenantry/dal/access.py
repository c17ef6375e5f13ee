"""Every list's access pattern, declared once: the index it reads (None: the base table),
how its partition key and its items' sort keys are built (builders of dal/keys.py, the same
ones the writes use), and the sort-key range it reads within the partition.

The dal's list functions read through `Pattern.page` only; none calls table.query with keys
of its own. A list's filters that a pattern cannot express stay in the domain, applied to
each page read through tenantry.pagination.collect, whose read budget bounds a request.

| pattern                  | index | partition                  | sort key                | range        |
|--------------------------|-------|----------------------------|-------------------------|--------------|
| LIVE_PROJECTS            | GSI1  | PROJECTS                   | <id>                    |              |
| LIVE_PROJECTS_BY_CREATED | GSI1T | PROJECTS                   | <created_at>#<id>       |              |
| PROJECTS_IN_STATUS       | GSI3  | PROJECTSTATUS#<status>     | <id>                    |              |
| OWNER_LIVE_PROJECTS      | GSI2  | OWNER#<owner>              | LIVE#<id>               | LIVE#...     |
| OWNER_DELETED_PROJECTS   | GSI2  | OWNER#<owner>              | DELETED#<id>            | DELETED#...  |
| USER_CURRENT_PROJECTS    | GSI1  | USERPROJECTS#<user>        | <project id>            |              |
| USER_CURRENT_PROJECTS_BY_CREATED | GSI1T | USERPROJECTS#<user> | <project created_at>#<project id> |  |
| USER_MEMBERSHIPS         | GSI2  | USERMEMBERSHIPS#<user>     | <project id>            |              |
| PROJECT_MEMBERSHIPS      | table | PROJECT#<id>               | MEMBER#<user>           | MEMBER#...   |
| PROJECT_CURRENT_MEMBERS  | GSI3  | PROJECTMEMBERS#<project>   | <user>                  |              |
| PROJECT_ENVIRONMENTS     | table | PROJECT#<id>               | ENV#<env id>            | ENV#...      |
| ENV_PERMISSIONS          | table | PROJECT#<id>               | ENVPERM#<env>#<perm id> | ENVPERM#<env>#... |
| ENV_SECRETS              | table | PROJECT#<id>               | SECRET#<env>#<secret id>| SECRET#<env>#...  |
| PENDING_INVITES          | GSI1  | INVITES#<email>            | <valid_until>#<id>      | > <now>#~    |
| TARGET_INVITES           | GSI2  | TARGETINVITES#<scope>#<target> | <created_at>#<id>   | newest first |
| PROJECT_APPLICATIONS     | GSI1  | PROJECTAPPS#<project>      | <created_at>#<id>       |              |
| APPLICATIONS_IN_STATE    | GSI2  | APPSTATE#<state>           | <created_at>#<id>       |              |
| APPLICANT_APPLICATIONS   | GSI3  | APPLICANT#<user>           | <created_at>#<id>       |              |
| ALL_CLUSTERS             | GSI1  | CLUSTERS                   | <name>                  |              |
| PROJECT_NAMESPACES       | table | PROJECT#<id>               | NS#<cluster name>       | NS#...       |
| PROJECT_DEPLOYMENTS      | table | PROJECT#<id>               | DEPLOY#<deployment>     | DEPLOY#...   |
| PROJECT_DEPLOYMENT_PERMISSIONS | table | PROJECT#<id>         | DEPLOYPERM#<perm>       | DEPLOYPERM#... |
| PROJECT_K8S_RESOURCES    | table | PROJECT#<id>               | K8S#<uid>               | K8S#...      |
| PROJECT_APPS             | table | PROJECT#<id>               | OAUTHAPP#<app id>       | OAUTHAPP#... |
| PROJECT_TASKS            | GSI2  | PROJECTTASKS#<id>          | <created_at>#<task>     |              |
| PROJECT_NOTIFICATIONS    | GSI1  | PROJECTNOTIFS#<project>    | <valid_until>#<topic>#<topic id> | > <now>#~, newest expiry first |
| PROJECT_DEPLOYMENT_RESOURCES | table | PROJECT#<id>           | DRES#<resource>         | DRES#...     |
| SCOPE_RESOURCE_TYPES     | GSI1  | RESTYPES#<env id or global>| <kind>#<key>            | (<kind>#...) |
| ALL_KINDS                | GSI1  | KINDS                      | <name>                  |              |
| ALL_REGISTRIES           | GSI1  | HELMREGS                   | <repo_name>#<id>        | (<repo_name>#...) |
| KIND_REGISTRIES          | GSI2  | KINDREGS#<kind>            | <repo_name>#<id>        | (<repo_name>#...) |
| ALL_CHARTS               | GSI3  | CHARTS                     | <created_at>#<id>       | newest first |
| REGISTRY_CHARTS          | GSI1  | REGCHARTS#<registry>       | <created_at>#<id>       | newest first |
| KIND_CHARTS              | GSI2  | KINDCHARTS#<kind>          | <created_at>#<id>       | newest first |
| DIGEST_CHARTS            | table | CHARTDIGEST#<reg>#<digest> | TAG#<tag>               | TAG#...      |
| UNPARSED_CHARTS          | table | UNPARSEDCHARTS             | <created_at>#<id>       |              |
| ALL_TAG_FORMATS          | GSI1  | TAGFORMATS                 | <created_at>#<id>       |              |
| ALL_GATEWAY_SERVICES     | GSI1  | GWSERVICES                 | <lower name>#<id>       |              |
| GATEWAY_SERVICES_IN_STATE| GSI2  | GWSERVICES#<enabled|disabled> | <lower name>#<id>    |              |
| PROJECT_GATEWAY          | table | PROJECT#<id>               | GATEWAY#<service id>    | GATEWAY#...  |
| ADMIN_CONNECTIONS        | GSI1  | CONNS#admin                | <connection id>         |              |
| PRINCIPAL_CONNECTIONS    | GSI1  | CONNS#<kind>#<principal>   | <connection id>         |              |
| ALL_CONNECTIONS          | GSI2  | CONNS#all                  | <connection id>         |              |
| ALL_USERS, ALL_BOTS, OWNER_TOKENS, ALL_ORGS, USER_ORGS, ORG_MEMBERS, ALL_TEMPLATES: whole partitions, as in dal/keys.py |

Every pattern may be read backwards (`reverse`, a list's `sort_by=-...`): the same
partition and range, the sort key read from its end. The project lists' `sort_by=name`
(ascending or not) reads the patterns by project id; `sort_by=created_at` reads the
_BY_CREATED twins, GSI1's partitions in GSI1T (projected: the keys and what the lists filter
on before reading the items, which a BatchGetItem then reads; dal/keys.py).

Sparse by design: an item is in a partition only while a list wants it there, so the
common filters are the partition itself. LIVE_PROJECTS holds no tombstone (a project
leaves it when it becomes `deleted`); PROJECTS_IN_STATUS is `?state=` for platform
admins. USER_CURRENT_PROJECTS and PROJECT_CURRENT_MEMBERS hold only current (accepted,
leave_requested) memberships: a user's project list, a non-manager's member list and a
project's users (GET /projects/{id}/users) never read former ones. PENDING_INVITES holds pending invites only, by expiry, read above now:
GET /invites reads neither answered nor expired invites. APPLICATIONS_IN_STATE is the
platform admins' queue. An environment's permissions and secrets sort under its id in the
project's partition: its own prefix is the list (ENV_PERMISSIONS, ENV_SECRETS), as a
project's apps are (PROJECT_APPS, OAUTHAPP#). What no
pattern serves (a name prefix, a label selector, a status within a member's or an owner's
list, the state of one project's or one applicant's applications, a secret's collection
or name, a deployment resource's type, a resource type's key) is a filter on the rows read
(docs/api.md, "Lists and cursors").

PROJECT_NOTIFICATIONS holds a project's active notifications only (a resolved one leaves it
in the write that resolves it), by expiry, read from now on and backwards: GET
.../notifications reads neither resolved nor expired ones, latest expiry first.
The gateway services in a state are the catalog non-admins read (enabled ones) and the
`enabled` filter of platform admins; a project's subscriptions are its GATEWAY# range.
pattern serves (a name prefix, a label selector, a keyword (filter_by), a field
selector's `!=` terms, a status within a member's or an owner's list or a platform admin's
list in creation order, the state of one project's or one applicant's applications, a
secret's collection or name) is a filter on the rows read (docs/api.md, "Lists and
cursors"). A list limited to one project (field_selector metadata.name=<id>) reads no
pattern: the project, and the caller's member item, by key.

The catalog's registries of one repository name are the range `<repo_name>#` of their
partition (a prefix built from the list's arguments). Charts read newest first; their
`parsed_branch` and `available` filters are applied to the rows read. DIGEST_CHARTS (the
charts of one image digest, for a DELETE event) and UNPARSED_CHARTS (what a new tag format
re-parses) are the chart discovery's reads, not lists a caller pages through.

Not here: a project's history (dal/history.py, read by its own key range), the sweep of
what a project or an environment owns on its deletion and the environment names a
provisioning step reads (dal/environments.keys_under), the reconciler's worklist of
operations due (dal/operations.due, GSI3 OPERATIONS#open up to now), an agent's claim
(dal/work.claimable, GSI1 CLUSTERWORK#<cluster> up to now), a deployment's next task and
the scheduler's due tasks (dal/deployments.next_due and due, up to now), the resources whose
sync no agent answered (dal/resources.syncing, GSI2 up to a time) and the read of a
token owner's partition before rewriting it (dal/identity.owner_with_tokens): none is a
list a caller pages through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenantry.dal import keys, table

Page = tuple[list[dict[str, Any]], dict[str, Any] | None]


@dataclass(frozen=True)
class Pattern:
    """One list's reads: partition `partition(*args)` of `index`, in sort-key order, within
    `prefix` (begins_with; a callable builds it from the same args as the partition) or
    above `after(bound)` (exclusive)."""

    name: str
    index: str | None
    partition: Callable[..., str]
    sort: str  # how the items' sort key is built (keys.py builds it; here for readers)
    prefix: str | Callable[..., str] | None = None
    after: Callable[[str], str] | None = None
    descending: bool = False  # newest first: the sort key read backwards

    def page(
        self,
        *args: str,
        limit: int,
        start_key: dict[str, Any] | None,
        bound: str | None = None,
        consistent: bool = False,
        filter_expression: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
        reverse: bool = False,
    ) -> Page:
        """One Query of this pattern. `bound`: the value `after` turns into the range's
        lower bound (required when the pattern has one). `reverse`: read it in the other
        direction (a list sorted the other way)."""
        if (self.after is None) != (bound is None):
            raise ValueError(f"{self.name}: a bound is given exactly when the pattern has one")
        prefix = self.prefix(*args) if callable(self.prefix) else self.prefix
        return table.query(
            self.partition(*args),
            index=self.index,
            sk_prefix=prefix,
            sk_after=self.after(bound) if self.after and bound is not None else None,
            limit=limit,
            start_key=start_key,
            forward=self.descending == reverse,
            consistent=consistent,
            filter_expression=filter_expression,
            names=names,
            values=values,
        )

    def key_of(self, item: dict[str, Any]) -> dict[str, Any]:
        """The cursor key that resumes this pattern right after `item`."""
        return table.key_of(item, self.index)


# --- projects and memberships -------------------------------------------------------------

LIVE_PROJECTS = Pattern("live projects", "GSI1", lambda: keys.ALL_PROJECTS, "<project id>")
LIVE_PROJECTS_BY_CREATED = Pattern(
    "live projects by creation", "GSI1T", lambda: keys.ALL_PROJECTS, "<created_at>#<project id>"
)
PROJECTS_IN_STATUS = Pattern(
    "projects in a status", "GSI3", keys.projects_in_status, "<project id>"
)
OWNER_LIVE_PROJECTS = Pattern(
    "an owner's live projects",
    "GSI2",
    keys.owner_projects,
    "LIVE#<project id>",
    prefix=keys.LIVE_PREFIX,
)
OWNER_DELETED_PROJECTS = Pattern(
    "an owner's deleted projects",
    "GSI2",
    keys.owner_projects,
    "DELETED#<project id>",
    prefix=keys.TOMBSTONE_PREFIX,
)
USER_CURRENT_PROJECTS = Pattern(
    "a user's current memberships", "GSI1", keys.user_projects, "<project id>"
)
USER_CURRENT_PROJECTS_BY_CREATED = Pattern(
    "a user's current memberships by their projects' creation",
    "GSI1T",
    keys.user_projects,
    "<project created_at>#<project id>",
)
USER_MEMBERSHIPS = Pattern("a user's memberships", "GSI2", keys.user_memberships, "<project id>")
PROJECT_MEMBERSHIPS = Pattern(
    "a project's memberships", None, keys.project_pk, "MEMBER#<user>", prefix=keys.MEMBER_PREFIX
)
PROJECT_CURRENT_MEMBERS = Pattern(
    "a project's current members", "GSI3", keys.project_members, "<user id>"
)

# --- environments ---------------------------------------------------------------------------

PROJECT_ENVIRONMENTS = Pattern(
    "a project's environments", None, keys.project_pk, "ENV#<env id>", prefix=keys.ENV_PREFIX
)
ENV_PERMISSIONS = Pattern(
    "an environment's permissions",
    None,
    lambda project_id, env_id: keys.project_pk(project_id),
    "ENVPERM#<env id>#<permission id>",
    prefix=lambda project_id, env_id: keys.env_permissions_prefix(env_id),
)
ENV_SECRETS = Pattern(
    "an environment's secrets",
    None,
    lambda project_id, env_id: keys.project_pk(project_id),
    "SECRET#<env id>#<secret id>",
    prefix=lambda project_id, env_id: keys.env_secrets_prefix(env_id),
)

# --- invites and applications ---------------------------------------------------------------

PENDING_INVITES = Pattern(
    "an email's pending invites",
    "GSI1",
    keys.email_invites,
    "<valid_until>#<invite id>",
    after=keys.invites_unexpired_after,
)
TARGET_INVITES = Pattern(
    "a project's or an org's invites",
    "GSI2",
    keys.target_invites,
    "<created_at>#<invite id>",
    descending=True,
)
PROJECT_APPLICATIONS = Pattern(
    "a project's applications", "GSI1", keys.project_applications, "<created_at>#<app id>"
)
APPLICATIONS_IN_STATE = Pattern(
    "applications in a state", "GSI2", keys.applications_in_state, "<created_at>#<app id>"
)
APPLICANT_APPLICATIONS = Pattern(
    "an applicant's applications", "GSI3", keys.applicant_applications, "<created_at>#<app id>"
)


# --- notifications --------------------------------------------------------------------------

PROJECT_NOTIFICATIONS = Pattern(
    "a project's active notifications",
    "GSI1",
    keys.project_notifications,
    "<valid_until>#<topic>#<topic id>",
    after=keys.valid_after,
    descending=True,
)

# --- identity, orgs, templates --------------------------------------------------------------

ALL_USERS = Pattern("users", "GSI1", lambda: keys.ALL_USERS, "<created_at>#<user id>")
ALL_BOTS = Pattern("bots", "GSI1", lambda: keys.ALL_BOTS, "<created_at>#<bot id>")
OWNER_TOKENS = Pattern("an owner's tokens", "GSI1", keys.owner_tokens, "<created_at>#<token id>")
ALL_ORGS = Pattern("orgs", "GSI1", lambda: keys.ALL_ORGS, "<created_at>#<org id>")
USER_ORGS = Pattern("a user's orgs", "GSI1", keys.user_orgs, "<org id>")
ORG_MEMBERS = Pattern(
    "an org's members", None, keys.org_pk, "MEMBER#<user>", prefix=keys.MEMBER_PREFIX
)
ALL_CLUSTERS = Pattern("clusters", "GSI1", lambda: keys.ALL_CLUSTERS, "<name>")
PROJECT_NAMESPACES = Pattern(
    "a project's namespaces",
    None,
    keys.project_pk,
    "NS#<cluster name>",
    prefix=keys.NAMESPACE_PREFIX,
)
PROJECT_DEPLOYMENTS = Pattern(
    "a project's deployments",
    None,
    keys.project_pk,
    "DEPLOY#<deployment id>",
    prefix=keys.DEPLOYMENT_PREFIX,
)
PROJECT_DEPLOYMENT_PERMISSIONS = Pattern(
    "a project's deployment permissions",
    None,
    keys.project_pk,
    "DEPLOYPERM#<permission id>",
    prefix=keys.DEPLOYMENT_PERMISSION_PREFIX,
)
PROJECT_K8S_RESOURCES = Pattern(
    "a project's k8s resources", None, keys.project_pk, "K8S#<uid>", prefix=keys.K8S_PREFIX
)
PROJECT_APPS = Pattern(
    "a project's apps", None, keys.project_pk, "OAUTHAPP#<app id>", prefix=keys.APP_PREFIX
)
PROJECT_TASKS = Pattern(
    "a project's deployment tasks", "GSI2", keys.project_tasks, "<created_at>#<task id>"
)
PROJECT_DEPLOYMENT_RESOURCES = Pattern(
    "a project's deployment resources",
    None,
    keys.project_pk,
    "DRES#<resource id>",
    prefix=keys.DEPLOYMENT_RESOURCE_PREFIX,
)
SCOPE_RESOURCE_TYPES = Pattern(
    "an environment's (or the global) deployment resource types",
    "GSI1",
    lambda scope, kind_id=None: keys.scope_resource_types(scope),
    "<kind id>#<key>",
    prefix=lambda scope, kind_id=None: keys.kind_resource_types_prefix(kind_id),
)
ALL_TEMPLATES = Pattern("templates", "GSI1", lambda: keys.ALL_TEMPLATES, "<name>#<template id>")

# --- the deployment catalog -------------------------------------------------------------------

ALL_KINDS = Pattern("deployment kinds", "GSI1", lambda: keys.ALL_KINDS, "<name>")
ALL_REGISTRIES = Pattern(
    "helm registries",
    "GSI1",
    lambda repo_name=None: keys.ALL_REGISTRIES,
    "<repo_name>#<registry id>",
    prefix=lambda repo_name=None: keys.repo_name_prefix(repo_name) if repo_name else "",
)
KIND_REGISTRIES = Pattern(
    "a kind's helm registries",
    "GSI2",
    lambda kind_id, repo_name=None: keys.kind_registries(kind_id),
    "<repo_name>#<registry id>",
    prefix=lambda kind_id, repo_name=None: keys.repo_name_prefix(repo_name) if repo_name else "",
)
ALL_CHARTS = Pattern(
    "helm charts", "GSI3", lambda: keys.ALL_CHARTS, "<created_at>#<chart id>", descending=True
)
REGISTRY_CHARTS = Pattern(
    "a registry's helm charts",
    "GSI1",
    keys.registry_charts,
    "<created_at>#<chart id>",
    descending=True,
)
KIND_CHARTS = Pattern(
    "a kind's helm charts", "GSI2", keys.kind_charts, "<created_at>#<chart id>", descending=True
)
DIGEST_CHARTS = Pattern(
    "the charts of an image digest",
    None,
    keys.digest_charts,
    "TAG#<tag>",
    prefix=keys.CHART_TAG_PREFIX,
)
UNPARSED_CHARTS = Pattern(
    "charts no tag format parses", None, lambda: keys.UNPARSED_CHARTS, "<created_at>#<chart id>"
)
ALL_TAG_FORMATS = Pattern(
    "helm tag formats", "GSI1", lambda: keys.ALL_TAG_FORMATS, "<created_at>#<format id>"
)

# --- API subscriptions ----------------------------------------------------------------------

ALL_GATEWAY_SERVICES = Pattern(
    "gateway services", "GSI1", lambda: keys.ALL_GATEWAY_SERVICES, "<lower name>#<service id>"
)
GATEWAY_SERVICES_IN_STATE = Pattern(
    "gateway services in a state",
    "GSI2",
    lambda enabled: keys.gateway_services_in_state(enabled == "enabled"),
    "<lower name>#<service id>",
)
PROJECT_GATEWAY = Pattern(
    "a project's gateway subscriptions",
    None,
    keys.project_pk,
    "GATEWAY#<service id>",
    prefix=keys.GATEWAY_PREFIX,
)


# --- realtime: a push's audience (tenantry.domain.realtime) ------------------------------------

ADMIN_CONNECTIONS = Pattern(
    "platform admins' WebSocket connections", "GSI1", lambda: keys.ADMIN_CONNECTIONS, "<conn id>"
)
ALL_CONNECTIONS = Pattern(
    "every WebSocket connection", "GSI2", lambda: keys.ALL_CONNECTIONS, "<conn id>"
)
PRINCIPAL_CONNECTIONS = Pattern(
    "a principal's WebSocket connections", "GSI1", keys.principal_connections, "<conn id>"
)
