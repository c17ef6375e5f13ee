"""`tenantry` run in process (click's CliRunner) against the emulated stack through the
main flows of the README's walk-throughs: login and the config file, projects with an
idempotency key, paging, If-Match, members and memberships, applications, invites,
environments and secrets, deployments and tasks with a test agent, deletion; problems as
messages on stderr with the exit code of their status; --json that parses."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from tenantry_cli import config
from tenantry_cli.main import app
from tests.agent_double import TestAgent
from tests.catalog_seed import seed_chart
from tests.cli.stack_transport import StackTransport
from tests.harness import Api, wait_until

URL = "http://tenantry.test"
NewUser = Callable[[str], tuple[str, str]]


@dataclass
class Out:
    exit_code: int
    stdout: str
    stderr: str


def cli_output(result: Result) -> Out:
    """The run's output, less the metrics the in-process handlers print (CloudWatch's
    embedded metric format, one JSON line each, on the same stdout): a CLI talking to a
    server over HTTP never prints those."""
    lines = result.stdout.splitlines(keepends=True)
    stdout = "".join(line for line in lines if not line.startswith('{"_aws":'))
    return Out(result.exit_code, stdout, result.stderr)


class Cli:
    """Runs `tenantry ARGS` on the test's stack, with a config file of its own."""

    def __init__(self, transport: httpx.BaseTransport, config_file: Path) -> None:
        self.transport = transport
        self.config_file = config_file

    def __call__(
        self,
        *args: str,
        token: str | None = None,
        env: dict[str, str] | None = None,
        input: str | None = None,
        code: int = 0,
    ) -> Out:
        base = {
            "TENANTRY_CONFIG": str(self.config_file),
            "TENANTRY_URL": None,
            "TENANTRY_TOKEN": None,
        }
        argv = ["--url", URL, *(["--token", token] if token else []), *args]
        result = CliRunner().invoke(
            app, argv, obj={"transport": self.transport}, env={**base, **(env or {})}, input=input
        )
        out = cli_output(result)
        assert out.exit_code == code, (args, out, result.exception)
        return out

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self(*args, "--json", **kwargs).stdout)


@pytest.fixture
def cli(transport: StackTransport, tmp_path: Path) -> Cli:
    return Cli(transport, tmp_path / "tenantry" / "config.toml")


