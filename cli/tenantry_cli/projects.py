"""`tenantry projects ...`: list, create, get, update, delete, action, history, watch."""

from __future__ import annotations

import itertools
from typing import Any

import click

from tenantry_cli import output
from tenantry_cli.base import (
    client,
    confirm,
    if_match_option,
    json_option,
    key_value,
    state,
    wants_json,
)
from tenantry_client import NULL
from tenantry_client.models import HistoryItem, Project
from tenantry_client.watch import Event, watch

POLICIES = click.Choice(["auto", "moderated", "closed"])
ACTIONS = click.Choice(
    [
        "suspend",
        "unsuspend",
        "terminate",
        "reinstate",
        "retry",
        "approve",
        "deny",
        "cancel",
        "dismiss",
    ]
)
COLUMNS: list[output.Column] = [
    ("ID", "id"),
    ("NAME", "name"),
    ("STATUS", "status"),
    ("ENVIRONMENTS", "environments"),
    ("LABELS", "labels"),
    ("CREATED", "created_at"),
]
HISTORY_COLUMNS: list[output.Column] = [
    ("AT", "at"),
    ("EVENT", "event"),
    ("FROM", "from_"),
    ("TO", "to"),
    ("ACTOR", "actor"),
]


def _pending(p: Project) -> str | None:
    app = p.last_application or {}
    if app.get("state") != "pending":
        return None
    return f"{app.get('type')} application {app.get('id')} pending"


FIELDS: list[output.Column] = [
    ("id", "id"),
    ("name", "name"),
    ("status", "status"),
    ("reason", "reason"),
    ("description", "description"),
    ("homepage", "homepage"),
    ("owner", "owner_id"),
    ("environments", "environments"),
    ("labels", "labels"),
    ("join policy", "join_policy"),
    ("leave policy", "leave_policy"),
    ("max members", "max_members"),
    ("application", _pending),
    ("you may", "allowed_actions"),
    ("version", "version"),
    ("created", "created_at"),
    ("updated", "updated_at"),
]
CONDITION_COLUMNS: list[output.Column] = [
    ("CONDITION", "type"),
    ("STATUS", "status"),
    ("REASON", "reason"),
    ("MESSAGE", "message"),
]


def show_project(project: Project) -> None:
    ctx = click.get_current_context()
    output.show(ctx, project, fields=FIELDS)
    if project.conditions and not wants_json():
        click.echo()
        output.print_table(project.conditions, CONDITION_COLUMNS)


def wait_for(project: Project, timeout: float) -> Project:
    """Wait for provisioning or deprovisioning to settle; say so on stderr."""
    click.echo(f"Waiting for {project.id} ({project.status})...", err=True)
    return client().projects.wait(project.id, timeout=timeout, interval=0.5)


@click.group()
def projects() -> None:
    """Projects: the tenants."""


@projects.command("list")
@click.option("--state", "state_", metavar="STATUS", help="Only this status (deleted: tombstones).")
@click.option("--owner", metavar="USER_ID", help="Only this owner's.")
@click.option("--name", metavar="PREFIX", help="Names starting with this.")
@click.option("--mode", type=click.Choice(["member", "default"]), help="member: accepted only.")
@click.option("-l", "--label-selector", metavar="SELECTOR", help="team=pay,tier!=dev,team,!x")
@click.option("--field-selector", metavar="SELECTOR", help="metadata.name=ID, status.phase!=active")
@click.option("--sort-by", metavar="FIELD", help="name or created_at; -FIELD descending.")
@click.option("--filter-by", metavar="WORD", help="A word in the name or description.")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many.")
@click.option("--page-size", type=click.IntRange(1, 100), help="Items per request (1-100).")
@click.option("--page", "one_page", is_flag=True, help="One page only; prints the next cursor.")
@click.option("--cursor", help="Start at this cursor (from --page); implies --page.")
@json_option
def list_(
    state_: str | None,
    owner: str | None,
    name: str | None,
    mode: str | None,
    label_selector: str | None,
    field_selector: str | None,
    sort_by: str | None,
    filter_by: str | None,
    limit: int | None,
    page_size: int | None,
    one_page: bool,
    cursor: str | None,
) -> None:
    """Your projects (platform admins: all), every page unless --page."""
    filters: dict[str, Any] = {
        "state": state_,
        "owner": owner,
        "name": name,
        "mode": mode,
        "label_selector": label_selector,
        "field_selector": field_selector,
        "sort_by": sort_by,
        "filter_by": filter_by,
    }
    ctx = click.get_current_context()
    c = client()
    if one_page or cursor:
        page = c.projects.page(cursor=cursor, limit=page_size or limit, **filters)
        if wants_json():
            output.print_json(page)
            return
        output.print_table(page.items, COLUMNS)
        if page.next_cursor:
            click.echo(f"next page: --cursor {page.next_cursor}", err=True)
        return
    items = c.projects.list(**filters, limit=page_size, max_items=limit)
    output.show(ctx, list(items), columns=COLUMNS, empty="No projects.")


