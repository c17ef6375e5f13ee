"""Every key of the single table is built here and nowhere else.

Base table: PK / SK. Overloaded sparse indexes: GSI1, GSI2, GSI3 (GSIxPK, GSIxSK), and
GSI1T (GSI1PK / GSI1TSK): GSI1's partitions again, in creation order, holding only the items
that carry GSI1TSK (projects and current memberships, ¤ below). Which list reads which
partition, and within which sort-key range, is declared once in dal/access.py; the index
keys below put each item into exactly the partitions its lists read.

| item                | PK                  | SK                    | GSI1PK / GSI1SK                      | GSI2PK / GSI2SK                       | GSI3PK / GSI3SK                    |
|---------------------|---------------------|-----------------------|--------------------------------------|---------------------------------------|------------------------------------|
| project             | PROJECT#<id>        | PROJECT               | PROJECTS / <id>  (not when deleted)  | OWNER#<user> / LIVE#<id>, DELETED#<id>| PROJECTSTATUS#<status> / <id>      |
| project member      | PROJECT#<id>        | MEMBER#<user>         | USERPROJECTS#<user> / <project id> * | USERMEMBERSHIPS#<user> / <project id> | PROJECTMEMBERS#<project> / <user> *|
| history entry       | PROJECT#<id>        | HIST#<seq, 12 digits> |                                      |                                       |                                    |
| operation           | PROJECT#<id>        | OP#<operation id>     |                                      |                                       | OPERATIONS#open / <check_at>#<op> ‡|
| environment         | PROJECT#<id>        | ENV#<env id>          |                                      |                                       |                                    |
| environment name    | PROJECT#<id>        | ENVNAME#<name>        |                                      |                                       |                                    |
| env permission      | PROJECT#<id>        | ENVPERM#<env>#<perm>  |                                      |                                       |                                    |
| secret              | PROJECT#<id>        | SECRET#<env>#<secret> |                                      |                                       |                                    |
| secret name (unique)| PROJECT#<id>        | SECRETNAME#<env>#<collection>#<name> |                       |                                       |                                    |
| project app (OAuth) | PROJECT#<id>        | OAUTHAPP#<app id>     |                                      |                                       |                                    |
| project limit count | PROJECT#<id>        | LIMIT#<limit>         |                                      |                                       |                                    |
| gateway subscription| PROJECT#<id>        | GATEWAY#<service id>  |                                      |                                       |                                    |
| user                | USER#<id>           | USER                  | USERS / <created_at>#<id>            |                                       |                                    |
| user email (unique) | EMAIL#<email>       | EMAIL                 |                                      |                                       |                                    |
| bot                 | BOT#<id>            | BOT                   | BOTS / <created_at>#<id>             |                                       |                                    |
| api token (secret)  | TOKEN#<sha256>      | TOKEN                 |                                      |                                       |                                    |
| api token (by id)   | TOKENID#<id>        | TOKEN                 | TOKENS#<kind>#<owner> / <at>#<id>    |                                       |                                    |
| owner's token       | USER#<id> / BOT#<id>| TOKEN#<token id>      |                                      |                                       |                                    |
| membership (by id)  | MEMBERSHIP#<id>     | MEMBERSHIP            |                                      |                                       |                                    |
| application         | APP#<id>            | APP                   | PROJECTAPPS#<project> / <at>#<id>    | APPSTATE#<state> / <at>#<id>          | APPLICANT#<user> / <at>#<id>       |
| org                 | ORG#<id>            | ORG                   | ORGS / <created_at>#<id>             |                                       |                                    |
| org member          | ORG#<id>            | MEMBER#<user>         | USERORGS#<user> / <org id>           |                                       |                                    |
| invite              | INVITE#<id>         | INVITE                | INVITES#<email> / <valid_until>#<id>†| TARGETINVITES#<scope>#<id> / <at>#<id>|                                    |
| template            | TEMPLATE#<id>       | TEMPLATE              | TEMPLATES / <name>#<id>              |                                       |                                    |
| cluster             | CLUSTER#<id>        | CLUSTER               | CLUSTERS / <name>                    |                                       |                                    |
| cluster name        | CLUSTERNAME#<name>  | CLUSTERNAME           |                                      |                                       |                                    |
| agent token         | TOKEN#<sha256>      | TOKEN                 |  (owner_kind agent: the cluster's one token, no record by id)                                                            |
| namespace           | PROJECT#<id>        | NS#<cluster name>     |                                      |                                       |                                    |
| work item           | WORK#<id>           | WORK                  | CLUSTERWORK#<cluster> / <available_at>#<id> §                                |                                    |
| deployment kind     | KIND#<id>           | KIND                  | KINDS / <name>                       |                                       |                                    |
| kind name (unique)  | KINDNAME#<lower name> | KINDNAME            |                                      |                                       |                                    |
| helm registry ‖     | HELMREG#<id>        | HELMREG               | HELMREGS / <repo_name>#<id>          | KINDREGS#<kind> / <repo_name>#<id>    |                                    |
| helm chart ‖        | CHART#<id>          | CHART                 | REGCHARTS#<registry> / <created_at>#<id> | KINDCHARTS#<kind> / <created_at>#<id> | CHARTS / <created_at>#<id>     |
| chart of a digest   | CHARTDIGEST#<registry>#<digest> | TAG#<tag> |                                      |                                       |                                    |
| unparsed chart      | UNPARSEDCHARTS      | <created_at>#<chart id> |                                    |                                       |                                    |
| helm tag format ‖   | TAGFORMAT#<id>      | TAGFORMAT             | TAGFORMATS / <created_at>#<id>       |                                       |                                    |
| deployment          | PROJECT#<id>        | DEPLOY#<deployment>   |                                      |                                       |                                    |
| release (unique)    | PROJECT#<id>        | RELEASE#<cluster>#<release name> |                           |                                       |                                    |
| deployment ref      | DEPLOYMENTREF#<id>  | DEPLOYMENTREF         |                                      |                                       |                                    |
| k8s resource        | PROJECT#<id>        | K8S#<uid>             |                                      |                                       |                                    |
| deployment perm.    | PROJECT#<id>        | DEPLOYPERM#<perm>     |                                      |                                       |                                    |
| deployment resource | PROJECT#<id>        | DRES#<resource>       |                                      | RESOURCESYNCS#open / <sync_since>#<project>#<resource> ** |      |
| resource name (unique) | PROJECT#<id>     | DRESNAME#<type>#<name> |                                     |                                       |                                    |
| resource type       | RESTYPE#<id>        | RESTYPE               | RESTYPES#<env id or global> / <kind>#<key> |                                 |                                    |
| deployment task     | PROJECT#<id>        | TASK#<task>           | TASKS#pending / <execute_at>#<task> ¶| PROJECTTASKS#<id> / <created_at>#<task>| DEPLOYQUEUE#<deployment> / <execute_at>#<created_at>#<task> ¶|
| notification       | PROJECT#<id>        | NOTIF#<topic>#<topic id> | PROJECTNOTIFS#<id> / <valid_until>#<topic>#<topic id> ◊ |                         |                                    |
| gateway service     | GWSERVICE#<id>      | GWSERVICE             | GWSERVICES / <lower name>#<id>       | GWSERVICES#<enabled|disabled> / <lower name>#<id> |                        |
| gateway service name| GWSERVICENAME#<lower name> | GWSERVICENAME  |                                      |                                       |                                    |
| websocket connection| CONN#<connection id> | CONN                | CONNS#admin / <connection id> (platform admins), CONNS#<kind>#<id> / <connection id> (others) ∆ | CONNS#all / <connection id> ∆ |   |
| limit counter       | LIMIT#<principal>   | <limit>#<scope>       |                                      |                                       |                                    |
| daily limit counter | LIMIT#<principal>   | <limit>#<day>#<scope> |  (TTL expires_at: gone after a day)  |                                       |                                    |

¶ only while the task is Pending: the scheduler reads TASKS#pending up to now (due tasks),
  a deployment's next task is the first of its DEPLOYQUEUE up to now. While Started, GSI1
  is TASKS#started / <started_at>#<task> instead: the scheduler reads it up to now minus
  the run's deadline, for runs whose outcome was never recorded.
§ only while the item can be claimed: queued (available since it was queued) or leased
  (available again when its lease expires). A claim reads the cluster's partition up to
  now, oldest first: queued items and expired leases in one Query, never a Scan.
* only while the membership is current (accepted or leave_requested): requested, rejected,
  cancelled and removed memberships are in no list of current members or of a user's
  projects, only in their user's memberships and their project's partition.
‡ only while the operation is open (the reconciler's worklist, see below).
** only while a ResourceSync of the resource is open: the scheduler reads it up to
  now - AgentWorkTimeoutSeconds and gives up on a sync no agent answered.
¤ GSI1TSK = <created_at>#<project id> on a project (its creation time) and on its current
  members (the project's creation time, copied into the membership as project_created_at),
  written once and never changed. GSI1T's hash key being GSI1PK, the item is in GSI1T
  exactly while it is in GSI1: a project leaves both when deleted, a membership when it
  stops being current, with no write of its own. GSI1T projects only the keys and what a
  list filters on before it reads the items (id, status, owner_id; project_id, state;
  entity), so a project's or a membership's change that moves none of them writes nothing
  to it. A tombstone is in no GSI1 partition, so deleted projects have no creation order
  for platform admins (sort_by=created_at with state=deleted is 400). Items written before
  GSI1T existed get GSI1TSK from dal/projects.backfill_created_order, once.
† only while the invite is pending; GET /invites reads `GSI1SK > <now>#~`, so it reads
  neither answered nor expired invites.

∆ a WebSocket connection (tenantry.domain.realtime): written at $connect, deleted at
  $disconnect (and by a push that finds it gone or no longer allowed), with `expires_at`
  (TTL) when API Gateway would have closed it. A platform admin's connections are one
  partition (they see every event), anyone else's are their principal's partition: a
  push reads the admins' partition and, for each current member of the event's project
  (PROJECTMEMBERS#<project>, GSI3), that user's: Queries whose cost follows the
  audience, never a Scan. Every connection is also in CONNS#all (GSI2): a push first
  reads one item of it, and with none open reads nothing more.
◊ only while the notification is active; GET .../notifications reads `GSI1SK > <now>#~`
  newest expiry first, so it reads neither resolved nor expired ones.
Index keys that follow an item's state are written with the state, in the same write: a
project's status (project_status_indexes: its status partition, its owner's LIVE#/DELETED#
range, and leaving PROJECTS when deleted), a membership's being current (member items are
written whole, member_indexes), an invite's answer (INVITE_ANSWERED_REMOVE), an
application's state (application_state_index). Sort keys never follow a state an item can
leave and come back to (a project's GSI2SK changes only when it is deleted, for good), so
a list's cursor never meets an item twice.

A token is three items written in one transaction: the secret's hash (what the authorizer
reads, strongly consistent, so a revoked token stops at once), a record by id (what the
token routes read and list; it carries last_used_at) and a pointer in its owner's partition.
The hash item carries a copy of what the authorizer needs of the owner (owner_active,
owner_admin), so a request costs one read. The pointers keep the copies right: whoever
changes those flags (PATCH /users, deleting a bot) reads the owner's partition strongly
consistent (the owner and every pointer) and rewrites the owner and each hash item in one
transaction, conditioned on the owner's `tokens_rev`, which every token creation bumps.

A membership is the member item in its project's partition (listed by project, and by
user through GSI1/GSI2) plus an immutable pointer by id, so GET /memberships/{id} is one
strongly consistent read. Membership ids are uuid5(project, user): one per pair, forever.

An operation (create, delete, retry, approve: the asynchronous changes) is an item in its
project's partition, written in the transaction that moves the project to the status it
works on; the project names it (`operation_id`). While open it sits in GSI3's
OPERATIONS#open partition, sorted by `check_at`, the time the reconciler should look at it:
the reconciler reads only the operations due, never the table.

An environment is its item and a name guard (ENVNAME#, one per name in the project). Its
permissions and secrets sort under its id (ENVPERM#<env>#, SECRET#<env>#), so one Query
lists them and a deleted environment's are found by prefix. A permission's id is
uuid5(env, principal): one per (environment, user or bot), and the caller's own permission
is a GetItem. A secret's (collection, name) is unique through its name guard; the secret
item holds its contents only sealed (tenantry.secrets_crypto).

A project app (an OAuth client of the project, tenantry.domain.apps) is one item in the
project's partition: its client id, redirect URIs and the SHA-256 of its current client
secret (never the secret). Rotating the secret rewrites that hash in the app's versioned
update, so the old secret matches nothing from then on. A count a limit keeps per project
(dal/limits.py, apps_per_project) is an item LIMIT#<limit> in the same partition, moved
in the transaction that adds or removes what it counts.

API subscriptions (tenantry.domain.gateway): a gateway service is platform-level, listed
by name among all services (GSI1) and among those in its state (GSI2, enabled or
disabled: the catalog non-admins read), its name unique through GWSERVICENAME#; it counts
its `subscriptions` (moved in the transactions that add and remove them) and is deleted
only while that is 0. A project's subscription to one service is one item in the
project's partition (GATEWAY#<service id>: one per pair), holding the API Gateway key's id
and last four characters, never the key. A project's deletion revokes them before its
sweep (tenantry.domain.gateway.revoke_with_project), so GATEWAY# is not among
PROJECT_OWNED_PREFIXES: the sweep would leave their keys working.

A tenant's items share PK=PROJECT#<id>, so one Query serves a project's lists and a
project's deletion finds everything it owns (PROJECT_OWNED_PREFIXES).

A notification (tenantry.domain.notifications) is one item per (topic, topic id) in its
project's partition: a post replaces the pair's item whole, so the latest is the only one.
While active it sits in its project's PROJECTNOTIFS# partition of GSI1, sorted by when it
stops being valid (valid_until, ISO): the list reads from now on, newest expiry first, and
never sees an expired one even before the TTL (`expires_at`, epoch seconds) removes it.
Resolving takes it out of that partition in the same write.

The deployment catalog (tenantry.domain.catalog, tenantry.domain.chart_discovery) is
platform-level. ‖ Ids made from what makes the item unique (uuid5, tenantry.domain.catalog):
a registry's from (domain, repo_name), a chart's from (registry, digest, tag), a tag
format's from its pattern, so a re-delivered push event or a repeated POST writes the same
keys and a conditional put (attribute_not_exists) finds them taken. A kind is renamed, so
its id is random and its name unique through KINDNAME# (lower case: release names are).
A chart is also listed by its kind (GSI2, the registry's kind, which never changes) and
among all charts (GSI3), newest first. CHARTDIGEST# holds one pointer per tag of an image
digest in a registry: a DELETE event finds the charts of the digest it names. Charts whose
tag no tag format parses sit in UNPARSEDCHARTS until one does (removed in the write that
records the parse), so adding a format reads only them, a page at a time.

Deployment resource types (tenantry.domain.resources) are platform-level items whose id is
made from what makes them unique, uuid5(env id or `global`, kind, key): upserting a chart's
types after an install writes the same keys. A scope's types are one GSI1 partition
(RESTYPES#<env id> or RESTYPES#global), sorted by kind then key, so `?deployment_kind_id=`
is a prefix of it. Deployment resources live in their project's partition (DRES#); a
resource's name is unique per type in the project through its guard (DRESNAME#), which
its deletion, once synced, frees.
"""

