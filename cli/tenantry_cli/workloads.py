"""Where things run: `environments`, `secrets`, `deployments`, `tasks`, `clusters`.

An environment may be named by its name or its id wherever one is asked for."""

from __future__ import annotations

from typing import Any

import click

from tenantry_cli import output
from tenantry_cli.base import (
    client,
    confirm,
    if_match_option,
    json_object,
    json_option,
    key_value,
)
from tenantry_client import NULL, Conflict


def ctx() -> click.Context:
    return click.get_current_context()


def env_id(project_id: str, env: str) -> str:
    return client().environments.find(project_id, env).id


# --- environments ----------------------------------------------------------------------------
ENV_COLUMNS: list[output.Column] = [
    ("ID", "id"),
    ("NAME", "name"),
    ("NODE SELECTOR", "node_selector"),
    ("AUTO ADD", "auto_add_new_users"),
    ("VERSION", "version"),
    ("CREATED", "created_at"),
]
ENV_FIELDS: list[output.Column] = [(h.lower(), f) for h, f in ENV_COLUMNS] + [
    ("tolerations", "tolerations"),
    ("updated", "updated_at"),
]


@click.group()
def environments() -> None:
    """A project's environments (where its deployments run)."""


@environments.command("list")
@click.argument("project_id")
@json_option
def environments_list(project_id: str) -> None:
    items = list(client().environments.list(project_id))
    output.show(ctx(), items, columns=ENV_COLUMNS, empty="No environments.")


@environments.command("get")
@click.argument("project_id")
@click.argument("env")
@json_option
def environments_get(project_id: str, env: str) -> None:
    output.show(ctx(), client().environments.find(project_id, env), fields=ENV_FIELDS)


@environments.command("create")
@click.argument("project_id")
@click.argument("name")
@click.option("--node-selector", multiple=True, metavar="LABEL=VALUE", help="Repeat.")
@click.option("--auto-add-new-users", is_flag=True, help="Members who join later get User here.")
@json_option
def environments_create(
    project_id: str, name: str, node_selector: tuple[str, ...], auto_add_new_users: bool
) -> None:
    env = client().environments.create(
        project_id,
        name,
        node_selector=key_value(node_selector, "--node-selector") or None,
        auto_add_new_users=auto_add_new_users or None,
    )
    output.show(ctx(), env, fields=ENV_FIELDS)


@environments.command("update")
@click.argument("project_id")
@click.argument("env")
@click.option("--node-selector", multiple=True, metavar="LABEL=VALUE", help="Replaces it (repeat).")
@click.option("--auto-add-new-users/--no-auto-add-new-users", default=None)
@if_match_option
@json_option
def environments_update(
    project_id: str,
    env: str,
    node_selector: tuple[str, ...],
    auto_add_new_users: bool | None,
    if_match: str | None,
) -> None:
    fields: dict[str, Any] = {
        "node_selector": key_value(node_selector, "--node-selector") or None,
        "auto_add_new_users": auto_add_new_users,
    }
    if all(v is None for v in fields.values()):
        raise click.UsageError("nothing to change: give at least one option")
    result = client().environments.update(
        project_id, env_id(project_id, env), if_match=if_match, **fields
    )
    output.show(ctx(), result, fields=ENV_FIELDS)


@environments.command("delete")
@click.argument("project_id")
@click.argument("env")
@click.option("-y", "--yes", is_flag=True, help="Do not ask.")
@if_match_option
def environments_delete(project_id: str, env: str, yes: bool, if_match: str | None) -> None:
    """Delete an environment, with its permissions and secrets."""
    found = client().environments.find(project_id, env)
    confirm(yes, f"Delete environment {found.name} of {project_id}, with its secrets?")
    client().environments.delete(project_id, found.id, if_match=if_match)
    click.echo(f"Deleted environment {found.name}.", err=True)


# --- secrets ---------------------------------------------------------------------------------
SECRET_COLUMNS: list[output.Column] = [
    ("ID", "id"),
    ("COLLECTION", "collection"),
    ("NAME", "name"),
    ("VERSION", "version"),
    ("UPDATED", "updated_at"),
]


@click.group()
def secrets() -> None:
    """An environment's secrets: names only (contents are write-only)."""


@secrets.command("list")
@click.argument("project_id")
@click.argument("env")
@click.option("--collection")
@json_option
def secrets_list(project_id: str, env: str, collection: str | None) -> None:
    items = list(client().secrets.list(project_id, env_id(project_id, env), collection=collection))
    output.show(ctx(), items, columns=SECRET_COLUMNS, empty="No secrets.")


