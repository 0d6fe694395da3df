"""Feed routing, exclusions, mute and preview end to end: the /policy commands through
discord.py and slack-bolt/slack-sdk (against the local fakes) with the real handlers, polls
through Storage.record_poll and the real Router, and delivery through the real renderers and
senders (discord.py's HTTP client, slack-sdk's) to the same fakes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot import platforms as render
from bot.commands import CommandContext
from bot.deliver.mute import queue_scheduled
from bot.deliver.pacing import Pacer
from bot.deliver.ports import Sender
from bot.deliver.worker import Worker
from bot.platforms.discord.chat import build_client
from bot.platforms.discord.send import DiscordBotSender
from bot.platforms.slack.send import SlackBotSender
from bot.store.models import OutboxMessage, Subscription
from bot.store.storage import Storage
from tests.deliver.helpers import NOW
from tests.deliver.routing_world import World, item
from tests.fakes.discord import FakeDiscord
from tests.platforms.helpers import (
    LIVE_DISCORD_MENTION,
    discord_problems,
    opt,
    sub_option,
    until,
)
from tests.platforms.slack_server import slack_http
from tests.platforms.test_real_handlers import _slash
from tests.platforms.test_slack_e2e import FakeSlackWithUsers

MANAGE_GUILD = 1 << 5
DISCORD_CHANNEL = "300000000000000001"  # the fake's default interaction channel


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    storage = Storage.open(f"sqlite:///{tmp_path / 'e2e.db'}")
    yield World.make(storage)
    storage.close()


Command = Callable[..., Awaitable[str]]  # (name, **options) -> the reply as JSON text


@dataclass
class Platform:
    command: Command
    sender: Sender
    posted: Callable[[], list[str]]  # JSON of each message posted to the channel, in order


async def scenario(world: World, clock: Clock, p: Platform) -> None:
    """What a team coming from an RSS app does, on either platform."""
    ok = await p.command("subscribe", feeds="tag:privacy")
    assert "Subscription 1 added" in ok, ok
    ok = await p.command("subscribe", jurisdictions="EU", exclude="crypto")
    assert "Subscription 2 added" in ok, ok
    # The same subscription again (feeds in another case): refused, naming the first.
    again = await p.command("subscribe", feeds="TAG:Privacy")
    assert "same subscription already (id 1)" in again, again

    async def deliver(at: datetime) -> None:
        stats = await Worker(
            world.storage,
            {world.platform: p.sender},
            pacer=Pacer({}),
            alert_renderer=render.render_alert,
            digest_renderer=render.render_digest,
        ).drain(now=at)
        assert stats.rejected == 0 and stats.errors == [], stats

    # A feed-routed subscription posts an unflagged item; an excluded keyword holds a
    # flagged story back.
    world.poll("EDPB", [item("Guidelines on cookie banners")])
    world.poll("Wire", [item("EU AI Act and crypto lobbying"), item("EU AI Act enters into force")])
    await deliver(NOW)
    posted = p.posted()
    assert any("Guidelines on cookie banners" in m for m in posted)
    assert any("EU AI Act enters into force" in m for m in posted)
    assert not any("crypto lobbying" in m for m in posted)
    assert len(posted) == 2

    # Mute holds posts back until it expires.
    clock.now = NOW + timedelta(hours=1)
    muted = await p.command("mute", duration="7d")
    assert "muted until 2026-11-27 13:00 UTC" in muted, muted
    listing = await p.command("subscriptions")
    assert "This channel is muted until" in listing
    world.poll("EDPB", [item("Opinion on data scraping")], now=NOW + timedelta(hours=2))
    world.poll("Wire", [item("EU AI Office hires")], now=NOW + timedelta(hours=2))
    await deliver(NOW + timedelta(hours=2))
    assert len(p.posted()) == 2

    # Preview: what a privacy subscription would have posted, before subscribing.
    clock.now = NOW + timedelta(hours=3)
    shown = await p.command("preview", feeds="tag:privacy")
    assert "would have posted 2 stories in the last 7 days" in shown, shown
    assert "Guidelines on cookie banners" in shown and "Opinion on data scraping" in shown

    assert queue_scheduled(world.storage, NOW + timedelta(days=7)) == []  # still muted
    await deliver(NOW + timedelta(days=7))
    assert len(p.posted()) == 2
    (catch_up,) = queue_scheduled(world.storage, NOW + timedelta(days=7, hours=2))
    assert sorted(world.titles(list(catch_up.story_ids))) == [
        "EU AI Office hires",
        "Opinion on data scraping",
    ]
    await deliver(NOW + timedelta(days=7, hours=2))
    after = p.posted()[2:]
    assert after and any("Opinion on data scraping" in m for m in after)
    assert any("EU AI Office hires" in m for m in after)
    assert not any("crypto lobbying" in m for m in p.posted())

    # Preview matches routing: subscription 1 received exactly the stories preview showed.
    with world.storage.session() as s:
        rows = list(s.scalars(select(OutboxMessage)))
        sub1 = s.get(Subscription, 1)
        assert sub1 is not None and sub1.feeds == ["tag:privacy"]
    to_sub1 = [r.story_id for r in rows if r.kind == "alert" and r.subscription_id == 1]
    held = [i for i in catch_up.story_ids]
    routed = set(world.titles([i for i in to_sub1 if i is not None]))
    routed |= {t for t in world.titles(held) if t == "Opinion on data scraping"}
    assert routed == {"Guidelines on cookie banners", "Opinion on data scraping"}
    for title in routed:
        assert title in shown


async def test_discord(world: World) -> None:
    world.platform = "discord"
    clock = Clock()
    ctx = CommandContext.of(world.storage, clock=clock)
    fake = FakeDiscord()
    async with fake:
        with fake.patched():
            client = build_client(ctx, guild_ready_timeout=0.05)
            task = asyncio.create_task(client.start("fake-token"))
            sender = DiscordBotSender("fake-token")
            try:
                await asyncio.wait_for(client.wait_until_ready(), 10)

                async def command(name: str, **options: Any) -> str:
                    if name == "preview":  # Discord's preview takes the filters as one text
                        options = {"filters": " ".join(f"{k}:{v}" for k, v in options.items())}
                    data = fake.interaction(
                        "policy",
                        sub_option(name, [opt(k, v) for k, v in options.items()]),
                        permissions=str(MANAGE_GUILD),
                    )
                    await fake.dispatch("INTERACTION_CREATE", data)
                    found = await until(
                        lambda: [
                            m["_request"] for m in fake.messages if m.get("_token") == data["token"]
                        ]
                    )
                    return json.dumps(found, ensure_ascii=False)

                def posted() -> list[str]:
                    return [
                        json.dumps(m["_request"], ensure_ascii=False)
                        for m in fake.messages_in(DISCORD_CHANNEL)
                        if not m.get("_token")
                    ]

                await scenario(world, clock, Platform(command, sender, posted))
                for body in [m["_request"] for m in fake.messages_in(DISCORD_CHANNEL)]:
                    assert body.get("allowed_mentions") == {"parse": []}
                    assert not LIVE_DISCORD_MENTION.search(json.dumps(body))
                assert discord_problems(fake) == []
            finally:
                await sender.aclose()
                await client.close()
                await asyncio.wait_for(task, 10)


async def test_slack(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.platform = "slack"
    monkeypatch.setenv("POLICYBOT_SLACK_ADMINS", "U0ADMIN")
    clock = Clock()
    ctx = CommandContext.of(world.storage, clock=clock)
    fake = FakeSlackWithUsers(admins=set())
    async with fake, aiohttp.ClientSession() as session, slack_http(ctx, fake) as url:
        sender = SlackBotSender("xoxb-test", base_url=fake.api_base)
        try:

            async def command(name: str, **options: Any) -> str:
                text = " ".join([name, *(f'{k}="{v}"' for k, v in options.items())])
                reply = await _slash(session, url, fake, text, user="U0ADMIN")
                return json.dumps(reply, ensure_ascii=False)

            def posted() -> list[str]:
                return [
                    json.dumps({k: v for k, v in m.items() if k in ("text", "blocks")})
                    for m in fake.posts
                    if m.get("channel") == "C0NEWS" and m["_method"] == "chat.postMessage"
                ]

            await scenario(world, clock, Platform(command, sender, posted))
        finally:
            await sender.aclose()