from __future__ import annotations

from typing import Literal

PrincipalKind = Literal["user", "bot"]
# Each index's key attributes (hash, range). GSI1T shares GSI1's hash key: the same
# partitions, holding the items that also carry GSI1TSK, in creation order.
INDEX_KEYS = {
    "GSI1": ("GSI1PK", "GSI1SK"),
    "GSI2": ("GSI2PK", "GSI2SK"),
    "GSI3": ("GSI3PK", "GSI3SK"),
    "GSI1T": ("GSI1PK", "GSI1TSK"),
}
# The key attributes an item may carry (the table's and its indexes'): never a resource's.
KEY_ATTRIBUTES = (
    "PK",
    "SK",
    "GSI1PK",
    "GSI1SK",
    "GSI2PK",
    "GSI2SK",
    "GSI3PK",
    "GSI3SK",
    "GSI1TSK",
)


def index_keys(index: str | None) -> tuple[str, str]:
    """The (hash, range) key attributes of `index`, or of the table (None)."""
    return INDEX_KEYS[index] if index else ("PK", "SK")


def created_order(created_at: str, item_id: str) -> str:
    """A sort key in creation order (ISO times sort as they run; the id breaks ties)."""
    return f"{created_at}#{item_id}"


def project(project_id: str) -> dict[str, str]:
    return {"PK": f"PROJECT#{project_id}", "SK": "PROJECT"}


