"""The README and docs/ are self-contained: what a user needs lives in this repository.

Links (markdown links, reference definitions, autolinks and bare URLs outside code) must
point into the repository, to a file that exists (and, for `#anchors`, a heading that
exists), or to one of the few standard references in ALLOWED_EXTERNAL. Nothing may
mention `shared/` or climb out with `../`: root-relative links (`/openapi.json`) reach
the repository's root from docs/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ALLOWED_EXTERNAL = ("https://www.rfc-editor.org/rfc/rfc9457",)

FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.S)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]+)>")
BARE_URL = re.compile(r"(?:https?|ftp)://[^\s)>\]]+|\bwww\.[^\s)>\]]+")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//")


def _prose(text: str) -> str:
    """The text with code blocks and code spans blanked (lines kept for messages)."""
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return CODE_SPAN.sub(lambda m: " " * len(m.group(0)), text)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)}


def links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every link outside code."""
    prose = _prose(text)
    found: list[tuple[int, str]] = []  # (offset, target)
    covered: list[tuple[int, int]] = []
    for pattern in (INLINE_LINK, REFERENCE_DEF, AUTOLINK):
        for m in pattern.finditer(prose):
            found.append((m.start(), m.group(1)))
            covered.append(m.span())
    for m in BARE_URL.finditer(prose):
        if not any(a <= m.start() < b for a, b in covered):
            found.append((m.start(), m.group(0)))
    return [(prose.count("\n", 0, at) + 1, target) for at, target in sorted(found)]


def problems(path: Path) -> list[str]:
    name = path.relative_to(ROOT)
    out = []
    for no, line in enumerate(path.read_text().splitlines(), 1):
        for banned in ("shared/", "../"):
            if banned in line:
                out.append(f"{name}:{no}: mentions {banned!r}: {line.strip()}")
    for no, target in links(path.read_text()):
        where = f"{name}:{no}: {target}"
        if SCHEME.match(target):
            if not target.startswith(ALLOWED_EXTERNAL):
                out.append(f"{where}: links outside the repository")
            continue
        file_part, _, anchor = target.partition("#")
        if file_part.startswith("/"):
            dest = ROOT / file_part.lstrip("/")
        else:
            dest = path.parent / file_part if file_part else path
        dest = dest.resolve()
        if not dest.is_relative_to(ROOT) or not dest.exists():
            out.append(f"{where}: no such file in the repository")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            out.append(f"{where}: no heading with this anchor")
    return out


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_in_the_repository(path: Path) -> None:
    assert problems(path) == []


def test_the_checker_sees_links(tmp_path: Path) -> None:
    assert "/openapi.json" in [t for _, t in links((ROOT / "docs" / "api.md").read_text())]
    text = (
        "See [x](https://example.com/a) and <https://example.org> or http://bare.example\n"
        "`https://in.code.span` and [ok](https://www.rfc-editor.org/rfc/rfc9457)\n"
        "```\nhttps://in.a.block\n```\n[ref]: ../shared/design/API.md\n"
    )
    found = [t for _, t in links(text)]
    assert found == [
        "https://example.com/a",
        "https://example.org",
        "http://bare.example",
        "https://www.rfc-editor.org/rfc/rfc9457",
        "../shared/design/API.md",
    ]
    assert _slug("Users, bots and tokens") == "users-bots-and-tokens"
    assert _slug("Versions, ETag and If-Match") == "versions-etag-and-if-match"
