"""Fixtures of the workflow tests (helpers in tests/workflows/support.py).

workflow   a Workflow bound to the test's stack and the admin's token
faults     a Faults: make a client method or a module function fail N times, counted
gate       gate("<FunctionLogicalId>") -> Gate: hold that step until .released is set
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from local.stack import Stack
from tests.harness import Api
from tests.workflows.support import Faults, Gate, Workflow


@pytest.fixture
def workflow(api: Api, admin_token: str) -> Workflow:
    return Workflow(api, admin_token)


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Faults:
    return Faults(monkeypatch)


@pytest.fixture
def gate(stack: Stack) -> Iterator[Callable[[str], Gate]]:
    gates: list[Gate] = []

    def make(function: str) -> Gate:
        gates.append(Gate(stack, function))
        return gates[-1]

    yield make
    for g in gates:  # never leave an execution hanging on a failed test
        g.released.set()
