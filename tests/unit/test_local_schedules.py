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


def test_schedule_seconds_shortens_every_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULE_SECONDS", "0.5")
    assert schedules.interval("rate(1 minute)") == 0.5
    assert schedules.interval("rate(2 hours)") == 0.5
    assert schedules.interval("cron(0 12 * * ? *)") is None  # still not emulated
    assert ("ReconcilerFunction", "EveryMinute", 0.5) in schedules.rules()
    monkeypatch.setenv("SCHEDULE_SECONDS", "0")
    with pytest.raises(ValueError, match="SCHEDULE_SECONDS"):
        schedules.interval("rate(1 minute)")
