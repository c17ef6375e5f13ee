"""local/schedules.py: the template's schedules, as `make run` runs them."""

from __future__ import annotations

import pytest

from local import schedules


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("cron(0 12 * * ? *)", None),
        ("rate(minute)", None),
    ],
)
def test_interval(expression: str, seconds: float | None) -> None:
    assert schedules.interval(expression) == seconds


def test_the_reconciler_runs_every_minute() -> None:
    assert ("ReconcilerFunction", "EveryMinute", 60.0) in schedules.rules()
