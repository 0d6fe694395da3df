"""`feeds add` checks a URL through the ingest check (bot/ingest/check.py, tested there) with
the deadlines and limits of the configuration."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bot.commands import context as context_module
from bot.commands.context import CommandContext
from bot.ingest.check import FeedCheck, Policy


async def test_the_context_uses_the_configured_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    got: dict[str, Any] = {}

    async def fake_check(url: str, policy: Policy, **kw: Any) -> FeedCheck:
        got.update(kw)
        return FeedCheck(False, url, error="x")

    monkeypatch.setattr(context_module, "check_feed", fake_check)
    defaults = SimpleNamespace(
        read_timeout=7.0, total_timeout=12.0, max_redirects=3, max_body_bytes=1000, user_agent="ua"
    )
    ctx = CommandContext(storage=None, config=SimpleNamespace(defaults=defaults))  # type: ignore[arg-type]
    await ctx.check_feed("https://example.org/f")
    assert got == {
        "timeout": 7.0,
        "total_timeout": 12.0,
        "max_redirects": 3,
        "max_bytes": 1000,
        "user_agent": "ua",
    }


def test_the_default_policy_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYBOT_ALLOW_PRIVATE_FEEDS", "1")
    assert CommandContext(storage=None).policy.allow_private  # type: ignore[arg-type]
    monkeypatch.delenv("POLICYBOT_ALLOW_PRIVATE_FEEDS")
    assert not CommandContext(storage=None).policy.allow_private  # type: ignore[arg-type]
