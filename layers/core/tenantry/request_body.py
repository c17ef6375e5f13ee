"""What a request body must be before any route sees it: JSON, UTF-8, bounded.

Powertools parses bodies by Content-Type (JSON, but also forms and multipart) and lets
decoding errors escape as 500s. The contract is JSON only, so every body is checked here
once, in the route group's entry point, and refused with a problem:

- a Content-Type other than `application/json` (a `charset` other than UTF-8 included): 415;
- more than MAX_BODY_BYTES: 413;
- not base64 when flagged so, not UTF-8, not JSON, NaN/Infinity, an integer of more than
  MAX_INT_DIGITS digits, nesting deeper than MAX_DEPTH: 400.

A body with no Content-Type is read as JSON (curl without -H still works).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from tenantry.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

MAX_BODY_BYTES = 256 * 1024
MAX_DEPTH = 32
# DynamoDB numbers hold 38 significant digits; no field of ours needs more than 18.
MAX_INT_DIGITS = 38
METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def check_request_body(event: dict[str, Any]) -> None:
    """Raise the problem a body deserves, or return when it is acceptable JSON (or absent)."""
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "")
    body = event.get("body")
    if method not in METHODS_WITH_BODY or body in (None, ""):
        return
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    _check_content_type(headers.get("content-type", ""))
    raw = _raw_bytes(body, bool(event.get("isBase64Encoded")))
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the request body is over {MAX_BODY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(f"the request body is not valid UTF-8 (byte {exc.start})", ("body",)) from exc
    parse_json(text)


def parse_json(
    text: str | bytes, what: str = "request body", loc: tuple[str, ...] = ("body",)
) -> Any:
    """json.loads with the limits above, or BadRequest naming `what` and `loc`. Also for
    JSON that comes back from clients inside opaque tokens (cursors)."""
    too_deep = f"the {what} nests too deeply (at most {MAX_DEPTH} levels)"
    try:
        value = json.loads(
            text, parse_constant=_no_constants, parse_int=_bounded_int, parse_float=_finite
        )
    except RecursionError as exc:
        raise _bad(too_deep, loc) from exc
    except ValueError as exc:  # JSONDecodeError, bad UTF-8 in bytes, and our own refusals
        raise _bad(f"the {what} is not valid JSON: {_reason(exc)}", loc) from exc
    if _depth(value) > MAX_DEPTH:
        raise _bad(too_deep, loc)
    return value


def _check_content_type(value: str) -> None:
    if not value.strip():
        return
    media_type, *params = (part.strip() for part in value.split(";"))
    if media_type.lower() != "application/json":
        raise UnsupportedMediaType(
            f"send the body as application/json, not {media_type or 'nothing'}",
            headers={"Accept": "application/json"},
        )
    for param in params:
        name, _, charset = param.partition("=")
        if name.strip().lower() == "charset" and charset.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise UnsupportedMediaType(
                "the body must be UTF-8", headers={"Accept": "application/json"}
            )


def _raw_bytes(body: str, is_base64: bool) -> bytes:
    if not is_base64:
        return body.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad("the request body is flagged base64 but is not", ("body",)) from exc


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _depth(value: Any) -> int:
    """The nesting depth of parsed JSON, iteratively (no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            stack.extend((child, depth + 1) for child in node)
    return deepest


def _reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)


def _bad(detail: str, loc: tuple[str, ...]) -> BadRequest:
    return BadRequest(detail, errors=[{"loc": list(loc), "msg": detail}])