@projects.command()
@click.argument("project_id")
@json_option
def get(project_id: str) -> None:
    """One project, with its conditions."""
    show_project(client().projects.get(project_id))


@projects.command()
@click.argument("name")
@click.option("--id", "project_id", metavar="ID", help="The id (default: from the name).")
@click.option("--description", help="What it is for.")
@click.option("--homepage", metavar="URL")
@click.option(
    "-e", "--env", "environments", multiple=True, metavar="NAME", help="An environment (repeat)."
)
@click.option(
    "-l", "--label", "labels", multiple=True, metavar="KEY=VALUE", help="A label (repeat)."
)
@click.option("--join-policy", type=POLICIES)
@click.option("--leave-policy", type=POLICIES)
@click.option("--max-members", type=click.IntRange(min=1))
@click.option("--template", "template_id", metavar="TEMPLATE_ID")
@click.option("--org", "org_id", metavar="ORG_ID")
@click.option(
    "--cluster",
    "clusters",
    multiple=True,
    metavar="NAME",
    help="A cluster to get a namespace on (repeat).",
)
@click.option(
    "--idempotency-key",
    metavar="KEY",
    help="Send this key (default: a new one); a retry with it creates nothing more.",
)
@click.option("--wait", is_flag=True, help="Wait until provisioning settles (active, failed, ...).")
@click.option(
    "--timeout", type=float, default=300.0, show_default=True, help="With --wait: seconds."
)
@json_option
def create(
    name: str,
    project_id: str | None,
    description: str | None,
    homepage: str | None,
    environments: tuple[str, ...],
    labels: tuple[str, ...],
    join_policy: str | None,
    leave_policy: str | None,
    max_members: int | None,
    template_id: str | None,
    org_id: str | None,
    clusters: tuple[str, ...],
    idempotency_key: str | None,
    wait: bool,
    timeout: float,
) -> None:
    """Create a project (its provisioning runs after; --wait for it)."""
    project = client().projects.create(
        name,
        id=project_id,
        description=description,
        homepage=homepage,
        environments=list(environments) or None,
        labels=key_value(labels) or None,
        join_policy=join_policy,
        leave_policy=leave_policy,
        max_members=max_members,
        template_id=template_id,
        org_id=org_id,
        clusters=[{"name": c, "quota": {}} for c in clusters] or None,
        idempotency_key=idempotency_key,
    )
    if wait:
        project = wait_for(project, timeout)
    show_project(project)


@projects.command()
@click.argument("project_id")
@click.option("--description")
@click.option("--homepage", metavar="URL", help='A URL, or "" to remove it.')
@click.option(
    "-l",
    "--label",
    "labels",
    multiple=True,
    metavar="KEY=VALUE",
    help="Replaces all labels (repeat).",
)
@click.option("--no-labels", is_flag=True, help="Remove every label.")
@click.option("--join-policy", type=POLICIES)
@click.option("--leave-policy", type=POLICIES)
@click.option("--max-members", type=click.IntRange(min=1))
@if_match_option
@json_option
def update(
    project_id: str,
    description: str | None,
    homepage: str | None,
    labels: tuple[str, ...],
    no_labels: bool,
    join_policy: str | None,
    leave_policy: str | None,
    max_members: int | None,
    if_match: str | None,
) -> None:
    """Change a project (policies and max members become an application for
    non-admins: shown as pending)."""
    fields: dict[str, Any] = {
        "description": description,
        "homepage": NULL if homepage == "" else homepage,
        "labels": NULL if no_labels else (key_value(labels) or None),
        "join_policy": join_policy,
        "leave_policy": leave_policy,
        "max_members": max_members,
    }
    if all(v is None for v in fields.values()):
        raise click.UsageError("nothing to change: give at least one option")
    show_project(client().projects.update(project_id, if_match=if_match, **fields))


