"""Relevance feedback end to end: the alert the worker posts carries "Not relevant"; a click
on it (an INTERACTION_CREATE through discord.py; a signed block_actions through slack-bolt)
and `/policy missed` are stored with story, who, when and channel by the real handlers; and
`policybot feedback export` writes labelled JSON Lines that `policybot eval` runs on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from typer.testing import CliRunner

from bot import platforms
from bot.app.cli import app
from bot.commands import CommandContext
from bot.deliver.pacing import Pacer
from bot.deliver.route import Router, subscriptions_changed
from bot.deliver.worker import Worker
from bot.platforms.discord.chat import build_client
from bot.platforms.discord.send import DiscordBotSender
from bot.platforms.slack.send import SlackBotSender
from bot.store.storage import Storage
from bot.types import FeedbackKind
from tests.conftest import shared_path
from tests.deliver import helpers as h
from tests.fakes.discord import FakeDiscord
from tests.platforms.helpers import discord_problems, opt, sub_option, until
from tests.platforms.slack_server import slack_http
from tests.platforms.test_slack_e2e import CHANNEL as SLACK_CHANNEL
from tests.platforms.test_slack_e2e import TEAM, Env, FakeSlackWithUsers

DISCORD_CHANNEL, DISCORD_USER = 300000000000000001, 400000000000000001
NOT_AI = "Football club signs striker"
MISSED_URL = "https://example.org/Kenya publishes its AI bill"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    monkeypatch.setenv("POLICYBOT_DATABASE_URL", url)
    monkeypatch.setenv("POLICYBOT_FEEDS", str(tmp_path / "absent.yaml"))
    storage = Storage.open(url)
    with storage.write() as s:
        dd = h.destination(s, "discord", str(DISCORD_CHANNEL))
        sd = h.destination(s, "slack", SLACK_CHANNEL)
        h.subscription(s, dd)
        h.subscription(s, sd)
        subscriptions_changed()
        story, verdict = h.story(s, NOT_AI, summary="A transfer, flagged by mistake")
        Router()(s, story, verdict)  # alerts for both channels
        h.story(s, "Kenya publishes its AI bill", relevant=False, jurisdictions=("KE",), topics=())
    storage.close()
    yield url


async def _post_alerts(url: str, discord: FakeDiscord | None, slack: Any | None) -> None:
    storage = Storage.open(url)
    senders: dict[str, Any] = {}
    if discord is not None:
        senders["discord"] = DiscordBotSender("t")
    if slack is not None:
        senders["slack"] = SlackBotSender("xoxb-test", base_url=slack.api_base)
    try:
        stats = await Worker(
            storage,
            senders,
            pacer=Pacer({}),
            alert_renderer=platforms.render_alert,
            digest_renderer=platforms.render_digest,
        ).drain(now=h.NOW + timedelta(minutes=1))
        assert stats.sent == 1 and stats.errors == []
    finally:
        for sender in senders.values():
            await sender.aclose()
        storage.close()


def _ctx(url: str) -> CommandContext:
    return CommandContext.of(Storage.open(url), clock=lambda: h.NOW + timedelta(hours=1))


async def test_discord_not_relevant_and_missed_are_stored_and_exported_for_eval(
    db: str, tmp_path: Path
) -> None:
    fake = FakeDiscord()
    ctx = _ctx(db)
    async with fake:
        with fake.patched():
            await _post_alerts(db, fake, None)
            (alert,) = fake.messages_in(DISCORD_CHANNEL)
            msg = {k: v for k, v in alert.items() if not k.startswith("_")}
            (button,) = [c for row in msg["components"] for c in row["components"]]
            assert button["label"] == "Not relevant"

            client = build_client(ctx, guild_ready_timeout=0.05)
            task = asyncio.create_task(client.start("fake-token"))
            try:
                await asyncio.wait_for(client.wait_until_ready(), 10)

                async def click() -> list[dict[str, Any]]:
                    data = fake.interaction("policy", user_id=DISCORD_USER)
                    data.update(
                        type=3,
                        message=msg,
                        data={"custom_id": button["custom_id"], "component_type": 2},
                    )
                    await fake.dispatch("INTERACTION_CREATE", data)
                    return await until(
                        lambda: [
                            m["_request"] for m in fake.messages if m.get("_token") == data["token"]
                        ]
                    )

                (answer,) = await click()
                assert answer["flags"] & 64  # only the one who clicked sees it
                assert "marked not relevant" in json.dumps(answer, ensure_ascii=False)
                (again,) = await click()  # the same person again: stored once
                assert "Already noted" in json.dumps(again, ensure_ascii=False)

                for item in (MISSED_URL, "Nigeria drafts rules for artificial intelligence"):
                    data = fake.interaction(
                        "policy", sub_option("missed", [opt("item", item)]), user_id=DISCORD_USER
                    )
                    await fake.dispatch("INTERACTION_CREATE", data)
                    (reply,) = await until(
                        lambda data=data: [
                            m["_request"] for m in fake.messages if m.get("_token") == data["token"]
                        ]
                    )
                    assert "should have been flagged" in json.dumps(reply, ensure_ascii=False)
                assert discord_problems(fake) == []
            finally:
                await client.close()
                await asyncio.wait_for(task, 10)
    items = ctx.bot.feedback()
    ctx.bot.close()
    assert [(f.kind, f.title) for f in items] == [
        (FeedbackKind.MISSED, "Nigeria drafts rules for artificial intelligence"),
        (FeedbackKind.MISSED, "Kenya publishes its AI bill"),
        (FeedbackKind.NOT_RELEVANT, NOT_AI),
    ]
    for f in items:
        assert (f.platform, f.scope, f.channel, f.user) == (
            "discord",
            "200000000000000001",
            str(DISCORD_CHANNEL),
            str(DISCORD_USER),
        )
    assert items[0].story_id is None and items[1].story_id is not None

    runner = CliRunner()
    listed = runner.invoke(app, ["feedback", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [r["kind"] for r in json.loads(listed.output)["feedback"]] == [
        "missed",
        "missed",
        "not_relevant",
    ]
    out = tmp_path / "feedback.jsonl"
    exported = runner.invoke(app, ["feedback", "export", str(out)])
    assert exported.exit_code == 0, exported.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["title"], r["relevant"]) for r in records] == [
        (NOT_AI, False),
        ("Kenya publishes its AI bill", True),
        ("Nigeria drafts rules for artificial intelligence", True),
    ]
    assert records[1]["jurisdictions"] == ["KE"] and records[0]["topics"] == []
    dev = shared_path("eval", "dev.jsonl")
    if dev.exists():  # the very fields, and types, of the labelled eval set
        sample = json.loads(dev.read_text(encoding="utf-8").splitlines()[0])
        for key in ("id", "title", "summary", "lang", "relevant", "jurisdictions", "topics"):
            assert key in records[0]
            assert sample[key] is None or type(records[1][key]) is type(sample[key]), key
    assert runner.invoke(app, ["feedback", "export", str(out)]).exit_code == 2  # no --force
    scored = runner.invoke(app, ["eval", str(out), "--json"])
    assert scored.exit_code == 0, scored.output
    report = json.loads(scored.stdout)
    assert report["items"] == 3 and report["skipped"] == []
    relevance = report["relevance"]
    assert relevance["tp"] + relevance["fn"] == 2  # the two "missed" are the relevant labels


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


async def test_slack_not_relevant_click_and_missed_are_stored(
    db: str, slack_env: tuple[Env, CommandContext]
) -> None:
    env, ctx = slack_env
    await _post_alerts(db, None, env.fake)
    (alert,) = env.fake.posts_in(SLACK_CHANNEL)
    (button,) = alert["blocks"][-1]["elements"]
    assert button["text"]["text"] == "Not relevant"
    answer = await env.click(button, message=alert, ephemeral=False)
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert "marked not relevant" in json.dumps(answer, ensure_ascii=False)

    body = env.command_body(f"missed {MISSED_URL}")
    await env.post(body)
    (reply,) = await env.responses(body)
    assert "should have been flagged" in json.dumps(reply, ensure_ascii=False)
    # a link the bot never read is refused with what to do instead
    body = env.command_body("missed https://example.org/never-seen")
    await env.post(body)
    (refused,) = await env.responses(body)
    assert "never read it" in json.dumps(refused, ensure_ascii=False)

    items = ctx.bot.feedback()
    assert [(f.kind, f.platform, f.scope, f.channel, f.user) for f in items] == [
        (FeedbackKind.MISSED, "slack", TEAM, SLACK_CHANNEL, "U0ANN"),
        (FeedbackKind.NOT_RELEVANT, "slack", TEAM, SLACK_CHANNEL, "U0ANN"),
    ]
    assert items[1].title == NOT_AI
