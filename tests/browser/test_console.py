"""The web console end to end in headless Chromium against `make run`: sign in, projects,
the project page's sections, applications, clusters, problems, the keyboard, axe-core."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.conftest import (
    ADMIN_TOKEN,
    SCREENSHOTS,
    api,
    check_accessibility,
    screenshot,
    sign_in,
    user_token,
)

# One runner and one browser for all of them, on one xdist worker (pyproject: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("browser")


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as _expect

    return _expect(locator)


def test_console_is_served_under_console_with_the_security_headers(page: Any, runner: str) -> None:
    response = page.goto("/console")  # redirected to /console/
    assert response.url.endswith("/console/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert page.goto("/console/js/nope.js").status == 404
    assert page.goto("/console/%2e%2e/template.yaml").status == 404


def test_socket_messages_are_handled_and_a_failed_socket_falls_back_to_polling(page: Any) -> None:
    """live.js with a fake WebSocket: events de-duplicated on detail.id and handed on,
    pongs and junk ignored, ping sent while open, polling when closed, reconnect later."""
    page.goto("/console/")
    result = page.evaluate(
        """async () => {
        const { Live } = await import("/console/js/live.js");
        const sockets = [];
        class FakeSocket {
            constructor(url) { this.url = url; this.sent = []; this.readyState = 0; sockets.push(this); }
            send(text) { this.sent.push(JSON.parse(text)); }
            close() { this.readyState = 3; }
            open() { this.readyState = 1; this.onopen(); }
            message(obj) { this.onmessage({ data: typeof obj === "string" ? obj : JSON.stringify(obj) }); }
            fail() { this.readyState = 3; this.onerror(); this.onclose(); }
        }
        const timers = { pending: [], intervals: [],
            setTimeout(fn, ms) { this.pending.push({ fn, ms }); return this.pending.length; },
            clearTimeout() {}, setInterval(fn, ms) { this.intervals.push({ fn, ms }); return 1; },
            clearInterval() { this.intervals = []; } };
        const live = new Live({ url: "ws://x/ws?token=t", WebSocket: FakeSocket, timers, retryMs: 100 });
        const modes = [], events = [];
        live.onMode((m) => modes.push(m));
        live.subscribe((d, t) => events.push([d.id, t]));
        live.start();
        const first = sockets[0];
        first.open();
        const ev = (id, project) => ({ type: "event", source: "tenantry", detail_type: "Project Status Changed",
            detail: { id, project_id: project, seq: 1, event: "provisioned", from: "creating", to: "active" } });
        first.message(ev("p/1", "p"));
        first.message(ev("p/1", "p"));        // at least once: the same id again
        first.message({ type: "pong" });
        first.message("not json");
        first.message({ type: "event", detail: {} });
        first.message(ev("p/2", "p"));
        timers.intervals[0].fn();             // the keep-alive ping
        const pingSent = first.sent;
        first.fail();                         // the server went away
        const retryDelay = timers.pending[0].ms;
        timers.pending[0].fn();               // reconnect attempt
        sockets[1].open();
        return { modes, events, pingSent, retryDelay, sockets: sockets.length, url: first.url };
    }"""
    )
    assert result["modes"] == ["connecting", "live", "polling", "live"]
    assert result["events"] == [
        ["p/1", "Project Status Changed"],
        ["p/2", "Project Status Changed"],
    ]
    assert result["pingSent"] == [{"action": "ping"}]
    assert (result["retryDelay"], result["sockets"]) == (100, 2)
    assert result["url"] == "ws://x/ws?token=t"


def test_a_bad_token_is_a_problem_message(page: Any, axe_source: str) -> None:
    page.goto("/console/")
    check_accessibility(page, axe_source, "sign in")
    page.get_by_label("API token").fill("tnt_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("401")
    screenshot(page, "sign-in-problem")


def test_keyboard_only_sign_in_and_navigation(page: Any, runner: str) -> None:
    _, token = user_token(runner, "Kay")
    api("POST", runner, "/projects", token, {"name": "Keyboard Shop", "id": "keyboard-shop"})
    page.goto("/console/")
    page.keyboard.press("Tab")
    expect(page.get_by_label("API token")).to_be_focused()
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Projects").wait_for()
    # From the top of a page, the skip link is the first stop; it moves focus to the content.
    page.reload()
    page.get_by_role("heading", name="Projects").wait_for()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    expect(page).to_have_url(re.compile(r"#/projects$"))
    link = page.get_by_role("link", name="Keyboard Shop")
    for _ in range(30):  # Tab along until the project's link has focus
        if link.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(link).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Keyboard Shop")).to_be_focused()
    expect(page).to_have_url(re.compile(r"#/projects/keyboard-shop$"))


def test_a_user_creates_a_project_sees_it_become_active_and_uses_its_sections(
    page: Any, runner: str, axe_source: str
) -> None:
    ann_id, ann = user_token(runner, "Ann")
    sign_in(page, ann)
    # Live over the WebSocket when the stack has one, else the polling fallback.
    # the runner serves /ws (template.yaml's WebSocketApi): live, not the polling fallback
    expect(page.locator("[data-live-mode]")).to_have_attribute("data-live-mode", "live")
    check_accessibility(page, axe_source, "projects list")

    page.get_by_role("link", name="Create project").click()
    page.get_by_role("heading", name="Create a project").wait_for()
    check_accessibility(page, axe_source, "create project")
    # Bad input first: the API's 422 with its field errors.
    page.get_by_label("Name").fill("Payments API")
    page.get_by_label("Id (optional)").fill("Not A Label")
    page.get_by_role("button", name="Create project").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("422")
    expect(alert.locator(".problem-fields")).to_contain_text("id")
    screenshot(page, "create-project-problem")

    page.get_by_label("Id (optional)").fill("")
    page.get_by_label("Environments").fill("dev, prod")
    page.get_by_label("Labels").fill("team=pay")
    page.get_by_label("Join policy").select_option("moderated")
    key = page.locator("form code").first.inner_text()
    page.get_by_role("button", name="Create project").click()
    expect(page).to_have_url(re.compile(r"#/projects/payments-api$"))
    # Provisioning runs; the page follows it (events, or polling) until the status settles.
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "active", timeout=30_000)
    expect(page.get_by_role("row", name=re.compile("^Ready True"))).to_be_visible()
    check_accessibility(page, axe_source, "project overview")
    screenshot(page, "project-overview")
    # The key made one project: the same request again answers the first response.
    status_again = api("GET", runner, "/projects?field_selector=metadata.name=payments-api", ann)
    assert [p["id"] for p in status_again["items"]] == ["payments-api"]
    assert len(key) >= 32

    page.get_by_role("link", name="History").click()
    table = page.get_by_role("table")
    expect(table).to_contain_text("created")
    expect(table).to_contain_text("provisioned")
    check_accessibility(page, axe_source, "history")

    # Environments and secrets: names only, never contents.
    page.get_by_role("link", name="Environments").click()
    page.get_by_role("button", name="prod").click()
    page.get_by_label("Collection").fill("db")
    page.get_by_label("Name", exact=True).fill("password")
    page.get_by_label("Contents").fill("correct horse battery")
    page.get_by_role("button", name="Add secret").click()
    expect(page.get_by_role("row", name=re.compile("db password 1"))).to_be_visible()
    expect(page.get_by_label("Contents")).to_have_value("")
    assert "correct horse" not in page.content()
    page.get_by_label("New environment").fill("staging")
    page.get_by_role("button", name="Add environment").click()
    expect(page.get_by_role("button", name="staging")).to_be_visible()
    check_accessibility(page, axe_source, "environments")
    screenshot(page, "environments")

    # Memberships: Bob asks to join (moderated); Ann accepts with the action the API offers.
    bob_id, bob = user_token(runner, "Bob")
    api("POST", runner, "/memberships", bob, {"project_id": "payments-api", "action": "join"})
    page.get_by_role("link", name="Members").click()
    # (a requester is no member yet: the list names them by user id)
    accept = page.get_by_role("button", name=f"accept membership of {bob_id}")
    expect(accept).to_be_visible()
    expect(page.get_by_role("button", name=f"reject membership of {bob_id}")).to_be_visible()
    check_accessibility(page, axe_source, "members")
    accept.click()
    expect(page.get_by_role("row", name=re.compile("^Bob member accepted remove"))).to_be_visible()
    # An invite by email, secure: its code is shown once.
    page.get_by_label("Emails").fill("carol@example.com")
    page.get_by_label("Secure").check()
    page.get_by_role("button", name="Send invites").click()
    invites = page.get_by_role("list", name="Invites")
    expect(invites).to_contain_text("carol@example.com (member)")
    expect(invites).to_contain_text("shown once")
    screenshot(page, "members")
    # The project's invites are the API's list (GET /projects/{id}/invites): still there
    # after a reload, without the code; revoking one shows it revoked.
    page.reload()
    page.get_by_role("link", name="Members").click()
    expect(invites).to_contain_text("carol@example.com (member)")
    expect(invites).not_to_contain_text("shown once")
    page.get_by_role("button", name="revoke the invite of carol@example.com").click()
    expect(invites).to_contain_text("revoked")
    assert ann_id


def test_an_admin_approves_deploys_changes_restarts_cancels_and_manages_clusters(
    page: Any, runner: str, cluster: dict[str, Any], axe_source: str
) -> None:
    # Dee's project needs approval (a moderated template); it names cluster edge (in the
    # request: POST /templates refuses any clusters, "not registered", even registered ones).
    _, dee = user_token(runner, "Dee")
    template = api(
        "POST",
        runner,
        "/templates",
        ADMIN_TOKEN,
        {
            "name": f"reviewed-{cluster['id'][:6]}",
            "environments": ["prod"],
            "approval": "moderated",
        },
    )
    api(
        "POST",
        runner,
        "/projects",
        dee,
        {
            "name": "Edge Shop",
            "id": "edge-shop",
            "template_id": template["id"],
            "clusters": [{"name": "edge", "quota": {}}],
        },
    )

    sign_in(page, ADMIN_TOKEN)
    page.get_by_role("link", name="Applications").click()
    page.get_by_role("heading", name="Applications to decide").wait_for()
    check_accessibility(page, axe_source, "applications")
    screenshot(page, "applications")
    page.get_by_role("button", name="Approve edge-shop").click()
    expect(page.get_by_role("button", name="Approve edge-shop")).to_have_count(0)

    page.goto("/console/#/projects/edge-shop")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "active", timeout=30_000)

    # A deployment of the demo chart (discovered at the runner's start).
    page.get_by_role("link", name="Deployments").click()
    page.get_by_role("heading", name="New deployment").wait_for()
    expect(page.get_by_label("Chart").locator("option")).not_to_have_count(0, timeout=30_000)
    page.get_by_label("Config (JSON)").fill('{"greeting": "Hello"}')
    page.get_by_role("button", name="Create deployment").click()
    expect(page.get_by_role("row", name=re.compile(r"^web-frontend Running"))).to_be_visible(
        timeout=30_000
    )
    check_accessibility(page, axe_source, "deployments")

    # Change: an Upgrade task, done by the agent.
    page.get_by_label("New config (JSON)").fill('{"greeting": "Bonjour"}')
    page.get_by_role("button", name="Upgrade").click()
    expect(page.get_by_role("row", name=re.compile("web-frontend Upgrade Done"))).to_be_visible(
        timeout=30_000
    )
    # Bad input: config that is not JSON is a problem shown before anything is sent.
    page.get_by_label("New config (JSON)").fill("{greeting")
    page.get_by_role("button", name="Upgrade").click()
    expect(page.get_by_role("alert")).to_contain_text("Config is not valid JSON")

    # Cancel: a task set for tomorrow waits Pending until canceled.
    dep = api("GET", runner, "/projects/edge-shop/deployments", ADMIN_TOKEN)["items"][0]
    resources = api("GET", runner, "/projects/edge-shop/k8s-resources", ADMIN_TOKEN)["items"]
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    api(
        "POST",
        runner,
        "/projects/edge-shop/deployment-tasks",
        ADMIN_TOKEN,
        {
            "deployment_id": dep["id"],
            "operation": {"RestartK8sResource": {"resource_id": resources[0]["id"]}},
            "execute_at": later,
        },
    )
    page.reload()
    pending = page.get_by_role("row", name=re.compile("RestartK8sResource Pending"))
    pending.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("row", name=re.compile("RestartK8sResource Canceled"))).to_be_visible()
    screenshot(page, "deployments")

    # Restart from the reported resources: a task the agent does.
    page.get_by_role("link", name="Kubernetes resources").click()
    page.get_by_role("button", name=re.compile("Restart Deployment")).click()
    expect(page.get_by_role("status").filter(has_text="Restart of Deployment")).to_be_visible()
    check_accessibility(page, axe_source, "k8s resources")

    # Clusters: the list, and a new one's agent token shown once.
    page.get_by_role("link", name="Clusters").click()
    expect(page.get_by_role("row", name=re.compile("^edge local"))).to_be_visible()
    page.get_by_label("Name").fill("spare")
    page.get_by_role("button", name="Register cluster").click()
    expect(page.get_by_role("status")).to_contain_text("tnt_")
    check_accessibility(page, axe_source, "clusters")
    screenshot(page, "clusters")

    # The README's picture (docs/console.png is a copy of this one).
    page.goto("/console/#/projects/edge-shop/deployments")
    expect(page.get_by_role("row", name=re.compile(r"^web-frontend Running"))).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "readme.png"))


def test_my_invites_are_accepted_with_their_code(page: Any, runner: str, axe_source: str) -> None:
    _, owner = user_token(runner, "Olga")
    api("POST", runner, "/projects", owner, {"name": "Invite Shop", "id": "invite-shop"})
    _, invitee = user_token(runner, "Ivan")
    me = api("GET", runner, "/auth/me", invitee)
    invites = api(
        "PUT",
        runner,
        "/projects/invite-shop/invites",
        owner,
        {"emails": [me["email"]], "roles": ["member"], "secure": True},
    )
    code = invites["items"][0]["code"]
    sign_in(page, invitee)
    page.get_by_role("link", name="My invites").click()
    check_accessibility(page, axe_source, "my invites")
    page.get_by_label("Code for invite-shop").fill(code)
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("status")).to_contain_text("Joined invite-shop")
    members = api("GET", runner, "/projects/invite-shop/members", invitee)["items"]
    assert [m["role"] for m in members if m["user_id"] == me["id"]] == ["member"]


def test_live_updates_over_the_websocket(page: Any, runner: str) -> None:
    """With the realtime WebSocket API in template.yaml (its resource WebSocketApi), the
    console connects to same-origin /ws?token=, says Live, stops polling, and a change
    made elsewhere reaches the open page as an event. Without it, the tests above run the
    polling fallback only."""
    _, lou = user_token(runner, "Lou")
    api("POST", runner, "/projects", lou, {"name": "Live Shop", "id": "live-shop"})
    sign_in(page, lou)
    expect(page.locator("[data-live-mode]")).to_have_attribute("data-live-mode", "live")
    page.goto("/console/#/projects/live-shop")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "active", timeout=30_000)
    expect(page.locator(".status-line")).to_contain_text("(live)")
    # No polling while live: only the pushed event can show the platform admin's suspend.
    api("POST", runner, "/projects/live-shop/actions", ADMIN_TOKEN, {"action": "suspend"})
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "suspended")
