"""The web console in a real headless Chromium (Debian's `chromium`, driven by Playwright
through `executable_path`: Playwright's own browser download cannot work here), against
`make run` on a free loopback port. One runner and one browser for the whole session;
each test gets a fresh browser context (its own sessionStorage). Screenshots go to
tests/browser/screenshots/ (gitignored), kept as the run's artifacts.

`make test` installs chromium when it is missing (Makefile `chromium`); outside CI, a
machine without Playwright or Chromium skips these tests, in CI they fail.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.runner_process import request, running

ADMIN_TOKEN = "tnt_browser-admin-token-0123456789abcdef"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# Chromium as root in a container, and no calls home: this machine's network is closed.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

try:
    from playwright import sync_api
except ImportError:  # pragma: no cover - depends on the machine
    sync_api = None


def api(method: str, runner: str, path: str, token: str, body: Any = None) -> Any:
    status, data = request(method, f"{runner}{path}", token, body)
    assert status < 300, (method, path, status, data)
    return data


@pytest.fixture(scope="session")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("console-runner") / "runner.log"
    # Workflow waits and retries scaled down, as the other runner tests do.
    with running(log_path, ADMIN_TOKEN, {"WAIT_SCALE": "0.01"}) as process:
        yield process.url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if sync_api is None or not Path(CHROMIUM).exists():
        missing = (
            "the browser tests need playwright (requirements-dev.txt) and chromium (make chromium)"
        )
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, runner: str) -> Iterator[Any]:
    context = browser.new_context(base_url=runner, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors: list[str] = []
    # A script error fails the test; the refused WebSocket (no /ws on this branch's runner:
    # the console falls back to polling) is expected noise.
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, errors


def user_token(runner: str, name: str) -> tuple[str, str]:
    """A new user NAME@example.com: (user id, API token)."""
    email = f"{name}-{time.monotonic_ns()}@example.com"
    user = api("POST", runner, "/users", ADMIN_TOKEN, {"email": email, "display_name": name})
    token = api("POST", runner, "/user-tokens", ADMIN_TOKEN, {"user_id": user["id"]})
    return user["id"], token["created_token"]


class Agent(threading.Thread):
    """A cluster's agent played over HTTP: heartbeats, claims every work item and reports it
    Done; after an Install it reports the release's Deployment as a k8s resource. Bounded:
    it stops when told, or after `lifetime` seconds."""

    def __init__(self, runner: str, token: str, lifetime: float = 600.0) -> None:
        super().__init__(daemon=True)
        self.runner, self.token, self.lifetime = runner, token, lifetime
        self.stopping = threading.Event()
        self.done: list[dict[str, Any]] = []

    def run(self) -> None:
        ends = time.monotonic() + self.lifetime
        while not self.stopping.is_set() and time.monotonic() < ends:
            request("POST", f"{self.runner}/agent/heartbeat", self.token, {"is_ok": True})
            status, claimed = request(
                "POST", f"{self.runner}/agent/work/claim", self.token, {"limit": 10}
            )
            for item in claimed["items"] if status == 200 else []:
                self._do(item)
            self.stopping.wait(0.3)

    def _do(self, item: dict[str, Any]) -> None:
        operation = (item.get("task") or {}).get("operation") or {}
        deployment = item.get("deployment") or {}
        if "Install" in operation and deployment.get("id"):
            report = {
                "deployment_id": deployment["id"],
                "items": [
                    {
                        "uid": f"uid-{deployment['id'][:8]}",
                        "kind": "Deployment",
                        "api_version": "apps/v1",
                        "name": deployment.get("release_name") or "web",
                        "status_color": ["success"],
                        "metadata": {},
                    }
                ],
            }
            request("PUT", f"{self.runner}/agent/k8s-resources", self.token, report)
        body = {"lease_token": item["lease_token"], "status": "Done"}
        request("POST", f"{self.runner}/agent/work/{item['id']}/result", self.token, body)
        self.done.append(item)


@pytest.fixture(scope="session")
def cluster(runner: str) -> Iterator[dict[str, Any]]:
    """Cluster `edge` with an agent that does all its work."""
    created = api(
        "POST", runner, "/clusters", ADMIN_TOKEN, {"name": "edge", "region_name": "local"}
    )
    agent = Agent(runner, created["agent_token"])
    agent.start()
    yield created
    agent.stopping.set()
    agent.join(timeout=10)


@pytest.fixture(scope="session")
def axe_source() -> str:
    return AXE.read_text()


def sign_in(page: Any, token: str) -> None:
    page.goto("/console/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Projects").wait_for()


def check_accessibility(page: Any, axe_source: str, screen: str) -> None:
    """axe-core's WCAG 2 A and AA rules on the page as it is now: no violation. Injected
    through Playwright (an isolated evaluation, not a page script: the CSP stays intact)."""
    page.evaluate(axe_source)
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: "tag",
                values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }"""
    )
    assert result == [], f"{screen}: {result}"


def screenshot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
