"""local/console_files.py: the console's static files as CloudFront serves them."""

from __future__ import annotations

import pytest

from local import console_files, template


def test_console_redirects_to_its_index_with_the_templates_security_headers() -> None:
    status, headers, body = console_files.serve("GET", "/console")
    assert (status, headers["Location"], body) == (301, "/console/", b"")
    status, headers, body = console_files.serve("GET", "/console/?x=1")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'<script type="module" src="js/app.js">' in body
    policy = template.resources()["ConsoleSecurityHeaders"]["Properties"]
    csp = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]
    assert headers["Content-Security-Policy"] == csp["ContentSecurityPolicy"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"


def test_modules_are_served_as_javascript() -> None:
    status, headers, _ = console_files.serve("GET", "/console/vendor/preact.mjs")
    assert (status, headers["Content-Type"]) == (200, "text/javascript; charset=utf-8")
    assert console_files.serve("HEAD", "/console/js/app.js")[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/console/nope.js",
        "/console/%2e%2e/template.yaml",
        "/console/..%2Ftemplate.yaml",
        "/console/js/../../template.yaml",
        "/console/.hidden",
        "/console/js",  # a directory without the trailing slash
        "/console/%00",
    ],
)
def test_nothing_outside_the_console_or_missing_is_served(path: str) -> None:
    assert console_files.serve("GET", path)[0] == 404


def test_only_get_and_head() -> None:
    status, headers, _ = console_files.serve("POST", "/console/")
    assert (status, headers["Allow"]) == (405, "GET, HEAD")


def test_handles_only_the_console_prefix() -> None:
    assert console_files.handles("/console") and console_files.handles("/console/js/a.js?v=1")
    assert not console_files.handles("/consoles") and not console_files.handles("/projects")
