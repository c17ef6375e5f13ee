"""The fuzzing gate forgives only what tests/fuzz/refusals.py lists: a gate that forgave
too much would turn green with the bugs it exists to catch."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from schemathesis.core.failures import ServerError
from schemathesis.openapi.checks import RejectedPositiveData, UnsupportedMethodResponse

from tests.fuzz.hooks import filter_failure
from tests.fuzz.refusals import PROBLEMS, forgiven


def _response(status: int, body: Any) -> Any:
    def json() -> Any:
        if isinstance(body, str):
            raise ValueError("not JSON")
        return body

    return SimpleNamespace(status_code=status, json=json)


def _failure(kind: type) -> Any:
    return kind.__new__(kind)  # the hook looks only at the failure's type


def test_listed_refusals_are_forgiven() -> None:
    cursor = {"type": PROBLEMS + "bad-request", "errors": [{"loc": ["query", "cursor"]}]}
    assert forgiven(400, cursor) is not None
    assert forgiven(412, {"type": PROBLEMS + "precondition-failed"}) is not None
    assert forgiven(422, {"type": PROBLEMS + "unknown-reference"}) is not None


def test_anything_else_is_kept() -> None:
    other_field = {"type": PROBLEMS + "validation", "errors": [{"loc": ["body", "name"]}]}
    assert forgiven(422, other_field) is None
    assert forgiven(400, {"type": PROBLEMS + "bad-request", "errors": [{"loc": ["body"]}]}) is None
    assert forgiven(500, {"type": PROBLEMS + "internal"}) is None
    assert forgiven(409, {"type": PROBLEMS + "precondition-failed"}) is None  # wrong status
    assert forgiven(400, "not a problem") is None


def test_the_hook_keeps_every_failure_it_does_not_know() -> None:
    keep = filter_failure(None, _failure(RejectedPositiveData), None, _response(422, {}))
    assert keep is True
    assert filter_failure(None, _failure(ServerError), None, _response(500, {})) is True
    assert filter_failure(None, _failure(RejectedPositiveData), None, _response(400, "<html>"))
    # a method no route has: API Gateway's own 404 is forgiven, anything else is kept
    gateway = _response(404, {"message": "Not Found"})
    assert filter_failure(None, _failure(UnsupportedMethodResponse), None, gateway) is False
    html = _response(501, "<html>")
    assert filter_failure(None, _failure(UnsupportedMethodResponse), None, html) is True
    cursor = _response(
        400, {"type": PROBLEMS + "bad-request", "errors": [{"loc": ["query", "cursor"]}]}
    )
    assert filter_failure(None, _failure(RejectedPositiveData), None, cursor) is False
    # the same problem reported as a server error is never forgiven
    assert filter_failure(None, _failure(ServerError), None, cursor) is True
