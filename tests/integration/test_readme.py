"""README.md's curl walk-throughs, run as written against the local runner.

What runs: every ```sh block in a section whose heading ends in "with curl", in order, in
ONE bash session (`set -euo pipefail`, `inherit_errexit`), so variables and functions
persist from block to block, as in a reader's shell.

  - `... make run` (with optional VAR=value settings before it) starts the server, or
    restarts it, which forgets all state as `make run` does. The test runs
    `python -m local.runner` instead, with the same settings plus a free PORT and
    WAIT_SCALE=0.01; `127.0.0.1:3000` in the README is rewritten to that port.
  - A command is one line, or several joined by trailing backslashes, or as many lines
    as bash needs to parse it (a function definition).

Claims: a trailing comment that starts with an HTTP status is checked against the LAST
curl call the command made (the README's curl is wrapped to record every call):

    curl -s $U/health                   # 200 {"status":"ok"} (no token needed)
    curl -s -XPOST ... -d '...'         # 409 invalid-transition (it is active)
    curl -si -XPOST $U/projects ...     # 202 Location:/projects/payments-api ETag:"1"

    # STATUS [problem-type] [fragment | Header:value ...] [prose]

    STATUS        the response status
    problem-type  an error's problem+json `type` ends in /problem-type
    fragment      a word starting with ", { or [ (quoted strings may hold spaces): it
                  must occur in the JSON body, both written compactly (no spaces)
    Header:value  the response header has exactly that value
    prose         the first word that is none of these ends the claim; not checked

A comment that does not start with a status is prose. Any curl call answering 4xx must be
the claimed last call of its command, and 5xx fails always: an unclaimed error is rot.
Failures name the README line. To change what the README shows, change the README: this
file knows no commands or answers of its own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from local import eventbridge
from local.runner_process import child_env, free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TIMEOUT = 240.0
README_HOSTPORT = "127.0.0.1:3000"
MAKE_RUN = re.compile(r"""^((?:[A-Za-z_][A-Za-z0-9_]*=(?:"[^"]*"|'[^']*'|\S*)\s+)*)make run\s*$""")
STATUS = re.compile(r"^([1-5][0-9][0-9])(?=\s|$)(.*)$", re.S)
HEADER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):(\S+)$")
SLUG = re.compile(r"^[a-z][a-z0-9-]*$")

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


@dataclass
class Claim:
    status: int
    problem: str | None = None
    fragments: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Command:
    line: int  # first README line (1-based)
    last: int  # last README line
    text: str
    claim: Claim | None


# --- parsing the README ---------------------------------------------------------------------


def _words(text: str) -> list[str]:
    """Split on whitespace outside double-quoted strings."""
    words, cur, quoted, i = [], "", False, 0
    while i < len(text):
        ch = text[i]
        if quoted and ch == "\\" and i + 1 < len(text):
            cur += text[i : i + 2]
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        if ch.isspace() and not quoted:
            if cur:
                words.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    if cur:
        words.append(cur)
    return words


def compact(text: str) -> str:
    """Drop whitespace outside double-quoted strings (JSON written with no spaces)."""
    out, quoted, escaped = [], False, False
    for ch in text:
        if quoted:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
            out.append(ch)
        elif not ch.isspace():
            out.append(ch)
    return "".join(out)


def parse_claim(comment: str) -> Claim | None:
    m = STATUS.match(comment.strip())
    if not m:
        return None
    claim = Claim(int(m.group(1)))
    for i, word in enumerate(_words(m.group(2))):
        if word[0] in '"{[':
            claim.fragments.append(compact(word))
        elif h := HEADER.match(word):
            claim.headers[h.group(1).lower()] = h.group(2)
        elif i == 0 and claim.status >= 400 and SLUG.match(word.rstrip(",;:.")):
            claim.problem = word.rstrip(",;:.")
        else:
            break  # prose
    return claim


