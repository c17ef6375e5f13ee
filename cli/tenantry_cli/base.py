"""What every command shares: the settings, the client, `--json`, and small parsers."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx

from tenantry_cli import config
from tenantry_client import Tenantry

F = TypeVar("F", bound=Callable[..., Any])
JSON_KEY = "tenantry.json"


@dataclass
class State:
    """The root command's options, and what tests inject (`obj={"transport": ...}`)."""

    url: str | None = None
    token: str | None = None
    ws_url: str | None = None
    config_file: Path | None = None
    transport: httpx.BaseTransport | None = None
    _client: Tenantry | None = field(default=None, repr=False)

    def settings(self) -> config.Settings:
        try:
            return config.resolve(
                url=self.url, token=self.token, ws_url=self.ws_url, path=self.config_file
            )
        except config.ConfigError as e:
            raise click.ClickException(str(e)) from e

    def client(self) -> Tenantry:
        if self._client is None:
            settings = self.settings()
            if not settings.url:
                raise click.UsageError(
                    "no API URL: pass --url, set TENANTRY_URL, or run `tenantry login`"
                )
            if not settings.token:
                raise click.UsageError(
                    "no token: pass --token, set TENANTRY_TOKEN, or run `tenantry login`"
                )
            self._client = Tenantry(settings.url, settings.token, transport=self.transport)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def state(ctx: click.Context | None = None) -> State:
    ctx = ctx or click.get_current_context()
    return ctx.find_object(State) or State()


def client() -> Tenantry:
    return state().client()


def json_option(f: F) -> F:
    """`--json` on a command: print JSON instead of a table (also `tenantry --json ...`)."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.meta[JSON_KEY] = True

    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=remember,
        help="Print JSON for scripts instead of a table.",
    )(f)


def wants_json() -> bool:
    return bool(click.get_current_context().meta.get(JSON_KEY))


def if_match_option(f: F) -> F:
    return click.option(
        "--if-match",
        "if_match",
        metavar="VERSION",
        help='Change it only if its version is still this one (3, "3" or *); 412 otherwise.',
    )(f)


def key_value(pairs: tuple[str, ...], what: str = "label") -> dict[str, str]:
    """`k=v` pairs (repeated options) as a dict."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint=what)
        out[key] = value
    return out


def json_value(text: str | None, what: str) -> Any:
    """A JSON value given inline, or `@file` (`@-`: stdin)."""
    if text is None:
        return None
    if text.startswith("@"):
        name = text[1:]
        try:
            text = click.get_text_stream("stdin").read() if name == "-" else Path(name).read_text()
        except OSError as e:
            raise click.BadParameter(f"cannot read {name}: {e.strerror}", param_hint=what) from e
    try:
        return json.loads(text)
    except ValueError as e:
        raise click.BadParameter(f"not JSON: {e}", param_hint=what) from e


def json_object(text: str | None, what: str) -> dict[str, Any] | None:
    value = json_value(text, what)
    if value is not None and not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint=what)
    return value


def confirm(yes: bool, question: str) -> None:
    if not yes:
        click.confirm(question, abort=True, err=True)
