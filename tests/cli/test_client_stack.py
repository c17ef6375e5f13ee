"""The client against the emulated stack (every request through API Gateway's route
match, the authorizer and the handlers, in process): idempotent creation across a lost
answer, lists followed page by page, If-Match, and the API's problems as exceptions."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tenantry_client import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Tenantry,
    Unauthorized,
)
from tests.cli.stack_transport import StackTransport
from tests.harness import Api

Connect = Callable[..., Tenantry]
NewUser = Callable[[str], tuple[str, str]]


class LosesFirstAnswer(httpx.BaseTransport):
    """The first POST reaches the stack, but its answer is lost: the client sees a 503."""

    def __init__(self, inner: StackTransport) -> None:
        self.inner = inner
        self.lost = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and not self.lost:
            self.lost = True
            return httpx.Response(
                503,
                headers={"retry-after": "1"},
                json={"title": "Service Unavailable", "status": 503},
            )
        return response


def test_a_create_whose_answer_was_lost_is_retried_and_creates_one_project(
    api: Api, transport: StackTransport, new_user: NewUser, sleeps: list[float]
) -> None:
    _, token = new_user("ann")
    flaky = LosesFirstAnswer(transport)
    with Tenantry("http://tenantry.test", token, transport=flaky, sleep=sleeps.append) as c:
        project = c.projects.create("Payments API", environments=["dev"], labels={"team": "pay"})
        assert (project.id, project.status, project.etag) == ("payments-api", "creating", '"1"')
        assert sleeps == [1.0]
        posts = [r for r in transport.requests if r.method == "POST" and r.url.path == "/projects"]
        assert (
            len(posts) == 2
            and posts[0].headers["idempotency-key"] == posts[1].headers["idempotency-key"]
        )
        assert [p.id for p in c.projects.list()] == ["payments-api"]
        created = [h for h in c.projects.history("payments-api") if h.event == "created"]
        assert len(created) == 1


def test_lists_are_followed_page_by_page(connect: Connect, new_user: NewUser) -> None:
    _, token = new_user("ann")
    c = connect(token)
    for name in ("Alpha", "Beta", "Gamma"):
        c.projects.create(name)
    page = c.projects.page(limit=1)
    assert len(page.items) == 1 and page.next_cursor
    assert [p.id for p in c.projects.list(limit=1)] == ["alpha", "beta", "gamma"]
    assert [p.id for p in c.projects.list(limit=1, sort_by="-created_at")] == [
        "gamma",
        "beta",
        "alpha",
    ]
    assert [p.id for p in c.projects.list(filter_by="BETA")] == ["beta"]


def test_get_carries_the_etag_and_a_stale_if_match_is_412(
    api: Api, connect: Connect, new_user: NewUser
) -> None:
    _, token = new_user("ann")
    c = connect(token)
    c.projects.create("Shop", environments=["dev"])
    read = c.projects.wait("shop", timeout=20, interval=0.05)
    assert read.status == "active" and read.etag == f'"{read.version}"'
    changed = c.projects.update("shop", description="Web shop", if_match=read)
    assert changed.description == "Web shop" and changed.version == read.version + 1
    try:
        c.projects.update("shop", description="Stale", if_match=read)
    except PreconditionFailed as e:
        assert e.status == 412 and e.problem_type == "precondition-failed"
    else:
        raise AssertionError("a stale If-Match was accepted")
    assert c.projects.get("shop").description == "Web shop"
    assert c.projects.update("shop", description="Any", if_match="*").description == "Any"


def test_the_apis_problems_are_exceptions(
    connect: Connect, new_user: NewUser, admin_token: str
) -> None:
    _, ann = new_user("ann")
    bob_id, bob = new_user("bob")
    a, b, admin = connect(ann), connect(bob), connect(admin_token)
    a.projects.create("Shop", join_policy="auto")
    a.projects.wait("shop", timeout=20, interval=0.05)
    try:
        b.projects.get("shop")
    except NotFound as e:
        assert e.status == 404 and e.title and e.request_id
    else:
        raise AssertionError("Bob saw Ann's project")
    a.memberships.enroll("shop", user_id=bob_id, role="viewer")
    assert b.projects.get("shop").id == "shop"
    try:
        b.projects.update("shop", description="Mine")
    except Forbidden as e:
        assert e.status == 403
    else:
        raise AssertionError("a viewer changed the project")
    admin.projects.action("shop", "suspend")
    try:
        admin.projects.action("shop", "suspend")
    except Conflict as e:
        assert e.problem_type == "invalid-transition" and e.problem["current_status"] == "suspended"
    else:
        raise AssertionError("suspended twice")
    try:
        connect("tnt_not-a-real-token-0123456789abcdef").me()
    except Unauthorized as e:
        assert e.status == 401
    else:
        raise AssertionError("an unknown token was accepted")
