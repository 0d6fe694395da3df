"""`feeds add` checks a URL through the ingest check (bot/ingest/check.py, tested there) with
the deadlines and limits of the configuration."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bot.app.runtime import fetch_options
from bot.commands.context import CommandContext
from bot.core import service as service_module
from bot.ingest import check as check_module
from bot.ingest.check import FeedCheck, Policy


async def test_the_context_uses_the_configured_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    got: dict[str, Any] = {}

    async def fake_check(url: str, policy: Policy, **kw: Any) -> FeedCheck:
        got.update(kw)
        return FeedCheck(False, url, error="x")

    monkeypatch.setattr(check_module, "check_feed", fake_check)
    defaults = SimpleNamespace(
        read_timeout=7.0, total_timeout=12.0, max_redirects=3, max_body_bytes=1000, user_agent="ua"
    )
    options = fetch_options(SimpleNamespace(defaults=defaults))  # type: ignore[arg-type]
    ctx = CommandContext.of(storage=None, fetch_options=options)  # type: ignore[arg-type]
    assert ctx.bot.feed_checker is not None
    await ctx.bot.feed_checker("https://example.org/f")
    assert got == {
        "timeout": 7.0,
        "total_timeout": 12.0,
        "max_redirects": 3,
        "max_bytes": 1000,
        "user_agent": "ua",
    }


async def test_the_default_policy_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    policies: list[Policy] = []

    async def fake_check(url: str, policy: Policy, **kw: Any) -> FeedCheck:
        policies.append(policy)
        return FeedCheck(False, url, error="x")

    monkeypatch.setattr(check_module, "check_feed", fake_check)
    monkeypatch.setenv("POLICYBOT_ALLOW_PRIVATE_FEEDS", "1")
    await service_module.make_feed_checker()("https://example.org/f")
    monkeypatch.delenv("POLICYBOT_ALLOW_PRIVATE_FEEDS")
    await service_module.make_feed_checker()("https://example.org/f")
    assert [p.allow_private for p in policies] == [True, False]
