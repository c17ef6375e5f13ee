"""Shared fixtures: every test that takes `api` gets the whole stack from template.yaml,
deployed in its own in-process moto mock (tables, state machines executing real ASL, Lambda
Tasks dispatched to the real handlers), with Wait/Retry sleeps scaled down.

    api            tests.harness.Api: get/post/put/patch/delete(path, token=None, json=None,
                   headers=None, query=None) -> Response(.status, .headers, .json(), .body);
                   also .stack, .invoke(fn, event), .executions(sm), .wait_for_executions()
    stack          the deployed local.stack.Stack (same as api.stack)
    admin_token    the platform admin's API token (ensure_admin with a fixed secret)
    stack_parameters  template parameter overrides, {} by default; override per module:
                   @pytest.fixture
                   def stack_parameters(): return {"ApprovalPolicy": "moderated"}
    wait_until     tests.harness.wait_until(predicate, timeout=10, interval=0.05)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.stack import Stack
from tests.harness import Api, emulated, ensure_test_admin, wait_until


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    return {}


@pytest.fixture
def api(stack_parameters: dict[str, str]) -> Iterator[Api]:
    with emulated(stack_parameters) as client:
        yield client


@pytest.fixture
def stack(api: Api) -> Stack:
    return api.stack


@pytest.fixture
def admin_token(api: Api) -> str:
    return ensure_test_admin()


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., Any]:
    return wait_until