def trailing_comment(text: str) -> str | None:
    """The comment on a command's last line: a `#` after whitespace, outside quotes."""
    single = double = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and not single:
            i += 2
            continue
        if ch == "'" and not double:
            single = not single
        elif ch == '"' and not single:
            double = not double
        elif ch == "#" and not single and not double and (i == 0 or text[i - 1].isspace()):
            end = text.find("\n", i)
            if end < 0:
                return text[i + 1 :]
            i = end  # a comment on an earlier line (inside a function body)
            continue
        i += 1
    return None


def _parses(text: str) -> bool:
    return (
        subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True).returncode == 0
    )


def walkthrough_blocks(markdown: str) -> list[tuple[int, list[str]]]:
    """(README line of the first line, lines) of each ```sh block under a '... with curl'
    heading."""
    blocks, in_section, block, start = [], False, None, 0
    for no, line in enumerate(markdown.splitlines(), 1):
        if block is not None:
            if line.startswith("```"):
                blocks.append((start, block))
                block = None
            else:
                block.append(line)
        elif line.startswith("#"):
            in_section = line.rstrip().endswith("with curl")
        elif line.strip() == "```sh" and in_section:
            block, start = [], no + 1
    return blocks


def commands(markdown: str) -> list[Command]:
    out: list[Command] = []
    for start, lines in walkthrough_blocks(markdown):
        pending: list[str] = []
        first = start
        for offset, line in enumerate(lines):
            no = start + offset
            if not pending:
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                first = no
            pending.append(line)
            text = "\n".join(pending)
            if line.endswith("\\") or not _parses(text):
                continue
            comment = trailing_comment(text)
            out.append(Command(first, no, text, parse_claim(comment) if comment else None))
            pending = []
        if pending:
            raise AssertionError(f"README.md:{first}: this command does not parse in bash")
    return out


# --- the script -----------------------------------------------------------------------------

PREAMBLE = r"""
set -euo pipefail
shopt -s inherit_errexit
__runner_pid=
__stop_runner() {
  if [[ -n "$__runner_pid" ]]; then
    kill "$__runner_pid" 2>/dev/null || true
    wait "$__runner_pid" 2>/dev/null || true
    __runner_pid=
  fi
}
trap __stop_runner EXIT
__runner() {  # stands for `make run`; VAR=value settings before it reach the runner
  __stop_runner
  echo "--- runner (${PARAMETER_OVERRIDES:-})" >>"$__T/runner.log"
  PORT="$__PORT" WAIT_SCALE=0.01 "$__PY" -m local.runner >>"$__T/runner.log" 2>&1 &
  __runner_pid=$!
  local i
  for i in $(seq 600); do
    command curl -sf "http://127.0.0.1:$__PORT/health" >/dev/null 2>&1 && return 0
    kill -0 "$__runner_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "the runner did not become healthy" >&2
  return 1
}
curl() {  # records each call: status, headers, body (what curl printed)
  local d="$__T/calls/$(printf %06d "$__line")-${EPOCHREALTIME/./}-$BASHPID"
  mkdir -p "$d"
  printf '%s\0' "$@" >"$d/args"
  local rc=0
  command curl -D "$d/headers" -o "$d/out" -w '%{http_code}' "$@" >"$d/status" || rc=$?
  echo "$rc" >"$d/exit"
  [[ $rc -eq 0 ]] || return $rc
  cat "$d/out"
}
"""


def build_script(cmds: list[Command], port: int) -> str:
    parts = [PREAMBLE]
    for cmd in cmds:
        text = cmd.text.replace(README_HOSTPORT, f"127.0.0.1:{port}")
        first_line = text.split("\n", 1)[0]
        if MAKE_RUN.match(re.sub(r"\s+#.*$", "", first_line)):
            text = re.sub(r"\bmake run\b", "__runner", text, count=1)
        parts.append(f'__line={cmd.line}; echo {cmd.line} >"$__T/at"\n{text}\n')
    return "\n".join(parts)


# --- checking -------------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: str

    def shown(self) -> str:
        return f"{self.status} {self.body[:600]}"


