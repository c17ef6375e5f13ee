"""People: `members`, `memberships`, `applications`, `invites`, `users`, `tokens`."""

from __future__ import annotations

import itertools

import click

from tenantry_cli import output
from tenantry_cli.base import client, confirm, if_match_option, json_option
from tenantry_cli.projects import show_project
from tenantry_client.models import Invite, Membership

ROLES = click.Choice(["admin", "member", "viewer"])


def ctx() -> click.Context:
    return click.get_current_context()


# --- members ---------------------------------------------------------------------------------
MEMBER_COLUMNS: list[output.Column] = [
    ("USER", "user_id"),
    ("NAME", "display_name"),
    ("ROLE", "role"),
    ("STATE", "state"),
    ("ACTIVE", "is_active"),
    ("MEMBERSHIP", "membership_id"),
]
MEMBERSHIP_COLUMNS: list[output.Column] = [
    ("ID", "id"),
    ("PROJECT", "project_id"),
    ("USER", "user_id"),
    ("ROLE", "role"),
    ("STATE", "state"),
    ("YOU MAY", "allowed_actions"),
]
MEMBERSHIP_FIELDS: list[output.Column] = [(h.lower(), f) for h, f in MEMBERSHIP_COLUMNS] + [
    ("created", "created_at"),
    ("updated", "updated_at"),
]
INVITE_COLUMNS: list[output.Column] = [
    ("ID", "id"),
    ("SCOPE", "scope"),
    ("TARGET", "target_id"),
    ("EMAIL", "email"),
    ("ROLES", "roles"),
    ("STATUS", "status"),
    ("EXPIRES", "expires_at"),
    ("CODE", "code"),
]


def show_membership_or_invite(result: Membership | Invite) -> None:
    if isinstance(result, Invite):
        output.show(ctx(), [result], columns=INVITE_COLUMNS)
    else:
        output.show(ctx(), result, fields=MEMBERSHIP_FIELDS)


@click.group()
def members() -> None:
    """A project's people (its current members)."""


@members.command("list")
@click.argument("project_id")
@json_option
def members_list(project_id: str) -> None:
    """The project's current members, with their names and roles."""
    output.show(ctx(), list(client().projects.users(project_id)), columns=MEMBER_COLUMNS)


@members.command("add")
@click.argument("project_id")
@click.option("--user", "user_id", metavar="USER_ID", help="A registered user: a member at once.")
@click.option("--email", metavar="EMAIL", help="Anyone: invited (a member once they accept).")
@click.option("--role", type=ROLES, help="Default: member.")
@json_option
def members_add(project_id: str, user_id: str | None, email: str | None, role: str | None) -> None:
    """Enroll a user (managers), by id or by email."""
    if (user_id is None) == (email is None):
        raise click.UsageError("give exactly one of --user and --email")
    result = client().memberships.enroll(project_id, user_id=user_id, email=email, role=role)
    show_membership_or_invite(result)


@members.command("remove")
@click.argument("project_id")
@click.argument("user_id")
@click.option("--reason")
@click.option("-y", "--yes", is_flag=True, help="Do not ask.")
@json_option
def members_remove(project_id: str, user_id: str, reason: str | None, yes: bool) -> None:
    """Remove a member (managers)."""
    c = client()
    found = next((u for u in c.projects.users(project_id) if u.user_id == user_id), None)
    if found is None:
        raise click.ClickException(f"{user_id} is not a member of {project_id}")
    confirm(yes, f"Remove {found.display_name or user_id} from {project_id}?")
    output.show(
        ctx(), c.memberships.remove(found.membership_id, reason=reason), fields=MEMBERSHIP_FIELDS
    )


# --- memberships -----------------------------------------------------------------------------
@click.group()
def memberships() -> None:
    """Memberships: join requests and their decisions."""


@memberships.command("list")
@click.option(
    "--project", "project_id", metavar="PROJECT_ID", help="That project's (managers: all)."
)
@json_option
def memberships_list(project_id: str | None) -> None:
    """Your memberships, or a project's."""
    items = list(client().memberships.list(project_id=project_id))
    output.show(ctx(), items, columns=MEMBERSHIP_COLUMNS, empty="No memberships.")