@projects.command()
@click.argument("project_id")
@click.option("--reclaim", is_flag=True, help="Also delete its images and namespaces.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask.")
@click.option("--wait", is_flag=True, help="Wait until it is deleted.")
@click.option("--timeout", type=float, default=300.0, show_default=True)
@if_match_option
@json_option
def delete(
    project_id: str, reclaim: bool, yes: bool, wait: bool, timeout: float, if_match: str | None
) -> None:
    """Delete a project (it stays as a readable tombstone)."""
    confirm(yes, f"Delete project {project_id}{' and reclaim its resources' if reclaim else ''}?")
    project = client().projects.delete(project_id, reclaim=reclaim, if_match=if_match)
    if wait:
        project = wait_for(project, timeout)
    show_project(project)


@projects.command()
@click.argument("project_id")
@click.argument("action", type=ACTIONS)
@click.option("--reason", help="Kept in the history.")
@click.option(
    "--app",
    "app_id",
    metavar="APP_ID",
    help="approve/deny/cancel/dismiss: the application (default: the pending one).",
)
@if_match_option
@json_option
def action(
    project_id: str, action: str, reason: str | None, app_id: str | None, if_match: str | None
) -> None:
    """A lifecycle action: suspend, unsuspend, terminate, reinstate, retry, approve, deny,
    cancel, dismiss."""
    show_project(
        client().projects.action(
            project_id, action, reason=reason, app_id=app_id, if_match=if_match
        )
    )


@projects.command()
@click.argument("project_id")
@click.option("--limit", type=click.IntRange(min=1), help="The first this many entries only.")
@json_option
def history(project_id: str, limit: int | None) -> None:
    """The project's audit trail, oldest first."""
    items: list[HistoryItem] = list(
        itertools.islice(client().projects.history(project_id, limit=100), limit)
    )
    output.show(click.get_current_context(), items, columns=HISTORY_COLUMNS, empty="No history.")


def event_line(event: Event) -> str:
    d = event.detail
    move = f" {d.get('from') or '-'} -> {d['to']}" if d.get("to") else ""
    return (
        f"{d.get('at', '')}  {event.project_id} #{event.seq}  {event.detail_type}: "
        f"{event.event}{move} (by {d.get('actor', '?')})"
    )


@projects.command("watch")
@click.argument("project_id", required=False)
@click.option("--poll", "mode", flag_value="poll", help="Poll history instead of the WebSocket.")
@click.option(
    "--websocket", "mode", flag_value="websocket", help="The WebSocket only: fail rather than poll."
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=2.0,
    show_default=True,
    help="Seconds between polls of history.",
)
@click.option(
    "--from-start", is_flag=True, help="The project's whole history first (needs PROJECT_ID)."
)
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many events.")
@click.option("--timeout", type=click.FloatRange(min=0), help="Stop after this many seconds.")
@click.option(
    "--ws-url", metavar="URL", help="The WebSocket (default: <url>/ws) [env TENANTRY_WS_URL]."
)
@json_option
def watch_(
    project_id: str | None,
    mode: str | None,
    interval: float,
    from_start: bool,
    count: int | None,
    timeout: float | None,
    ws_url: str | None,
) -> None:
    """Follow lifecycle events as they happen: one line each (JSON lines with --json),
    over the WebSocket, or by polling history when it is unavailable. Ctrl-C stops."""
    if from_start and project_id is None:
        raise click.UsageError("--from-start needs a PROJECT_ID")
    settings = state().settings()
    as_json = wants_json()

    def fell_back(reason: str) -> None:
        click.echo(
            f"WebSocket unavailable ({reason}); polling history every {interval:g}s", err=True
        )

    def ready(source: str) -> None:
        click.echo(f"Watching {project_id or 'all your projects'} ({source})...", err=True)

    events = watch(
        client(),
        project_id,
        ws_url=ws_url or settings.ws_url,
        mode=mode or "auto",
        interval=interval,
        from_start=from_start,
        timeout=timeout,
        on_fallback=fell_back,
        on_ready=ready,
    )
    try:
        for seen, event in enumerate(events, start=1):
            click.echo(output.json_line(event.message()) if as_json else event_line(event))
            if count is not None and seen >= count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        events.close()


GROUPS = [projects]
