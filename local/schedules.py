"""EventBridge schedules, emulated for `make run`: every function with a Schedule event in
template.yaml (`rate(...)` expressions) is invoked on its own daemon thread at that rate,
with the Scheduled Event EventBridge would send (local/sample_events.py). Real time, not
scaled by WAIT_SCALE: the reconciler every minute costs nothing noticeable.
SCHEDULE_SECONDS=n runs every schedule every n seconds instead (demos and tests)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

from local import template
from local.sample_events import schedule_event

log = logging.getLogger("local.schedules")
RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def interval(expression: str) -> float | None:
    """Seconds between runs of a rate expression (SCHEDULE_SECONDS when set); None for
    what is not emulated (cron)."""
    m = RATE.fullmatch(expression.strip())
    if not m:
        return None
    override = os.environ.get("SCHEDULE_SECONDS")
    if override:
        seconds = float(override)
        if not seconds > 0:
            raise ValueError(f"SCHEDULE_SECONDS={override!r}: a number of seconds above 0")
        return seconds
    return float(m.group(1)) * SECONDS[m.group(2).rstrip("s")]


def rules(tpl: Any = None) -> list[tuple[str, str, float]]:
    """(function logical id, event key, seconds) of every emulated schedule."""
    found = []
    for lid in template.functions(tpl):
        for name, expression in template.schedules(lid, tpl).items():
            seconds = interval(expression)
            if seconds is None:
                log.warning("%s %s: %r is not emulated locally", lid, name, expression)
            else:
                found.append((lid, name, seconds))
    return found


@contextlib.contextmanager
def running(stack: Any) -> Iterator[list[tuple[str, str, float]]]:
    """Invoke each scheduled function at its rate until the block ends."""
    stop = threading.Event()
    emulated = rules()

    def loop(lid: str, name: str, seconds: float) -> None:
        while not stop.wait(seconds):
            try:
                result = stack.invoke(lid, schedule_event(name))
                log.info("%s (%s): %s", lid, name, result)
            except Exception:
                log.exception("%s (%s) failed", lid, name)

    threads = [
        threading.Thread(target=loop, args=rule, name=f"schedule-{rule[1]}", daemon=True)
        for rule in emulated
    ]
    for t in threads:
        t.start()
    try:
        yield emulated
    finally:
        stop.set()
