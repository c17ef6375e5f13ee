"""The fuzzing gate: schemathesis over every operation of openapi.json against `make run`,
with all its checks, a fixed seed and a bounded number of examples, as a platform admin
and as a plain user with a project of their own; and the agent routes as a cluster's
agent (every other route answers its token 403 before reading anything, which the admin
and user runs already cover from the other side).

It passes only with no server error, no undocumented status code and no response that
breaks the schema. The refusals no static schema can express are forgiven in one place,
tests/fuzz/refusals.py, each with its reason. Routes added later are covered as soon as
they are in openapi.json.

    FUZZ_EXAMPLES=100 FUZZ_SEED=7 make pytest PYTEST_ARGS="tests/fuzz"   longer, another seed
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local.runner_process import ROOT, child_env, request, running

ADMIN_TOKEN = "fuzz-admin-token-0123456789abcdef"
SEED = int(os.environ.get("FUZZ_SEED", "20261127"))
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
ST = Path(sys.executable).with_name("st")


def _plain_user_with_a_project(base: str) -> str:
    """A user who owns an active project, an org and a pending invite; their token."""
    status, user = request(
        "POST", f"{base}/users", ADMIN_TOKEN, {"email": "fuzz@example.com", "display_name": "Fuzz"}
    )
    assert status == 201, user
    status, token = request("POST", f"{base}/user-tokens", ADMIN_TOKEN, {"user_id": user["id"]})
    assert status == 201, token
    secret = token["created_token"]
    status, project = request(
        "POST", f"{base}/projects", secret, {"name": "Fuzz home", "environments": ["dev"]}
    )
    assert status == 202, project
    deadline = time.monotonic() + 30
    while request("GET", f"{base}/projects/{project['id']}", secret)[1]["status"] != "active":
        assert time.monotonic() < deadline, "the fuzz user's project never became active"
        time.sleep(0.1)
    status, org = request("POST", f"{base}/orgs", secret, {"name": "Fuzz org"})
    assert status == 201, org
    status, invites = request(
        "PUT",
        f"{base}/projects/{project['id']}/invites",
        secret,
        {"emails": ["guest@example.com"], "roles": ["viewer"]},
    )
    assert status == 201, invites
    return secret


def _agent(base: str) -> str:
    """A registered cluster's agent token."""
    status, cluster = request("POST", f"{base}/clusters", ADMIN_TOKEN, {"name": "fuzz-edge"})
    assert status == 201, cluster
    return str(cluster["agent_token"])


# Which operations each caller fuzzes (all by default).
ONLY = {"agent": ["--include-path-regex=^/agent/"]}


@pytest.mark.parametrize("role", ["admin", "user", "agent"])
def test_no_operation_misbehaves_under_fuzzing(role: str, tmp_path: Path) -> None:
    with running(tmp_path / "runner.log", ADMIN_TOKEN, {"WAIT_SCALE": "0.01"}) as runner:
        base = runner.url
        user_token = _plain_user_with_a_project(base)
        token = {"admin": ADMIN_TOKEN, "user": user_token}.get(role) or _agent(base)
        env = child_env(SCHEMATHESIS_HOOKS="tests.fuzz.hooks", PYTHONPATH=str(ROOT), NO_COLOR="1")
        result = subprocess.run(
            [
                str(ST),
                "run",
                str(ROOT / "openapi.json"),
                f"--url={base}",
                f"--header=Authorization: Bearer {token}",
                "--checks=all",
                f"--seed={SEED}",
                f"--max-examples={EXAMPLES}",
                "--phases=examples,coverage,fuzzing",
                "--workers=1",
                "--no-shrink",
                "--generation-database=none",
                "--suppress-health-check=all",
                "--request-timeout=20",
                *ONLY.get(role, []),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    log = tmp_path / f"schemathesis-{role}.log"
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        pytest.fail(
            f"schemathesis as {role} failed (seed {SEED}; whole log: {log}):\n"
            + summary(result.stdout + result.stderr),
            pytrace=False,
        )


def summary(output: str, width: int = 400) -> str:
    """Each failing operation with its failure codes and the curl that reproduces it,
    then schemathesis' own summary: short enough to read in a CI log."""
    keep = []
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("___") or line.startswith("- ST") or line.lstrip().startswith("curl "):
            keep.append(line.strip()[:width])
        elif line.startswith("[") and "]" in line[:6]:  # "[500] Internal Server Error:"
            keep.append(line + " " + " ".join(lines[i + 1 : i + 3]).strip()[:width])
        elif line.startswith("=") and "SUMMARY" in line:
            keep.extend(lines[i:])
            break
    return "\n".join(keep)
