"""One-click exclusions after "Not relevant", end to end: the alert the worker posts, a click
on its "Not relevant" (an INTERACTION_CREATE through discord.py; a signed block_actions
through slack-bolt), the reply's offer buttons, a click on one of them, the subscription
that now leaves the story's source (or keyword) out, routing of the next such story (held
back here, posted in another channel), and a second click that says it is done already."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot import platforms
from bot.commands import CommandContext
from bot.deliver.pacing import Pacer
from bot.deliver.route import Router, subscriptions_changed
from bot.deliver.worker import Worker
from bot.platforms.discord.chat import build_client
from bot.platforms.discord.send import DiscordBotSender
from bot.platforms.slack.send import SlackBotSender
from bot.store.models import Destination, OutboxMessage
from bot.store.storage import Storage
from tests.deliver import helpers as h
from tests.fakes.discord import FakeDiscord
from tests.platforms.helpers import discord_problems, until
from tests.platforms.slack_server import slack_http
from tests.platforms.test_slack_e2e import CHANNEL as SLACK_CHANNEL
from tests.platforms.test_slack_e2e import Env, FakeSlackWithUsers

HERE, ELSEWHERE = 300000000000000001, 300000000000000002  # two Discord channels
ADMIN, MEMBER = 400000000000000001, 400000000000000002
# A hostile, over-long feed name: its button label must stay inert and within 80 characters.
SOURCE = "Sports Wire @everyone <@&123456789012345678> " + "results " * 15
NOT_AI = "Football club signs striker"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'exclusions.db'}"
    storage = Storage.open(url)
    with storage.write() as s:
        for platform, channel in (
            ("discord", str(HERE)),
            ("discord", str(ELSEWHERE)),
            ("slack", SLACK_CHANNEL),
        ):
            h.subscription(s, h.destination(s, platform, channel))
        subscriptions_changed()
        story, verdict = h.story(s, NOT_AI, summary="A transfer", feeds=(SOURCE,))
        Router()(s, story, verdict)  # alerts for the three channels
    storage.close()
    yield url


def _ctx(url: str) -> CommandContext:
    return CommandContext.of(Storage.open(url), clock=lambda: h.NOW + timedelta(hours=1))


async def _post_alerts(url: str, senders: dict[str, Any], expected: int) -> None:
    storage = Storage.open(url)
    try:
        stats = await Worker(
            storage,
            senders,
            pacer=Pacer({}),
            alert_renderer=platforms.render_alert,
            digest_renderer=platforms.render_digest,
        ).drain(now=h.NOW + timedelta(minutes=1))
        assert stats.sent == expected and stats.errors == []
    finally:
        for sender in senders.values():
            await sender.aclose()
        storage.close()


def _route(url: str, title: str, feed: str) -> set[str]:
    """Route a new flagged story from `feed`; the channels it is queued for."""
    storage = Storage.open(url)
    try:
        with storage.write() as s:
            story, verdict = h.story(s, title, feeds=(feed,), first_seen=h.NOW + timedelta(hours=2))
            Router()(s, story, verdict)
            sid = story.id
        with storage.session() as s:
            q = (
                select(Destination.channel)
                .join(OutboxMessage, OutboxMessage.destination_id == Destination.id)
                .where(OutboxMessage.story_id == sid)
            )
            return set(s.scalars(q))
    finally:
        storage.close()


def _text(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False)


async def test_discord_exclude_source_from_the_not_relevant_reply(db: str) -> None:
    fake = FakeDiscord()
    ctx = _ctx(db)
    async with fake:
        with fake.patched():
            await _post_alerts(db, {"discord": DiscordBotSender("t")}, 2)
            (alert,) = fake.messages_in(HERE)
            alert_msg = {k: v for k, v in alert.items() if not k.startswith("_")}
            (not_relevant,) = [c for row in alert_msg["components"] for c in row["components"]]

            client = build_client(ctx, guild_ready_timeout=0.05)
            task = asyncio.create_task(client.start("fake-token"))
            try:
                await asyncio.wait_for(client.wait_until_ready(), 10)

                async def click(
                    message: dict[str, Any], custom_id: str, user: int = ADMIN
                ) -> dict[str, Any]:
                    data = fake.interaction(
                        "policy", user_id=user, permissions="8" if user == ADMIN else "0"
                    )
                    data.update(
                        type=3, message=message, data={"custom_id": custom_id, "component_type": 2}
                    )
                    await fake.dispatch("INTERACTION_CREATE", data)
                    (answer,) = await until(
                        lambda: [m for m in fake.messages if m.get("_token") == data["token"]]
                    )
                    return answer

                answer = await click(alert_msg, not_relevant["custom_id"])
                assert answer["_request"]["flags"] & 64  # only the one who clicked sees it
                buttons = [c for row in answer["components"] for c in row["components"]]
                labels = [b["label"] for b in buttons]
                assert len(labels) == 2 and all(len(x) <= 80 for x in labels), labels
                assert labels[0].startswith("Exclude source Sports Wire")
                assert "@everyone" not in labels[0] and "<@&" not in labels[0]  # inert
                assert labels[1] == "Exclude keyword Football"
                assert all(len(b["custom_id"]) <= 100 for b in buttons)
                offer = {k: v for k, v in answer.items() if not k.startswith("_")}
                source_button = buttons[0]["custom_id"]

                # Without Manage Server/Channels: refused, nothing changes.
                refused = await click(offer, source_button, user=MEMBER)
                assert "only server/workspace admins" in _text(refused["_request"])
                (sub,) = ctx.bot.subscriptions("discord", "", str(HERE))
                assert sub.exclude_feeds == ()

                done = await click(offer, source_button)
                assert "now leave out stories from the feed" in _text(done["_request"])
                (undo,) = [c for row in done["components"] for c in row["components"]]
                assert undo["label"] == "Undo"
                (sub,) = ctx.bot.subscriptions("discord", "", str(HERE))
                assert sub.exclude_feeds == (SOURCE,) and sub.exclude == ()

                # The next story from that feed: held back here, still posted elsewhere;
                # another feed's story still reaches this channel.
                assert _route(db, "Cup final tickets sold out", SOURCE) == {
                    str(ELSEWHERE),
                    SLACK_CHANNEL,
                }
                assert str(HERE) in _route(db, "EU adopts the AI Act", "Politico Europe")

                again = await click(offer, source_button)
                assert "Already excluded" in _text(again["_request"])
                (sub,) = ctx.bot.subscriptions("discord", "", str(HERE))
                assert sub.exclude_feeds == (SOURCE,)  # once

                # Not relevant again: the source is offered back ("Allow ... again").
                answer = await click(alert_msg, not_relevant["custom_id"])
                labels = [c["label"] for row in answer["components"] for c in row["components"]]
                assert labels[0].startswith("Allow source Sports Wire") and len(labels[0]) <= 80
                assert discord_problems(fake) == []
            finally:
                await client.close()
                await asyncio.wait_for(task, 10)
    ctx.bot.close()


@pytest.fixture
async def slack_env(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Env, CommandContext]]:
    monkeypatch.setenv("POLICYBOT_SLACK_ADMINS", "U0BOSS")
    fake = FakeSlackWithUsers(admins=set())
    ctx = _ctx(db)
    async with fake, slack_http(ctx, fake) as url, aiohttp.ClientSession() as session:
        yield Env(fake, None, url, session), ctx  # type: ignore[arg-type]
    ctx.bot.close()


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "button"
    ]


async def test_slack_exclude_keyword_from_the_not_relevant_reply(
    db: str, slack_env: tuple[Env, CommandContext]
) -> None:
    env, ctx = slack_env
    await _post_alerts(db, {"slack": SlackBotSender("xoxb-test", base_url=env.fake.api_base)}, 1)
    (alert,) = env.fake.posts_in(SLACK_CHANNEL)
    (not_relevant,) = _buttons(alert)

    answer = await env.click(not_relevant, message=alert, user="U0BOSS")
    assert answer["response_type"] == "ephemeral"
    source, keyword = _buttons(answer)
    assert source["text"]["text"].startswith("Exclude source Sports Wire")
    assert len(source["text"]["text"]) <= 75 and "@everyone" not in source["text"]["text"]
    assert keyword["text"]["text"] == "Exclude keyword Football"

    refused = await env.click(keyword, message=answer, user="U0ANN")  # not an admin
    assert "only server/workspace admins" in _text(refused)

    done = await env.click(keyword, message=answer, user="U0BOSS")
    assert "now leave out stories holding the word “Football”" in _text(done)
    (sub,) = ctx.bot.subscriptions("slack", "", SLACK_CHANNEL)
    assert sub.exclude == ("Football",) and sub.exclude_feeds == ()

    # A new story with that word, from another feed: not for this channel, still for Discord.
    assert _route(db, "Football league adopts AI refereeing", "Other Wire") == {
        str(HERE),
        str(ELSEWHERE),
    }
    assert SLACK_CHANNEL in _route(db, "Tennis body adopts AI line calls", "Other Wire")

    again = await env.click(keyword, message=answer, user="U0BOSS")
    assert "Already excluded" in _text(again)

    (undo,) = _buttons(again)
    undone = await env.click(undo, message=again, user="U0BOSS")
    assert "Undone" in _text(undone)
    (sub,) = ctx.bot.subscriptions("slack", "", SLACK_CHANNEL)
    assert sub.exclude == ()