# --- login and settings ------------------------------------------------------------------------
def test_login_verifies_the_token_and_keeps_it_private(cli: Cli, new_user: NewUser) -> None:
    _, token = new_user("ann")
    out = cli("login", input=f"{token}\n")  # the token asked for, hidden
    assert "Logged in to http://tenantry.test as Ann (user, ann@example.com)" in out.stdout
    assert stat.S_IMODE(os.stat(cli.config_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cli.config_file.parent).st_mode) == 0o700
    assert config.load(cli.config_file) == {"url": URL, "token": token}
    # a later command needs neither flag nor variable
    result = CliRunner().invoke(
        app,
        ["whoami", "--json"],
        obj={"transport": cli.transport},
        env={"TENANTRY_CONFIG": str(cli.config_file), "TENANTRY_URL": None, "TENANTRY_TOKEN": None},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(cli_output(result).stdout)["display_name"] == "Ann"
    # a WebSocket URL saved once stays through a later login that names none
    cli("login", "--token", token, "--ws-url", "ws://elsewhere.test/ws")
    cli("login", "--token", token)
    assert config.load(cli.config_file)["ws_url"] == "ws://elsewhere.test/ws"
    cli("logout")
    assert config.load(cli.config_file) == {"url": URL, "ws_url": "ws://elsewhere.test/ws"}


def test_login_refuses_a_bad_token_and_writes_nothing(cli: Cli) -> None:
    out = cli("login", "--token", "tnt_wrong-token-0123456789abcdefghij", code=4)
    assert out.stderr.startswith("Error 401: ")
    assert not cli.config_file.exists()


def test_flags_win_over_variables_which_win_over_the_file(
    cli: Cli, new_user: NewUser, admin_token: str
) -> None:
    _, ann = new_user("ann")
    _, bob = new_user("bob")
    config.save(cli.config_file, {"url": URL, "token": ann})
    runner = CliRunner()

    def who(*argv: str, env: dict[str, str]) -> str:
        full_env = {
            "TENANTRY_CONFIG": str(cli.config_file),
            "TENANTRY_URL": None,
            "TENANTRY_TOKEN": None,
            **env,
        }
        result = runner.invoke(
            app, [*argv, "whoami", "--json"], obj={"transport": cli.transport}, env=full_env
        )
        assert result.exit_code == 0, result.output
        return str(json.loads(cli_output(result).stdout)["display_name"])

    assert who(env={}) == "Ann"
    assert who(env={"TENANTRY_TOKEN": bob}) == "Bob"
    assert who("--token", admin_token, env={"TENANTRY_TOKEN": bob}) != "Bob"
    settings = config.resolve(
        url="http://flag", env={"TENANTRY_URL": "http://env"}, path=cli.config_file
    )
    assert (settings.url, settings.sources["url"], settings.sources["token"]) == (
        "http://flag",
        "flag",
        "config",
    )
    settings = config.resolve(env={"TENANTRY_URL": "http://env"}, path=cli.config_file)
    assert (settings.url, settings.sources["url"]) == ("http://env", "env")
    assert config.resolve(env={}, path=cli.config_file).url == URL


def test_no_url_or_token_is_a_usage_error(transport: StackTransport, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["projects", "list"],
        obj={"transport": transport},
        env={
            "TENANTRY_CONFIG": str(tmp_path / "none.toml"),
            "TENANTRY_URL": None,
            "TENANTRY_TOKEN": None,
        },
    )
    assert result.exit_code == 1
    assert "no API URL" in result.stderr


def test_a_config_file_that_is_no_toml_is_reported(cli: Cli, new_user: NewUser) -> None:
    cli.config_file.parent.mkdir(parents=True)
    cli.config_file.write_text("url = [unclosed")
    out = cli("whoami", token="tnt_x", code=1)
    assert "is not valid TOML" in out.stderr


# --- projects ----------------------------------------------------------------------------------
def test_projects_create_list_get_update_delete(cli: Cli, new_user: NewUser) -> None:
    _, ann = new_user("ann")
    create = (
        "projects",
        "create",
        "Payments API",
        "-e",
        "dev",
        "-e",
        "prod",
        "-l",
        "team=pay",
        "--idempotency-key",
        "demo-1",
    )
    first = cli.json(*create, token=ann)
    again = cli.json(*create, token=ann)  # the same key: the first answer, nothing new
    assert first["id"] == again["id"] == "payments-api" and again["status"] == "creating"
    assert [p["id"] for p in cli.json("projects", "list", token=ann)] == ["payments-api"]
    # the same key with another body: 422, exit 2, the problem on stderr
    out = cli("projects", "create", "Payments", "--idempotency-key", "demo-1", token=ann, code=2)
    assert out.stderr.startswith("Error 422: ") and out.stdout == ""

    waited = cli("projects", "create", "Storefront", "--wait", token=ann)
    assert "status:       active" in waited.stdout and "Ready" in waited.stdout
    table = cli("projects", "list", "--page-size", "1", token=ann).stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "STATUS", "ENVIRONMENTS", "LABELS", "CREATED"]
    assert [line.split()[0] for line in table[1:]] == ["payments-api", "storefront"]
    page = cli.json("projects", "list", "--page", "--page-size", "1", token=ann)
    assert [p["id"] for p in page["items"]] == ["payments-api"] and page["next_cursor"]
    rest = cli.json(
        "projects", "list", "--cursor", page["next_cursor"], "--page-size", "1", token=ann
    )
    assert [p["id"] for p in rest["items"]] == ["storefront"]
    one = cli("projects", "list", "--page", "--page-size", "1", token=ann)
    assert "next page: --cursor " in one.stderr
    assert [p["id"] for p in cli.json("projects", "list", "-l", "team=pay", token=ann)] == [
        "payments-api"
    ]

    got = cli.json("projects", "get", "storefront", token=ann)
    version = got["version"]
    changed = cli.json(
        "projects",
        "update",
        "storefront",
        "--description",
        "Shop front",
        "--if-match",
        str(version),
        token=ann,
    )
    assert changed["description"] == "Shop front" and changed["version"] == version + 1
    stale = cli(
        "projects",
        "update",
        "storefront",
        "--description",
        "Stale",
        "--if-match",
        str(version),
        token=ann,
        code=5,
    )
    assert stale.stderr.startswith("Error 412: ")
    history = cli.json("projects", "history", "storefront", token=ann)
    assert [h["event"] for h in history][:1] == ["created"] and history[-1]["event"] == "updated"
    lines = cli("projects", "history", "storefront", token=ann).stdout.splitlines()
    assert lines[0].split() == ["AT", "EVENT", "FROM", "TO", "ACTOR"] and "provisioned" in lines[-2]

    cli("projects", "delete", "storefront", token=ann, input="n\n", code=1)  # asked, declined
    assert cli.json("projects", "get", "storefront", token=ann)["status"] == "active"
    deleted = cli.json(
        "projects", "delete", "storefront", "--yes", "--wait", "--reclaim", token=ann
    )
    assert deleted["status"] == "deleted"
    again_ = cli("projects", "create", "Storefront", token=ann, code=5)
    assert "Error 409" in again_.stderr


