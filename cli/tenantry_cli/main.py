"""`tenantry`: the Tenantry API from the command line (docs/cli.md).

    tenantry login --url http://127.0.0.1:3000
    tenantry projects list
    tenantry projects create "Payments API" --env dev --env prod --wait
    tenantry projects watch payments-api

Every command takes `--json` (JSON for scripts instead of a table). The API's URL and a
token come from --url/--token, else TENANTRY_URL/TENANTRY_TOKEN, else the config file that
`tenantry login` writes (tenantry_cli.config). Exit codes: tenantry_cli.output.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from tenantry_cli import config, output
from tenantry_cli.base import State, client, json_option, state, wants_json
from tenantry_client import Tenantry, TenantryError, __version__


class App(click.Group):
    """The root group: problems become a message on stderr and the exit code of their
    status (usage errors too exit 1, not click's 2, which here means bad input)."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            code = output.OTHER
        except click.ClickException as e:
            e.show()
            code = output.OTHER if isinstance(e, click.UsageError) else e.exit_code
        except TenantryError as e:
            output.report(e)
            code = output.exit_code(e)
        except BrokenPipeError:  # `tenantry ... | head`
            code = output.OK
        else:
            code = result if isinstance(result, int) else output.OK
        if not standalone_mode:
            return code
        sys.exit(code)


@click.group(cls=App, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", metavar="URL", help="The API's base URL [env TENANTRY_URL].")
@click.option(
    "--token",
    metavar="TOKEN",
    help="An API token [env TENANTRY_TOKEN; prefer it or the config file: argv is visible].",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The config file [env TENANTRY_CONFIG; default ~/.config/tenantry/config.toml].",
)
@json_option
@click.version_option(__version__, prog_name="tenantry")
@click.pass_context
def app(ctx: click.Context, url: str | None, token: str | None, config_file: Path | None) -> None:
    """Tenantry from the command line: projects, members, deployments and more."""
    injected = ctx.obj if isinstance(ctx.obj, dict) else {}
    ctx.obj = State(
        url=url, token=token, config_file=config_file, transport=injected.get("transport")
    )
    ctx.call_on_close(ctx.obj.close)


@app.command()
@click.option("--url", "login_url", metavar="URL", help="The API's base URL.")
@click.option(
    "--token",
    "login_token",
    metavar="TOKEN",
    help="The API token (asked for, hidden, when left out and not in TENANTRY_TOKEN).",
)
@click.option(
    "--ws-url", metavar="URL", help="Where `projects watch` connects (default: <url>/ws)."
)
@json_option
def login(login_url: str | None, login_token: str | None, ws_url: str | None) -> None:
    """Check a token (GET /auth/me) and keep it, with the URL, in the config file."""
    st = state()
    settings = config.resolve(
        url=login_url or st.url, token=login_token or st.token, path=st.config_file
    )
    url = settings.url or click.prompt("API URL", err=True)
    token = login_token or st.token or settings.token
    if not token or settings.sources.get("token") == "config":
        token = click.prompt("API token", hide_input=True, err=True)
    with Tenantry(url, token, transport=st.transport) as c:
        me = c.me()
    saved = {"url": url.rstrip("/"), "token": token}
    if ws_url:  # else a WebSocket URL saved by an earlier login stays
        saved["ws_url"] = ws_url
    config.save(settings.path, saved)
    if wants_json():
        output.print_json({"url": url, "config": str(settings.path), "me": output.data(me)})
        return
    email = f", {me.email}" if me.email else ""
    admin = ", platform admin" if me.is_admin else ""
    click.echo(f"Logged in to {url} as {me.display_name} ({me.kind}{email}{admin}).")
    click.echo(f"Saved to {settings.path}")


@app.command()
def logout() -> None:
    """Forget the token kept in the config file (the token itself stays valid: revoke it
    with `tenantry tokens revoke`)."""
    path = state().settings().path
    config.save(path, {"token": None})
    click.echo(f"Removed the token from {path}")


@app.command()
@json_option
def whoami() -> None:
    """Who the token belongs to."""
    me = client().me()
    output.show(
        click.get_current_context(),
        me,
        fields=[
            ("id", "id"),
            ("kind", "kind"),
            ("name", "display_name"),
            ("email", "email"),
            ("admin", "is_admin"),
        ],
    )


def _register() -> None:
    from tenantry_cli import people, projects, workloads

    for group in (*projects.GROUPS, *people.GROUPS, *workloads.GROUPS):
        app.add_command(group)


_register()


def main() -> None:
    app()
