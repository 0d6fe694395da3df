"""The outbox worker end to end over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.app import metrics
from bot.deliver import outbox as outbox_mod
from bot.deliver import worker as worker_mod
from bot.deliver.digests import queue_due_digests
from bot.deliver.outbox import enable_destination, outbox_depth, recover_in_flight
from bot.deliver.pacing import Pacer
from bot.deliver.ports import DestinationInfo
from bot.deliver.route import Router, subscriptions_changed
from bot.deliver.status import destination_status
from bot.deliver.worker import LEASE, Worker
from bot.platforms.console.send import ConsoleSender
from bot.platforms.discord.send import DiscordBotSender, DiscordWebhookSender
from bot.platforms.slack.send import SlackBotSender, SlackWebhookSender
from bot.store.models import Destination, OutboxMessage
from bot.store.storage import Storage
from tests.deliver import helpers as h
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack

NOW = h.NOW


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    s = Storage.open(db_url)
    yield s
    s.close()


@pytest.fixture
async def fakes(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeDiscord, FakeSlack]]:
    async with FakeDiscord() as d, FakeSlack() as s:
        monkeypatch.setenv("DHOOK", d.webhook_url(123456789012345678))
        monkeypatch.setenv("SHOOK", s.webhook_url("T/B/c"))
        with d.patched():
            yield d, s


@pytest.fixture
async def senders(fakes: tuple[FakeDiscord, FakeSlack]) -> AsyncIterator[dict[str, Any]]:
    _, slack = fakes
    out: dict[str, Any] = {
        "discord": DiscordBotSender("t"),
        "discord-webhook": DiscordWebhookSender(),
        "slack": SlackBotSender("xoxb-test", base_url=slack.api_base),
        "slack-webhook": SlackWebhookSender(),
        "console": ConsoleSender(io.StringIO()),
    }
    yield out
    for sender in out.values():
        await sender.aclose()


def make_worker(storage: Storage, senders: dict[str, Any], **kw: Any) -> Worker:
    return Worker(
        storage,
        senders,
        pacer=Pacer({}),
        alert_renderer=h.simple_alert,
        digest_renderer=h.simple_digest,
        on_sent=metrics.count_sent,
        on_failure=metrics.count_failure,
        **kw,
    )


def rows(storage: Storage) -> list[OutboxMessage]:
    with storage.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def route_stories(
    storage: Storage, titles: list[str], platforms: list[tuple[str, str, str]]
) -> list[int]:
    router = Router()
    with storage.write() as s:
        for platform, channel, env in platforms:
            h.subscription(s, h.destination(s, platform, channel, env))
        subscriptions_changed()
        ids = []
        for t in titles:
            st, v = h.story(s, t, feeds=("Politico Europe", "Euractiv"))
            router(s, st, v)
            ids.append(st.id)
    return ids


ALL = [
    ("discord", "111111111111111111", ""),
    ("discord-webhook", "", "DHOOK"),
    ("slack", "C1", ""),
    ("slack-webhook", "", "SHOOK"),
    ("console", "", ""),
]


async def test_whole_outbox_path(
    storage: Storage, fakes: tuple[FakeDiscord, FakeSlack], senders: dict[str, Any]
) -> None:
    discord, slack = fakes
    route_stories(storage, ["EU AI Act adopted", "AI Office opens"], ALL)
    assert outbox_depth(storage) == 10
    from bot.app.metrics import REGISTRY

    def sent_metric() -> float:
        return (
            REGISTRY.get_sample_value("policybot_messages_sent_total", {"platform": "slack"}) or 0.0
        )

    before = sent_metric()
    w = make_worker(storage, senders)
    stats = await w.drain(now=NOW)
    assert sent_metric() == before + 2
    assert (stats.picked, stats.sent, stats.parts) == (10, 10, 10)
    assert all(r.status == "sent" and r.sent_at == NOW and r.parts_sent == 1 for r in rows(storage))
    expected = [
        "EU AI Act adopted [Politico Europe, Euractiv]",
        "AI Office opens [Politico Europe, Euractiv]",
    ]
    assert [m["content"] for m in discord.messages_in("111111111111111111")] == expected
    hook_channel = FakeDiscord.webhook_channel(123456789012345678)
    assert [m["content"] for m in discord.messages_in(hook_channel)] == expected
    assert [p["text"] for p in slack.posts_in("C1")] == expected
    assert [p["text"] for p in slack.webhook_posts] == expected
    console = senders["console"]._stream.getvalue()
    assert "EU AI Act adopted [Politico Europe, Euractiv]" in console
    # Nonces: stored before sending, one per row, sent as part 0.
    nonces = {r.nonce for r in rows(storage) if r.destination_id == 1}
    sent = {m["nonce"] for m in discord.messages_in("111111111111111111")}
    assert sent == {f"{n}-0" for n in nonces}
    # Never twice.
    again = await w.drain(now=NOW + timedelta(hours=1))
    assert again.picked == 0 and len(discord.messages) == 4 and len(slack.posts) == 2
    assert outbox_depth(storage) == 0
    status = {s.destination.platform: s for s in destination_status(storage)}
    assert status["slack"].sent == 2 and status["slack"].pending == 0
    assert status["slack"].last_sent_at == NOW


async def test_transient_failure_backs_off_then_succeeds(
    storage: Storage, fakes: tuple[FakeDiscord, FakeSlack], senders: dict[str, Any]
) -> None:
    discord, _ = fakes
    route_stories(storage, ["one", "two"], [ALL[0]])
    discord.fail_next("POST", "/api/v10/channels/", 503, {"message": "down", "code": 0})
    w = make_worker(storage, senders)
    stats = await w.drain(now=NOW)
    # The first failed; the second was not tried (the destination waits out its backoff).
    assert (stats.transient, stats.sent, stats.skipped) == (1, 0, 1)
    first, second = rows(storage)
    assert first.status == "pending" and first.attempts == 1 and "503" in (first.last_error or "")
    assert NOW + timedelta(seconds=7) <= first.next_attempt_at <= NOW + timedelta(seconds=15)
    assert second.status == "pending" and second.attempts == 0
    with storage.session() as s:
        d = s.get(Destination, first.destination_id)
        assert d is not None and d.disabled_reason is None and "503" in (d.last_error or "")
    # The destination waits out the backoff: its untried second row does not go either.
    stats = await w.drain(now=NOW + timedelta(seconds=1))
    assert stats.picked == 0 and [r.status for r in rows(storage)] == ["pending", "pending"]
    stats = await w.drain(now=NOW + timedelta(seconds=20))
    assert stats.sent == 2 and [r.status for r in rows(storage)] == ["sent", "sent"]
    assert [m["_request"]["nonce"] for m in discord.messages] == [
        f"{r.nonce}-0" for r in rows(storage)
    ]  # in queue order


async def test_a_long_outage_loses_nothing_and_a_week_old_message_is_parked(
    storage: Storage, fakes: tuple[FakeDiscord, FakeSlack], senders: dict[str, Any]
) -> None:
    discord, _ = fakes
    route_stories(storage, ["one"], [ALL[0]])
    discord.break_channel(ALL[0][1], status=503, code=0)  # down, transiently, for days
    w = make_worker(storage, senders)
    when = NOW
    for _ in range(worker_mod.MAX_ATTEMPTS + 5):  # past the attempt count, within a week
        await w.drain(now=when)
        (row,) = rows(storage)
        assert row.status == "pending", row.last_error
        when = row.next_attempt_at + timedelta(seconds=1)
    assert when < NOW + worker_mod.GIVE_UP_AFTER
    await w.drain(now=NOW + worker_mod.GIVE_UP_AFTER + timedelta(hours=2))
    (row,) = rows(storage)
    assert row.status == "failed" and (row.last_error or "").startswith("gave up after")
    # Once the platform is back, `deliver enable` requeues it and it goes out.
    discord.broken_channels.clear()
    later = NOW + worker_mod.GIVE_UP_AFTER + timedelta(days=1)
    assert enable_destination(storage, row.destination_id, now=later) == 1
    assert (await w.drain(now=later)).sent == 1 and len(discord.messages) == 1


async def test_retry_after_is_honoured(
    storage: Storage, fakes: tuple[FakeDiscord, FakeSlack], senders: dict[str, Any]
) -> None:
    _, slack = fakes
    route_stories(storage, ["one"], [ALL[2]])
    slack.fail_next(
        "POST",
        "/api/chat.postMessage",
        429,
        {"ok": False, "error": "ratelimited"},
        headers={"Retry-After": "120"},
    )
    w = make_worker(storage, senders)
    await w.drain(now=NOW)
    (row,) = rows(storage)
    assert row.status == "pending"
    assert NOW + timedelta(seconds=120) <= row.next_attempt_at <= NOW + timedelta(seconds=133)
    assert (await w.drain(now=NOW + timedelta(seconds=119))).picked == 0
    assert (await w.drain(now=NOW + timedelta(seconds=140))).sent == 1


async def test_permanent_failure_disables_and_parks(
    storage: Storage, fakes: tuple[FakeDiscord, FakeSlack], senders: dict[str, Any]
) -> None:
    discord, slack = fakes
    route_stories(storage, ["one", "two", "three"], [ALL[0], ALL[2]])
    discord.break_channel("111111111111111111", 403, 50001)
    w = make_worker(storage, senders)
    stats = await w.drain(now=NOW)
    assert stats.sent == 3 and stats.permanent == 3  # Slack got all three; Discord parked
    assert len(discord.requests_to("POST", "/api/v10/channels/")) == 1  # no hammering
    discord_rows = [r for r in rows(storage) if r.destination_id == 1]
    assert [r.status for r in discord_rows] == ["failed"] * 3
    assert all("50001" in (r.last_error or "") for r in discord_rows)
    (st,) = [s for s in destination_status(storage) if s.destination.platform == "discord"]
    assert st.disabled_reason and "Missing Access" in st.disabled_reason and st.failed == 3
    # New alerts for a disabled destination wait; drains leave it alone.
    route_stories(storage, ["four"], [])
    assert (await w.drain(now=NOW + timedelta(days=1))).picked == 1  # only Slack's
    assert len(discord.requests_to("POST", "/api/v10/channels/")) == 1
    # Someone fixes the permissions and re-enables it: everything parked goes out.
    del discord.broken_channels["111111111111111111"]
    assert enable_destination(storage, 1, now=NOW + timedelta(days=1)) == 3
    stats = await w.drain(now=NOW + timedelta(days=2))
    assert stats.sent == 4
    assert [m["content"].split(" [")[0] for m in discord.messages_in("111111111111111111")] == [
        "one",
        "two",
        "three",
        "four",
    ]
    assert len(slack.posts) == 4


async def test_rejected_message_does_not_block_the_destination(
    storage: Storage, fakes: tuple[FakeDiscord, FakeSlack], senders: dict[str, Any]
) -> None:
    discord, _ = fakes
    route_stories(storage, ["bad", "good"], [ALL[0]])
    discord.fail_next(
        "POST", "/api/v10/channels/", 400, {"code": 50035, "message": "Invalid Form Body"}
    )
    stats = await make_worker(storage, senders).drain(now=NOW)
    assert (stats.rejected, stats.sent) == (1, 1)
    assert [r.status for r in rows(storage)] == ["failed", "sent"]
    with storage.session() as s:
        d = s.get(Destination, 1)
        assert d is not None and d.disabled_reason is None


async def test_multi_part_digest_resumes_with_the_next_part(
    storage: Storage, fakes: tuple[FakeDiscord, FakeSlack], senders: dict[str, Any]
) -> None:
    discord, _ = fakes
    with storage.write() as s:
        d = h.destination(s, "discord", "222222222222222222")
        h.subscription(s, d, mode="daily", created_at=NOW - timedelta(days=5))
        for i in range(5):
            h.story(s, f"s{i}", first_seen=NOW - timedelta(hours=10 - i))
        (q,) = queue_due_digests(s, NOW)
        assert len(q.story_ids) == 5
    # Part 1 of 3 goes; part 2 meets a 503 (transient); the next drain resumes at part 2.
    w = make_worker(storage, senders)
    orig = senders["discord"].send
    calls = {"n": 0}

    async def flaky(dest: Any, payloads: Any, nonce: str, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            discord.fail_next("POST", "/api/v10/channels/", 503, {"message": "x", "code": 0})
        return await orig(dest, payloads, nonce, **kw)

    senders["discord"].send = flaky
    stats = await w.drain(now=NOW)
    assert (stats.parts, stats.transient) == (1, 1)
    (row,) = rows(storage)
    assert row.parts_sent == 1 and row.status == "pending"
    stats = await w.drain(now=NOW + timedelta(minutes=5))
    assert stats.parts == 2 and stats.sent == 1
    (row,) = rows(storage)
    assert row.status == "sent" and row.parts_sent == 3
    msgs = discord.messages_in("222222222222222222")
    assert [m["content"] for m in msgs] == ["s0 | s1", "s2 | s3", "s4"]
    assert [m["nonce"] for m in msgs] == [f"{row.nonce}-{i}" for i in range(3)]


async def test_in_flight_rows_wait_for_their_lease_or_recovery(
    storage: Storage, fakes: tuple[FakeDiscord, FakeSlack], senders: dict[str, Any]
) -> None:
    discord, _ = fakes
    route_stories(storage, ["one"], [ALL[0]])
    with storage.write() as s:  # a worker died after claiming it
        s.execute(
            update(OutboxMessage).values(
                status="sending", nonce="deadbeef", next_attempt_at=NOW + LEASE
            )
        )
    w = make_worker(storage, senders)
    assert (await w.drain(now=NOW)).picked == 0
    assert recover_in_flight(storage, now=NOW) == 1
    stats = await w.drain(now=NOW)
    assert stats.sent == 1
    assert discord.messages[0]["nonce"] == "deadbeef-0"  # the nonce it was first sent with


async def test_pacing_spaces_posts_per_destination(
    storage: Storage,
    senders: dict[str, Any],
    fakes: tuple[FakeDiscord, FakeSlack],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    route_stories(storage, ["one", "two", "three"], [ALL[2], ALL[4]])
    slept: list[float] = []

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(worker_mod.asyncio, "sleep", fake_sleep)
    clock = [1000.0]
    pacer = Pacer({"slack": 1.0, "console": 0.0}, monotonic=lambda: clock[0])
    w = Worker(
        storage,
        senders,
        pacer=pacer,
        alert_renderer=h.simple_alert,
        digest_renderer=h.simple_digest,
    )
    stats = await w.drain(now=NOW)
    assert stats.sent == 6
    # Slack: the 2nd and 3rd posts waited a second each; the console never waits.
    assert slept == [1.0, 1.0]


async def test_unrenderable_row_is_parked(
    storage: Storage, senders: dict[str, Any], fakes: tuple[FakeDiscord, FakeSlack]
) -> None:
    route_stories(storage, ["one", "two"], [ALL[4]])

    def broken(platform: str, post: Any) -> list[Any]:
        if post.title == "one":
            raise ValueError("boom")
        return h.simple_alert(platform, post)

    w = Worker(
        storage, senders, pacer=Pacer({}), alert_renderer=broken, digest_renderer=h.simple_digest
    )
    stats = await w.drain(now=NOW)
    assert (stats.rejected, stats.sent) == (1, 1)
    first, second = rows(storage)
    assert first.status == "failed" and "boom" in (first.last_error or "")
    assert second.status == "sent"


def test_metrics_endpoint(storage: Storage) -> None:
    import urllib.request

    from bot.app import metrics

    route_stories(storage, ["one"], [ALL[4]])
    server = metrics.start_metrics_server(0, storage, host="127.0.0.1")
    try:
        metrics.MESSAGES_SENT.labels(platform="console").inc()
        base = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(base + "/healthz") as r:
            assert r.status == 200 and r.read() == b"ok\n"
        with urllib.request.urlopen(base + "/metrics") as r:
            text = r.read().decode()
        assert "policybot_outbox_depth 1.0" in text
        assert 'policybot_messages_sent_total{platform="console"}' in text
    finally:
        server.close()


def test_healthz_fails_when_the_scheduler_stops_ticking(storage: Storage) -> None:
    import urllib.error
    import urllib.request

    from bot.app import metrics

    now = [1000.0]
    beat = metrics.Heartbeat(35.0, clock=lambda: now[0])
    server = metrics.start_metrics_server(0, storage, host="127.0.0.1", heartbeat=beat)
    url = f"http://127.0.0.1:{server.port}/healthz"
    try:
        now[0] += 30  # within two periods
        with urllib.request.urlopen(url) as r:
            assert r.status == 200
        now[0] += 10  # a hung loop: no beat for 40 s
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(url)
        assert caught.value.code == 503
        assert b"scheduler stalled" in caught.value.read()
        beat.beat()  # it ticks again: healthy again
        with urllib.request.urlopen(url) as r:
            assert r.status == 200
    finally:
        server.close()


async def test_a_rejected_token_disables_until_a_restart_with_a_good_one(
    storage: Storage, fakes: tuple[FakeDiscord, FakeSlack], senders: dict[str, Any]
) -> None:
    """Slack refuses the bot token: the Slack destination is disabled as a credentials
    problem, its messages parked; the channel-level failure of Discord is not one. At the next
    start with a good token the Slack destination resumes by itself and everything goes."""
    discord, slack = fakes
    route_stories(storage, ["one", "two"], [ALL[0], ALL[2]])
    discord.break_channel("111111111111111111", 403, 50001)
    bad = dict(senders, slack=SlackBotSender("xoxb-revoked", base_url=slack.api_base))
    stats = await make_worker(storage, bad).drain(now=NOW)
    assert stats.permanent == 4 and stats.sent == 0
    await bad["slack"].aclose()
    reasons = {d.platform: why for d, why in outbox_mod.disabled_destinations(storage)}
    assert reasons["slack"].startswith(outbox_mod.CREDENTIALS_REJECTED)
    assert "invalid_auth" in reasons["slack"]
    assert not reasons["discord"].startswith(outbox_mod.CREDENTIALS_REJECTED)

    # The restart: the operator fixed SLACK_BOT_TOKEN; Discord's channel is still broken.
    resumed = outbox_mod.resume_after_credentials(storage, senders)
    assert [d.platform for d in resumed] == ["slack"]
    assert [d.platform for d, _ in outbox_mod.disabled_destinations(storage)] == ["discord"]
    stats = await make_worker(storage, senders).drain()  # requeued "now": the real clock
    assert stats.sent == 2 and len(slack.posts) == 2


async def test_metrics_name_dead_feeds_latency_and_build(storage: Storage) -> None:
    import urllib.request

    from bot.app import metrics
    from bot.store.models import Feed

    route_stories(storage, ["one"], [ALL[4]])
    with storage.write() as s:
        feed = s.scalars(select(Feed).where(Feed.name == "Euractiv")).one()
        feed.consecutive_failures = 4
    w = make_worker(storage, {"console": ConsoleSender(io.StringIO())})
    w.on_delivered = metrics.observe_delivery
    assert (await w.drain(now=NOW + timedelta(hours=1))).sent == 1
    metrics.set_build_info("compiled (test)")
    server = metrics.start_metrics_server(0, storage, host="127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics") as r:
            text = r.read().decode()
    finally:
        server.close()
    assert "policybot_feeds_failing 1.0" in text
    assert 'policybot_feed_last_success_timestamp_seconds{feed="Euractiv"}' in text
    assert 'policybot_delivery_latency_seconds_count{platform="console"}' in text
    assert 'classifier="compiled (test)"' in text and "policybot_build_info" in text


@pytest.mark.parametrize("history_scope", [True, False])
async def test_slack_bot_part_in_flight_at_a_crash_is_found_not_posted_again(
    storage: Storage,
    fakes: tuple[FakeDiscord, FakeSlack],
    senders: dict[str, Any],
    history_scope: bool,
) -> None:
    # A worker claimed the row and posted it; the process died before marking it sent.
    _, slack = fakes
    slack.history_scope = history_scope
    route_stories(storage, ["one"], [("slack", "C1", "")])
    w = make_worker(storage, senders)
    with storage.write() as s:
        s.execute(update(OutboxMessage).values(nonce="deadbeef"))
    (row,) = rows(storage)
    dest = DestinationInfo(id=row.destination_id, platform="slack", channel="C1")
    first = await senders["slack"].send(dest, [{"text": "one"}], "deadbeef")
    assert first.ok and len(slack.posts) == 1
    assert slack.posts[0]["metadata"]["event_payload"] == {"nonce": "deadbeef-0"}
    with storage.write() as s:
        s.execute(update(OutboxMessage).values(status="sending", next_attempt_at=NOW + LEASE))
    assert recover_in_flight(storage, now=NOW) == 1
    stats = await w.drain(now=NOW)
    assert stats.sent == 1
    (row,) = rows(storage)
    assert row.status == "sent"
    # With the history scope the post is found; without it, the documented one repeat.
    assert len(slack.posts) == (1 if history_scope else 2)


async def test_slack_bot_first_send_does_not_read_history(
    storage: Storage, fakes: tuple[FakeDiscord, FakeSlack], senders: dict[str, Any]
) -> None:
    _, slack = fakes
    route_stories(storage, ["one", "two"], [("slack", "C1", "")])
    stats = await make_worker(storage, senders).drain(now=NOW)
    assert stats.sent == 2 and len(slack.posts) == 2
    assert slack.requests_to("POST", "/api/conversations.history") == []
    assert slack.requests_to("GET", "/api/conversations.history") == []


async def test_a_backlog_reads_its_stories_in_one_query_per_batch(
    storage: Storage, senders: dict[str, Any]
) -> None:
    """What rendering needs is read ahead for a batch of rows, not loaded per message; and
    every message still shows its story (both sources named)."""
    from sqlalchemy import event

    titles = [f"AI rule {i} adopted" for i in range(12)]
    route_stories(storage, titles, [("console", "", ""), ("slack-webhook", "", "SHOOK")])
    story_reads: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM stories" in statement:
            story_reads.append(statement)

    event.listen(storage.engine, "before_cursor_execute", count)
    try:
        stats = await make_worker(storage, senders).drain(now=NOW + timedelta(minutes=1))
    finally:
        event.remove(storage.engine, "before_cursor_execute", count)
    assert stats.sent == 24 and not stats.errors
    assert len(story_reads) == 2  # one batch per destination, not 24 loads
    out = senders["console"]._stream.getvalue()
    for t in titles:
        assert t in out
    assert out.count("Politico Europe") == 12 and out.count("Euractiv") == 12
    assert all(r.status == "sent" for r in rows(storage))


class _CheckingSender(ConsoleSender):
    """A console that, at each post, reads how the outbox stands."""

    def __init__(self, storage: Storage) -> None:
        super().__init__(io.StringIO())
        self.storage = storage
        self.seen: list[dict[int, str]] = []

    async def send(self, *args: Any, **kw: Any) -> Any:
        with self.storage.session() as s:
            self.seen.append(dict(s.execute(select(OutboxMessage.id, OutboxMessage.status)).all()))
        return await super().send(*args, **kw)


async def test_each_post_is_marked_sent_before_the_next_row_is_claimed(storage: Storage) -> None:
    """The mark of a post rides with the next claim's trip to the database, but in front of
    it: at every post, the rows posted before are sent and only the one being posted is
    "sending"."""
    route_stories(storage, [f"rule {i}" for i in range(5)], [("console", "", "")])
    sender = _CheckingSender(storage)
    stats = await make_worker(storage, {"console": sender}).drain(now=NOW)
    assert stats.sent == 5 and not stats.errors
    ids = [r.id for r in rows(storage)]
    for n, seen in enumerate(sender.seen):
        assert [seen[i] for i in ids] == ["sent"] * n + ["sending"] + ["pending"] * (4 - n)
    assert all(r.status == "sent" for r in rows(storage))


@pytest.mark.parametrize(
    "read_ahead, meanwhile, maybe_posted",
    [
        ("pending", None, False),
        # A process claimed it after the read ahead and died: its part may be out.
        ("pending", "sending", True),
        # Given back unsent after the read ahead: nothing is in flight.
        ("sending", "pending", False),
    ],
)
def test_the_claim_knows_a_part_may_be_in_flight_even_if_the_status_read_ahead_changed(
    storage: Storage, read_ahead: str, meanwhile: str | None, maybe_posted: bool
) -> None:
    route_stories(storage, ["one"], [("console", "", "")])
    (row,) = rows(storage)
    w = make_worker(storage, {"console": ConsoleSender(io.StringIO())})
    with storage.write() as s:
        s.execute(update(OutboxMessage).values(status=read_ahead, next_attempt_at=NOW))
    if storage.shared:  # (PostgreSQL) a claim needs this instance's lease on the destination
        assert w._lease_destination(row.destination_id, NOW) is not False
    ahead = w._prefetch([row.id])
    assert dict(ahead.status) == {row.id: read_ahead}
    if meanwhile is not None:
        with storage.write() as s:
            s.execute(update(OutboxMessage).values(status=meanwhile))
    claimed = w._claim(row.id, NOW, ahead)
    assert claimed is not None and claimed.maybe_posted is maybe_posted
    assert rows(storage)[0].status == "sending"
