"""`make invoke` (local/invoke.py) as a subprocess: a route and a workflow step, each with
its sample event from events/, on the seeded emulated stack. The Lambda response is the
only thing on stdout; the function's logs (and the emulator's) are on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from local.runner_process import child_env

ROOT = Path(__file__).resolve().parents[2]


def _invoke(*args: str) -> tuple[int, Any, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "local.invoke", *args],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, f"stdout is not one JSON line: {proc.stdout!r}\n{proc.stderr}"
    return proc.returncode, json.loads(lines[0]), proc.stderr


def test_route_event_returns_the_api_response() -> None:
    code, result, stderr = _invoke("ProjectsFunction", "-e", "events/projects/GetProject.json")

    assert code == 0, stderr
    assert result["statusCode"] == 200, result
    assert json.loads(result["body"])["id"] == "demo"  # the seed made the sample's project
    assert "REPORT ProjectsFunction Duration:" in stderr


def test_workflow_step_result_on_stdout_its_logs_on_stderr() -> None:
    # No FUNCTION: a file of events/ names its function. The Catch target's sample carries a
    # caught error; the step marks the project failed and logs a warning (Powertools: JSON).
    code, result, stderr = _invoke("-e", "events/workflows/RecordFailureFunction.json")

    assert code == 0, stderr
    assert isinstance(result, dict), result
    logged = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    failure = [entry for entry in logged if entry.get("message") == "workflow failed"]
    assert failure, stderr
    assert failure[0]["function_name"] == "RecordFailureFunction"
    # the raw error goes to the log; the project's reason is a sentence
    assert "RegistryError" in json.dumps(failure[0])


def test_a_raising_function_prints_lambdas_error_payload(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("{}")  # a step's input without project_id

    code, result, stderr = _invoke("CreateEnvironmentsFunction", "-e", str(event), "--no-seed")

    assert code == 1
    assert result["errorType"] == "KeyError", result
    assert "Traceback" in stderr