def test_errors_exit_by_status(cli: Cli, new_user: NewUser, admin_token: str) -> None:
    _, ann = new_user("ann")
    _, bob = new_user("bob")
    cli("projects", "create", "Shop", "--wait", token=ann)
    out = cli("projects", "get", "shop", token=bob, code=3)
    assert out.stderr.startswith("Error 404: Not found: project ") and "request id" in out.stderr
    cli("projects", "action", "shop", "suspend", token=ann, code=4)  # Ann may see, not suspend
    cli("projects", "action", "shop", "suspend", token=admin_token)
    conflict = cli("projects", "action", "shop", "suspend", token=admin_token, code=5)
    assert "invalid state transition" in conflict.stderr.lower() or "409" in conflict.stderr
    cli("whoami", token="tnt_revoked-or-unknown-0123456789abcd", code=4)
    bad = cli("projects", "list", "--field-selector", "spec.owner=me", token=ann, code=2)
    assert "field_selector" in bad.stderr
    cli("projects", "list", "--page-size", "1000", token=ann, code=1)  # click's own check: usage


def test_server_errors_and_unreachable_servers_exit_6(tmp_path: Path) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"message": "Internal Server Error"})

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    env = {
        "TENANTRY_CONFIG": str(tmp_path / "c.toml"),
        "TENANTRY_URL": URL,
        "TENANTRY_TOKEN": "tnt_x",
    }
    for transport, message in (
        (httpx.MockTransport(broken), "Error 500: Internal Server Error"),
        (httpx.MockTransport(down), "connection refused"),
    ):
        result = CliRunner().invoke(
            app, ["projects", "get", "x"], obj={"transport": transport}, env=env
        )
        assert result.exit_code == 6 and message in result.stderr, result.output


