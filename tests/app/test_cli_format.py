"""Small formatting rules of the operator CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app.cli.base import relative_time

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_relative_times_read_naturally() -> None:
    assert relative_time(NOW - timedelta(seconds=30), NOW) == "30s ago"
    assert relative_time(NOW - timedelta(minutes=5), NOW) == "5m ago"
    assert relative_time(NOW + timedelta(hours=3), NOW) == "in 3h"
    assert relative_time(NOW - timedelta(days=3), NOW) == "3d ago"
    assert relative_time(None, NOW) == "never"
    assert relative_time(None, NOW, missing="-") == "-"


def test_an_upcoming_time_already_past_is_due_not_ago() -> None:
    assert relative_time(NOW - timedelta(minutes=1), NOW, upcoming=True) == "due now"
    assert relative_time(NOW, NOW, upcoming=True) == "due now"
    assert relative_time(NOW + timedelta(minutes=58), NOW, upcoming=True) == "in 58m"
