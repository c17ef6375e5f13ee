"""The `helm` binary, run for one release at a time.

Every run is `subprocess.Popen` with an argument list (never a shell), in its own session
(a Ctrl-C meant for the agent does not reach it), stdout discarded (it carries the chart's
NOTES, rendered from the values), stderr kept for the reason, and an environment without
the agent's TENANTRY_* variables. It is stopped (SIGTERM to its process group, SIGKILL
`kill_grace` seconds later) when `cancel` is set or when it outlives its deadline.

Install is `helm upgrade --install <release> oci://<registry>/<repo> --version <tag>
--namespace <ns> --values <file> --reset-values --atomic --wait --timeout <n>s`:
- `--wait` (implied by `--atomic`): Done means rolled out, the release's workloads ready;
- `--atomic`: a failed or timed-out install is rolled back (an upgrade) or uninstalled (a
  first install), so Failed leaves the release as it was, never half-applied; a SIGTERM
  (cancel) makes helm roll back too, if it can within `kill_grace`;
- `--reset-values`: the work item's values are the whole truth, nothing is reused.
Helm waits at most `timeout` seconds, twice with a rollback; the process gets that and a
margin before it is killed. The loop keeps the item's lease alive all the while.

The values file is written in a fresh private directory (0700, the file 0600, under
`tmp_dir`), and the directory is removed after the run whatever happens. Secrets are only
there: never in argv, the environment, a log line or a reason.

Uninstall is `helm uninstall <release> --namespace <ns> --wait --timeout <n>s`; helm's
"release: not found" is success.

Every command runs as the namespace's deployer (`--kube-as-user`, see kube.py), so helm has
`admin` in the release's namespace and nothing elsewhere. In a pod, helm cannot combine
impersonation with its in-cluster configuration, so `in_cluster_kubeconfig` writes a
kubeconfig naming the service account's token and CA files (paths, no secret).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tenantry_agent.executor import Canceled, Chart, ExecutorError, Release
from tenantry_agent.kube import deployer_user

log = logging.getLogger("tenantry_agent.helm")
MAX_REASON = 300
MAX_STDERR = 64 * 1024
CONTROL = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x1f\x7f]")
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class Helm:
    def __init__(
        self,
        binary: str = "helm",
        *,
        timeout: float = 300.0,
        kubeconfig: str | None = None,
        context: str | None = None,
        kill_grace: float = 10.0,
        margin: float = 60.0,
        tmp_dir: str | None = None,
        poll_interval: float = 0.1,
    ) -> None:
        self.binary = binary
        self.timeout = max(1, int(timeout))
        self.kubeconfig = kubeconfig
        self.context = context
        self.kill_grace = kill_grace
        self.margin = margin  # beyond helm's own timeout before the process is killed
        self.tmp_dir = tmp_dir
        self.poll_interval = poll_interval

    # --- commands -----------------------------------------------------------------------------

    def version(self) -> str:
        """`helm version --short` (no cluster needed); ExecutorError if it does not run."""
        code, out, err = self._run(
            [self.binary, "version", "--short"], threading.Event(), deadline=30.0, stdout=True
        )
        if code != 0:
            raise ExecutorError(reason_from("version", err, code))
        return out.strip()

    def upgrade_install(
        self, release: Release, chart: Chart, values: Mapping[str, Any], *, cancel: threading.Event
    ) -> None:
        workdir = tempfile.mkdtemp(prefix="tenantry-helm-", dir=self.tmp_dir)  # 0700
        try:
            values_file = os.path.join(workdir, "values.json")  # JSON is YAML
            fd = os.open(values_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(values, out)
            args = [
                self.binary,
                "upgrade",
                "--install",
                release.name,
                chart.ref,
                "--version",
                chart.version,
                "--namespace",
                release.namespace,
                "--values",
                values_file,
                "--reset-values",
                "--atomic",
                "--wait",
                "--timeout",
                f"{self.timeout}s",
                *self._cluster_args(release),
            ]
            log.info(
                "helm upgrade --install %s %s --version %s --namespace %s",
                release.name,
                chart.ref,
                chart.version,
                release.namespace,
            )
            # twice the timeout: --atomic rolls back with the same timeout after a failure
            code, _, err = self._run(args, cancel, deadline=2 * self.timeout + self.margin)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if code != 0:
            raise ExecutorError(reason_from("upgrade --install", err, code))
        log.info("helm release %s/%s is deployed", release.namespace, release.name)

    def uninstall(self, release: Release, *, cancel: threading.Event) -> bool:
        """False when there was no such release (which is done too)."""
        args = [
            self.binary,
            "uninstall",
            release.name,
            "--namespace",
            release.namespace,
            "--wait",
            "--timeout",
            f"{self.timeout}s",
            *self._cluster_args(release),
        ]
        log.info("helm uninstall %s --namespace %s", release.name, release.namespace)
        code, _, err = self._run(args, cancel, deadline=self.timeout + self.margin)
        if code != 0:
            if "release: not found" in err:
                log.info("helm release %s/%s is gone already", release.namespace, release.name)
                return False
            raise ExecutorError(reason_from("uninstall", err, code))
        log.info("helm release %s/%s is uninstalled", release.namespace, release.name)
        return True

    # --- running ------------------------------------------------------------------------------

    def _cluster_args(self, release: Release) -> list[str]:
        args = []
        if self.kubeconfig:
            args += ["--kubeconfig", self.kubeconfig]
        if self.context:
            args += ["--kube-context", self.context]
        return [*args, "--kube-as-user", deployer_user(release.namespace)]

    def _run(
        self, args: Sequence[str], cancel: threading.Event, *, deadline: float, stdout: bool = False
    ) -> tuple[int, str, str]:
        """(exit code, stdout if asked for, stderr); Canceled or ExecutorError when stopped."""
        try:
            process = subprocess.Popen(  # noqa: S603 - an argument list, no shell
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=helm_env(),
                start_new_session=True,
            )
        except OSError as exc:
            raise ExecutorError(
                f"cannot run {self.binary} ({exc.strerror or type(exc).__name__})"
            ) from None
        stop_at = time.monotonic() + deadline
        while True:
            try:
                out, err = process.communicate(timeout=self.poll_interval)
                break
            except subprocess.TimeoutExpired:
                pass
            if cancel.is_set():
                self._stop(process)
                raise Canceled()
            if time.monotonic() > stop_at:
                self._stop(process)
                raise ExecutorError(f"helm did not finish within {deadline:g}s; stopped it")
        text = (err or b"")[-MAX_STDERR:].decode("utf-8", "replace")
        return process.returncode, (out or b"").decode("utf-8", "replace"), text

    def _stop(self, process: subprocess.Popen[bytes]) -> None:
        """SIGTERM to helm's process group (helm cancels, and rolls back with --atomic),
        then SIGKILL after `kill_grace`."""
        for sig, wait in ((signal.SIGTERM, self.kill_grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                process.communicate(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue
        log.error("helm (pid %d) did not exit after SIGKILL", process.pid)


def helm_env() -> dict[str, str]:
    """The agent's environment without its own settings (the agent token among them)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}


