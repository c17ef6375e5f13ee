"""Measurement 1: cold import time of each Lambda function's module against `import boto3`.

Every run is a fresh `python -I` process of `.venv-runtime`, a venv holding only
layers/core/requirements.txt (created, or recreated from scratch, when it is missing or
older than the requirements, with the Makefile's stamp file). The module's CodeUri
directory and the layer's ContentUri come first on sys.path, as /var/task and /opt/python
do in Lambda; the function's environment from the template is set. The clock runs around
the import statement only (interpreter start-up is the same for every row).

One unmeasured round first compiles the .pyc files (the layer's dependencies ship compiled;
our own sources are compiled at first import, here as on a fresh Lambda container without
them). Then ROUNDS rounds, interleaved (boto3, module 1, module 2, ...) so drift in machine
load hits every row alike; the median is reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import ROOT, BenchError, Check, median, progress

ROUNDS = 7
TARGET_RATIO = 1.5
NEAR = 0.9  # a module above 90% of the target gets its breakdown too (it may flip next run)
RUNTIME_VENV = ROOT / ".venv-runtime"
REQUIREMENTS = ROOT / "layers" / "core" / "requirements.txt"
STAMP = RUNTIME_VENV / ".stamp"
DEV_ONLY = ("moto", "pytest", "cfnlint", "hypothesis")  # must not be importable there
MARK = "--bench-import-starts--"
CHILD = """\
import sys, time
sys.path[0:0] = {paths!r}
sys.stderr.write({mark!r} + "\\n")
sys.stderr.flush()
t, c = time.perf_counter(), time.process_time()
import {module}
print(time.perf_counter() - t, time.process_time() - c)
"""


@dataclass
class Target:
    label: str  # the function (or "import boto3")
    module: str
    paths: list[str]
    env: dict[str, str]
    source: str = ""  # the module's file, relative to the repo
    functions: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # wall clock
    cpu: list[float] = field(default_factory=list)  # CPU time of the importing process

    @property
    def median(self) -> float:
        return median(self.times)


# --- the runtime venv ---------------------------------------------------------------------


def runtime_python() -> Path:
    """`.venv-runtime/bin/python`, (re)built from scratch when missing or stale."""
    python = RUNTIME_VENV / "bin" / "python"
    fresh = (
        python.exists()
        and STAMP.exists()
        and STAMP.stat().st_mtime >= REQUIREMENTS.stat().st_mtime
        and not _dev_packages(python)
    )
    if not fresh:
        progress(f"creating {RUNTIME_VENV.name} from {REQUIREMENTS.relative_to(ROOT)}")
        if RUNTIME_VENV.is_symlink():
            # Another checkout's venv (a worktree sharing it): `venv --clear` would empty
            # that one. As the Makefile does (rm -rf), this checkout gets its own instead.
            RUNTIME_VENV.unlink()
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(RUNTIME_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True
        )
        STAMP.touch()
        if leaked := _dev_packages(python):
            raise BenchError(f"{RUNTIME_VENV.name} is not lean: {leaked} importable")
    return python


def _dev_packages(python: Path) -> list[str]:
    code = (
        "import importlib.util as u, json; "
        f"print(json.dumps([m for m in {DEV_ONLY!r} if u.find_spec(m)]))"
    )
    out = subprocess.run([str(python), "-I", "-c", code], capture_output=True, text=True)
    return list(json.loads(out.stdout)) if out.returncode == 0 else ["(python fails)"]


# --- what to import -----------------------------------------------------------------------


def targets() -> list[Target]:
    """boto3, then one Target per distinct (CodeUri, handler module) of the template."""
    from local.stack import Stack

    stack = Stack()
    layers = [
        str(ROOT / res["Properties"]["ContentUri"])
        for res in stack.resources.values()
        if res["Type"] == "AWS::Serverless::LayerVersion"
    ]
    base_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    out = [Target("import boto3", "boto3", [], base_env)]
    by_module: dict[tuple[str, str], Target] = {}
    for fn in stack.functions.values():
        module = fn.handler.rpartition(".")[0]
        key = (fn.code_uri, module)
        if key not in by_module:
            env = {
                **base_env,
                **fn.environment,
                "AWS_LAMBDA_FUNCTION_NAME": fn.logical_id,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory),
                "_HANDLER": fn.handler,
            }
            source = str(Path(fn.code_uri, *module.split(".")).with_suffix(".py"))
            by_module[key] = Target(
                fn.logical_id, module, [str(ROOT / fn.code_uri), *layers], env, source
            )
            out.append(by_module[key])
        by_module[key].functions.append(fn.logical_id)
    return out


def _run(python: Path, target: Target, *, importtime: bool = False) -> subprocess.Popen[str]:
    code = CHILD.format(paths=target.paths, mark=MARK, module=target.module)
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.Popen(
        [str(python), "-I", *flags, "-c", code],
        cwd=ROOT,
        env=target.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _time_once(python: Path, target: Target) -> tuple[float, float]:
    """(wall, CPU) seconds of one import in a fresh process."""
    proc = _run(python, target)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise BenchError(f"importing {target.module} for {target.label} failed:\n{err[-2000:]}")
    wall, cpu = out.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


# --- -X importtime ------------------------------------------------------------------------


@dataclass(frozen=True)
class Imported:
    name: str
    self_us: int
    cumulative_us: int
    depth: int  # 0: the measured module itself
    chain: tuple[str, ...]  # importers, outermost first (the measured module excluded)


def importtime(python: Path, target: Target) -> list[Imported]:
    """One `-X importtime` run: what importing the module imported, with each entry's
    importers (importtime prints an import when it completes, children before parents)."""
    proc = _run(python, target, importtime=True)
    _, err = proc.communicate()
    rows: list[tuple[str, int, int, int]] = []
    started = False
    for line in err.splitlines():
        if line == MARK:
            started = True
        elif started and line.startswith("import time:") and "self [us]" not in line:
            self_us, cum_us, label = line.removeprefix("import time:").split("|", 2)
            label = label.rstrip()
            depth = (len(label) - len(label.lstrip()) - 1) // 2  # "| " + 2 spaces a level
            rows.append((label.strip(), int(self_us), int(cum_us), depth))
    out: list[Imported] = []
    for i, (name, self_us, cum_us, depth) in enumerate(rows):
        chain: list[str] = []
        want = depth - 1
        for later, _, _, d in rows[i + 1 :]:
            if want < 1:
                break
            if d == want:
                chain.append(later)
                want -= 1
        out.append(Imported(name, self_us, cum_us, depth, tuple(reversed(chain))))
    return out


def breakdown(entries: list[Imported], top: int = 5) -> list[str]:
    """What a developer needs to decide what to cut: the top self-time imports (and who
    pulled them in), the module's direct imports by cumulative time, and self time summed
    per top-level package."""
    lines = ["top self time (-X importtime, one run; 'via' = first importer chain):"]
    for e in sorted(entries, key=lambda e: -e.self_us)[:top]:
        chain = list(e.chain) if len(e.chain) <= 3 else [e.chain[0], "...", e.chain[-1]]
        via = " > ".join(chain) if chain else "(imported directly)"
        lines.append(f"  {e.self_us / 1000:7.1f} ms  {e.name:<48} via {via}")
    direct = sorted((e for e in entries if e.depth == 1), key=lambda e: -e.cumulative_us)
    lines.append(
        "direct imports by cumulative time: "
        + ", ".join(f"{e.name} {e.cumulative_us / 1000:.0f} ms" for e in direct[:top])
    )
    per_package: Counter[str] = Counter()
    for e in entries:
        if e.depth > 0:
            per_package[e.name.split(".")[0]] += e.self_us
    lines.append(
        "self time by top-level package: "
        + ", ".join(f"{p} {us / 1000:.0f} ms" for p, us in per_package.most_common(top))
    )
    return lines


# --- the measurement ----------------------------------------------------------------------


def measure() -> tuple[list[str], list[Check]]:
    python = runtime_python()
    rows = targets()
    progress(f"import times: {len(rows)} targets x {ROUNDS} rounds (+1 warm-up), fresh processes")
    for target in rows:  # warm-up: compiles .pyc, fills the page cache
        _time_once(python, target)
    for _ in range(ROUNDS):
        for target in rows:
            wall, cpu = _time_once(python, target)
            target.times.append(wall)
            target.cpu.append(cpu)
    boto3, modules = rows[0], rows[1:]
    lines = [
        f"1. Cold import per Lambda module vs `import boto3` (fresh `python -I` processes in "
        f"{RUNTIME_VENV.name}, median of {ROUNDS})",
        f"   target: module/boto3 <= {TARGET_RATIO:.2f} for every function (wall clock); "
        "[min-max] of the runs; CPU: the same ratio in CPU time (less sensitive to a busy machine)",
        f"   {'import boto3':<34} {'':<30} {boto3.median * 1000:7.1f} ms",
    ]
    checks: list[Check] = []
    details: list[str] = []
    for target in modules:
        ratio = target.median / boto3.median
        ok = ratio <= TARGET_RATIO
        name = target.label + (
            f" +{len(target.functions) - 1}" if len(target.functions) > 1 else ""
        )
        spread = f"[{min(target.times) * 1000:.0f}-{max(target.times) * 1000:.0f}]"
        cpu_ratio = median(target.cpu) / median(boto3.cpu)
        lines.append(
            f"   {name:<34} {target.source:<30} {target.median * 1000:7.1f} ms  "
            f"x{ratio:.2f}  {'PASS' if ok else 'FAIL'}  {spread:<10} CPU x{cpu_ratio:.2f}"
        )
        if len(target.functions) > 1:
            lines.append(f"   {'':<4}(same module: {', '.join(target.functions[1:])})")
        checks.append(Check("imports", name, f"x{ratio:.2f}", f"<= {TARGET_RATIO}", ok))
        if ratio > TARGET_RATIO * NEAR:
            progress(f"importtime breakdown of {target.source}")
            why = "over target" if not ok else f"within {1 - NEAR:.0%} of target"
            details.append(f"   {name} ({target.source}) is {why}:")
            details.extend(f"     {line}" for line in breakdown(importtime(python, target)))
    lines.extend(details)
    return lines, checks
