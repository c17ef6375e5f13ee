"""Schemathesis hooks for the fuzzing gate (loaded with SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData

from tests.fuzz.refusals import forgiven


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:  # type: ignore[no-untyped-def]
    """Keep every failure except a valid request refused for one of the listed reasons."""
    if not isinstance(failure, RejectedPositiveData):
        return True
    try:
        problem = response.json()
    except ValueError:
        return True
    return forgiven(response.status_code, problem) is None
