"""Fixtures of the client's and the CLI's tests: the emulated stack (tests/conftest.py's
`api`) reached through an httpx transport, and users with tokens.

    transport       tests.cli.stack_transport.StackTransport on the test's stack
    connect(token)  a tenantry_client.Tenantry on that transport (closed after the test)
    new_user(name)  creates <name>@example.com and a token: (user id, token)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tenantry_client import Tenantry
from tests.cli.stack_transport import StackTransport
from tests.harness import Api

BASE_URL = "http://tenantry.test"


@pytest.fixture
def transport(api: Api) -> StackTransport:
    return StackTransport(api.stack)


@pytest.fixture
def sleeps() -> list[float]:
    """What the clients made by `connect` slept between retries (they do not sleep)."""
    return []


@pytest.fixture
def connect(transport: StackTransport, sleeps: list[float]) -> Iterator[Callable[..., Tenantry]]:
    made: list[Tenantry] = []

    def make(token: str | None, **options: object) -> Tenantry:
        client = Tenantry(BASE_URL, token, transport=transport, sleep=sleeps.append, **options)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def new_user(
    connect: Callable[..., Tenantry], admin_token: str
) -> Callable[[str], tuple[str, str]]:
    admin = connect(admin_token)

    def make(name: str) -> tuple[str, str]:
        user = admin.users.create(f"{name}@example.com", name.capitalize())
        return user.id, admin.tokens.create(user.id).created_token

    return make