# --- people ------------------------------------------------------------------------------------
def test_members_memberships_and_invites(cli: Cli, new_user: NewUser) -> None:
    _, ann = new_user("ann")
    bob_id, bob = new_user("bob")
    _, carol = new_user("carol")
    cli("projects", "create", "Shop", "--join-policy", "moderated", "--wait", token=ann)
    joined = cli.json("memberships", "join", "shop", token=bob)
    assert joined["state"] == "requested"
    mine = cli.json("memberships", "list", "--project", "shop", token=ann)
    request = next(m for m in mine if m["user_id"] == bob_id)
    assert request["allowed_actions"] == ["accept", "reject"]
    assert cli.json("memberships", "accept", request["id"], token=ann)["state"] == "accepted"
    invite = cli.json(
        "members", "add", "shop", "--email", "carol@example.com", "--role", "viewer", token=ann
    )
    assert invite[0]["status"] == "pending"
    assert [i["id"] for i in cli.json("invites", "list", token=carol)] == [invite[0]["id"]]
    cli("invites", "accept", invite[0]["id"], token=carol)
    people = cli("members", "list", "shop", token=ann).stdout.splitlines()
    assert people[0].split()[:4] == ["USER", "NAME", "ROLE", "STATE"]
    assert sorted(line.split()[2] for line in people[1:]) == ["member", "owner", "viewer"]
    cli("members", "remove", "shop", bob_id, "--yes", token=carol, code=4)  # a viewer may not
    removed = cli.json("members", "remove", "shop", bob_id, "--yes", token=ann)
    assert removed["state"] == "removed"
    cli("projects", "get", "shop", token=bob, code=3)
    secure = cli.json(
        "invites",
        "send",
        "dan@example.com",
        "--project",
        "shop",
        "--role",
        "member",
        "--secure",
        token=ann,
    )
    assert secure[0]["code"]
    cli("invites", "revoke", secure[0]["id"], token=ann)


@pytest.fixture
def stack_parameters(request: pytest.FixtureRequest) -> dict[str, str]:
    return getattr(request, "param", {})


@pytest.mark.parametrize("stack_parameters", [{"ApprovalPolicy": "moderated"}], indirect=True)
def test_applications_approve_and_deny(cli: Cli, new_user: NewUser, admin_token: str) -> None:
    _, ann = new_user("ann")
    assert cli.json("projects", "create", "Shop", token=ann)["status"] == "uninitialized"
    cli("projects", "create", "Other", token=ann)
    queue = cli.json("applications", "list", token=admin_token)
    assert sorted((a["project_id"], a["type"], a["state"]) for a in queue) == [
        ("other", "create", "pending"),
        ("shop", "create", "pending"),
    ]
    table = cli("applications", "list", token=admin_token).stdout
    assert table.splitlines()[0].split()[:4] == ["ID", "PROJECT", "TYPE", "STATE"]
    shop = next(a["id"] for a in queue if a["project_id"] == "shop")
    other = next(a["id"] for a in queue if a["project_id"] == "other")
    cli("applications", "approve", shop, token=ann, code=4)  # only platform admins decide
    assert cli.json("applications", "approve", shop, token=admin_token)["status"] == "creating"
    assert (
        cli.json("applications", "deny", other, "--reason", "duplicate", token=admin_token)[
            "status"
        ]
        == "deleted"
    )
    assert cli.json("applications", "list", token=admin_token) == []


