"""`make run` as a subprocess on a free loopback port, for what talks HTTP to it as a user
would: the runner's own tests, the fuzzing gate, the load bench."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 90.0


class RunnerFailed(AssertionError):
    """The runner exited, did not become healthy, or did not stop cleanly."""


@dataclass(frozen=True)
class Running:
    url: str  # http://127.0.0.1:<port>
    proc: subprocess.Popen[bytes]
    log_path: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request(
    method: str, url: str, token: str | None = None, body: Any = None, timeout: float = 10
) -> tuple[int, Any]:
    """One JSON request; (status, parsed body or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


@contextlib.contextmanager
def running(
    log_path: Path, admin_token: str, env: Mapping[str, str] | None = None
) -> Iterator[Running]:
    """Start `python -m local.runner`, wait for /health, yield it; stop it with SIGTERM
    after and fail if it did not exit cleanly. Its output goes to `log_path`; `env` adds to
    (or overrides) the environment, PARAMETER_OVERRIDES and WAIT_SCALE included."""
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    child_env.pop("PARAMETER_OVERRIDES", None)
    child_env.update(PORT=str(port), TENANTRY_ADMIN_TOKEN=admin_token, PYTHONUNBUFFERED="1")
    child_env.update(env or {})
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "local.runner"],
            cwd=ROOT,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RunnerFailed(f"runner exited with {proc.returncode}:\n{log_path.read_text()}")
            with contextlib.suppress(OSError):
                if request("GET", f"{base}/health")[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise RunnerFailed(
                    f"runner not healthy in {STARTUP_TIMEOUT}s:\n{log_path.read_text()}"
                )
            time.sleep(0.2)
        yield Running(base, proc, log_path)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    if proc.returncode != 0:
        raise RunnerFailed(f"runner exited with {proc.returncode}:\n{log_path.read_text()}")
