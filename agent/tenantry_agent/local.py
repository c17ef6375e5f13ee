"""Start a dry-run agent process for a local demo cluster (`make run` with LOCAL_AGENT=1).

Standard library only, so the repository's main venv can import it without the agent's
dependencies (add `agent/` to sys.path); the agent itself runs in the agent's venv
(`make agent-venv`, agent/.venv):

    from tenantry_agent.local import start_dry_run
    agent = start_dry_run("http://127.0.0.1:3000", cluster_agent_token)
    ...
    agent.stop()       # SIGTERM, waits for a clean exit (0); kills it after `timeout`

The token goes to the child in its environment, never on its command line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

AGENT_DIR = Path(__file__).resolve().parents[1]
AGENT_VENV_PYTHON = AGENT_DIR / ".venv" / "bin" / "python"


class LocalAgent:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then wait for the exit code; SIGKILL after `timeout` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> LocalAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_dry_run(
    url: str,
    token: str,
    *,
    heartbeat_seconds: float = 30.0,
    poll_seconds: float = 1.0,
    extra_args: Sequence[str] = (),
    python: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    stdout: IO[bytes] | int | None = None,
    stderr: IO[bytes] | int | None = None,
) -> LocalAgent:
    """Start `tenantry-agent --dry-run` against `url` with `token`; its log goes to this
    process's stderr unless `stderr` says otherwise. `python` defaults to agent/.venv's
    (falling back to this interpreter if that venv is missing)."""
    if python is None:
        python = AGENT_VENV_PYTHON if AGENT_VENV_PYTHON.exists() else sys.executable
    child_env = {**os.environ, **(env or {})}
    child_env["TENANTRY_AGENT_TOKEN"] = token
    child_env.pop("TENANTRY_AGENT_TOKEN_FILE", None)
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(AGENT_DIR), child_env.get("PYTHONPATH", "")) if p
    )
    args = [
        str(python),
        "-m",
        "tenantry_agent",
        "--dry-run",
        "--url",
        url,
        "--heartbeat-seconds",
        str(heartbeat_seconds),
        "--poll-seconds",
        str(poll_seconds),
        *extra_args,
    ]
    process = subprocess.Popen(args, env=child_env, stdout=stdout, stderr=stderr)  # noqa: S603
    return LocalAgent(process)