@memberships.command("get")
@click.argument("membership_id")
@json_option
def memberships_get(membership_id: str) -> None:
    output.show(ctx(), client().memberships.get(membership_id), fields=MEMBERSHIP_FIELDS)


@memberships.command("join")
@click.argument("project_id")
@json_option
def memberships_join(project_id: str) -> None:
    """Join a project (accepted, or requested under a moderated join policy)."""
    output.show(ctx(), client().memberships.join(project_id), fields=MEMBERSHIP_FIELDS)


def _membership_action(name: str, doc: str) -> click.Command:
    @click.argument("membership_id")
    @click.option("--reason", help="Kept in the history.")
    @json_option
    def run(membership_id: str, reason: str | None) -> None:
        result = client().memberships.action(membership_id, name, reason=reason)
        output.show(ctx(), result, fields=MEMBERSHIP_FIELDS)

    run.__doc__ = doc
    return memberships.command(name)(run)


for _name, _doc in (
    ("accept", "Accept a join request or a request to leave (managers)."),
    ("reject", "Reject a join request or a request to leave (managers)."),
    ("remove", "Remove a member (managers)."),
    ("leave", "Leave the project (your own membership)."),
    ("cancel", "Cancel your own pending request."),
):
    _membership_action(_name, _doc)


# --- applications ----------------------------------------------------------------------------
APPLICATION_COLUMNS: list[output.Column] = [
    ("ID", "id"),
    ("PROJECT", "project_id"),
    ("TYPE", "type"),
    ("STATE", "state"),
    ("APPLICANT", "applicant_id"),
    ("CHANGES", "changes"),
    ("CREATED", "created_at"),
]


@click.group()
def applications() -> None:
    """What needs a platform admin's approval (new projects, governed changes)."""


@applications.command("list")
@click.option("--state", "state_", help="pending (default for admins), approved, denied, ...")
@click.option("--project", "project_id", metavar="PROJECT_ID")
@json_option
def applications_list(state_: str | None, project_id: str | None) -> None:
    """The admins' queue (pending by default); for others, their own."""
    items = list(client().applications.list(state=state_, project_id=project_id))
    output.show(ctx(), items, columns=APPLICATION_COLUMNS, empty="No applications.")


@applications.command("get")
@click.argument("app_id")
@json_option
def applications_get(app_id: str) -> None:
    fields = [(h.lower(), f) for h, f in APPLICATION_COLUMNS] + [
        ("reason", "reason"),
        ("decided by", "decided_by"),
    ]
    output.show(ctx(), client().applications.get(app_id), fields=fields)


def _decision(name: str, doc: str) -> click.Command:
    @click.argument("app_id")
    @click.option("--reason", help="Kept in the history.")
    @if_match_option
    @json_option
    def run(app_id: str, reason: str | None, if_match: str | None) -> None:
        show_project(client().applications.decide(app_id, name, reason=reason, if_match=if_match))

    run.__doc__ = doc
    return applications.command(name)(run)


for _name, _doc in (
    ("approve", "Approve (platform admins): a new project starts provisioning."),
    ("deny", "Deny (platform admins): a new project is left deleted."),
    ("cancel", "Cancel your own pending application."),
    ("dismiss", "Dismiss your own denied application."),
):
    _decision(_name, _doc)


# --- invites ---------------------------------------------------------------------------------
@click.group()
def invites() -> None:
    """Invites to projects and orgs."""


@invites.command("list")
@json_option
def invites_list() -> None:
    """Your pending invites."""
    output.show(ctx(), list(client().invites.list()), columns=INVITE_COLUMNS, empty="No invites.")


