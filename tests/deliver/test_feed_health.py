"""Feed-health notices end to end: a real feed over HTTP on 127.0.0.1 polled by the engine,
the notices queued in the database and posted through discord.py's and slack-sdk's own HTTP
code to the local fakes; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import platforms
from bot.app.config import parse_config
from bot.clock import utcnow
from bot.core.engine import Engine, build_engine
from bot.core.service import PolicyBot
from bot.deliver.health import sweep_session
from bot.ingest.fetch import Fetcher
from bot.platforms.discord.send import DiscordBotSender
from bot.platforms.slack.send import SlackBotSender
from bot.store.models import Destination, Feed, OutboxMessage
from bot.store.storage import Storage
from bot.types import DestinationOptions, FeedHealthOptions
from bot.verdict import Verdict
from tests.deliver import helpers as h
from tests.deliver.test_render_checks import discord_links, slack_links
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.httpserver import LocalHTTPServer, Reply
from tests.platforms.helpers import LIVE_DISCORD_MENTION, LIVE_SLACK_MENTION

DISCORD_CHANNEL = "111111111111111111"
SLACK_CHANNEL = "C0123ABCD"
HOSTILE_NAME = "Policy @everyone <@123> [click](https://evil.example) <!channel>"
# Real time minus three days: the outbox rows the fake clock writes are due for the worker.
T0 = utcnow().replace(microsecond=0) - timedelta(days=3)


class FakeClassifier:
    def classify(self, title: str, summary: str = "", **_: Any) -> Verdict:
        return Verdict(relevant="AI" in title, score=0.9, jurisdictions=("EU",))


def rss(when: datetime) -> bytes:
    stamp = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>News</title>'
        "<link>https://news.example/</link><item><title>EU AI rules adopted</title>"
        "<link>https://news.example/1</link><guid>urn:news:1</guid>"
        f"<pubDate>{stamp}</pubDate></item></channel></rss>"
    ).encode()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def feed_server() -> Iterator[tuple[LocalHTTPServer, dict[str, bool]]]:
    state = {"ok": True}
    with LocalHTTPServer() as srv:
        srv.route(
            "/feed.xml",
            lambda req: (
                Reply(200, rss(T0), {"Content-Type": "application/rss+xml"})
                if state["ok"]
                else Reply(500, "upstream is down <@123> https://evil.example")
            ),
        )
        yield srv, state


def _engine(db_url: str, config: Any, clock: Clock, fakes: tuple[FakeDiscord, FakeSlack]) -> Engine:
    storage = Storage.open(db_url)
    bot = PolicyBot(storage, clock=clock)
    bot.sync_config(config.feed_options(), config.subscription_options())
    engine = build_engine(
        storage,
        fetcher=Fetcher.from_defaults(config.defaults),
        classifier=FakeClassifier(),  # type: ignore[arg-type]
        senders={
            "discord": DiscordBotSender("t"),
            "slack": SlackBotSender("xoxb-test", base_url=fakes[1].api_base),
        },
        alert_renderer=platforms.render_alert,
        digest_renderer=platforms.render_digest,
        notice_renderer=platforms.render_notice,
        pacing={},
        backfill_window=config.defaults.backfill_window,
        max_backoff=timedelta(minutes=1),
        feed_health=config.feed_health_options(),
    )
    engine.pipeline.clock = clock
    return engine


async def _cycle(engine: Engine, clock: Clock, at: timedelta) -> None:
    clock.now = T0 + at
    await engine.poll_once()
    await engine.deliver(until_idle=True)


def _texts(discord: FakeDiscord, slack: FakeSlack) -> tuple[list[str], list[str]]:
    d = [m["_request"].get("content", "") for m in discord.messages_in(DISCORD_CHANNEL)]
    s = [p.get("text", "") for p in slack.posts_in(SLACK_CHANNEL)]
    return d, s


async def test_a_failing_feed_warns_once_and_recovers_once(
    db_url: str, tmp_path: Path, feed_server: tuple[LocalHTTPServer, dict[str, bool]]
) -> None:
    srv, state = feed_server
    config = parse_config(
        {
            "feeds": [{"name": HOSTILE_NAME, "url": srv.url("/feed.xml")}],
            "subscriptions": [
                {"destination": {"platform": "discord", "channel": DISCORD_CHANNEL}},
                {"destination": {"platform": "slack", "channel": SLACK_CHANNEL}},
            ],
            "feed_health": {"warn_after": "2h"},
        },
        tmp_path / "feeds.yaml",
    )
    clock = Clock()
    async with FakeDiscord() as discord_fake, FakeSlack() as slack_fake:
        with discord_fake.patched():
            fakes = (discord_fake, slack_fake)
            engine = _engine(db_url, config, clock, fakes)
            await _cycle(engine, clock, timedelta(0))  # the feed works: one alert each
            d, s = _texts(*fakes)
            assert len(d) == 1 and len(s) == 1
            # the alert offers "Not relevant" (bot destinations)
            alert = discord_fake.messages_in(DISCORD_CHANNEL)[0]["_request"]
            (button,) = [c for row in alert["components"] for c in row["components"]]
            assert button["label"] == "Not relevant" and button["custom_id"].startswith("pb:nr:")
            assert slack_fake.posts_in(SLACK_CHANNEL)[0]["blocks"][-1]["type"] == "actions"

            state["ok"] = False
            await _cycle(engine, clock, timedelta(hours=1))  # failing, not for long yet
            assert _texts(*fakes) == (d, s)
            await _cycle(engine, clock, timedelta(hours=3))  # past the threshold: a warning
            d, s = _texts(*fakes)
            assert len(d) == 2 and len(s) == 2
            assert "has been failing since" in d[1] and "has been failing since" in s[1]
            bot = PolicyBot(engine.storage, clock=clock)
            assert list(bot.feed_warnings()) == [HOSTILE_NAME]  # what /policy feeds shows
            await _cycle(engine, clock, timedelta(hours=4))  # still failing: nothing new
            await engine.aclose()

            engine = _engine(db_url, config, clock, fakes)  # a restart: the state is stored
            await _cycle(engine, clock, timedelta(hours=5))
            assert _texts(*fakes) == (d, s)

            state["ok"] = True
            await _cycle(engine, clock, timedelta(hours=6))  # works again: one note
            await _cycle(engine, clock, timedelta(hours=7))
            d, s = _texts(*fakes)
            assert len(d) == 3 and len(s) == 3
            assert "works again" in d[2] and "works again" in s[2]
            assert PolicyBot(engine.storage, clock=clock).feed_warnings() == {}
            await engine.aclose()

    notices = [m["_request"] for m in discord_fake.messages_in(DISCORD_CHANNEL)[1:]]
    for body in notices:
        assert platforms.validate_discord_message(body) == []
        assert body["allowed_mentions"] == {"parse": []}
        assert not LIVE_DISCORD_MENTION.search(json.dumps(body, ensure_ascii=False))
        assert discord_links(body) == []  # the feed's name and the error text link nowhere
    for post in slack_fake.posts_in(SLACK_CHANNEL)[1:]:
        msg = {k: v for k, v in post.items() if k in ("text", "blocks")}
        assert platforms.validate_slack_message(msg) == []
        assert not LIVE_SLACK_MENTION.search(json.dumps(msg, ensure_ascii=False))
        assert slack_links(msg) == []


def _feed(s: Any, name: str = "Politico Europe") -> Feed:
    f = h.feed(s, name)
    f.last_success_at = h.NOW - timedelta(days=2)
    return f


def _notices(s: Any) -> list[OutboxMessage]:
    return list(s.query(OutboxMessage).filter(OutboxMessage.kind == "notice"))


def test_gone_warns_at_once_in_the_ops_channel_and_flapping_warns_once_a_day(
    storage: Storage,
) -> None:
    ops = DestinationOptions("slack", channel="COPS12345")
    options = FeedHealthOptions(warn_after=timedelta(hours=6), ops_channel=ops)
    with storage.write() as s:
        f = _feed(s)
        f.last_success_at = h.NOW - timedelta(minutes=5)
        f.disabled_reason = "the server says the feed is gone: HTTP 410 Gone"
        f.consecutive_failures = 1
        assert len(sweep_session(s, options, h.NOW)) == 1  # gone: no waiting for 6 h
        (row,) = _notices(s)
        where = s.get(Destination, row.destination_id)
        assert (where.platform, where.channel) == ("slack", "COPS12345")
        # back (an operator re-enabled it and it polled well), then failing again at once
        f.disabled_reason = None
        f.consecutive_failures = 0
        f.last_success_at = h.NOW + timedelta(hours=1)
        assert len(sweep_session(s, options, h.NOW + timedelta(hours=2))) == 1  # recovered
        f.consecutive_failures = 3
        f.last_success_at = h.NOW + timedelta(hours=2)
        later = h.NOW + timedelta(hours=10)
        assert sweep_session(s, options, later) == []  # a second warning the same day: no
        assert len(sweep_session(s, options, h.NOW + timedelta(hours=25))) == 1
        assert len(_notices(s)) == 3


def test_a_moved_feed_is_announced_once_where_its_stories_went(storage: Storage) -> None:
    options = FeedHealthOptions()
    with storage.write() as s:
        dest = h.destination(s, "discord", DISCORD_CHANNEL)
        h.subscription(s, dest)
        other = h.destination(s, "discord", "222222222222222222")
        st, _v = h.story(s, "EU AI rules", first_seen=h.NOW - timedelta(days=1))
        s.add(
            OutboxMessage(
                destination_id=dest.id,
                kind="alert",
                story_id=st.id,
                dedup_key=f"story:{st.id}",
                created_at=h.NOW - timedelta(days=1),
                next_attempt_at=h.NOW,
            )
        )
        f = _feed(s)
        f.url = "https://moved.example/feed.xml"
        assert len(sweep_session(s, options, h.NOW)) == 1
        assert sweep_session(s, options, h.NOW + timedelta(days=3)) == []  # same address
        (row,) = _notices(s)
        assert row.destination_id == dest.id != other.id  # only where its stories went
        # moved again, then failing: warnings and "moved" notes share one a day
        f.url = "https://moved-again.example/feed.xml"
        day3 = h.NOW + timedelta(days=3)
        assert len(sweep_session(s, options, day3)) == 1
        f.consecutive_failures = 5
        f.last_success_at = day3 - timedelta(hours=7)
        assert sweep_session(s, options, day3 + timedelta(hours=1)) == []
        assert len(sweep_session(s, options, day3 + timedelta(days=1))) == 1
        assert [r.destination_id for r in _notices(s)] == [dest.id] * 3


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    s = Storage.open(f"sqlite:///{tmp_path / 'health.db'}")
    yield s
    s.close()