@secrets.command("set")
@click.argument("project_id")
@click.argument("env")
@click.argument("collection")
@click.argument("name")
@click.option(
    "--from-file",
    type=click.File("r"),
    help="Read the contents from this file (- for stdin); asked for, hidden, otherwise.",
)
@json_option
def secrets_set(
    project_id: str, env: str, collection: str, name: str, from_file: Any | None
) -> None:
    """Create a secret, or replace the contents of the one of that collection and name."""
    contents = (
        from_file.read()
        if from_file is not None
        else click.prompt(f"Contents of {collection}/{name}", hide_input=True, err=True)
    )
    c = client()
    eid = env_id(project_id, env)
    try:
        secret = c.secrets.create(
            project_id, eid, collection=collection, name=name, contents=contents
        )
    except Conflict:
        found = next(iter(c.secrets.list(project_id, eid, collection=collection, name=name)), None)
        if found is None:
            raise
        secret = c.secrets.update(project_id, eid, found.id, contents=contents, if_match=found)
    output.show(ctx(), [secret], columns=SECRET_COLUMNS)


@secrets.command("delete")
@click.argument("project_id")
@click.argument("env")
@click.argument("secret_id")
@click.option("-y", "--yes", is_flag=True, help="Do not ask.")
def secrets_delete(project_id: str, env: str, secret_id: str, yes: bool) -> None:
    confirm(yes, f"Delete secret {secret_id}?")
    client().secrets.delete(project_id, env_id(project_id, env), secret_id)
    click.echo(f"Deleted secret {secret_id}.", err=True)


# --- deployments -----------------------------------------------------------------------------
DEPLOYMENT_COLUMNS: list[output.Column] = [
    ("ID", "id"),
    ("RELEASE", "release_name"),
    ("STATUS", "status"),
    ("ENABLED", "enabled"),
    ("ENV", "env_id"),
    ("CLUSTER", "cluster_id"),
    ("CHART", "helm_chart_id"),
]
DEPLOYMENT_FIELDS: list[output.Column] = [
    ("id", "id"),
    ("name", "name"),
    ("release", "release_name"),
    ("namespace", "namespace"),
    ("status", "status"),
    ("reason", "reason"),
    ("enabled", "enabled"),
    ("kind", "kind_id"),
    ("environment", "env_id"),
    ("cluster", "cluster_id"),
    ("chart", "helm_chart_id"),
    ("config", "config"),
    ("values override", "values_override"),
    ("current task", "current_task_id"),
    ("version", "version"),
    ("created", "created_at"),
]


@click.group()
def deployments() -> None:
    """A project's deployments (helm releases); each change makes a task."""


@deployments.command("list")
@click.argument("project_id")
@json_option
def deployments_list(project_id: str) -> None:
    items = list(client().deployments.list(project_id))
    output.show(ctx(), items, columns=DEPLOYMENT_COLUMNS, empty="No deployments.")


@deployments.command("get")
@click.argument("project_id")
@click.argument("deployment_id")
@json_option
def deployments_get(project_id: str, deployment_id: str) -> None:
    output.show(
        ctx(), client().deployments.get(project_id, deployment_id), fields=DEPLOYMENT_FIELDS
    )


CONFIG_HELP = "A JSON object, or @FILE (@- for stdin)."


@deployments.command("create")
@click.argument("project_id")
@click.option("--kind", "kind_id", required=True, metavar="KIND_ID")
@click.option("--cluster", "cluster_id", required=True, metavar="CLUSTER_ID")
@click.option("--env", required=True, metavar="ENV", help="The environment's name or id.")
@click.option("--chart", "helm_chart_id", required=True, metavar="CHART_ID")
@click.option("--name", help="Release <kind>-<name> (default: <kind>).")
@click.option("--config", "config_text", metavar="JSON", help=CONFIG_HELP)
@click.option("--values", "values_text", metavar="JSON", help="values_override: " + CONFIG_HELP)
@click.option("--idempotency-key", metavar="KEY")
@json_option
def deployments_create(
    project_id: str,
    kind_id: str,
    cluster_id: str,
    env: str,
    helm_chart_id: str,
    name: str | None,
    config_text: str | None,
    values_text: str | None,
    idempotency_key: str | None,
) -> None:
    """Deploy a chart: an Install task for the cluster's agent."""
    deployment = client().deployments.create(
        project_id,
        kind_id=kind_id,
        cluster_id=cluster_id,
        env_id=env_id(project_id, env),
        helm_chart_id=helm_chart_id,
        name=name,
        config=json_object(config_text, "--config"),
        values_override=json_object(values_text, "--values"),
        idempotency_key=idempotency_key,
    )
    output.show(ctx(), deployment, fields=DEPLOYMENT_FIELDS)


