"""Both adapters through the real command handlers (bot.commands.handle) on a SQLite Storage:
the defaults the running bot uses, end to end over 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select

from bot.commands import CommandContext
from bot.platforms.discord.chat import build_client
from bot.store.models import Feed, Subscription
from bot.store.storage import Storage
from tests.deliver.helpers import NOW, story
from tests.fakes.discord import FakeDiscord
from tests.platforms.helpers import (
    LIVE_DISCORD_MENTION,
    LIVE_SLACK_MENTION,
    discord_problems,
    opt,
    sub_option,
    until,
)
from tests.platforms.slack_server import slack_http
from tests.platforms.test_slack_e2e import SECRET, FakeSlackWithUsers

MANAGE_GUILD = 1 << 5


@pytest.fixture
def ctx(sqlite_url: str) -> Iterator[CommandContext]:
    storage = Storage.open(sqlite_url)
    with storage.write() as s:
        for i in range(7):
            story(
                s,
                f"EU AI Act implementing act {i}",
                summary="Brussels <@123> @everyone",
                first_seen=NOW - timedelta(hours=i + 1),
            )
        story(
            s,
            "China export controls on chips",
            jurisdictions=("CN",),
            topics=("export-controls",),
            feeds=("Reuters",),
        )
    yield CommandContext.of(storage=storage, clock=lambda: NOW + timedelta(hours=1))
    storage.close()


async def test_discord_with_real_handlers(ctx: CommandContext) -> None:
    fake = FakeDiscord()
    async with fake:
        with fake.patched():
            client = build_client(ctx, guild_ready_timeout=0.05)
            task = asyncio.create_task(client.start("fake-token"))
            try:
                await asyncio.wait_for(client.wait_until_ready(), 10)

                async def run(
                    name: str, options: list[dict[str, Any]], kind: int = 2, permissions: int = 0
                ) -> dict[str, Any]:
                    data = fake.interaction(
                        "policy", sub_option(name, options), permissions=str(permissions)
                    )
                    data["type"] = kind
                    await fake.dispatch("INTERACTION_CREATE", data)
                    return data

                def followups(inter: dict[str, Any]) -> list[dict[str, Any]]:
                    return [
                        m["_request"] for m in fake.messages if m.get("_token") == inter["token"]
                    ]

                search = await run(
                    "search", [opt("query", "AI Act"), opt("jurisdiction", "European Union")]
                )
                (body,) = await until(lambda: followups(search))
                titles = [e.get("title", "") for e in body["embeds"]]
                assert titles[0] == "Search"
                assert sum("EU AI Act implementing act" in t for t in titles) == 5
                assert not LIVE_DISCORD_MENTION.search(json.dumps(body, ensure_ascii=False))
                labels = [c["label"] for row in body["components"] for c in row["components"]]
                assert labels == ["Previous", "More"]

                ac = await run("search", [opt("jurisdiction", "germ", focused=True)], kind=4)
                await until(
                    lambda: [
                        c for c in fake.interaction_callbacks if c["interaction_id"] == ac["id"]
                    ]
                )
                cb = next(c for c in fake.interaction_callbacks if c["interaction_id"] == ac["id"])[
                    "body"
                ]
                assert cb["type"] == 8
                assert {"name": "Germany (DE)", "value": "DE"} in cb["data"]["choices"]

                sub = await run(
                    "subscribe",
                    [
                        opt("jurisdictions", "EU, China"),
                        opt("mode", "daily"),
                        opt("at", "9:00"),
                        opt("timezone", "Europe/Berlin"),
                    ],
                    permissions=MANAGE_GUILD,
                )
                (answer,) = await until(lambda: followups(sub))
                assert answer["embeds"][0]["title"] == "Subscribed"
                with ctx.bot.storage.session() as s:
                    rows = list(s.scalars(select(Subscription)))
                assert [(r.jurisdictions, r.mode, r.at, r.timezone) for r in rows] == [
                    (["EU", "CN"], "daily", "09:00", "Europe/Berlin")
                ]

                # instruments: autocomplete from the classifier's lexicon, then subscribe
                ac = await run(
                    "subscribe", [opt("instruments", "eu-ai-act, colo", focused=True)], kind=4
                )
                await until(
                    lambda: [
                        c for c in fake.interaction_callbacks if c["interaction_id"] == ac["id"]
                    ]
                )
                cb = next(c for c in fake.interaction_callbacks if c["interaction_id"] == ac["id"])[
                    "body"
                ]
                assert cb["data"]["choices"][0] == {
                    "name": "eu-ai-act, Colorado AI Act (SB 24-205)",
                    "value": "eu-ai-act,us-colorado-ai-act",
                }
                sub = await run(
                    "subscribe",
                    [
                        opt("instruments", "eu-ai-act,us-colorado-ai-act"),
                        {"type": 10, "name": "min_score", "value": 0.7},
                    ],
                    permissions=MANAGE_GUILD,
                )
                (answer,) = await until(lambda: followups(sub))
                assert answer["embeds"][0]["title"] == "Subscribed", answer
                with ctx.bot.storage.session() as s:
                    row = s.scalars(select(Subscription).order_by(Subscription.id.desc())).first()
                assert row is not None
                assert (row.instruments, row.min_score) == (
                    ["EU AI Act", "Colorado AI Act (SB 24-205)"],
                    0.7,
                )

                digest = await run("digest", [opt("hours", 48)])
                messages = await until(lambda: followups(digest))
                assert messages[0]["embeds"][0]["title"].startswith("🇪🇺 EU")
                assert discord_problems(fake) == []
            finally:
                await client.close()
                await asyncio.wait_for(task, 10)


@pytest.fixture
async def slack(
    ctx: CommandContext,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[FakeSlackWithUsers, str]]:
    monkeypatch.setenv("POLICYBOT_SLACK_ADMINS", "U0ADMIN")
    fake = FakeSlackWithUsers(admins=set())
    async with fake, slack_http(ctx, fake) as url:
        yield fake, url


async def _slash(
    session: aiohttp.ClientSession,
    url: str,
    fake: FakeSlackWithUsers,
    text: str,
    user: str = "U0ANN",
) -> dict[str, Any]:
    response_url = fake.response_url()
    body = urlencode(
        {
            "team_id": "T0001",
            "channel_id": "C0NEWS",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/policy",
            "text": text,
            "response_url": response_url,
            "trigger_id": "1",
        }
    )
    ts = str(int(time.time()))
    sig = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    async with session.post(
        url,
        data=body.encode(),
        headers={
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sig,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    ) as resp:
        assert resp.status == 200
    rid = response_url.rsplit("/", 1)[1]
    found = await until(lambda: [r for r in fake.responses if r["_id"] == rid])
    return found[0]  # type: ignore[no-any-return]


async def test_slack_with_real_handlers(
    ctx: CommandContext, slack: tuple[FakeSlackWithUsers, str]
) -> None:
    fake, url = slack
    async with aiohttp.ClientSession() as session:
        msg = await _slash(session, url, fake, "search chips --jurisdiction china")
        blob = json.dumps(msg["blocks"], ensure_ascii=False)
        assert "China export controls on chips" in blob
        assert "AI Act" not in blob

        msg = await _slash(session, url, fake, "search AI Act")
        assert not LIVE_SLACK_MENTION.search(json.dumps(msg["blocks"], ensure_ascii=False))
        assert any(b["type"] == "actions" for b in msg["blocks"])  # 7 hits, 5 per page

        denied = await _slash(session, url, fake, "subscribe jurisdictions=EU")
        assert "only server/workspace admins" in json.dumps(denied["blocks"])

        ok = await _slash(
            session,
            url,
            fake,
            "subscribe jurisdictions=EU topics=legislation mode=weekly day=fri"
            " at=08:30 tz=Europe/Paris",
            user="U0ADMIN",
        )
        assert "Subscription 1 added" in json.dumps(ok["blocks"])
        listing = await _slash(session, url, fake, "subscriptions")
        assert "weekly, fri 08:30 Europe/Paris" in json.dumps(listing["blocks"])

        ok = await _slash(
            session, url, fake, 'subscribe instruments="AI Act" min_score=0.7', user="U0ADMIN"
        )
        assert "Subscription 2 added" in json.dumps(ok["blocks"]), ok
        with ctx.bot.storage.session() as s:
            row = s.get(Subscription, 2)
            assert row is not None and (row.instruments, row.min_score) == (["EU AI Act"], 0.7)

        # a feed's name of several words, unquoted
        with ctx.bot.storage.write() as s:
            s.add(
                Feed(
                    name="My Policy Feed",
                    config_url="https://example.org/mine.xml",
                    url="https://example.org/mine.xml",
                    origin="chat",
                    enabled=True,
                    in_config=True,
                    jurisdictions=[],
                )
            )
        gone = await _slash(session, url, fake, "feeds remove My Policy Feed", user="U0ADMIN")
        assert "will no longer be polled" in json.dumps(gone["blocks"]), gone

        bad = await _slash(session, url, fake, "search x --jurisdiction Narnia")
        assert bad["response_type"] == "ephemeral"
        assert "unknown jurisdiction" in json.dumps(bad["blocks"])
