"""Hostile feed text through routing, the real renderers, the worker and the real client
libraries to the fakes: valid messages, no pings, the story's sources named."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import platforms as render
from bot.deliver.digests import queue_due_digests
from bot.deliver.pacing import Pacer
from bot.deliver.route import Router, subscriptions_changed
from bot.deliver.worker import Worker
from bot.platforms.console.send import ConsoleSender
from bot.platforms.discord.send import DiscordBotSender
from bot.platforms.slack.send import SlackBotSender
from bot.store.storage import Storage
from tests.deliver import helpers as h
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack

HOSTILE = "@everyone <@123456789> <@&42> <!channel> <!here> [click](https://evil.example)"


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    s = Storage.open(f"sqlite:///{tmp_path / 'e2e.db'}")
    yield s
    s.close()


async def test_alerts_and_digest_through_the_real_renderers(storage: Storage) -> None:
    with storage.write() as s:
        dd = h.destination(s, "discord", "111111111111111111")
        sd = h.destination(s, "slack", "C1")
        cd = h.destination(s, "console", "")
        for d in (dd, sd, cd):
            h.subscription(s, d)
        h.subscription(s, dd, mode="daily", created_at=h.NOW - timedelta(days=3))
        subscriptions_changed()
        router = Router()
        for i in range(12):
            st, v = h.story(
                s,
                f"AI rules {i} {HOSTILE}",
                summary=f"Summary {HOSTILE} " * 20,
                feeds=("Politico Europe", "Euractiv"),
                first_seen=h.NOW - timedelta(hours=12 - i),
            )
            router(s, st, v)
        assert len(queue_due_digests(s, h.NOW + timedelta(days=1))) == 1
    out = io.StringIO()
    async with FakeDiscord() as discord_fake, FakeSlack() as slack_fake:
        with discord_fake.patched():
            senders: dict[str, Any] = {
                "discord": DiscordBotSender("t"),
                "slack": SlackBotSender("xoxb-test", base_url=slack_fake.api_base),
                "console": ConsoleSender(out),
            }
            try:
                stats = await Worker(
                    storage,
                    senders,
                    pacer=Pacer({}),
                    alert_renderer=render.render_alert,
                    digest_renderer=render.render_digest,
                ).drain(now=h.NOW + timedelta(days=1))
            finally:
                for sender in senders.values():
                    await sender.aclose()
    assert stats.sent == 37 and stats.rejected == 0 and stats.errors == []
    discord_msgs = [m["_request"] for m in discord_fake.messages]
    assert len(discord_msgs) >= 13  # 12 alerts + the digest (one or more parts)
    for body in discord_msgs:
        assert render.validate_discord_message(body) == []
        assert body["allowed_mentions"] == {"parse": []}
        text = str(body.get("content", "")) + str(body.get("embeds", ""))
        assert "@everyone" not in text.replace("@\u200beveryone", "")
        assert "<@123456789>" not in text and "<@&42>" not in text
    assert "Politico Europe" in str(discord_msgs[0]) and "Euractiv" in str(discord_msgs[0])
    assert len(slack_fake.posts) == 12
    for post in slack_fake.posts:
        msg = {k: v for k, v in post.items() if k in ("text", "blocks")}
        assert render.validate_slack_message(msg) == []
        text = str(msg)
        assert "<!channel>" not in text and "<!here>" not in text and "<@123456789>" not in text
        assert "<https://evil.example" not in text
    assert out.getvalue().count("AI rules") >= 12