def _read_call(d: Path) -> Call | None:
    if not (d / "status").exists() or (d / "exit").read_text().strip() != "0":
        return None
    status = int((d / "status").read_text().strip() or 0)
    method, path = _request((d / "args").read_text().split("\0")[:-1])
    headers: dict[str, str] = {}
    for line in (d / "headers").read_text(errors="replace").splitlines():
        if line.startswith("HTTP/"):
            headers = {}  # only the last response's headers (after any 100 Continue)
        elif ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    out = (d / "out").read_text(errors="replace")
    if out.startswith("HTTP/"):  # curl -i: the headers are in the output too
        out = re.split(r"\r?\n\r?\n", out, maxsplit=1)[-1]
    try:
        body = json.dumps(json.loads(out), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        body = out
    return Call(method, path, status, headers, body)


def _request(args: list[str]) -> tuple[str, str]:
    """The method and URL path of a curl command line."""
    method, url, data = None, "", False
    for i, arg in enumerate(args):
        if arg in ("-X", "--request") and i + 1 < len(args):
            method = args[i + 1]
        elif arg.startswith("-X") and len(arg) > 2:
            method = arg[2:]
        elif arg in ("-I", "--head"):
            method = "HEAD"
        elif arg in ("-d", "--data", "--data-raw", "--json") or arg.startswith("-d"):
            data = True
        elif re.match(r"https?://", arg) and not url:
            url = arg
    path = urllib.parse.urlsplit(url).path
    return (method or ("POST" if data else "GET")).upper(), path


@cache
def _documented() -> list[tuple[str, re.Pattern[str], set[int]]]:
    spec = json.loads((ROOT / "openapi.json").read_text())
    routes = []
    for template, operations in spec["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$")
        for method, op in operations.items():
            routes.append((method.upper(), pattern, {int(c) for c in op.get("responses", {})}))
    return routes


# What `make run` serves besides the API (not in openapi.json): route -> its statuses.
LOCAL_ROUTES = {eventbridge.ROUTE: set(eventbridge.STATUSES)}


def undocumented(call: Call) -> str | None:
    """How the call's answer contradicts openapi.json (or a local route its own statuses),
    if it does."""
    local = LOCAL_ROUTES.get((call.method, call.path))
    if local is not None:
        return None if call.status in local else f"{call.method} {call.path}: {call.shown()}"
    for method, pattern, statuses in _documented():
        if method == call.method and pattern.match(call.path):
            if call.status in statuses:
                return None
            documented = ", ".join(map(str, sorted(statuses)))
            return (
                f"{call.method} {call.path} answered {call.status}, which openapi.json does not "
                f"document for this route ({documented}): {call.shown()}"
            )
    return f"{call.method} {call.path} is not a route in openapi.json"


def check_claim(claim: Claim, call: Call) -> str | None:
    if call.status != claim.status:
        return f"expected {claim.status}, got {call.shown()}"
    if claim.problem:
        m = re.search(r'"type":"[^"]*/([^"/]+)"', call.body)
        if not m or m.group(1) != claim.problem:
            return f"expected problem type {claim.problem}, got {call.shown()}"
    for fragment in claim.fragments:
        if fragment not in call.body:
            return f"the body lacks {fragment}: {call.shown()}"
    for name, value in claim.headers.items():
        if call.headers.get(name) != value:
            return f"expected header {name}: {value}, got {call.headers.get(name)!r}"
    return None


def problems(cmds: list[Command], calls_dir: Path, reached: int, failed: bool = False) -> list[str]:
    calls: dict[int, list[Call | None]] = {}
    if calls_dir.exists():
        for d in sorted(calls_dir.iterdir()):
            calls.setdefault(int(d.name.split("-")[0]), []).append(_read_call(d))
    found = []
    for cmd in cmds:
        if cmd.line > reached:
            break
        where = f"README.md:{cmd.last}: {cmd.text.splitlines()[-1].strip()}\n  "
        made = [c for c in calls.get(cmd.line, []) if c is not None]
        if contradictions := [e for c in made if (e := undocumented(c))]:
            found.append(where + contradictions[0])
            continue
        for i, call in enumerate(made):
            last = i == len(made) - 1
            if call.status >= 500 or (call.status >= 400 and not (last and cmd.claim)):
                found.append(f"{where}unexpected {call.shown()}")
                break
        else:
            if cmd.claim and not made and not (failed and cmd.line == reached):
                found.append(f"{where}a claim, but the command made no curl call")
            elif cmd.claim and (error := check_claim(cmd.claim, made[-1])):
                found.append(where + error)
    return found


def test_the_readme_runs_as_written(tmp_path: Path) -> None:
    cmds = commands(README.read_text())
    assert any(MAKE_RUN.match(c.text) for c in cmds), "no `make run` block in the walk-through"
    port = free_port()
    script = tmp_path / "readme.sh"
    script.write_text(build_script(cmds, port))
    env = child_env(__T=str(tmp_path), __PORT=str(port), __PY=sys.executable)
    proc = subprocess.Popen(
        ["bash", str(script)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = proc.communicate(timeout=TIMEOUT)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        timed_out = True

    at = tmp_path / "at"
    reached = int(at.read_text()) if at.exists() else 0
    found = problems(cmds, tmp_path / "calls", reached, failed=proc.returncode != 0)
    if proc.returncode != 0:
        cmd = next((c for c in cmds if c.line == reached), None)
        what = f"did not finish in {TIMEOUT:.0f} s" if timed_out else "failed"
        text = cmd.text if cmd else "?"
        found.append(
            f"README.md:{reached}: this command {what} (exit {proc.returncode}):\n"
            f"{text}\n--- stderr:\n{stderr[-3000:]}"
        )
    if found:
        log = tmp_path / "runner.log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        pytest.fail("\n".join(found) + f"\n--- runner log (tail):\n{tail}", pytrace=False)


# --- the convention itself ------------------------------------------------------------------


def test_claims_parse() -> None:
    assert parse_claim(" the platform admin") is None
    assert parse_claim(' 200 {"status":"ok"} (no token needed)') == Claim(
        200, None, ['{"status":"ok"}']
    )
    assert parse_claim(" 409 invalid-transition (it is active)") == Claim(409, "invalid-transition")
    assert parse_claim(' 202 Location:/projects/p ETag:"1" "status":"creating" then') == Claim(
        202, None, ['"status":"creating"'], {"location": "/projects/p", "etag": '"1"'}
    )
    assert parse_claim(' 200 "name":"Payments API" x') == Claim(
        200, None, ['"name":"Payments API"']
    )
    assert trailing_comment('curl -d \'{"a":"#1"}\' $U # 201 x') == " 201 x"
    assert trailing_comment('A=$(curl -s "$U/x#y")') is None


def test_a_wrong_claim_names_the_readme_line(tmp_path: Path) -> None:
    cmd = Command(7, 8, "curl -s $U/health \\\n  -H x   # 201", Claim(201))
    d = tmp_path / "calls" / "000007-1-1"
    d.mkdir(parents=True)
    (d / "status").write_text("200")
    (d / "exit").write_text("0")
    (d / "headers").write_text("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
    (d / "out").write_text('{"status": "ok"}')
    (d / "args").write_text("-s\0http://127.0.0.1:1/health\0")
    (found,) = problems([cmd], tmp_path / "calls", 7)
    assert found.startswith("README.md:8: -H x   # 201\n  expected 201, got 200")
    assert (
        problems(
            [Command(7, 8, "curl", Claim(200, None, ['{"status":"ok"}']))], tmp_path / "calls", 7
        )
        == []
    )
    (found,) = problems([Command(7, 7, "curl", None)], tmp_path / "calls", 7) or ["ok"]
    assert found == "ok"
    (d / "status").write_text("418")
    (found,) = problems([Command(7, 7, "curl", Claim(418))], tmp_path / "calls", 7)
    assert "GET /health answered 418, which openapi.json does not document" in found
    (d / "status").write_text("404")
    (d / "args").write_text("-s\0-XDELETE\0http://127.0.0.1:1/projects/nope?reclaim=true\0")
    (found,) = problems([Command(7, 7, "curl", None)], tmp_path / "calls", 7)
    assert "unexpected 404" in found
    assert _request(["-si", "-d", "{}", "http://h/users?x=1"]) == ("POST", "/users")