@invites.command("send")
@click.argument("emails", nargs=-1, required=True)
@click.option("--project", "project_id", metavar="PROJECT_ID")
@click.option("--org", "org_id", metavar="ORG_ID")
@click.option("--role", "roles", multiple=True, required=True, help="A role (repeat).")
@click.option("--expire-days", type=click.IntRange(min=1))
@click.option("--secure", is_flag=True, help="Accepting needs the code shown here, once.")
@json_option
def invites_send(
    emails: tuple[str, ...],
    project_id: str | None,
    org_id: str | None,
    roles: tuple[str, ...],
    expire_days: int | None,
    secure: bool,
) -> None:
    """Invite EMAILS to a project (--project) or an org (--org)."""
    if (project_id is None) == (org_id is None):
        raise click.UsageError("give exactly one of --project and --org")
    items = client().invites.create(
        emails=list(emails),
        roles=list(roles),
        project_id=project_id,
        org_id=org_id,
        expire_days=expire_days,
        secure=secure or None,
    )
    output.show(ctx(), items, columns=INVITE_COLUMNS)


@invites.command("accept")
@click.argument("invite_id")
@click.option("--code", help="A secure invite's code.")
@json_option
def invites_accept(invite_id: str, code: str | None) -> None:
    output.show(ctx(), [client().invites.accept(invite_id, code=code)], columns=INVITE_COLUMNS)


@invites.command("revoke")
@click.argument("invite_id")
@if_match_option
def invites_revoke(invite_id: str, if_match: str | None) -> None:
    client().invites.revoke(invite_id, if_match=if_match)
    click.echo(f"Revoked invite {invite_id}.", err=True)


# --- users and tokens ------------------------------------------------------------------------
USER_COLUMNS: list[output.Column] = [
    ("ID", "id"),
    ("EMAIL", "email"),
    ("NAME", "display_name"),
    ("ADMIN", "is_admin"),
    ("ACTIVE", "is_active"),
    ("CREATED", "created_at"),
]
USER_FIELDS: list[output.Column] = [(h.lower(), f) for h, f in USER_COLUMNS] + [
    ("version", "version")
]


@click.group()
def users() -> None:
    """Users (platform admins; anyone: their own)."""


@users.command("list")
@click.option("--email")
@click.option("--limit", type=click.IntRange(min=1))
@json_option
def users_list(email: str | None, limit: int | None) -> None:
    items = list(itertools.islice(client().users.list(email=email), limit))
    output.show(ctx(), items, columns=USER_COLUMNS)


@users.command("get")
@click.argument("user_id")
@json_option
def users_get(user_id: str) -> None:
    output.show(ctx(), client().users.get(user_id), fields=USER_FIELDS)


@users.command("create")
@click.argument("email")
@click.argument("display_name")
@json_option
def users_create(email: str, display_name: str) -> None:
    output.show(ctx(), client().users.create(email, display_name), fields=USER_FIELDS)


@users.command("set-active")
@click.argument("user_id")
@click.argument("active", type=bool)
@if_match_option
@json_option
def users_set_active(user_id: str, active: bool, if_match: str | None) -> None:
    """Activate (true) or deactivate (false) a user: deactivation stops all their tokens."""
    user = client().users.update(user_id, is_active=active, if_match=if_match)
    output.show(ctx(), user, fields=USER_FIELDS)


TOKEN_COLUMNS: list[output.Column] = [
    ("ID", "id"),
    ("USER", "user_id"),
    ("CREATED", "created_at"),
    ("LAST USED", "last_used_at"),
]


@click.group()
def tokens() -> None:
    """API tokens of users (shown once, at creation)."""


@tokens.command("list")
@click.option("--user", "user_id", metavar="USER_ID", help="Default: yours.")
@json_option
def tokens_list(user_id: str | None) -> None:
    output.show(ctx(), list(client().tokens.list(user_id=user_id)), columns=TOKEN_COLUMNS)


@tokens.command("create")
@click.option("--user", "user_id", metavar="USER_ID", help="Default: yourself.")
@json_option
def tokens_create(user_id: str | None) -> None:
    """A new token; its secret is printed this once."""
    c = client()
    created = c.tokens.create(user_id or c.me().id)
    output.show(ctx(), created, fields=[("id", "id"), ("token", "created_token")])


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id: str) -> None:
    """Revoke a token: it stops working at once."""
    client().tokens.delete(token_id)
    click.echo(f"Revoked token {token_id}.", err=True)


GROUPS = [members, memberships, applications, invites, users, tokens]