def reason_from(verb: str, stderr: str, code: int) -> str:
    """`helm <verb>: <helm's error>`: its last `Error:` line (else its last line), one line,
    no control characters, short."""
    lines = [CONTROL.sub("", line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if line.startswith("Error:")]
    line = errors[-1] if errors else (lines[-1] if lines else f"exit status {code}")
    line = line.removeprefix("Error:").strip() or f"exit status {code}"
    text = f"helm {verb}: {line}"
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


def in_cluster_kubeconfig(directory: str, environ: Mapping[str, str] | None = None) -> str:
    """A kubeconfig for helm in a pod: the API server from KUBERNETES_SERVICE_HOST/PORT, the
    service account's CA and token files (by path: the kubelet rotates the token in place
    and client-go re-reads it). Written 0600 into `directory`; raises OSError/KeyError."""
    env = os.environ if environ is None else environ
    host, port = env["KUBERNETES_SERVICE_HOST"], env.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:  # IPv6
        host = f"[{host}]"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "in-cluster",
                "cluster": {
                    "server": f"https://{host}:{port}",
                    "certificate-authority": str(SERVICE_ACCOUNT / "ca.crt"),
                },
            }
        ],
        "users": [{"name": "agent", "user": {"tokenFile": str(SERVICE_ACCOUNT / "token")}}],
        "contexts": [{"name": "in-cluster", "context": {"cluster": "in-cluster", "user": "agent"}}],
        "current-context": "in-cluster",
    }
    path = os.path.join(directory, "kubeconfig")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(config, out)
    return path
