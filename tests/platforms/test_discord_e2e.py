"""The Discord adapter end to end through discord.py itself, against the local fake Discord
(REST + gateway on 127.0.0.1): login, command sync, READY, then INTERACTION_CREATE events whose
answers arrive at the fake as interaction callbacks and follow-up webhooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest

from bot.commands.types import Reply, Request
from bot.platforms.chat import FAILED_TEXT
from bot.platforms.discord.chat import PolicyClient, build_client
from tests.deliver.test_render_checks import bad_links, discord_links
from tests.fakes.discord import FakeDiscord
from tests.platforms.helpers import (
    HOSTILE,
    LIVE_DISCORD_MENTION,
    FakeHandler,
    completer,
    discord_problems,
    opt,
    post,
    sub_option,
    until,
)

EPHEMERAL = 64
ADMINISTRATOR, MANAGE_CHANNELS, MANAGE_GUILD = 1 << 3, 1 << 4, 1 << 5
GUILD, CHANNEL, USER = 200000000000000001, 300000000000000001, 400000000000000001


@dataclass
class Env:
    fake: FakeDiscord
    client: PolicyClient
    handler: FakeHandler

    async def command(
        self,
        name: str,
        options: list[dict[str, Any]] | None = None,
        *,
        group: str | None = None,
        permissions: int = 0,
        user_id: int = USER,
        kind: int = 2,
    ) -> dict[str, Any]:
        data = self.fake.interaction(
            "policy",
            sub_option(name, options, group),
            permissions=str(permissions),
            user_id=user_id,
        )
        data["type"] = kind
        assert await self.fake.dispatch("INTERACTION_CREATE", data) == 1
        return data

    def callbacks(self, interaction: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            c["body"]
            for c in self.fake.interaction_callbacks
            if c["interaction_id"] == interaction["id"]
        ]

    def followups(self, interaction: dict[str, Any]) -> list[dict[str, Any]]:
        return [m for m in self.fake.messages if m.get("_token") == interaction["token"]]

    async def first_callback(self, interaction: dict[str, Any]) -> dict[str, Any]:
        await until(lambda: self.callbacks(interaction))
        return self.callbacks(interaction)[0]

    async def followup(self, interaction: dict[str, Any], n: int = 1) -> list[dict[str, Any]]:
        await until(lambda: len(self.followups(interaction)) >= n)
        return [m["_request"] for m in self.followups(interaction)]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    old_base = discord.http.Route.BASE
    old_gw = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    fake = FakeDiscord()
    handler = FakeHandler()
    async with fake:
        with fake.patched():
            client = build_client(
                "the-ctx", handler=handler, completer=completer, guild_ready_timeout=0.05
            )
            task = asyncio.create_task(client.start("fake-token"))
            try:
                await asyncio.wait_for(client.wait_until_ready(), 10)
                yield Env(fake, client, handler)
                assert discord_problems(fake) == []  # every reply of every test, validated
            finally:
                await client.close()
                await asyncio.wait_for(task, 10)
    # patched() restored what it changed
    assert old_base == discord.http.Route.BASE
    assert old_gw == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


def _search_reply(request: Request) -> Reply:
    page = int(request.args.get("page", 1))
    return Reply(
        title="Search",
        text=f"results page {page}",
        stories=(post(page), post(page + 10, title=HOSTILE, summary=HOSTILE)),
        page=page,
        has_more=page < 3,
        more_args={**request.args, "page": page + 1},
        ephemeral=not request.args.get("share", False),
    )


async def test_login_syncs_the_command_tree(env: Env) -> None:
    put = env.fake.requests_to("PUT", f"/api/v10/applications/{env.fake.application_id}/commands")
    assert len(put) == 1
    assert [c["name"] for c in env.fake.commands["global"]] == ["policy"]
    assert env.fake.identify and env.fake.identify[0]["token"] == "fake-token"
    # no privileged intent is asked for: Guilds (1 << 0) only
    assert env.fake.identify[0]["intents"] == 1


async def test_search_defers_ephemerally_then_follows_up_with_embeds(env: Env) -> None:
    env.handler.reply = _search_reply
    inter = await env.command(
        "search", [opt("query", "ai act"), opt("jurisdiction", "EU")], permissions=MANAGE_GUILD
    )
    first = await env.first_callback(inter)
    assert first["type"] == 5  # deferred: the handler may be slow
    assert first["data"]["flags"] & EPHEMERAL
    (body,) = await env.followup(inter)
    assert body["flags"] & EPHEMERAL
    assert body["allowed_mentions"] == {"parse": []}
    embeds = body["embeds"]
    assert embeds[0]["title"] == "Search"
    assert embeds[1]["url"] == "https://example.org/news/1"
    # hostile feed text is shown, but cannot ping or link
    blob = json.dumps(body, ensure_ascii=False)
    assert not LIVE_DISCORD_MENTION.search(blob)
    # "\[click\](javascript:...)" shows literally: escaped brackets open no masked link
    assert (
        bad_links(
            discord_links(body), {"https://example.org/news/1", "https://example.org/news/11"}
        )
        == []
    )
    # Previous (disabled on page 1) and More buttons
    buttons = [c for row in body["components"] for c in row["components"]]
    assert [(b["label"], b.get("disabled", False)) for b in buttons] == [
        ("Previous", True),
        ("More", False),
    ]
    (req,) = env.handler.requests
    assert req.command == "search"
    assert req.args == {"query": "ai act", "jurisdiction": "EU", "share": False}
    c = req.caller
    assert (c.platform, c.scope, c.channel, c.user_id) == (
        "discord",
        str(GUILD),
        str(CHANNEL),
        str(USER),
    )
    assert c.is_admin is True
    assert env.handler.ctxs == ["the-ctx"]


async def test_share_answers_in_the_channel(env: Env) -> None:
    env.handler.reply = _search_reply
    inter = await env.command("search", [opt("query", "chips"), opt("share", True)])
    first = await env.first_callback(inter)
    assert first["type"] == 5
    assert not first.get("data", {}).get("flags", 0) & EPHEMERAL
    (body,) = await env.followup(inter)
    assert not body.get("flags", 0) & EPHEMERAL
    assert env.handler.requests[0].caller.is_admin is False


def _button_id(msg: dict[str, Any], label: str) -> str:
    (custom_id,) = [
        c["custom_id"]
        for row in msg["components"]
        for c in row["components"]
        if c.get("label") == label
    ]
    return str(custom_id)


async def test_more_button_reruns_search_with_the_next_page(env: Env) -> None:
    env.handler.reply = _search_reply
    inter = await env.command("search", [opt("query", "ai act")])
    await env.followup(inter)
    msg = {k: v for k, v in env.followups(inter)[0].items() if not k.startswith("_")}
    more = _button_id(msg, "More")
    assert more.startswith("pb:pg:") and '"q":"ai act"' in more  # the state is in the id
    click = env.fake.interaction("policy", user_id=USER)
    click.update(type=3, message=msg, data={"custom_id": more, "component_type": 2})
    await env.fake.dispatch("INTERACTION_CREATE", click)
    cb = await env.first_callback(click)
    assert cb["type"] == 6  # deferred update of the same message
    edits = await until(
        lambda: [r for r in env.fake.requests if r.method == "PATCH" and click["token"] in r.path]
    )
    edit = edits[0].json
    assert edit["embeds"][0]["description"].startswith("results page 2")
    assert edit["allowed_mentions"] == {"parse": []}
    assert env.handler.requests[-1].args["page"] == 2
    assert env.handler.requests[-1].args["query"] == "ai act"
    labels = {
        c["label"]: c.get("disabled", False)
        for row in edit["components"]
        for c in row["components"]
    }
    assert labels == {"Previous": False, "More": False}


async def test_someone_else_cannot_turn_the_pages(env: Env) -> None:
    env.handler.reply = _search_reply
    inter = await env.command("search", [opt("query", "ai act"), opt("share", True)])
    await env.followup(inter)
    msg = {k: v for k, v in env.followups(inter)[0].items() if not k.startswith("_")}
    click = env.fake.interaction("policy", user_id=USER + 1)
    more = _button_id(msg, "More")
    click.update(type=3, message=msg, data={"custom_id": more, "component_type": 2})
    await env.fake.dispatch("INTERACTION_CREATE", click)
    cb = await env.first_callback(click)
    assert cb["type"] == 4 and cb["data"]["flags"] & EPHEMERAL
    assert "Only the person who searched" in cb["data"]["content"]
    assert len(env.handler.requests) == 1


async def test_autocomplete_returns_at_most_25_choices(env: Env) -> None:
    inter = await env.command(
        "search", [opt("query", "x"), opt("jurisdiction", "", focused=True)], kind=4
    )
    cb = await env.first_callback(inter)
    assert cb["type"] == 8
    choices = cb["data"]["choices"]
    assert len(choices) == 25
    assert choices[0] == {"name": "Place 00 (jurisdiction)", "value": "P00"}
    assert not env.handler.requests


async def test_list_autocomplete_completes_the_last_item(env: Env) -> None:
    inter = await env.command(
        "subscribe",
        [opt("jurisdictions", "CN, p1", focused=True)],
        permissions=MANAGE_GUILD,
        kind=4,
    )
    cb = await env.first_callback(inter)
    values = [c["value"] for c in cb["data"]["choices"]]
    assert values and all(v.startswith("CN,P1") for v in values)


async def test_subscribe_needs_manage_rights(env: Env) -> None:
    inter = await env.command("subscribe", [opt("jurisdictions", "CN,EU")], permissions=0)
    cb = await env.first_callback(inter)
    assert cb["type"] == 4
    assert cb["data"]["flags"] & EPHEMERAL
    assert "Manage Server" in cb["data"]["content"]
    assert not env.handler.requests


@pytest.mark.parametrize("permissions", [MANAGE_CHANNELS, MANAGE_GUILD, ADMINISTRATOR])
async def test_subscribe_by_a_manager(env: Env, permissions: int) -> None:
    inter = await env.command(
        "subscribe",
        [
            opt("jurisdictions", "CN, EU"),
            opt("topics", "legislation"),
            opt("mode", "daily"),
            opt("at", "09:00"),
            opt("timezone", "Europe/Berlin"),
        ],
        permissions=permissions,
    )
    await env.followup(inter)
    (req,) = env.handler.requests
    assert req.command == "subscribe"
    assert req.caller.is_admin
    assert req.args == {
        "jurisdictions": ["CN", "EU"],
        "topics": ["legislation"],
        "mode": "daily",
        "at": "09:00",
        "timezone": "Europe/Berlin",
    }


async def test_feeds_group_and_admin_only_actions(env: Env) -> None:
    listing = await env.command("list", group="feeds")
    await env.followup(listing)
    assert env.handler.requests[-1].args == {"action": "list"}
    denied = await env.command(
        "add", [opt("url", "https://example.org/feed.xml")], group="feeds", permissions=0
    )
    cb = await env.first_callback(denied)
    assert "Manage" in cb["data"]["content"]
    added = await env.command(
        "add",
        [opt("url", "https://example.org/feed.xml"), opt("name", "Example")],
        group="feeds",
        permissions=MANAGE_CHANNELS,
    )
    await env.followup(added)
    assert env.handler.requests[-1].args == {
        "action": "add",
        "name": "Example",
        "url": "https://example.org/feed.xml",
    }


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("subscriptions", [opt("all_channels", True)], {"all_channels": True}),
        ("digest", [opt("hours", 48)], {"hours": 48}),
        ("why", [opt("item", "42")], {"item": "42"}),
        ("unsubscribe", [opt("id", "3")], {"id": "3"}),
    ],
)
async def test_other_commands_reach_the_handler(
    env: Env, name: str, options: list[dict[str, Any]], expected: dict[str, Any]
) -> None:
    inter = await env.command(name, options, permissions=MANAGE_GUILD)
    await env.followup(inter)
    assert env.handler.requests[-1].command == name
    assert env.handler.requests[-1].args == expected


async def test_help_answers_at_once(env: Env) -> None:
    inter = await env.command("help", [opt("command", "search")])
    cb = await env.first_callback(inter)
    assert cb["type"] == 4  # fast: no defer
    assert cb["data"]["flags"] & EPHEMERAL
    assert cb["data"]["embeds"][0]["title"] == "Help"
    assert cb["data"]["allowed_mentions"] == {"parse": []}


async def test_digest_is_public_but_errors_stay_private(env: Env) -> None:
    env.handler.reply = lambda r: Reply(title="Digest", text="nothing matches", error=True)
    inter = await env.command("digest")
    first = await env.first_callback(inter)
    assert first["type"] == 5 and not first.get("data", {}).get("flags", 0) & EPHEMERAL
    (body,) = await env.followup(inter)
    assert body["flags"] & EPHEMERAL
    deleted = [r for r in env.fake.requests if r.method == "DELETE" and inter["token"] in r.path]
    assert deleted, "the public 'thinking' message is removed before the private answer"


async def test_a_failing_handler_shows_no_traceback(env: Env) -> None:
    env.handler.fail = True
    inter = await env.command("search", [opt("query", "x")])
    (body,) = await env.followup(inter)
    blob = json.dumps(body)
    assert FAILED_TEXT[:20] in blob
    assert "exploded" not in blob and "Traceback" not in blob and "app.py" not in blob
    assert body["flags"] & EPHEMERAL


async def test_long_replies_are_split_into_follow_ups(env: Env) -> None:
    env.handler.reply = lambda r: Reply(
        title="Digest",
        ephemeral=False,
        stories=tuple(post(i, summary="x" * 400) for i in range(23)),
    )
    inter = await env.command("digest")
    bodies = await env.followup(inter, 3)
    assert [len(b["embeds"]) for b in bodies] == [10, 10, 4]  # 1 header + 23 stories
    for b in bodies:
        assert not b.get("flags", 0) & EPHEMERAL


async def test_state_too_long_for_an_id_falls_back_to_expiring_buttons(
    env: Env,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.platforms.discord import chat as discord_bot

    monkeypatch.setattr(discord_bot, "PAGE_VIEW_TIMEOUT", 0.2)
    env.handler.reply = _search_reply
    inter = await env.command("search", [opt("query", "ai act " * 20)])  # > 100 characters
    (body,) = await env.followup(inter)
    assert {c["custom_id"] for row in body["components"] for c in row["components"]} == {
        "prev",
        "more",
    }
    await env.followup(inter)
    edits = await until(
        lambda: [r for r in env.fake.requests if r.method == "PATCH" and inter["token"] in r.path]
    )
    assert edits[0].path.endswith("/messages/@original")
    assert edits[0].json["components"] == []


FORUM_ID, POST_ID = 300000000000000077, 300000000000000078


async def test_subscribe_post_as_forum_in_a_forum_post_subscribes_the_forum(env: Env) -> None:
    """No command can be typed in a forum channel itself: typed in one of its posts (a
    thread whose parent is the forum), post_as:forum subscribes the forum."""
    data = env.fake.interaction(
        "policy",
        sub_option(
            "subscribe", [opt("post_as", "forum"), opt("mention", "<@&555555555555555555>")]
        ),
        permissions=str(MANAGE_CHANNELS),
        channel_id=POST_ID,
    )
    data["channel"] = dict(  # a thread channel object, as Discord sends it
        data["channel"],
        type=11,
        parent_id=str(FORUM_ID),
        name="a post",
        owner_id=str(USER),
        message_count=1,
        member_count=1,
        rate_limit_per_user=0,
        flags=0,
    )
    data["channel"]["thread_metadata"] = {
        "archived": False,
        "auto_archive_duration": 10080,
        "archive_timestamp": "2026-11-20T12:00:00+00:00",
        "locked": False,
    }
    assert await env.fake.dispatch("INTERACTION_CREATE", data) == 1
    await env.followup(data)
    (req,) = env.handler.requests
    assert req.caller.channel == str(FORUM_ID)
    assert req.args["post_as"] == "forum" and req.args["channel_kind"] == "forum"
    assert req.args["mention"] == "<@&555555555555555555>"


async def test_subscribe_post_as_forum_in_a_text_channel_says_so(env: Env) -> None:
    inter = await env.command("subscribe", [opt("post_as", "forum")], permissions=MANAGE_CHANNELS)
    await env.followup(inter)
    (req,) = env.handler.requests
    assert req.caller.channel == str(CHANNEL) and req.args["channel_kind"] == "text"


async def test_a_paging_button_works_after_a_restart() -> None:
    """The More button of a reply sent by one process turns the page in the next one: its
    state is in its custom id, and the new client knows the button by the id's pattern."""
    fake = FakeDiscord()
    async with fake:
        with fake.patched():

            async def start(handler: FakeHandler) -> tuple[PolicyClient, asyncio.Task[None]]:
                client = build_client(
                    "ctx", handler=handler, completer=completer, guild_ready_timeout=0.05
                )
                task = asyncio.create_task(client.start("fake-token"))
                await asyncio.wait_for(client.wait_until_ready(), 10)
                return client, task

            before = FakeHandler()
            before.reply = _search_reply
            client, task = await start(before)
            env = Env(fake, client, before)
            try:
                inter = await env.command(
                    "search", [opt("query", "AI Act"), opt("jurisdiction", "EU")]
                )
                await env.followup(inter)
            finally:
                await client.close()
                await asyncio.wait_for(task, 10)
            msg = {k: v for k, v in env.followups(inter)[0].items() if not k.startswith("_")}

            after = FakeHandler()  # a new process: nothing of the first one in memory
            after.reply = _search_reply
            client, task = await start(after)
            try:
                click = fake.interaction("policy", user_id=USER)
                more = _button_id(msg, "More")
                click.update(type=3, message=msg, data={"custom_id": more, "component_type": 2})
                await fake.dispatch("INTERACTION_CREATE", click)
                cb = await Env(fake, client, after).first_callback(click)
                assert cb["type"] == 6
                edits = await until(
                    lambda: [
                        r for r in fake.requests if r.method == "PATCH" and click["token"] in r.path
                    ]
                )
                assert edits[0].json["embeds"][0]["description"].startswith("results page 2")
                (req,) = after.requests
                assert req.command == "search"
                assert req.args == {"query": "AI Act", "jurisdiction": "EU", "page": 2}
                assert req.caller.user_id == str(USER)
                # the new page's buttons carry the page after it
                prev = _button_id(edits[0].json, "Previous")
                assert '"p":1' in prev and '"p":3' in _button_id(edits[0].json, "More")
                assert before.requests[0].args.get("page") is None
            finally:
                await client.close()
                await asyncio.wait_for(task, 10)
