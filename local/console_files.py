"""The web console's static files (console/) under /console/, as CloudFront serves them
from the console bucket in AWS: `/console` redirects to `/console/`, a path ending in `/`
is its index.html (the template's ConsoleIndexFunction does that rewrite in AWS), and
every answer carries the security headers of the template's ConsoleSecurityHeaders
policy, so the console is developed and tested under the same Content-Security-Policy.
Only GET and HEAD; nothing outside console/ is ever read.
"""

from __future__ import annotations

import mimetypes
from functools import cache
from pathlib import Path
from urllib.parse import unquote

from local import template

ROOT = template.ROOT / "console"
PREFIX = "/console"
POLICY = "ConsoleSecurityHeaders"  # AWS::CloudFront::ResponseHeadersPolicy in template.yaml
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".md": "text/markdown; charset=utf-8",
}

Answer = tuple[int, dict[str, str], bytes]


def handles(path: str) -> bool:
    """Whether a request path (query included) is the console's."""
    bare = path.partition("?")[0]
    return bare == PREFIX or bare.startswith(PREFIX + "/")


@cache
def security_headers() -> dict[str, str]:
    """The template's response headers policy, as CloudFront adds it (HSTS left out:
    browsers ignore it on plain http, and this is loopback only)."""
    policy = template.resources()[POLICY]["Properties"]["ResponseHeadersPolicyConfig"]
    sec = policy["SecurityHeadersConfig"]
    headers = {
        "Content-Security-Policy": sec["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": sec["FrameOptions"]["FrameOption"],
        "Referrer-Policy": sec["ReferrerPolicy"]["ReferrerPolicy"],
    }
    for custom in policy.get("CustomHeadersConfig", {}).get("Items", []):
        headers[custom["Header"]] = custom["Value"]
    return headers


def _file(path: str) -> Path | None:
    """The file under ROOT a URL path names, or None (missing, a directory, a dot file,
    or anything resolving outside ROOT)."""
    rel = unquote(path.removeprefix(PREFIX + "/"))
    if rel == "" or rel.endswith("/"):
        rel += "index.html"
    if "\x00" in rel or any(part.startswith(".") for part in rel.split("/")):
        return None
    candidate = (ROOT / rel).resolve()
    root = ROOT.resolve()
    if root not in candidate.parents or not candidate.is_file():
        return None
    return candidate


def serve(method: str, path: str) -> Answer:
    bare = path.partition("?")[0]
    headers = dict(security_headers())
    if method not in ("GET", "HEAD"):
        headers.update({"Allow": "GET, HEAD", "Content-Type": "text/plain; charset=utf-8"})
        return 405, headers, b"Method Not Allowed"
    if bare == PREFIX:
        headers["Location"] = PREFIX + "/"
        return 301, headers, b""
    found = _file(bare)
    if found is None:
        headers["Content-Type"] = "text/plain; charset=utf-8"
        return 404, headers, b"Not Found"
    kind = TYPES.get(found.suffix) or mimetypes.guess_type(found.name)[0]
    headers["Content-Type"] = kind or "application/octet-stream"
    # Revalidated on every load: a new console is seen at once, as no-cache says in AWS.
    headers["Cache-Control"] = "no-cache"
    return 200, headers, found.read_bytes()
