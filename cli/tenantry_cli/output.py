"""What the CLI prints: plain aligned columns for people, JSON for scripts (`--json`), and
problems on stderr with an exit code by status.

Exit codes (docs/cli.md):

    0  ok
    1  usage or anything else (a bad flag, no URL or token configured, a wait that ran out)
    2  bad input: 400, 413, 415, 422
    3  not found: 404, 410
    4  not allowed: 401, 403
    5  conflict: 409, 412
    6  server or connection: 5xx, 429 (after the client's retries), unreachable
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import click

from tenantry_cli.base import JSON_KEY
from tenantry_client import ApiError, TransportError
from tenantry_client.models import Model

OK, OTHER, BAD_INPUT, NOT_FOUND, FORBIDDEN, CONFLICT, SERVER = range(7)

Column = tuple[str, str | Callable[[Any], Any]]  # header, field name or getter


def exit_code(error: BaseException) -> int:
    if isinstance(error, ApiError):
        status = error.status
        if status in (400, 413, 415, 422):
            return BAD_INPUT
        if status in (404, 410):
            return NOT_FOUND
        if status in (401, 403):
            return FORBIDDEN
        if status in (409, 412):
            return CONFLICT
        if status == 429 or status >= 500:
            return SERVER
        return OTHER
    if isinstance(error, TransportError):
        return SERVER
    return OTHER


def report(error: BaseException) -> None:
    """The problem's title and detail (and each offending field) on stderr."""
    if isinstance(error, ApiError):
        text = f"Error {error.status}: {error.message}"
        if error.request_id:
            text += f"\n  (request id {error.request_id})"
    else:
        text = f"Error: {error}"
    click.echo(text, err=True)


def data(value: Any) -> Any:
    """JSON-ready data of models, lists of models, or plain values."""
    if isinstance(value, Model):
        return value.json_data()
    if isinstance(value, list | tuple):
        return [data(v) for v in value]
    if isinstance(value, dict):
        return {k: data(v) for k, v in value.items()}
    return value


def print_json(value: Any) -> None:
    click.echo(json.dumps(data(value), indent=2, ensure_ascii=False))


def json_line(value: Any) -> str:
    """One JSON document on one line (JSON lines, for streams)."""
    return json.dumps(data(value), ensure_ascii=False, separators=(",", ":"))


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(cell(v) for v in value) if value else "-"
    if isinstance(value, dict):
        return ",".join(f"{k}={cell(v)}" for k, v in value.items()) if value else "-"
    return str(value).replace("\n", " ")


def _get(item: Any, spec: str | Callable[[Any], Any]) -> Any:
    if callable(spec):
        return spec(item)
    if isinstance(item, Mapping):
        return item.get(spec)
    return getattr(item, spec, None)


def table(items: Iterable[Any], columns: Sequence[Column]) -> list[str]:
    """Aligned columns (two spaces apart), a header row first; "-" for nothing."""
    rows = [[h for h, _ in columns]]
    rows += [[cell(_get(item, spec)) for _, spec in columns] for item in items]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def print_table(items: Iterable[Any], columns: Sequence[Column], *, empty: str = "") -> None:
    items = list(items)
    if not items and empty:
        click.echo(empty, err=True)
        return
    for line in table(items, columns):
        click.echo(line)


def print_fields(item: Any, fields: Sequence[Column]) -> None:
    """One object as `name: value` lines, names aligned."""
    width = max(len(h) for h, _ in fields)
    for header, spec in fields:
        click.echo(f"{(header + ':').ljust(width + 1)} {cell(_get(item, spec))}")


def show(
    ctx: click.Context,
    value: Any,
    *,
    columns: Sequence[Column] | None = None,
    fields: Sequence[Column] | None = None,
    empty: str = "",
) -> None:
    """`value` as JSON with --json, else as a table (a list) or fields (one object)."""
    if ctx.meta.get(JSON_KEY):
        print_json(value)
    elif columns is not None:
        print_table(value, columns, empty=empty)
    elif fields is not None:
        print_fields(value, fields)
    else:
        print_json(value)
