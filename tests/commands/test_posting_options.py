"""The ping and thread options of `subscribe`, from chat, the CLI and the config file: stored,
shown, and refused with a message that says what to do where the destination cannot."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app.config import ConfigError, parse_config
from bot.commands import Caller, CommandContext, Reply, Request, handle
from bot.ingest.check import Policy
from bot.store.models import Subscription
from bot.store.storage import Storage

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DISCORD = Caller("discord", "u1", scope="guildA", channel="chan1", is_admin=True)
SLACK = Caller("slack", "u1", scope="T1", channel="C0123ABC", is_admin=True)
CLI = Caller("cli", "me", is_admin=True)


@pytest.fixture
def storage(sqlite_url: str) -> Iterator[Storage]:
    s = Storage.open(sqlite_url)
    yield s
    s.close()


@pytest.fixture
def ctx(storage: Storage) -> CommandContext:
    return CommandContext.of(storage=storage, clock=lambda: NOW, policy=Policy())


async def run(ctx: CommandContext, caller: Caller, **args: Any) -> Reply:
    return await handle(Request("subscribe", args, caller), ctx)


async def test_chat_stores_and_shows_pings_and_threads(
    ctx: CommandContext, storage: Storage
) -> None:
    r = await run(
        ctx,
        DISCORD,
        mention="<@&555555555555555555>",
        mention_min_score="0.7",
        mention_instruments="eu-ai-act",
        post_as="thread",
    )
    assert not r.error, r.text
    r2 = await run(ctx, SLACK, mention="<!subteam^S0PING1|@policy>", post_as="thread")
    assert not r2.error, r2.text
    with storage.session() as s:
        d, sl = s.scalars(select(Subscription).order_by(Subscription.id)).all()
    assert (d.mention, d.mention_min_score, d.post_as) == ("555555555555555555", 0.7, "thread")
    assert d.mention_instruments == ["EU AI Act"]
    assert (sl.mention, sl.post_as) == ("S0PING1", "thread")
    assert r.table is not None and "pings 555555555555555555" in r.table.rows[0][-1]
    assert "thread" in r.table.rows[0][-1]


@pytest.mark.parametrize(
    ("caller", "args", "needle"),
    [
        (SLACK, {"post_as": "forum"}, "Discord forum channels only"),
        (DISCORD, {"post_as": "forum", "channel_kind": "text"}, "needs a forum channel"),
        (DISCORD, {"post_as": "thread", "channel_kind": "thread"}, "cannot hold threads"),
        (DISCORD, {"mention": "policy team"}, "not a Discord role id"),
        (SLACK, {"mention": "@policy"}, "not a Slack user group id"),
        (DISCORD, {"mention_min_score": "0.5"}, "needs `mention`"),
        (DISCORD, {"digest_thread": "yes"}, "daily or weekly"),
        (DISCORD, {"post_as": "carrier-pigeon"}, "choose one of message, thread, forum"),
    ],
)
async def test_chat_refuses_what_the_channel_cannot_do(
    ctx: CommandContext, storage: Storage, caller: Caller, args: dict[str, Any], needle: str
) -> None:
    r = await run(ctx, caller, **args)
    assert r.error and needle in r.text, r.text
    with storage.session() as s:
        assert s.scalars(select(Subscription)).all() == []


async def test_cli_takes_the_same_options(ctx: CommandContext, storage: Storage) -> None:
    r = await run(
        ctx,
        CLI,
        platform="discord",
        scope="",
        channel="123456789012345678",
        post_as="forum",
        mention="555555555555555555",
    )
    assert not r.error, r.text
    r = await run(ctx, CLI, platform="console", scope="", channel="", post_as="thread")
    assert r.error and "not the console" in r.text


def _config(sub: dict[str, Any]) -> Any:
    return parse_config({"subscriptions": [sub]}, Path("feeds.yaml"))


def test_config_file_options_and_their_errors() -> None:
    cfg = _config(
        {
            "destination": {"platform": "discord", "channel": "123456789012345678"},
            "mention": 555555555555555555,
            "mention_instruments": ["EU AI Act"],
            "post_as": "forum",
        }
    )
    (o,) = cfg.subscription_options()
    assert (o.mention, o.post_as, o.mention_instruments) == (
        "555555555555555555",
        "forum",
        ("EU AI Act",),
    )
    slack = {"platform": "slack", "channel": "C0123ABCD"}
    hook = {"platform": "discord-webhook", "webhook_env": "HOOK"}
    for sub, needle in (
        ({"destination": slack, "post_as": "forum"}, "Discord forum channels only"),
        ({"destination": hook, "post_as": "thread"}, "a webhook cannot start threads"),
        ({"destination": slack, "digest_thread": True}, "daily or weekly"),
        ({"destination": slack, "mention": "S-bad"}, "not a Slack user group id"),
    ):
        with pytest.raises(ConfigError) as err:
            _config(sub)
        assert needle in str(err.value)


async def test_help_names_the_new_options(ctx: CommandContext) -> None:
    r = await handle(Request("help", {"command": "subscribe"}, DISCORD), ctx)
    for option in ("mention", "mention_min_score", "post_as", "forum", "digest_thread"):
        assert option in r.text