def project_pk(project_id: str) -> str:
    return f"PROJECT#{project_id}"


ALL_PROJECTS = "PROJECTS"
TOMBSTONE = "deleted"  # the status of a deleted project, kept forever
LIVE_PREFIX, TOMBSTONE_PREFIX = "LIVE#", "DELETED#"


def project_indexes(project_id: str, owner_id: str, status: str, created_at: str) -> dict[str, str]:
    """Every index key of a new project item in `status`. GSI1TSK, its place in creation
    order, never changes: the item is in GSI1T exactly while it is in GSI1 (PROJECTS, the
    projects that are not deleted), since GSI1T's hash key is GSI1PK."""
    indexes, _ = project_status_indexes(project_id, status)
    return {
        "GSI2PK": owner_projects(owner_id),
        **indexes,
        "GSI1TSK": created_order(created_at, project_id),
    }


def project_status_indexes(project_id: str, status: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """The index keys that follow a project's status, as (attributes to set, attributes
    to remove), written together with the status: its status partition (GSI3), its place
    in its owner's live or deleted range (GSI2SK), and PROJECTS (GSI1) unless deleted, so
    a tombstone is read by no list but `state=deleted`."""
    live = status != TOMBSTONE
    indexes = {
        "GSI2SK": f"{LIVE_PREFIX if live else TOMBSTONE_PREFIX}{project_id}",
        "GSI3PK": projects_in_status(status),
        "GSI3SK": project_id,
    }
    if not live:
        return indexes, ("GSI1PK", "GSI1SK")
    return {"GSI1PK": ALL_PROJECTS, "GSI1SK": project_id, **indexes}, ()


def owner_projects(owner_id: str) -> str:
    return f"OWNER#{owner_id}"


def projects_in_status(status: str) -> str:
    return f"PROJECTSTATUS#{status}"


def member(project_id: str, user_id: str) -> dict[str, str]:
    return {"PK": f"PROJECT#{project_id}", "SK": f"MEMBER#{user_id}"}


def member_indexes(
    project_id: str, user_id: str, *, current: bool, project_created_at: str | None = None
) -> dict[str, str]:
    """A member item's index keys: every membership in its user's memberships (GSI2); a
    `current` one (accepted or leave_requested) also in its user's projects (GSI1, and in
    GSI1T by the project's creation time) and its project's current members (GSI3).
    Member items are written whole, so a membership that stops being current leaves those
    lists in the same write."""
    indexes = {"GSI2PK": user_memberships(user_id), "GSI2SK": project_id}
    if current:
        indexes |= {
            "GSI1PK": user_projects(user_id),
            "GSI1SK": project_id,
            "GSI3PK": project_members(project_id),
            "GSI3SK": user_id,
        }
        if project_created_at:
            indexes["GSI1TSK"] = created_order(project_created_at, project_id)
    return indexes


def user_projects(user_id: str) -> str:
    return f"USERPROJECTS#{user_id}"


def user_memberships(user_id: str) -> str:
    return f"USERMEMBERSHIPS#{user_id}"


def project_members(project_id: str) -> str:
    return f"PROJECTMEMBERS#{project_id}"


HISTORY_PREFIX = "HIST#"


def history(project_id: str, seq: int) -> dict[str, str]:
    """The project's seq-th history entry (dal/history.py): keys sort in commit order."""
    return {"PK": f"PROJECT#{project_id}", "SK": f"{HISTORY_PREFIX}{seq:012d}"}


ENV_PREFIX = "ENV#"


def environment(project_id: str, env_id: str) -> dict[str, str]:
    return {"PK": f"PROJECT#{project_id}", "SK": f"{ENV_PREFIX}{env_id}"}


ENV_NAME_PREFIX = "ENVNAME#"


def environment_name(project_id: str, name: str) -> dict[str, str]:
    return {"PK": f"PROJECT#{project_id}", "SK": f"{ENV_NAME_PREFIX}{name}"}


ENV_PERMISSION_PREFIX = "ENVPERM#"


def env_permission(project_id: str, env_id: str, permission_id: str) -> dict[str, str]:
    return {"PK": f"PROJECT#{project_id}", "SK": f"{env_permissions_prefix(env_id)}{permission_id}"}


def env_permissions_prefix(env_id: str) -> str:
    return f"{ENV_PERMISSION_PREFIX}{env_id}#"


SECRET_PREFIX = "SECRET#"
SECRET_NAME_PREFIX = "SECRETNAME#"


def secret(project_id: str, env_id: str, secret_id: str) -> dict[str, str]:
    return {"PK": f"PROJECT#{project_id}", "SK": f"{env_secrets_prefix(env_id)}{secret_id}"}


def env_secrets_prefix(env_id: str) -> str:
    return f"{SECRET_PREFIX}{env_id}#"


def secret_name(project_id: str, env_id: str, collection: str, name: str) -> dict[str, str]:
    """Collections and names hold no `#` (models/environments.py)."""
    return {
        "PK": f"PROJECT#{project_id}",
        "SK": f"{env_secret_names_prefix(env_id)}{collection}#{name}",
    }


def env_secret_names_prefix(env_id: str) -> str:
    return f"{SECRET_NAME_PREFIX}{env_id}#"


def env_owned_prefixes(env_id: str) -> tuple[str, ...]:
    """The sort-key prefixes of what an environment owns besides its item and name guard."""
    return (
        env_permissions_prefix(env_id),
        env_secrets_prefix(env_id),
        env_secret_names_prefix(env_id),
    )


APP_PREFIX = "OAUTHAPP#"  # not APP#: that is a governance application's partition


def project_app(project_id: str, app_id: str) -> dict[str, str]:
    """An OAuth client of the project (tenantry.domain.apps)."""
    return {"PK": f"PROJECT#{project_id}", "SK": f"{APP_PREFIX}{app_id}"}


PROJECT_LIMIT_PREFIX = "LIMIT#"


def project_limit_counter(project_id: str, name: str) -> dict[str, str]:
    """A standing count one project keeps under a limit (dal/limits.py: apps_per_project)."""
    return {"PK": f"PROJECT#{project_id}", "SK": f"{PROJECT_LIMIT_PREFIX}{name}"}


# What a project's deletion sweeps from its partition (dal/projects.owned_keys): its
# environments and what they own, its apps (OAuth clients: credentials on the platform)
# and the counts kept for them.
PROJECT_OWNED_PREFIXES = (
    ENV_PREFIX,
    ENV_NAME_PREFIX,
    ENV_PERMISSION_PREFIX,
    SECRET_PREFIX,
    SECRET_NAME_PREFIX,
    APP_PREFIX,
    PROJECT_LIMIT_PREFIX,
)


# --- operations (tenantry.domain.operations) ---------------------------------------------------

OPERATION_PREFIX = "OP#"
OPEN_OPERATIONS = "OPERATIONS#open"


def operation(project_id: str, operation_id: str) -> dict[str, str]:
    return {"PK": f"PROJECT#{project_id}", "SK": f"{OPERATION_PREFIX}{operation_id}"}


def open_operation_index(operation_id: str, check_at: str) -> dict[str, str]:
    """Sparse: only open operations carry it, sorted by when the reconciler should look."""
    return {"GSI3PK": OPEN_OPERATIONS, "GSI3SK": f"{check_at}#{operation_id}"}


def user(user_id: str) -> dict[str, str]:
    return {"PK": f"USER#{user_id}", "SK": "USER"}


ALL_USERS = "USERS"


def user_indexes(user_id: str, created_at: str) -> dict[str, str]:
    return {"GSI1PK": ALL_USERS, "GSI1SK": f"{created_at}#{user_id}"}


def email(address: str) -> dict[str, str]:
    return {"PK": f"EMAIL#{address.lower()}", "SK": "EMAIL"}


def bot(bot_id: str) -> dict[str, str]:
    return {"PK": f"BOT#{bot_id}", "SK": "BOT"}


ALL_BOTS = "BOTS"


def bot_indexes(bot_id: str, created_at: str) -> dict[str, str]:
    return {"GSI1PK": ALL_BOTS, "GSI1SK": f"{created_at}#{bot_id}"}


def owner(kind: PrincipalKind, owner_id: str) -> dict[str, str]:
    return user(owner_id) if kind == "user" else bot(owner_id)


def owner_pk(kind: PrincipalKind, owner_id: str) -> str:
    return owner(kind, owner_id)["PK"]


OWNER_TOKEN_PREFIX = "TOKEN#"


def owner_token(kind: PrincipalKind, owner_id: str, token_id: str) -> dict[str, str]:
    return {"PK": owner_pk(kind, owner_id), "SK": f"{OWNER_TOKEN_PREFIX}{token_id}"}


def token(token_hash: str) -> dict[str, str]:
    return {"PK": f"TOKEN#{token_hash}", "SK": "TOKEN"}


def token_record(token_id: str) -> dict[str, str]:
    return {"PK": f"TOKENID#{token_id}", "SK": "TOKEN"}


def owner_tokens(kind: PrincipalKind, owner_id: str) -> str:
    return f"TOKENS#{kind}#{owner_id}"


def token_record_indexes(
    kind: PrincipalKind, owner_id: str, token_id: str, created_at: str
) -> dict[str, str]:
    return {"GSI1PK": owner_tokens(kind, owner_id), "GSI1SK": f"{created_at}#{token_id}"}


MEMBER_PREFIX = "MEMBER#"


def membership_pointer(membership_id: str) -> dict[str, str]:
    return {"PK": f"MEMBERSHIP#{membership_id}", "SK": "MEMBERSHIP"}


# --- applications -----------------------------------------------------------------------------


def application(app_id: str) -> dict[str, str]:
    return {"PK": f"APP#{app_id}", "SK": "APP"}


def application_indexes(
    app_id: str, project_id: str, state: str, applicant_id: str, created_at: str
) -> dict[str, str]:
    return {
        "GSI1PK": project_applications(project_id),
        "GSI1SK": f"{created_at}#{app_id}",
        **application_state_index(state, app_id, created_at),
        "GSI3PK": applicant_applications(applicant_id),
        "GSI3SK": f"{created_at}#{app_id}",
    }


def application_state_index(state: str, app_id: str, created_at: str) -> dict[str, str]:
    return {"GSI2PK": applications_in_state(state), "GSI2SK": f"{created_at}#{app_id}"}


def project_applications(project_id: str) -> str:
    return f"PROJECTAPPS#{project_id}"


def applications_in_state(state: str) -> str:
    return f"APPSTATE#{state}"


def applicant_applications(user_id: str) -> str:
    return f"APPLICANT#{user_id}"


# --- orgs, invites, templates -------------------------------------------------------------------


def org(org_id: str) -> dict[str, str]:
    return {"PK": f"ORG#{org_id}", "SK": "ORG"}


def org_pk(org_id: str) -> str:
    return f"ORG#{org_id}"


ALL_ORGS = "ORGS"


def org_indexes(org_id: str, created_at: str) -> dict[str, str]:
    return {"GSI1PK": ALL_ORGS, "GSI1SK": f"{created_at}#{org_id}"}


def org_member(org_id: str, user_id: str) -> dict[str, str]:
    return {"PK": f"ORG#{org_id}", "SK": f"{MEMBER_PREFIX}{user_id}"}


def org_member_indexes(org_id: str, user_id: str) -> dict[str, str]:
    return {"GSI1PK": user_orgs(user_id), "GSI1SK": org_id}


def user_orgs(user_id: str) -> str:
    return f"USERORGS#{user_id}"


def invite(invite_id: str) -> dict[str, str]:
    return {"PK": f"INVITE#{invite_id}", "SK": "INVITE"}


def invite_indexes(
    invite_id: str, email: str, scope: str, target_id: str, created_at: str, valid_until: str
) -> dict[str, str]:
    """A new (pending) invite's index keys. In its email's pending list by expiry (ISO
    `valid_until`, the API's expires_at), so the list reads only unexpired ones
    (invites_unexpired_after); it leaves that list when answered (INVITE_ANSWERED_REMOVE,
    in the answer's write)."""
    return {
        "GSI1PK": email_invites(email),
        "GSI1SK": f"{valid_until}#{invite_id}",
        "GSI2PK": target_invites(scope, target_id),
        "GSI2SK": f"{created_at}#{invite_id}",
    }


def target_invites(scope: str, target_id: str) -> str:
    """The partition of every invite to a project or an org, whatever its status."""
    return f"TARGETINVITES#{scope}#{target_id}"


INVITE_ANSWERED_REMOVE = ("GSI1PK", "GSI1SK")


def email_invites(email: str) -> str:
    return f"INVITES#{email.lower()}"


def invites_unexpired_after(now: str) -> str:
    """The exclusive lower bound of GSI1SK for invites that expire after `now` (one whose
    expires_at equals now is expired): invite ids sort below `~`."""
    return f"{now}#~"


def template(template_id: str) -> dict[str, str]:
    return {"PK": f"TEMPLATE#{template_id}", "SK": "TEMPLATE"}


ALL_TEMPLATES = "TEMPLATES"


def template_indexes(template_id: str, name: str) -> dict[str, str]:
    return {"GSI1PK": ALL_TEMPLATES, "GSI1SK": f"{name}#{template_id}"}


# --- clusters, namespaces and agent work (tenantry.domain.clusters, tenantry.domain.work) ------

ALL_CLUSTERS = "CLUSTERS"


def cluster(cluster_id: str) -> dict[str, str]:
    return {"PK": f"CLUSTER#{cluster_id}", "SK": "CLUSTER"}


def cluster_indexes(name: str) -> dict[str, str]:
    return {"GSI1PK": ALL_CLUSTERS, "GSI1SK": name}


def cluster_name(name: str) -> dict[str, str]:
    """Makes a cluster's name unique; carries its id (names are what projects list)."""
    return {"PK": f"CLUSTERNAME#{name}", "SK": "CLUSTERNAME"}


NAMESPACE_PREFIX = "NS#"


def namespace(project_id: str, cluster_name: str) -> dict[str, str]:
    """The project's namespace on one cluster (named after the project), by cluster name."""
    return {"PK": f"PROJECT#{project_id}", "SK": f"{NAMESPACE_PREFIX}{cluster_name}"}


def work_item(work_id: str) -> dict[str, str]:
    return {"PK": f"WORK#{work_id}", "SK": "WORK"}


def cluster_work(cluster_id: str) -> str:
    return f"CLUSTERWORK#{cluster_id}"


def claimable_index(cluster_id: str, available_at: str, work_id: str) -> dict[str, str]:
    """Sparse: a work item carries it while it can be claimed from `available_at` on."""
    return {"GSI1PK": cluster_work(cluster_id), "GSI1SK": f"{available_at}#{work_id}"}


CLAIMABLE_INDEX_ATTRIBUTES = ("GSI1PK", "GSI1SK")


def claimable_up_to(now: str) -> str:
    """The inclusive upper bound of GSI1SK for items claimable at `now` (ids sort below ~)."""
    return f"{now}#~"


# --- the deployment catalog (tenantry.dal.catalog) ------------------------------------------------


def deployment_kind(kind_id: str) -> dict[str, str]:
    return {"PK": f"KIND#{kind_id}", "SK": "KIND"}


def helm_registry(registry_id: str) -> dict[str, str]:
    return {"PK": f"HELMREG#{registry_id}", "SK": "HELMREG"}


def helm_chart(chart_id: str) -> dict[str, str]:
    return {"PK": f"CHART#{chart_id}", "SK": "CHART"}


# --- deployments and their tasks (tenantry.domain.deployments, tenantry.domain.tasks) -------

DEPLOYMENT_PREFIX = "DEPLOY#"
TASK_PREFIX = "TASK#"
PENDING_TASKS = "TASKS#pending"
STARTED_TASKS = "TASKS#started"
PENDING_TASK_INDEXES = ("GSI1PK", "GSI1SK", "GSI3PK", "GSI3SK")


def deployment(project_id: str, deployment_id: str) -> dict[str, str]:
    return {"PK": f"PROJECT#{project_id}", "SK": f"{DEPLOYMENT_PREFIX}{deployment_id}"}


def release(project_id: str, cluster_id: str, release_name: str) -> dict[str, str]:
    """Makes a helm release name unique per project and cluster."""
    return {"PK": f"PROJECT#{project_id}", "SK": f"RELEASE#{cluster_id}#{release_name}"}


def task(project_id: str, task_id: str) -> dict[str, str]:
    return {"PK": f"PROJECT#{project_id}", "SK": f"{TASK_PREFIX}{task_id}"}


def project_tasks(project_id: str) -> str:
    return f"PROJECTTASKS#{project_id}"


def deployment_queue(deployment_id: str) -> str:
    return f"DEPLOYQUEUE#{deployment_id}"


def task_indexes(
    project_id: str, deployment_id: str, task_id: str, created_at: str, execute_at: str
) -> dict[str, str]:
    """A new (Pending) task's index keys: its project's tasks (GSI2, for good), the due
    tasks the scheduler reads (GSI1) and its deployment's queue (GSI3), both while Pending
    (PENDING_TASK_INDEXES leave with the status)."""
    return {
        "GSI1PK": PENDING_TASKS,
        "GSI1SK": f"{execute_at}#{task_id}",
        "GSI2PK": project_tasks(project_id),
        "GSI2SK": f"{created_at}#{task_id}",
        "GSI3PK": deployment_queue(deployment_id),
        "GSI3SK": f"{execute_at}#{created_at}#{task_id}",
    }


DEPLOYMENT_PERMISSION_PREFIX = "DEPLOYPERM#"


def deployment_permission(project_id: str, permission_id: str) -> dict[str, str]:
    """A user's or a bot's role (Owner, Maintainer) on one kind of deployment in one env."""
    return {"PK": f"PROJECT#{project_id}", "SK": f"{DEPLOYMENT_PERMISSION_PREFIX}{permission_id}"}


def deployment_ref(deployment_id: str) -> dict[str, str]:
    """Where a deployment lives (its project, its cluster), for an agent's reports, which
    name the deployment only."""
    return {"PK": f"DEPLOYMENTREF#{deployment_id}", "SK": "DEPLOYMENTREF"}


K8S_PREFIX = "K8S#"


def k8s_resource(project_id: str, resource_id: str) -> dict[str, str]:
    """A Kubernetes resource a cluster's agent reported (its uid), in the project's partition."""
    return {"PK": f"PROJECT#{project_id}", "SK": f"K8S#{resource_id}"}


def started_task_index(task_id: str, started_at: str) -> dict[str, str]:
    """A Started task's place among running tasks (GSI1 TASKS#started, by when it started),
    until it finishes: the scheduler finds a run that outlived its execution's timeout
    (its outcome was never recorded) there."""
    return {"GSI1PK": STARTED_TASKS, "GSI1SK": f"{started_at}#{task_id}"}


# What a project's deletion removes of its deployments (tenantry.domain.deployments
# .remove_with_project); their tasks stay with the project's history.
DEPLOYMENT_OWNED_PREFIXES = (
    DEPLOYMENT_PREFIX,
    "RELEASE#",
    DEPLOYMENT_PERMISSION_PREFIX,
    K8S_PREFIX,
    "DRES#",  # deployment resources (DEPLOYMENT_RESOURCE_PREFIX, defined below)
    "DRESNAME#",  # their name guards
)


def due_up_to(now: str) -> str:
    """The inclusive upper bound of a sort key that starts with a due time (ids sort below ~)."""
    return f"{now}#~"


ALL_KINDS = "KINDS"


def kind_indexes(name: str) -> dict[str, str]:
    return {"GSI1PK": ALL_KINDS, "GSI1SK": name}


def kind_name(name: str) -> dict[str, str]:
    """Makes a kind's name unique regardless of case; carries the kind's id."""
    return {"PK": f"KINDNAME#{name.lower()}", "SK": "KINDNAME"}


ALL_REGISTRIES = "HELMREGS"


def registry_indexes(registry_id: str, repo_name: str, kind_id: str) -> dict[str, str]:
    return {
        "GSI1PK": ALL_REGISTRIES,
        "GSI1SK": f"{repo_name}#{registry_id}",
        "GSI2PK": kind_registries(kind_id),
        "GSI2SK": f"{repo_name}#{registry_id}",
    }


def kind_registries(kind_id: str) -> str:
    return f"KINDREGS#{kind_id}"


def repo_name_prefix(repo_name: str) -> str:
    """The sort-key prefix of the registries of one repository name (names hold no `#`)."""
    return f"{repo_name}#"


ALL_CHARTS = "CHARTS"


def chart_indexes(chart_id: str, registry_id: str, kind_id: str, created_at: str) -> dict[str, str]:
    sort = f"{created_at}#{chart_id}"
    return {
        "GSI1PK": registry_charts(registry_id),
        "GSI1SK": sort,
        "GSI2PK": kind_charts(kind_id),
        "GSI2SK": sort,
        "GSI3PK": ALL_CHARTS,
        "GSI3SK": sort,
    }


def registry_charts(registry_id: str) -> str:
    return f"REGCHARTS#{registry_id}"


def kind_charts(kind_id: str) -> str:
    return f"KINDCHARTS#{kind_id}"


CHART_TAG_PREFIX = "TAG#"


def digest_charts(registry_id: str, digest: str) -> str:
    return f"CHARTDIGEST#{registry_id}#{digest}"


def chart_of_digest(registry_id: str, digest: str, tag: str) -> dict[str, str]:
    """The (registry, digest, tag) pointer to a chart, one per tag of the digest."""
    return {"PK": digest_charts(registry_id, digest), "SK": f"{CHART_TAG_PREFIX}{tag}"}


UNPARSED_CHARTS = "UNPARSEDCHARTS"


def unparsed_chart(chart_id: str, created_at: str) -> dict[str, str]:
    return {"PK": UNPARSED_CHARTS, "SK": f"{created_at}#{chart_id}"}


def tag_format(format_id: str) -> dict[str, str]:
    return {"PK": f"TAGFORMAT#{format_id}", "SK": "TAGFORMAT"}


ALL_TAG_FORMATS = "TAGFORMATS"


def tag_format_indexes(format_id: str, created_at: str) -> dict[str, str]:
    return {"GSI1PK": ALL_TAG_FORMATS, "GSI1SK": f"{created_at}#{format_id}"}


# --- limits against abuse (dal/limits.py) --------------------------------------------------------


def limit_counter(principal_id: str, name: str, scope: str = "") -> dict[str, str]:
    """A standing count (projects owned, pending join requests) of one principal."""
    return {"PK": f"LIMIT#{principal_id}", "SK": f"{name}#{scope}"}


def daily_counter(principal_id: str, name: str, day: str, scope: str = "") -> dict[str, str]:
    """A count of one principal's actions on one UTC day (`YYYY-MM-DD`), per scope."""
    return {"PK": f"LIMIT#{principal_id}", "SK": f"{name}#{day}#{scope}"}


# --- notifications (tenantry.domain.notifications) ---------------------------------------------

NOTIFICATION_PREFIX = "NOTIF#"
NOTIFICATION_INDEX_ATTRIBUTES = ("GSI1PK", "GSI1SK")


def notification(project_id: str, topic: str, topic_id: str) -> dict[str, str]:
    """The latest notification of (topic, topic id) in the project. Topics hold no `#`
    (models/notifications.py), so the pair is unambiguous."""
    return {
        "PK": f"PROJECT#{project_id}",
        "SK": f"{NOTIFICATION_PREFIX}{topic}#{topic_id}",
    }


def project_notifications(project_id: str) -> str:
    return f"PROJECTNOTIFS#{project_id}"


def active_notification_index(
    project_id: str, topic: str, topic_id: str, valid_until: str
) -> dict[str, str]:
    """Sparse: only an active notification carries it, sorted by when it stops being valid."""
    return {
        "GSI1PK": project_notifications(project_id),
        "GSI1SK": f"{valid_until}#{topic}#{topic_id}",
    }


def valid_after(now: str) -> str:
    """The exclusive lower bound of a sort key that starts with an expiry: what is still
    valid at `now` (one that expires exactly at now is not; what follows `#` sorts below ~)."""
    return f"{now}#~"


# --- deployment resource types and resources (tenantry.domain.resources) ----------------------

GLOBAL_RESOURCE_SCOPE = "global"  # the scope of a type every environment may use
RESOURCE_TYPE_INDEX_ATTRIBUTES = ("GSI1PK", "GSI1SK")


def resource_type(type_id: str) -> dict[str, str]:
    return {"PK": f"RESTYPE#{type_id}", "SK": "RESTYPE"}


def scope_resource_types(scope: str) -> str:
    """An environment's types (its id), or the global ones (GLOBAL_RESOURCE_SCOPE)."""
    return f"RESTYPES#{scope}"


def resource_type_indexes(scope: str, kind_id: str, key: str) -> dict[str, str]:
    return {"GSI1PK": scope_resource_types(scope), "GSI1SK": f"{kind_id}#{key}"}


def kind_resource_types_prefix(kind_id: str | None) -> str:
    """The sort-key prefix of one kind's types in a scope (ids hold no `#`); "" for all."""
    return f"{kind_id}#" if kind_id else ""


DEPLOYMENT_RESOURCE_PREFIX = "DRES#"


def deployment_resource(project_id: str, resource_id: str) -> dict[str, str]:
    return {"PK": f"PROJECT#{project_id}", "SK": f"{DEPLOYMENT_RESOURCE_PREFIX}{resource_id}"}


DEPLOYMENT_RESOURCE_NAME_PREFIX = "DRESNAME#"


def deployment_resource_name(project_id: str, type_id: str, name: str) -> dict[str, str]:
    """Makes a resource's name unique per type in its project; carries the resource's id."""
    return {
        "PK": f"PROJECT#{project_id}",
        "SK": f"{DEPLOYMENT_RESOURCE_NAME_PREFIX}{type_id}#{name}",
    }


SYNCING_RESOURCES = "RESOURCESYNCS#open"


def syncing_resource_index(since: str, project_id: str, resource_id: str) -> dict[str, str]:
    """Sparse: a resource carries it while a sync of it is open, sorted by when it was queued."""
    return {"GSI2PK": SYNCING_RESOURCES, "GSI2SK": f"{since}#{project_id}#{resource_id}"}


# --- API subscriptions (tenantry.dal.gateway, tenantry.domain.gateway) ---------------------------

ALL_GATEWAY_SERVICES = "GWSERVICES"
GATEWAY_PREFIX = "GATEWAY#"


def gateway_service(service_id: str) -> dict[str, str]:
    return {"PK": f"GWSERVICE#{service_id}", "SK": "GWSERVICE"}


def gateway_service_indexes(service_id: str, name: str, enabled: bool) -> dict[str, str]:
    """A service's place among all services and among those in its state, by name: both
    follow a rename, the second an enable or disable, in the write that changes them."""
    sort = f"{name.lower()}#{service_id}"
    return {
        "GSI1PK": ALL_GATEWAY_SERVICES,
        "GSI1SK": sort,
        "GSI2PK": gateway_services_in_state(enabled),
        "GSI2SK": sort,
    }


def gateway_services_in_state(enabled: bool) -> str:
    return f"GWSERVICES#{'enabled' if enabled else 'disabled'}"


def gateway_service_name(name: str) -> dict[str, str]:
    """Makes a service's name unique regardless of case; carries the service's id."""
    return {"PK": f"GWSERVICENAME#{name.lower()}", "SK": "GWSERVICENAME"}


def gateway_subscription(project_id: str, service_id: str) -> dict[str, str]:
    """The project's subscription to one gateway service: one per (project, service)."""
    return {"PK": f"PROJECT#{project_id}", "SK": f"{GATEWAY_PREFIX}{service_id}"}


# --- realtime (tenantry.domain.realtime) -------------------------------------------------------

CONNECTION_PREFIX = "CONN#"
ADMIN_CONNECTIONS = "CONNS#admin"
ALL_CONNECTIONS = "CONNS#all"


def connection(connection_id: str) -> dict[str, str]:
    """A WebSocket connection of the realtime API (API Gateway's connectionId)."""
    return {"PK": f"{CONNECTION_PREFIX}{connection_id}", "SK": "CONN"}


def principal_connections(kind: str, principal_id: str) -> str:
    """The partition of a (non-admin) principal's connections; `kind` is user or bot."""
    return f"CONNS#{kind}#{principal_id}"


def connection_indexes(
    connection_id: str, kind: str, principal_id: str, *, is_admin: bool
) -> dict[str, str]:
    """A connection's place: among the platform admins' (every event) or its principal's
    (the events of the projects the principal is a current member of)."""
    partition = ADMIN_CONNECTIONS if is_admin else principal_connections(kind, principal_id)
    return {
        "GSI1PK": partition,
        "GSI1SK": connection_id,
        # Every connection: a push first asks whether there is any at all (one Query of at
        # most one item), and with none reads nothing else.
        "GSI2PK": ALL_CONNECTIONS,
        "GSI2SK": connection_id,
    }