@deployments.command("update")
@click.argument("project_id")
@click.argument("deployment_id")
@click.option("--config", "config_text", metavar="JSON", help=CONFIG_HELP)
@click.option("--values", "values_text", metavar="JSON", help="values_override: " + CONFIG_HELP)
@click.option("--no-values", is_flag=True, help="Remove the values override.")
@click.option("--chart", "helm_chart_id", metavar="CHART_ID", help="Upgrade to this chart.")
@click.option("--enable/--disable", "enabled", default=None, help="Install or uninstall it.")
@click.option("--name", help='Rename (recreates the release); "" for none.')
@click.option("--cluster", "cluster_id", metavar="CLUSTER_ID", help="Move (recreates the release).")
@if_match_option
@json_option
def deployments_update(
    project_id: str,
    deployment_id: str,
    config_text: str | None,
    values_text: str | None,
    no_values: bool,
    helm_chart_id: str | None,
    enabled: bool | None,
    name: str | None,
    cluster_id: str | None,
    if_match: str | None,
) -> None:
    """Change a deployment: an Upgrade, Uninstall, Install or Recreate task."""
    fields: dict[str, Any] = {
        "config": json_object(config_text, "--config"),
        "values_override": NULL if no_values else json_object(values_text, "--values"),
        "helm_chart_id": helm_chart_id,
        "enabled": enabled,
        "name": name,
        "cluster_id": cluster_id,
    }
    if all(v is None for v in fields.values()):
        raise click.UsageError("nothing to change: give at least one option")
    result = client().deployments.update(project_id, deployment_id, if_match=if_match, **fields)
    output.show(ctx(), result, fields=DEPLOYMENT_FIELDS)


@deployments.command("delete")
@click.argument("project_id")
@click.argument("deployment_id")
@click.option("-y", "--yes", is_flag=True, help="Do not ask.")
@if_match_option
@json_option
def deployments_delete(
    project_id: str, deployment_id: str, yes: bool, if_match: str | None
) -> None:
    """Uninstall and delete a deployment."""
    confirm(yes, f"Delete deployment {deployment_id} of {project_id}?")
    result = client().deployments.delete(project_id, deployment_id, if_match=if_match)
    output.show(ctx(), result, fields=DEPLOYMENT_FIELDS)


# --- tasks -----------------------------------------------------------------------------------
def _operation(task: Any) -> str:
    return ",".join(task.operation) if isinstance(task.operation, dict) else str(task.operation)


TASK_COLUMNS: list[output.Column] = [
    ("ID", "id"),
    ("DEPLOYMENT", "deployment_id"),
    ("OPERATION", _operation),
    ("STATUS", "status"),
    ("EXECUTE AT", "execute_at"),
    ("FINISHED", "finished_at"),
    ("REASON", "reason"),
]
TASK_FIELDS: list[output.Column] = [(h.lower(), f) for h, f in TASK_COLUMNS] + [
    ("operation detail", "operation"),
    ("created", "created_at"),
]


@click.group()
def tasks() -> None:
    """Deployment tasks: what the agents do, one at a time per deployment."""


@tasks.command("list")
@click.argument("project_id")
@click.option("--deployment", "deployment_id", metavar="DEPLOYMENT_ID")
@click.option("--status", help="Pending, Started, Done, Failed, Canceled.")
@json_option
def tasks_list(project_id: str, deployment_id: str | None, status: str | None) -> None:
    items = [
        t
        for t in client().tasks.list(project_id, deployment_id=deployment_id)
        if status is None or t.status == status
    ]
    output.show(ctx(), items, columns=TASK_COLUMNS, empty="No tasks.")


@tasks.command("get")
@click.argument("project_id")
@click.argument("task_id")
@json_option
def tasks_get(project_id: str, task_id: str) -> None:
    output.show(ctx(), client().tasks.get(project_id, task_id), fields=TASK_FIELDS)


@tasks.command("cancel")
@click.argument("project_id")
@click.argument("task_id")
@click.option("--reason")
@json_option
def tasks_cancel(project_id: str, task_id: str, reason: str | None) -> None:
    """Cancel a Pending task."""
    output.show(
        ctx(), client().tasks.cancel(project_id, task_id, reason=reason), fields=TASK_FIELDS
    )


@tasks.command("restart")
@click.argument("project_id")
@click.argument("resource_id")
@click.option(
    "--deployment", "deployment_id", metavar="DEPLOYMENT_ID", help="Default: the resource's."
)
@json_option
def tasks_restart(project_id: str, resource_id: str, deployment_id: str | None) -> None:
    """Rollout-restart a Deployment or StatefulSet the agent reported (a k8s-resource id)."""
    task = client().tasks.restart(project_id, resource_id, deployment_id=deployment_id)
    output.show(ctx(), task, fields=TASK_FIELDS)


