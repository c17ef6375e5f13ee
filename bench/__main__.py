"""`python -m bench` (what `make bench` runs): see bench/__init__.py. Exit status 1 when a
target is missed, 2 when the bench itself could not run."""

from __future__ import annotations

import os
import sys
import time
import traceback

from bench.common import ROOT, BenchError, Check

LAYER = str(ROOT / "layers" / "core")
if LAYER not in sys.path:  # as pytest's pythonpath and Lambda's /opt/python do
    sys.path.insert(1, LAYER)


def main() -> int:
    from bench import claims, emulated, imports, load, pages, realtime, reconciler, tasks

    started = time.monotonic()
    load_before = f"{os.getloadavg()[0]:.1f}"
    try:
        lines1, checks1 = imports.measure()
        print("\n".join(lines1), flush=True)
        lines2, checks2, lines3, checks3 = emulated.run()
        lines4, checks4 = load.run()
        lines5, checks5 = pages.run()
        lines6, checks6 = reconciler.run()
        lines7, checks7 = claims.run()
        lines8, checks8 = tasks.run()
        lines9, checks9 = realtime.run()
    except BenchError as exc:
        print(f"bench could not run: {exc}", file=sys.stderr)
        return 2
    except Exception:
        traceback.print_exc()
        return 2
    print()
    print("\n".join(lines2))
    print()
    print("\n".join(lines3))
    print()
    print("\n".join(lines4))
    print()
    print("\n".join(lines5))
    print()
    print("\n".join(lines6))
    print()
    print("\n".join(lines7))
    print()
    print("\n".join(lines8))
    print()
    print("\n".join(lines9))
    checks: list[Check] = [
        *checks1,
        *checks2,
        *checks3,
        *checks4,
        *checks5,
        *checks6,
        *checks7,
        *checks8,
        *checks9,
    ]
    failed = [c for c in checks if not c.passed]
    print()
    load_after = f"{os.getloadavg()[0]:.1f}"
    print(
        f"Summary ({time.monotonic() - started:.0f} s; 1-min load average {load_before} at the "
        f"start, {load_after} at the end, {os.cpu_count()} CPUs): "
        f"{len(checks) - len(failed)}/{len(checks)} targets met"
    )
    for c in checks:
        print(f"  {c.verdict}  {c.section:<8} {c.name}: {c.value} (target {c.target})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
