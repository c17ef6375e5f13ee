"""The local tools as subprocesses, as a user starts them: `make run` on a free loopback
port (the runner's tests, the fuzzing gate, the README walk-through, the load bench) and,
through `started`, `make moto` and `make invoke`'s module. `child_env` is the environment
they all get: this one without AWS settings, pytest's or a developer's local settings."""

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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 90.0
# What `make run` / `make moto` read from the environment: never inherited by a child.
LOCAL_SETTINGS = (
    "PARAMETER_OVERRIDES",
    "TENANTRY_ADMIN_TOKEN",
    "WAIT_SCALE",
    "PORT",
    "SEED",
    "MOTO_HOST",
    "MOTO_PORT",
    "LOCAL_AGENT",
    "SCHEDULE_SECONDS",
    "CHART_REGISTRY_URL",
)


def child_env(**settings: str) -> dict[str, str]:
    """This process's environment less AWS_*, PYTEST_* and LOCAL_SETTINGS, plus `settings`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "PYTEST_")) and k not in LOCAL_SETTINGS
    }
    env.update(PYTHONUNBUFFERED="1", **settings)
    return env


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
def started(
    module: str, log_path: Path, env: Mapping[str, str], ready: Callable[[], bool]
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m <module>` with its output in `log_path`, once `ready()`; stopped with
    SIGTERM after (then killed), failing unless it exited cleanly."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not ready():
            if proc.poll() is not None:
                raise RunnerFailed(
                    f"{module} exited with {proc.returncode}:\n{log_path.read_text()}"
                )
            if time.monotonic() > deadline:
                raise RunnerFailed(
                    f"{module} not ready in {STARTUP_TIMEOUT}s:\n{log_path.read_text()}"
                )
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    if proc.returncode != 0:
        raise RunnerFailed(f"{module} exited with {proc.returncode}:\n{log_path.read_text()}")


@contextlib.contextmanager
def running(
    log_path: Path, admin_token: str, env: Mapping[str, str] | None = None
) -> Iterator[Running]:
    """`make run` on a free loopback port once /health answers; `env` adds settings
    (PARAMETER_OVERRIDES, WAIT_SCALE, ...)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        with contextlib.suppress(OSError):
            return request("GET", f"{base}/health")[0] == 200
        return False

    settings = child_env(PORT=str(port), TENANTRY_ADMIN_TOKEN=admin_token, **(env or {}))
    with started("local.runner", log_path, settings, healthy) as proc:
        yield Running(base, proc, log_path)
