"""Schemathesis hooks for the fuzzing gate (loaded with SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

import schemathesis
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.openapi.checks import RejectedPositiveData, UnsupportedMethodResponse

from tests.fuzz.refusals import forgiven, gateway_has_no_such_route


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:  # type: ignore[no-untyped-def]
    """Keep every failure except a valid request refused for one of the listed reasons,
    API Gateway's own 404 for a method no route has, and a schema-violating request refused
    as too large (413: the body's size is judged before its contents, as API Gateway does;
    a refusal all the same)."""
    try:
        body = response.json()
    except ValueError:
        return True
    if isinstance(failure, UnsupportedMethodResponse):
        return not gateway_has_no_such_route(response.status_code, body)
    if isinstance(failure, AcceptedNegativeData):
        return not (
            response.status_code == 413 and str(body.get("type", "")).endswith("/payload-too-large")
        )
    if isinstance(failure, RejectedPositiveData):
        return forgiven(response.status_code, body) is None
    return True
