"""`projects watch` and tenantry_client.watch: the WebSocket path against a tiny server
speaking the realtime protocol (tests/cli/realtime_double.py), the polling path and the
fallback against the emulated stack, and a reconnection that reads what it missed from
history."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tenantry.domain import lifecycle_events
from tenantry_cli.main import app
from tenantry_client import Tenantry
from tenantry_client.watch import Event, WebSocketUnavailable, detail_type, watch, websocket_url
from tests.cli.realtime_double import RealtimeDouble, Session, event_message
from tests.cli.stack_transport import StackTransport
from tests.cli.test_cli import cli_output

Connect = Callable[..., Tenantry]
NewUser = Callable[[str], tuple[str, str]]
NO_SLEEP: Callable[[float], None] = lambda _s: None  # noqa: E731


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "name,to",
    [
        ("created", "creating"),
        ("provisioned", "active"),
        ("updated", None),
        ("membership_requested", None),
        ("membership_accepted", None),
        ("task_started", None),
        ("deployment_created", None),
        ("deployments_removed", None),
        ("environment_created", None),
        ("environments_created", None),
        ("secret_updated", None),
        ("app_created", None),
        ("application_denied", None),
        ("application_approved", "creating"),
        ("profile_updated", None),
        ("image_repository_created", None),
        ("suspended", "suspended"),
    ],
)
def test_detail_types_are_the_servers(name: str, to: str | None) -> None:
    assert detail_type(name, to) == lifecycle_events.detail_type({"event": name, "to": to})


def test_the_websocket_is_the_apis_host_at_ws() -> None:
    assert websocket_url("http://127.0.0.1:3000") == "ws://127.0.0.1:3000/ws"
    assert websocket_url("https://tenantry.example.com/") == "wss://tenantry.example.com/ws"
    assert websocket_url("https://x.example.com/prod") == "wss://x.example.com/prod/ws"


def quiet_history() -> httpx.MockTransport:
    """The HTTP API beside the tiny WebSocket server: the project's history is empty (the
    watch reads its end when it starts, to know what a reconnection may have missed)."""

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/projects/shop/history", request.url
        body = {
            "project_id": "shop",
            "created_at": "2026-11-27T10:00:00Z",
            "items": [],
            "next_cursor": None,
        }
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handle)


def _script_events(n: int, s: Session) -> None:
    s.expect_ping()  # the client pings after its ping interval of silence
    s.send("not json")
    s.send({"type": "pong"})
    s.send(event_message("other", 1, "created", "creating"))  # another project: filtered
    s.send(event_message("shop", 1, "created", "creating"))
    s.send(event_message("shop", 1, "created", "creating"))  # delivered twice: once
    s.send(event_message("shop", 2, "provisioned", "active"))
    s.hold(threading.Event(), timeout=5)


def test_websocket_events_of_one_project_deduplicated_with_ping() -> None:
    server = RealtimeDouble("tnt_ann", _script_events)
    with server.serving(), Tenantry("http://t", "tnt_ann", transport=quiet_history()) as c:
        got: list[Event] = []
        for event in watch(
            c, "shop", ws_url=server.url, mode="websocket", ping_interval=0.2, timeout=10
        ):
            got.append(event)
            if len(got) == 2:
                break
    assert [(e.id, e.detail_type, e.to, e.via) for e in got] == [
        ("shop/1", "Project Status Changed", "creating", "websocket"),
        ("shop/2", "Project Status Changed", "active", "websocket"),
    ]
    assert got[0].message() == event_message("shop", 1, "created", "creating")
    assert server.pings == ["ping"]


def test_a_refused_token_is_websocket_unavailable() -> None:
    server = RealtimeDouble("tnt_ann", _script_events)
    with (
        server.serving(),
        Tenantry("http://t", "tnt_bob", transport=quiet_history()) as c,
        pytest.raises(WebSocketUnavailable, match="401"),
    ):
        next(watch(c, "shop", ws_url=server.url, mode="websocket"))
    assert server.refused == [401] and server.connections == 0


def test_cli_watch_prints_websocket_events(tmp_path: Path) -> None:
    server = RealtimeDouble("tnt_ann", _script_events)
    env = {
        "TENANTRY_CONFIG": str(tmp_path / "c.toml"),
        "TENANTRY_URL": "http://127.0.0.1:9",
        "TENANTRY_TOKEN": "tnt_ann",
    }
    with server.serving():
        args = [
            "projects",
            "watch",
            "shop",
            "--ws-url",
            server.url,
            "--count",
            "2",
            "--timeout",
            "20",
        ]
        # the ping interval is 30 s on the CLI: this server's script starts with a ping, so
        # run the human format against a server that sends at once
        server.script = lambda n, s: _send_now(s)
        result = CliRunner().invoke(
            app, [*args, "--json"], obj={"transport": quiet_history()}, env=env
        )
        assert result.exit_code == 0, (result.output, result.exception)
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert lines == [
            event_message("shop", 1, "created", "creating"),
            event_message("shop", 2, "provisioned", "active"),
        ]
        assert "Watching shop (websocket)" in result.stderr
        result = CliRunner().invoke(app, args, obj={"transport": quiet_history()}, env=env)
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == [
            "2026-11-27T10:00:01Z  shop #1  Project Status Changed: created - -> creating (by user:u1)",
            "2026-11-27T10:00:02Z  shop #2  Project Status Changed: provisioned - -> active (by user:u1)",
        ]


def _send_now(s: Session) -> None:
    s.send(event_message("shop", 1, "created", "creating"))
    s.send(event_message("shop", 2, "provisioned", "active"))
    s.hold(threading.Event(), timeout=5)


# --- polling (the emulated stack) ---------------------------------------------------------------
def test_polling_yields_what_happens_after_it_began(
    connect: Connect, new_user: NewUser, admin_token: str
) -> None:
    _, ann = new_user("ann")
    c, admin = connect(ann), connect(admin_token)
    c.projects.create("Shop")
    c.projects.wait("shop", timeout=20, interval=0.05)
    before = len(list(c.projects.history("shop")))

    def change(source: str) -> None:
        assert source == "history"
        admin.projects.action("shop", "suspend")
        admin.projects.action("shop", "unsuspend", reason="paid")

    events = watch(
        c, "shop", mode="poll", interval=0.01, on_ready=change, sleep=NO_SLEEP, timeout=20
    )
    got = [next(events), next(events)]
    events.close()
    assert [(e.seq, e.event, e.detail["from"], e.to, e.via) for e in got] == [
        (before + 1, "suspend", "active", "suspended", "history"),
        (before + 2, "unsuspend", "suspended", "active", "history"),
    ]
    assert got[1].id == f"shop/{before + 2}" and got[1].detail_type == "Project Status Changed"
    assert got[0].detail["actor"].startswith("user:")


def test_polling_every_project_finds_new_ones(connect: Connect, new_user: NewUser) -> None:
    _, ann = new_user("ann")
    c = connect(ann)
    c.projects.create("Old")

    def create(source: str) -> None:
        c.projects.create("Shop")

    events = watch(c, None, mode="poll", interval=0.01, on_ready=create, sleep=NO_SLEEP, timeout=20)
    first = next(e for e in events if e.project_id == "shop")
    events.close()
    assert (first.seq, first.event, first.to) == (1, "created", "creating")


def test_cli_falls_back_to_polling_when_the_websocket_is_unavailable(
    transport: StackTransport, tmp_path: Path, new_user: NewUser
) -> None:
    _, ann = new_user("ann")
    Tenantry("http://t", ann, transport=transport).projects.create("Shop", environments=["dev"])
    env = {
        "TENANTRY_CONFIG": str(tmp_path / "c.toml"),
        "TENANTRY_URL": "http://tenantry.test",
        "TENANTRY_TOKEN": ann,
    }
    closed = f"ws://127.0.0.1:{free_port()}/ws"  # nothing listens there
    args = [
        "projects",
        "watch",
        "shop",
        "--ws-url",
        closed,
        "--from-start",
        "--interval",
        "0.05",
        "--count",
        "4",
        "--timeout",
        "30",
        "--json",
    ]
    result = CliRunner().invoke(app, args, obj={"transport": transport}, env=env)
    out = cli_output(result)
    assert out.exit_code == 0, (out, result.exception)
    assert "WebSocket unavailable" in out.stderr and "polling history every 0.05s" in out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [m["detail"]["id"] for m in lines] == ["shop/1", "shop/2", "shop/3", "shop/4"]
    assert [m["detail"]["event"] for m in lines] == [
        "created",
        "environments_created",
        "image_repository_created",
        "provisioned",
    ]
    assert {m["type"] for m in lines} == {"event"} and lines[3][
        "detail_type"
    ] == "Project Status Changed"
    # --poll goes straight to history; a project you may not see is 404: exit 3
    _, bob = new_user("bob")
    denied = CliRunner().invoke(
        app,
        ["projects", "watch", "shop", "--poll"],
        obj={"transport": transport},
        env={**env, "TENANTRY_TOKEN": bob},
    )
    assert denied.exit_code == 3 and "Error 404" in denied.stderr


def test_a_reconnection_reads_what_it_missed_from_history(
    connect: Connect, new_user: NewUser, admin_token: str
) -> None:
    _, ann = new_user("ann")
    c, admin = connect(ann), connect(admin_token)
    c.projects.create("Shop")
    c.projects.wait("shop", timeout=20, interval=0.05)
    drop_first = threading.Event()

    def script(n: int, s: Session) -> None:
        if n == 0:
            s.hold(drop_first)  # then closes: what happened meanwhile is not pushed
        else:
            s.hold(threading.Event(), timeout=5)

    def change(source: str) -> None:
        assert source == "websocket"
        admin.projects.action("shop", "suspend")
        drop_first.set()

    server = RealtimeDouble(ann, script)
    with server.serving():
        events = watch(c, "shop", ws_url=server.url, on_ready=change, sleep=NO_SLEEP, timeout=20)
        got = next(events)
        events.close()
    assert (got.event, got.to, got.via) == ("suspend", "suspended", "history")
    assert server.connections == 2
