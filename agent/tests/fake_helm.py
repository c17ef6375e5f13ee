"""A recording fake `helm`: an executable script the real executor runs instead of helm.

`FakeHelm(directory).install()` writes `<directory>/helm`, a Python script (this venv's
interpreter) that appends one JSON line per run to `<directory>/calls.jsonl`:
  {"argv": [...], "values": <the --values file's JSON or null>, "values_mode": "0o600",
   "values_dir_mode": "0o700", "env": {...}, "pid": n, "event": "run"}
and then, as `behave(...)` said for that command (`upgrade`, `uninstall`, ... or `*`):
prints `stderr`, sleeps `sleep` seconds (a line with "event": "terminated" is appended on
SIGTERM, which it ignores with `ignore_term`), exits with `exit`. `version --short` prints
`version`. No real helm, no cluster, no registry, no credentials.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

SCRIPT = r"""
import json, os, signal, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
LOG = os.path.join(HERE, "calls.jsonl")


def record(entry):
    with open(LOG, "a") as out:
        out.write(json.dumps(entry) + "\n")


def main(argv):
    with open(os.path.join(HERE, "behaviour.json")) as f:
        behaviour = json.load(f)
    if argv[:2] == ["version", "--short"]:
        print(behaviour.get("version", "v3.20.0+gfake"))
        return 0
    command = argv[0] if argv else ""
    rule = {**behaviour.get("*", {}), **behaviour.get(command, {})}
    values = values_mode = dir_mode = None
    if "--values" in argv:
        path = argv[argv.index("--values") + 1]
        with open(path) as f:
            values = json.load(f)
        values_mode = oct(os.stat(path).st_mode & 0o777)
        dir_mode = oct(os.stat(os.path.dirname(path)).st_mode & 0o777)
    entry = {"event": "run", "argv": argv, "values": values, "values_mode": values_mode,
             "values_dir_mode": dir_mode, "env": dict(os.environ), "pid": os.getpid()}
    record(entry)

    def on_term(signum, frame):
        record({"event": "terminated", "pid": os.getpid()})
        if not rule.get("ignore_term"):
            sys.exit(143)

    signal.signal(signal.SIGTERM, on_term)
    deadline = time.monotonic() + float(rule.get("sleep", 0))
    while time.monotonic() < deadline:
        time.sleep(0.02)
    if rule.get("stderr"):
        sys.stderr.write(rule["stderr"])
    return int(rule.get("exit", 0))


sys.exit(main(sys.argv[1:]))
"""


class FakeHelm:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "helm"
        self.log = self.directory / "calls.jsonl"
        self._behaviour: dict[str, Any] = {}

    def install(self) -> FakeHelm:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"#!{sys.executable}\n{SCRIPT}")
        self.path.chmod(0o755)
        self.behave()
        return self

    def behave(self, command: str = "*", **rule: Any) -> None:
        """e.g. behave("upgrade", exit=1, stderr="Error: UPGRADE FAILED: ...\\n", sleep=2)"""
        if rule:
            self._behaviour[command] = rule
        (self.directory / "behaviour.json").write_text(json.dumps(self._behaviour))

    def entries(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def calls(self) -> list[dict[str, Any]]:
        """The runs (not `version`), oldest first."""
        return [e for e in self.entries() if e["event"] == "run"]

    def terminated(self) -> bool:
        return any(e["event"] == "terminated" for e in self.entries())

    def running(self) -> bool:
        """True while the last run's process is alive."""
        calls = self.calls()
        if not calls:
            return False
        try:
            os.kill(calls[-1]["pid"], 0)
        except ProcessLookupError:
            return False
        # a zombie is not running: its parent has not reaped it yet
        try:
            state = Path(f"/proc/{calls[-1]['pid']}/stat").read_text().split()[2]
        except OSError:
            return False
        return state != "Z"


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout}s: {predicate}")
