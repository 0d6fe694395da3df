"""Pings, threads, forum posts and follow-ups end to end: real polls (dedup merging a new
source into a posted story), routing, the worker with the real renderers, and discord.py's
and slack-sdk's own HTTP code against the local fakes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot import platforms
from bot.deliver.digests import queue_due_digests
from bot.deliver.followup import queue_followups
from bot.deliver.pacing import Pacer
from bot.deliver.ports import DestinationInfo
from bot.deliver.route import Router, subscriptions_changed
from bot.deliver.worker import Worker
from bot.platforms.discord.send import DiscordBotSender, DiscordWebhookSender
from bot.platforms.slack.send import SlackBotSender
from bot.store.models import Destination, OutboxMessage
from bot.store.storage import Storage
from bot.types import Placement
from tests.deliver import helpers as h
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.store.test_storage import NOW, classify, config, item, ok

ROLE = "555555555555555555"
GROUP = "S0PING1"
HOSTILE = f"@everyone <@&{ROLE}> <@123456789> <!channel> <!subteam^SEVIL1> <!here>"
FORUM, TEXT = "700000000000000001", "700000000000000002"


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    s = Storage.open(f"sqlite:///{tmp_path / 'threads.db'}")
    yield s
    s.close()


@pytest.fixture
def both(db_url: str) -> Iterator[Storage]:
    """Storage on SQLite and on PostgreSQL (when a test server is given)."""
    s = Storage.open(db_url)
    yield s
    s.close()


def worker(storage: Storage, senders: dict[str, Any]) -> Worker:
    return Worker(
        storage,
        senders,
        pacer=Pacer({}),
        alert_renderer=platforms.render_alert,
        digest_renderer=platforms.render_digest,
        styler=platforms.STYLER,
    )


def live_role_mentions(text: str) -> int:
    return text.count("<@&")  # escaped ones read "<\u200b@\u200b&"


async def test_a_ping_allows_exactly_its_role_and_feed_text_stays_inert(
    storage: Storage,
) -> None:
    with storage.write() as s:
        dd = h.destination(s, "discord", "111111111111111111")
        wd = h.destination(s, "discord-webhook", "", webhook_env="HOOK_PING")
        sd = h.destination(s, "slack", "C0PING1")
        for d in (dd, wd):
            h.subscription(s, d, mention=ROLE, mention_min_score=0.5)
        h.subscription(s, sd, mention=GROUP, mention_instruments=["EU AI Act"])
        subscriptions_changed()
        router = Router()
        high, v1 = h.story(s, f"AI Act vote {HOSTILE}", score=0.9, instruments=("EU AI Act",))
        router(s, high, v1)
        low, v2 = h.story(s, f"Minor note {HOSTILE}", score=0.3, instruments=("law",))
        router(s, low, v2)
    async with FakeDiscord() as dfake, FakeSlack() as sfake:
        os.environ["HOOK_PING"] = dfake.webhook_url(123456789012345678)
        with dfake.patched():
            senders: dict[str, Any] = {
                "discord": DiscordBotSender("t"),
                "discord-webhook": DiscordWebhookSender(),
                "slack": SlackBotSender("xoxb-test", base_url=sfake.api_base),
            }
            try:
                stats = await worker(storage, senders).drain(now=NOW)
            finally:
                for sender in senders.values():
                    await sender.aclose()
        del os.environ["HOOK_PING"]
    assert stats.sent == 6 and stats.errors == []
    bot_msgs = [m["_request"] for m in dfake.messages_in("111111111111111111")]
    hook_msgs = [m["_request"] for m in dfake.messages if m.get("webhook_id")]
    for msgs in (bot_msgs, hook_msgs):
        pinged, quiet = msgs
        assert [str(r) for r in pinged["allowed_mentions"]["roles"]] == [ROLE]
        assert pinged["allowed_mentions"]["parse"] == []
        assert not pinged["allowed_mentions"].get("users")
        assert pinged["content"].startswith(f"<@&{ROLE}>")
        # The role once, ours; the same role in the hostile title is escaped.
        assert live_role_mentions(pinged["content"] + str(pinged.get("embeds"))) == 1
        assert "@everyone" not in str(pinged).replace("@\u200beveryone", "")
        # Below mention_min_score: no ping at all.
        assert quiet["allowed_mentions"] == {"parse": []} or quiet["allowed_mentions"] == {
            "parse": [],
            "replied_user": False,
        }
        assert live_role_mentions(quiet["content"] + str(quiet.get("embeds"))) == 0
        assert (
            platforms.validate_discord_message(
                {
                    "content": pinged["content"],
                    "embeds": pinged["embeds"],
                    "allowed_mentions": {"parse": []},
                }
            )
            == []
        )
    pinged_s, quiet_s = sfake.posts_in("C0PING1")
    for field in (pinged_s["text"], str(pinged_s["blocks"])):
        assert field.count("<!subteam^") == 1 and f"<!subteam^{GROUP}>" in field
    assert "<!channel>" not in str(pinged_s) and "<!here>" not in str(pinged_s)
    assert "&lt;!subteam^SEVIL1&gt;" in pinged_s["text"]
    assert "<!subteam^" not in str(quiet_s)  # names no instrument of mention_instruments
    msg = {k: v for k, v in pinged_s.items() if k in ("text", "blocks")}
    assert platforms.validate_slack_message(msg) == []


async def test_a_forum_post_gets_the_title_and_the_forums_matching_tags(
    storage: Storage,
) -> None:
    long_title = "AI Act: " + "very long headline " * 10
    with storage.write() as s:
        fd = h.destination(s, "discord", FORUM)
        td = h.destination(s, "discord", TEXT)
        h.subscription(s, fd, post_as="forum", mention=ROLE)
        h.subscription(s, td, post_as="forum")
        subscriptions_changed()
        st, v = h.story(s, long_title, jurisdictions=("EU", "US"), topics=("legislation",))
        Router()(s, st, v)
    async with FakeDiscord() as fake:
        tags = fake.add_forum(FORUM, ["US", "Legislation", "Export controls", "Cats"])
        with fake.patched():
            sender = DiscordBotSender("t")
            try:
                stats = await worker(storage, {"discord": sender}).drain(now=NOW)
            finally:
                await sender.aclose()
    (thread,) = [t for t in fake.threads.values() if t["parent_id"] == FORUM]
    assert thread["name"] == long_title.strip()[:99] + "…" or len(thread["name"]) <= 100
    assert thread["name"].startswith("AI Act: very long headline")
    by_name = {t["name"]: t["id"] for t in tags}
    assert thread["applied_tags"] == [by_name["US"], by_name["Legislation"]]
    (first,) = fake.messages_in(thread["id"])
    assert first["_request"]["allowed_mentions"] == {"parse": [], "roles": [ROLE]}
    assert first["_request"]["embeds"]  # the story itself, as in a channel
    # The same subscription pointed at a text channel: a clear error, the channel disabled.
    assert stats.sent == 1 and stats.permanent == 1
    with storage.session() as s:
        reason = s.scalar(select(Destination.disabled_reason).where(Destination.channel == TEXT))
    assert reason is not None and "not a forum channel" in reason and "post_as" in reason


def _poll(storage: Storage, feed_id: int, uid: str, title: str, url: str) -> None:
    storage.record_poll(
        feed_id,
        ok(uid),
        [item(uid, title, url=url)],
        now=NOW,
        next_poll_at=NOW + timedelta(minutes=30),
        classify=classify,
        backfill_window=timedelta(hours=48),
        on_story=Router(),
        on_source=queue_followups,
    )


async def test_follow_up_sources_land_in_the_storys_thread_after_a_restart(
    both: Storage, tmp_path: Path
) -> None:
    storage = both
    a, b, c = storage.sync_feeds(
        config(tmp_path, "Politico", "Euractiv", "Reuters").feed_options(), NOW
    )
    with storage.write() as s:
        h.subscription(s, h.destination(s, "discord", "111111111111111111"), post_as="thread")
        h.subscription(s, h.destination(s, "slack", "C0THREAD"), post_as="thread")
        h.subscription(s, h.destination(s, "discord", "222222222222222222"))  # plain messages
        subscriptions_changed()
    url = "https://news.example/ai-act-final"
    _poll(storage, a.id, "x1", f"EU AI Act: final text adopted {HOSTILE}", url)
    async with FakeDiscord() as dfake, FakeSlack() as sfake:
        with dfake.patched():

            def senders() -> dict[str, Any]:
                return {
                    "discord": DiscordBotSender("t"),
                    "slack": SlackBotSender("xoxb-test", base_url=sfake.api_base),
                }

            first = senders()
            try:
                assert (await worker(storage, first).drain(now=NOW)).sent == 3
            finally:
                for sender in first.values():
                    await sender.aclose()
            # Two more sources of the same story (same link; same title) after a restart.
            _poll(storage, b.id, "y1", "Council adopts the AI Act", url)
            _poll(
                storage,
                c.id,
                "z1",
                f"EU AI Act: final text adopted {HOSTILE}",
                "https://r.example/1",
            )
            again = senders()
            try:
                stats = await worker(storage, again).drain(now=NOW + timedelta(minutes=1))
            finally:
                for sender in again.values():
                    await sender.aclose()
    assert stats.sent == 4 and stats.errors == []
    parent = dfake.messages_in("111111111111111111")
    assert len(parent) == 1  # no new top-level message
    thread = dfake.threads[parent[0]["id"]]
    assert thread["name"].startswith("EU AI Act: final text adopted")
    assert "<@&" not in thread["name"] and "@everyone" not in thread["name"]
    replies = [m["_request"]["content"] for m in dfake.messages_in(thread["id"])]
    assert len(replies) == 2
    assert "Euractiv" in replies[0] and "Reuters" in replies[1]
    for m in dfake.messages_in(thread["id"]):
        assert m["_request"]["allowed_mentions"] == {"parse": []}
    assert len(dfake.messages_in("222222222222222222")) == 1  # message mode: no follow-ups
    top, *thread_posts = sfake.posts_in("C0THREAD")
    assert "thread_ts" not in top
    assert [p["thread_ts"] for p in thread_posts] == [top["ts"], top["ts"]]
    assert "Euractiv" in thread_posts[0]["text"] and "<!channel>" not in str(thread_posts)
    with storage.session() as s:
        kinds = sorted(r.kind for r in s.scalars(select(OutboxMessage)))
    assert kinds == ["alert"] * 3 + ["followup"] * 4


async def test_a_slack_digest_posts_its_header_and_the_stories_in_its_thread(
    storage: Storage,
) -> None:
    with storage.write() as s:
        d = h.destination(s, "slack", "C0DIGEST")
        h.subscription(s, d, mode="daily", digest_thread=True, created_at=NOW - timedelta(days=3))
        subscriptions_changed()
        for i in range(3):
            h.story(s, f"AI rule {i}", first_seen=NOW + timedelta(hours=i + 1))
        assert len(queue_due_digests(s, NOW + timedelta(days=1))) == 1
    async with FakeSlack() as fake:
        sender = SlackBotSender("xoxb-test", base_url=fake.api_base)
        try:
            stats = await worker(storage, {"slack": sender}).drain(now=NOW + timedelta(days=1))
        finally:
            await sender.aclose()
    assert stats.sent == 1 and stats.errors == []
    header, *stories = fake.posts_in("C0DIGEST")
    assert "thread_ts" not in header and "AI rule" not in str(header)
    assert "3 stories in the thread" in header["text"]
    assert stories and all(p["thread_ts"] == header["ts"] for p in stories)
    assert fake.replies("C0DIGEST", header["ts"]) == stories
    assert all(f"AI rule {i}" in str(stories) for i in range(3))


def test_routing_prefers_the_subscription_that_pings_for_the_story(storage: Storage) -> None:
    with storage.write() as s:
        d = h.destination(s, "discord", "111111111111111111")
        plain = h.subscription(s, d)
        strict = h.subscription(s, d, mention=ROLE, mention_min_score=0.95)
        pinging = h.subscription(s, d, mention=ROLE, mention_instruments=["EU AI Act"])
        subscriptions_changed()
        router = Router()
        act, v1 = h.story(s, "AI Act", score=0.9, instruments=("EU AI Act",))
        other, v2 = h.story(s, "Other", score=0.9, instruments=("law",))
        router(s, act, v1)
        router(s, other, v2)
        subs = dict(s.execute(select(OutboxMessage.story_id, OutboxMessage.subscription_id)).all())
    assert subs == {act.id: pinging.id, other.id: plain.id}
    assert strict.id not in subs.values()


async def test_a_webhook_forum_post_and_its_follow_ups(storage: Storage, tmp_path: Path) -> None:
    """Through a forum channel's webhook: the post by thread_name (no tags: a webhook cannot
    read them), its follow-ups by thread_id."""
    a, b = storage.sync_feeds(config(tmp_path, "Politico", "Euractiv").feed_options(), NOW)
    with storage.write() as s:
        d = h.destination(s, "discord-webhook", "", webhook_env="HOOK_FORUM")
        h.subscription(s, d, post_as="forum", mention=ROLE)
        subscriptions_changed()
    url = "https://news.example/ai-act-vote"
    _poll(storage, a.id, "w1", "EU AI Act vote", url)
    async with FakeDiscord() as fake:
        os.environ["HOOK_FORUM"] = fake.webhook_url(123456789012345678)
        try:
            with fake.patched():
                for step in range(2):
                    if step:
                        _poll(storage, b.id, "w2", "Parliament votes on the AI Act", url)
                    sender = DiscordWebhookSender()
                    try:
                        stats = await worker(storage, {"discord-webhook": sender}).drain(now=NOW)
                    finally:
                        await sender.aclose()
                    assert stats.sent == 1 and stats.errors == []
        finally:
            del os.environ["HOOK_FORUM"]
    (thread,) = fake.threads.values()
    assert thread["name"] == "EU AI Act vote" and thread["applied_tags"] == []
    post, followup = fake.messages_in(thread["id"])
    assert [str(r) for r in post["_request"]["allowed_mentions"]["roles"]] == [ROLE]
    assert "Euractiv" in followup["_request"]["content"]
    assert followup["_request"]["allowed_mentions"]["parse"] == []
    assert not followup["_request"]["allowed_mentions"].get("roles")
    hooks = fake.requests_to("POST", "/api/v10/webhooks/")
    assert hooks[1].query.get("thread_id") == thread["id"]


async def test_a_discord_digest_thread_and_a_resend_after_a_crash(storage: Storage) -> None:
    with storage.write() as s:
        d = h.destination(s, "discord", "111111111111111111")
        h.subscription(s, d, mode="daily", digest_thread=True, created_at=NOW - timedelta(days=3))
        subscriptions_changed()
        for i in range(2):
            h.story(s, f"AI rule {i}", first_seen=NOW + timedelta(hours=i + 1))
        assert len(queue_due_digests(s, NOW + timedelta(days=1))) == 1
    async with FakeDiscord() as fake:
        with fake.patched():
            sender = DiscordBotSender("t")
            try:
                stats = await worker(storage, {"discord": sender}).drain(
                    now=NOW + timedelta(days=1)
                )
                (header,) = fake.messages_in("111111111111111111")
                # A crash after the post, before it was marked sent: the same part again
                # (same nonce) is the same message, and its thread is kept, not doubled.
                with storage.session() as s:
                    row = s.scalars(select(OutboxMessage)).one()
                body = {"content": header["_request"]["content"]}
                placement = platforms.STYLER.place(
                    "discord", body, Placement(post_as="thread", title="AI governance digest")
                )
                again = await sender.send(
                    DestinationInfo(1, "discord", channel="111111111111111111"),
                    [placement],
                    row.nonce or "",
                    first_part=0,
                )
            finally:
                await sender.aclose()
    assert stats.sent == 1 and stats.errors == []
    assert "2 stories in the thread" in header["_request"]["content"]
    thread = fake.threads[header["id"]]
    assert thread["name"] == "AI governance digest"
    assert fake.messages_in(thread["id"]) and "AI rule 0" in str(fake.messages_in(thread["id"]))
    assert row.message_id == header["id"] and row.thread_id == header["id"]
    assert again.ok and again.thread_id == header["id"] and again.message_ids == (header["id"],)
    assert len(fake.messages_in("111111111111111111")) == 1 and len(fake.threads) == 1


async def test_a_threaded_backlog_reads_its_stories_once_per_batch(
    storage: Storage, tmp_path: Path
) -> None:
    """Alerts that start threads, then their follow-ups: each drain reads the stories of its
    batch in one query, and every reply still lands in its own story's thread."""
    from sqlalchemy import event

    a, b = storage.sync_feeds(config(tmp_path, "Politico", "Euractiv").feed_options(), NOW)
    with storage.write() as s:
        h.subscription(s, h.destination(s, "slack", "C0BATCH"), post_as="thread")
        subscriptions_changed()
    titles = [
        "AI Act fines for chatbot makers",
        "Spain opens its AI Act sandbox",
        "Parliament debates AI Act codes of practice",
        "Biometrics guidance under the AI Act",
        "Commission delays AI Act standards",
    ]
    urls = [f"https://news.example/ai-rule-{i}" for i in range(5)]
    for i, url in enumerate(urls):
        _poll(storage, a.id, f"a{i}", titles[i], url)
    story_reads: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM stories" in statement:
            story_reads.append(statement)

    async with FakeSlack() as fake:
        sender = SlackBotSender("xoxb-test", base_url=fake.api_base)
        event.listen(storage.engine, "before_cursor_execute", count)
        try:
            first = await worker(storage, {"slack": sender}).drain(now=NOW)
            reads_first = len(story_reads)
            for i, url in enumerate(urls):
                _poll(storage, b.id, f"b{i}", titles[i], url)
            story_reads.clear()
            then = await worker(storage, {"slack": sender}).drain(now=NOW + timedelta(minutes=1))
        finally:
            event.remove(storage.engine, "before_cursor_execute", count)
            await sender.aclose()
    assert first.sent == 5 and then.sent == 5 and not first.errors and not then.errors
    assert reads_first == 1 and len(story_reads) == 1  # one batch each, not one per message
    tops = [p for p in fake.posts_in("C0BATCH") if "thread_ts" not in p]
    assert len(tops) == 5
    for i, top in enumerate(tops):
        assert titles[i] in str(top)
        (reply,) = fake.replies("C0BATCH", top["ts"])
        assert "Euractiv" in reply["text"] and f"ai-rule-{i}" in str(reply)
    with storage.session() as s:
        alerts = list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert")))
    assert sorted(r.thread_id or "" for r in alerts) == sorted(t["ts"] for t in tops)
