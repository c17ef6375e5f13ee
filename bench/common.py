"""What the measurements share: the repo root, results, progress lines, small formatting."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_START = time.monotonic()


class BenchError(Exception):
    """The bench itself could not run as scripted (a route answered unexpectedly, ...)."""


@dataclass(frozen=True)
class Check:
    """One target: what was measured, the target, and whether it was met."""

    section: str
    name: str
    value: str
    target: str
    passed: bool

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"


def progress(message: str) -> None:
    """Progress goes to stderr so stdout holds only the report."""
    print(f"[bench {time.monotonic() - _START:5.1f}s] {message}", file=sys.stderr, flush=True)


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