@tasks.command("invoke")
@click.argument("project_id")
@click.argument("deployment_id")
@click.argument("action_id")
@click.option("--body", "body_text", metavar="JSON", help="The action's body: " + CONFIG_HELP)
@click.option("--at", "execute_at", metavar="TIME", help="Run then (UTC, 2031-01-01T03:00:00Z).")
@json_option
def tasks_invoke(
    project_id: str,
    deployment_id: str,
    action_id: str,
    body_text: str | None,
    execute_at: str | None,
) -> None:
    """Run one of the chart's actions."""
    operation: dict[str, Any] = {"action_id": action_id}
    if body_text is not None:
        operation["body"] = json_object(body_text, "--body")
    task = client().tasks.create(
        project_id,
        deployment_id=deployment_id,
        operation={"InvokeAction": operation},
        execute_at=execute_at,
    )
    output.show(ctx(), task, fields=TASK_FIELDS)


# --- clusters --------------------------------------------------------------------------------
CLUSTER_COLUMNS: list[output.Column] = [
    ("ID", "id"),
    ("NAME", "name"),
    ("REGION", "region_name"),
    ("OK", "is_ok"),
    ("NOT OK BECAUSE", "not_ok_reason"),
    ("LAST SEEN", "last_seen_at"),
    ("IGNORED", "ignore"),
]
CLUSTER_FIELDS: list[output.Column] = [(h.lower(), f) for h, f in CLUSTER_COLUMNS] + [
    ("ingress domain", "ingress_domain"),
    ("ingress class", "ingress_class"),
    ("agent version", "agent_version"),
    ("version", "version"),
    ("created", "created_at"),
]


@click.group()
def clusters() -> None:
    """Clusters and their agents (platform admins)."""


@clusters.command("list")
@json_option
def clusters_list() -> None:
    output.show(
        ctx(), list(client().clusters.list()), columns=CLUSTER_COLUMNS, empty="No clusters."
    )


@clusters.command("get")
@click.argument("cluster_id")
@json_option
def clusters_get(cluster_id: str) -> None:
    output.show(ctx(), client().clusters.get(cluster_id), fields=CLUSTER_FIELDS)


@clusters.command("create")
@click.argument("name")
@click.option("--region", "region_name")
@click.option("--provider-id")
@click.option("--ingress-domain")
@click.option("--ingress-class")
@json_option
def clusters_create(
    name: str,
    region_name: str | None,
    provider_id: str | None,
    ingress_domain: str | None,
    ingress_class: str | None,
) -> None:
    """Register a cluster; its agent token is printed this once."""
    cluster = client().clusters.create(
        name,
        region_name=region_name,
        provider_id=provider_id,
        ingress_domain=ingress_domain,
        ingress_class=ingress_class,
    )
    output.show(ctx(), cluster, fields=[*CLUSTER_FIELDS, ("agent token", "agent_token")])


@clusters.command("update")
@click.argument("cluster_id")
@click.option(
    "--ignore/--no-ignore", default=None, help="An ignored cluster cannot be named by projects."
)
@click.option("--ingress-domain")
@click.option("--ingress-class")
@if_match_option
@json_option
def clusters_update(
    cluster_id: str,
    ignore: bool | None,
    ingress_domain: str | None,
    ingress_class: str | None,
    if_match: str | None,
) -> None:
    fields = {"ignore": ignore, "ingress_domain": ingress_domain, "ingress_class": ingress_class}
    if all(v is None for v in fields.values()):
        raise click.UsageError("nothing to change: give at least one option")
    result = client().clusters.update(cluster_id, if_match=if_match, **fields)
    output.show(ctx(), result, fields=CLUSTER_FIELDS)


@clusters.command("delete")
@click.argument("cluster_id")
@click.option("-y", "--yes", is_flag=True, help="Do not ask.")
@if_match_option
def clusters_delete(cluster_id: str, yes: bool, if_match: str | None) -> None:
    confirm(yes, f"Delete cluster {cluster_id}?")
    client().clusters.delete(cluster_id, if_match=if_match)
    click.echo(f"Deleted cluster {cluster_id}.", err=True)


@clusters.command("rotate-token")
@click.argument("cluster_id")
@json_option
def clusters_rotate_token(cluster_id: str) -> None:
    """A new agent token (printed this once); the old one stops at once."""
    token = client().clusters.rotate_agent_token(cluster_id)
    output.show(ctx(), token, fields=[("cluster", "cluster_id"), ("agent token", "agent_token")])


GROUPS = [environments, secrets, deployments, tasks, clusters]