# --- environments, secrets, deployments, tasks, clusters -----------------------------------------
def test_deployments_and_tasks_with_an_agent(
    api: Api, cli: Cli, admin_token: str, new_user: NewUser
) -> None:
    _, ann = new_user("ann")
    cluster = cli.json("clusters", "create", "east", "--region", "eu-west-1", token=admin_token)
    assert cluster["agent_token"] and cluster["is_ok"] is False
    cli("clusters", "list", token=ann, code=4)
    agent = TestAgent(api, cluster["id"], "east", cluster["agent_token"])
    cli("projects", "create", "Shop", "--env", "dev", "--cluster", "east", token=admin_token)
    agent.do_all("Done")  # the namespace
    cli(
        "projects", "create", "Shop", "--env", "dev", "--cluster", "east", token=admin_token, code=5
    )
    wait_until(
        lambda: cli.json("projects", "get", "shop", token=admin_token)["status"] == "active",
        timeout=20,
    )
    envs = cli("environments", "list", "shop", token=admin_token).stdout
    assert " dev " in envs
    secret = cli.json(
        "secrets", "set", "shop", "dev", "db", "password", token=admin_token, input="s3cr3t\n"
    )
    assert secret[0]["name"] == "password" and "contents" not in secret[0]
    again = cli.json(
        "secrets", "set", "shop", "dev", "db", "password", token=admin_token, input="other\n"
    )
    assert again[0]["version"] == 2
    listed = cli("secrets", "list", "shop", "dev", token=admin_token).stdout
    assert "password" in listed and "s3cr3t" not in listed and "other" not in listed

    chart = seed_chart(
        values_ui={"inputs": [{"id": "replicas", "type": "number", "required": True}]},
        actions=[{"id": "flush-cache"}],
    )
    base = (
        "deployments",
        "create",
        "shop",
        "--kind",
        "kind-web",
        "--cluster",
        cluster["id"],
        "--env",
        "dev",
        "--chart",
        chart["id"],
    )
    cli(*base, "--config", "{}", token=admin_token, code=2)  # replicas is required
    cli(*base, "--config", "[1]", token=admin_token, code=1)  # not an object: usage
    dep = cli.json(*base, "--name", "front", "--config", '{"replicas": 2}', token=admin_token)
    assert (dep["status"], dep["release_name"]) == ("Installing", "web-front")
    agent.do_all("Done")
    wait_until(
        lambda: cli.json("deployments", "get", "shop", dep["id"], token=admin_token)["status"]
        == "Running",
        timeout=20,
    )
    listed = cli("deployments", "list", "shop", token=admin_token).stdout.splitlines()
    assert listed[1].split()[:3] == [dep["id"], "web-front", "Running"]
    upgraded = cli.json(
        "deployments", "update", "shop", dep["id"], "--config", '{"replicas": 3}', token=admin_token
    )
    assert upgraded["status"] == "Upgrading"
    agent.do_all("Done")
    wait_until(
        lambda: cli.json("deployments", "get", "shop", dep["id"], token=admin_token)["status"]
        == "Running",
        timeout=20,
    )
    tasks = cli.json("tasks", "list", "shop", "--deployment", dep["id"], token=admin_token)
    assert sorted((next(iter(t["operation"])), t["status"]) for t in tasks) == [
        ("Install", "Done"),
        ("Upgrade", "Done"),
    ]
    later = cli.json(
        "tasks",
        "invoke",
        "shop",
        dep["id"],
        "flush-cache",
        "--at",
        "2031-01-01T03:00:00Z",
        token=admin_token,
    )
    assert later["status"] == "Pending"
    assert (
        cli.json("tasks", "cancel", "shop", later["id"], "--reason", "not yet", token=admin_token)[
            "status"
        ]
        == "Canceled"
    )
    cli("tasks", "cancel", "shop", later["id"], token=admin_token, code=5)
    table = cli(
        "tasks", "list", "shop", "--status", "Canceled", token=admin_token
    ).stdout.splitlines()
    assert len(table) == 2 and "InvokeAction" in table[1]
    gone = cli.json("deployments", "delete", "shop", dep["id"], "--yes", token=admin_token)
    assert gone["status"] == "Deleting"
    agent.do_all("Done")
    wait_until(lambda: not cli.json("deployments", "list", "shop", token=admin_token), timeout=20)
    cli("deployments", "get", "shop", dep["id"], token=admin_token, code=3)
    cli(
        "clusters", "delete", cluster["id"], "--yes", token=admin_token, code=5
    )  # shop has a namespace there
    rotated = cli.json("clusters", "rotate-token", cluster["id"], token=admin_token)
    assert rotated["agent_token"] != cluster["agent_token"]
