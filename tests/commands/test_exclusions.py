"""One-click exclusions through the real handlers and polls: `exclude_feeds` in routing,
preview, digests and the config file; the offers after "Not relevant" (none without a
subscription, none for config-file ones), the rights they need, undo, and the keyword
chosen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.app.cli import app
from bot.app.config import ConfigError, parse_config
from bot.clock import utcnow
from bot.commands import CommandContext, handle
from bot.commands.spec import EXCLUDE_COMMAND, NOT_RELEVANT_COMMAND
from bot.commands.types import Action, Caller, Reply, Request
from bot.core.exclusions import choose_keyword
from bot.deliver.digests import queue_due_digests
from bot.platforms.console import PLATFORM as CONSOLE
from bot.platforms.discord.buttons import button_label
from bot.platforms.slack.reply import button_text
from bot.store.models import OutboxMessage, Story, Subscription
from bot.store.storage import Storage
from tests.deliver.helpers import NOW
from tests.deliver.routing_world import FEEDS, World, item

ADMIN = Caller("discord", "u1", scope="guildA", channel="chan1", is_admin=True)
USER = Caller("discord", "u2", scope="guildA", channel="chan1", is_admin=False)
ELSEWHERE = Caller("discord", "u1", scope="guildA", channel="chan2", is_admin=True)


@pytest.fixture
def world(db_url: str) -> Iterator[World]:  # SQLite and PostgreSQL
    storage = Storage.open(db_url)
    yield World.make(storage)
    storage.close()


@pytest.fixture
def ctx(world: World) -> CommandContext:
    return CommandContext.of(world.storage, clock=lambda: NOW + timedelta(hours=1))


async def run(ctx: CommandContext, name: str, caller: Caller = ADMIN, /, **args: Any) -> Reply:
    return await handle(Request(name, args, caller), ctx)


def _story(world: World, title: str) -> int:
    with world.storage.session() as s:
        sid = s.scalar(select(Story.id).where(Story.title == title))
    assert sid is not None
    return sid


async def test_exclude_feeds_in_routing_preview_and_digests(
    ctx: CommandContext, world: World
) -> None:
    r = await run(ctx, "subscribe", exclude_feeds="edpb")
    assert not r.error, r.text
    assert "feed EDPB" in r.table.rows[0][5]  # type: ignore[union-attr]  # spelt as stored
    daily = await run(ctx, "subscribe", ELSEWHERE, exclude_feeds="tag:privacy", mode="daily")
    assert not daily.error, daily.text
    for args, expected in (
        ({"exclude_feeds": "EDBP"}, "no feed is called 'EDBP'"),
        ({"feeds": "EDPB", "exclude_feeds": "edpb"}, "EDPB is both in `feeds` and in"),
    ):
        for command in ("subscribe", "preview"):
            bad = await run(ctx, command, **args)
            assert bad.error and expected in bad.text, (command, bad.text)
    # Real polls through the router: EDPB's story is held back, Wire's and CNIL's posted.
    world.poll("EDPB", [item("EU AI opinion")], now=NOW)
    world.poll("Wire", [item("EU AI Act news")], now=NOW)
    world.poll("CNIL", [item("CNIL AI sanction")], now=NOW)
    assert world.routed() == ["EU AI Act news", "CNIL AI sanction"]
    preview = await run(ctx, "preview", filters="exclude_feeds:tag:privacy")
    assert [s.title for s in preview.stories] == ["EU AI Act news"]
    with world.storage.write() as s:
        (digest,) = queue_due_digests(s, NOW + timedelta(days=1, hours=10))
    assert world.titles(list(digest.story_ids)) == ["EU AI Act news"]


def test_exclude_feeds_in_the_config_file(tmp_path: Path) -> None:
    dest = {"platform": "slack", "channel": "C0123ABCD"}
    cfg = parse_config(
        {"feeds": FEEDS, "subscriptions": [{"destination": dest, "exclude_feeds": ["tag:fr"]}]},
        tmp_path / "feeds.yaml",
    )
    assert cfg.subscription_options()[0].exclude_feeds == ("tag:fr",)
    for sub, expected in (
        ({"exclude_feeds": ["EDBP"]}, "exclude_feeds: no feed is called 'EDBP'"),
        ({"feeds": ["Wire"], "exclude_feeds": ["wire"]}, "both in `feeds` and in `exclude_feeds`"),
    ):
        with pytest.raises(ConfigError) as info:
            parse_config(
                {"feeds": FEEDS, "subscriptions": [{"destination": dest, **sub}]},
                tmp_path / "feeds.yaml",
            )
        assert expected in str(info.value)


async def test_not_relevant_offers_need_a_subscription_and_the_rights(
    ctx: CommandContext, world: World
) -> None:
    assert not (await run(ctx, "subscribe", jurisdictions="EU")).error
    world.poll("Wire", [item("EU AI Act fintech Binance ruling")], now=NOW)
    sid = _story(world, "EU AI Act fintech Binance ruling")

    # A channel with no subscription that would post it: noted, nothing offered.
    bare = await run(ctx, NOT_RELEVANT_COMMAND, ELSEWHERE, story=sid)
    assert not bare.error and bare.actions == () and "Stop stories" not in bare.text

    offered = await run(ctx, NOT_RELEVANT_COMMAND, USER, story=sid)  # anyone sees the offers
    assert [a.label for a in offered.actions] == [
        "Exclude source Wire",
        "Exclude keyword Binance",  # a name inside the headline, not an evidence term
    ]
    keyword = offered.actions[1]
    assert keyword.command == EXCLUDE_COMMAND
    refused = await run(ctx, keyword.command, USER, **keyword.args)
    assert refused.error and "only server/workspace admins" in refused.text
    (sub,) = ctx.bot.subscriptions("discord", "guildA", "chan1")
    assert sub.exclude == ()

    nothing = await run(ctx, EXCLUDE_COMMAND, story=sid, by="keyword", undo=True)
    assert "Not excluded" in nothing.text
    done = await run(ctx, keyword.command, **keyword.args)
    assert "Done: subscription 1 of this channel now leave out" in done.text
    assert [a.label for a in done.actions] == ["Undo"]
    (sub,) = ctx.bot.subscriptions("discord", "guildA", "chan1")
    assert sub.exclude == ("Binance",)
    world.poll("Wire", [item("EU AI Binance probe")], now=NOW + timedelta(minutes=1))
    assert "EU AI Binance probe" not in world.routed()
    again = await run(ctx, NOT_RELEVANT_COMMAND, story=sid)
    assert [a.label for a in again.actions][1] == "Allow keyword Binance again"
    undo = await run(ctx, done.actions[0].command, **done.actions[0].args)
    assert "Undone: subscription 1 of this channel post" in undo.text
    assert ctx.bot.subscriptions("discord", "guildA", "chan1")[0].exclude == ()

    gone = await run(ctx, EXCLUDE_COMMAND, story=sid, by="colour")
    assert gone.error and "`source` or `keyword`" in gone.text


async def test_config_file_subscriptions_are_named_not_edited(
    ctx: CommandContext, world: World
) -> None:
    assert not (await run(ctx, "subscribe", jurisdictions="EU")).error
    with world.storage.write() as s:
        for row in s.scalars(select(Subscription)):
            row.origin = "config"
    world.poll("Wire", [item("EU AI Act update")], now=NOW)
    sid = _story(world, "EU AI Act update")
    reply = await run(ctx, NOT_RELEVANT_COMMAND, story=sid)
    assert reply.actions == ()
    assert "config file: the operator adds `exclude_feeds` there" in reply.text
    refused = await run(ctx, EXCLUDE_COMMAND, story=sid, by="source")
    assert refused.error and "comes from the bot's config file" in refused.text


def test_the_keyword_is_off_topic_not_what_made_it_look_relevant() -> None:
    def ev(rule: str, text: str, start: int = -1, field: str = "title") -> dict[str, Any]:
        return {
            "rule": rule,
            "term": text.lower(),
            "text": text,
            "field": field,
            "start": start,
            "end": start + len(text) if start >= 0 else -1,
        }

    title = "Crypto exchange fined under new AI rules"
    evidence = [ev("governance", "fined", 16), ev("ai_governance", "AI rules", 32)]
    assert choose_keyword(title, "", evidence) == "Crypto"  # the subject, not "fined"
    # The classifier's own off-topic term wins.
    football = [ev("negative", "Football", 0), ev("ai", "AI", 14)]
    assert choose_keyword("Football club uses AI scouts", "", football) == "Football"
    # A name inside the headline before its first word.
    assert choose_keyword("Regulators question Binance over AI bots", "", []) == "Binance"
    # Function words, short words and evidence terms are never offered; CJK is not split.
    assert choose_keyword("What the AI law says", "", [ev("ai_governance", "AI law")]) is None
    assert choose_keyword("人工智能法草案公布", "", []) is None


def test_offer_labels_are_inert_and_short() -> None:
    hostile = "Wire @everyone <@&123> <!channel> https://evil.example " + "x" * 200
    for label, limit in ((button_label(hostile), 80), (button_text(hostile), 75)):
        assert len(label) <= limit and label.endswith("…")
        assert "@everyone" not in label and "<@&" not in label and "<!channel>" not in label
    reply = Reply(
        title="Not relevant",
        text="Noted.",
        actions=(Action("Exclude source X", "exclude", {"story": 1}),),
    )
    (text,) = CONSOLE.render_reply(reply)
    assert "[Exclude source X]" in text


async def test_a_forum_posts_button_edits_the_forums_subscription(
    ctx: CommandContext, world: World
) -> None:
    # A Discord forum post's buttons answer from inside the post (a thread): the
    # subscription is the forum channel's, found through the post's outbox row.
    assert not (await run(ctx, "subscribe", jurisdictions="EU")).error
    world.poll("Wire", [item("EU AI forum item")], now=NOW)
    sid = _story(world, "EU AI forum item")
    with world.storage.write() as s:
        row = s.scalars(select(OutboxMessage).where(OutboxMessage.story_id == sid)).one()
        row.thread_id = "thread9"
    in_post = Caller("discord", "u1", scope="guildA", channel="thread9", is_admin=True)
    offered = await run(ctx, NOT_RELEVANT_COMMAND, in_post, story=sid)
    assert offered.actions[0].label == "Exclude source Wire"
    done = await run(ctx, EXCLUDE_COMMAND, in_post, **offered.actions[0].args)
    assert "Done: subscription 1" in done.text
    assert ctx.bot.subscriptions("discord", "guildA", "chan1")[0].exclude_feeds == ("Wire",)


def test_cli_exclude_feeds(world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("POLICYBOT_DATABASE_URL", world.storage.engine.url.render_as_string(False))
    monkeypatch.setenv("POLICYBOT_FEEDS", str(tmp_path / "absent.yaml"))
    r = CliRunner()
    dest = ["--platform", "slack", "--scope", "T1", "--channel", "C1"]
    ok = r.invoke(app, ["subscriptions", "add", *dest, "--exclude-feeds", "edpb", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["table"]["rows"][0][5] == "feed EDPB"
    bad = r.invoke(app, ["subscriptions", "add", *dest, "--exclude-feeds", "Nope"])
    assert bad.exit_code == 2 and "no feed is called 'Nope'" in bad.output
    today = utcnow()  # the CLI's clock is the real one
    world.poll("EDPB", [item("Fresh EDPB opinion", published=today)], now=today)
    world.poll("CNIL", [item("Fresh CNIL opinion", published=today)], now=today)
    args = ["subscriptions", "preview", "--feeds", "tag:privacy", "--exclude-feeds", "EDPB"]
    shown = r.invoke(app, [*args, "--json"])
    assert shown.exit_code == 0, shown.output
    assert [s["title"] for s in json.loads(shown.output)["stories"]] == ["Fresh CNIL opinion"]
