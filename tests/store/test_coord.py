"""Several instances on one PostgreSQL database: safe start, feed leases, one story through
two feeds, digests once, one chat leader, one destination paced across workers."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.clock import utcnow
from bot.deliver.claims import CLAIM_SKIP_LOCKED
from bot.deliver.digests import queue_digests
from bot.deliver.pacing import Pacer
from bot.deliver.ports import DestinationInfo, Outcome, SendResult
from bot.deliver.route import Router, subscriptions_changed
from bot.deliver.worker import LEASE, Worker
from bot.store import coord
from bot.store.db import current_revision, head_revision, make_engine, migrate
from bot.store.lock import InstanceLock
from bot.store.models import Entry, OutboxMessage, Story
from bot.store.records import LeaseLost
from bot.store.storage import Storage
from bot.types import FeedOptions
from tests.conftest import fresh_pg_database
from tests.deliver import helpers as h
from tests.store.test_storage import NOW, classify, item, ok


@pytest.fixture
def pg() -> Iterator[str]:
    yield from fresh_pg_database()


def _together(jobs: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run the jobs in threads released at the same moment; their results in order."""
    barrier = threading.Barrier(len(jobs))
    out: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = jobs[i]()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        raise errors[0]
    return out


def test_instances_started_together_on_an_empty_database_all_migrate(pg: str) -> None:
    engines = [make_engine(pg) for _ in range(4)]
    try:
        _together([lambda e=e: migrate(e) for e in engines])
        assert current_revision(engines[0]) == head_revision(engines[0])
    finally:
        for e in engines:
            e.dispose()


def _two(pg: str) -> tuple[Storage, Storage, InstanceLock, InstanceLock]:
    a, b = Storage.open(pg), Storage.open(pg)
    la, lb = InstanceLock(a.engine), InstanceLock(b.engine)
    la.acquire()
    lb.acquire()
    return a, b, la, lb


def test_due_feeds_are_leased_once_and_taken_over_when_the_holder_dies(pg: str) -> None:
    a, b, la, lb = _two(pg)
    try:
        a.sync_feeds(
            [FeedOptions(f"f{i}", f"https://e.org/{i}", timedelta(minutes=30)) for i in range(6)],
            NOW,
        )
        got_a, got_b = _together(
            [
                lambda: a.lease_due_feeds(NOW, la.owner, 4),
                lambda: b.lease_due_feeds(NOW, lb.owner, 4),
            ]
        )
        names_a, names_b = {f.name for f in got_a}, {f.name for f in got_b}
        assert not names_a & names_b and len(names_a | names_b) == 6  # shared, none twice
        assert b.lease_due_feeds(NOW, lb.owner, 10) == []  # all held by live instances
        # A dies (its member lock ends with its session): B takes A's feeds at once.
        la.release()
        taken = b.lease_due_feeds(NOW, lb.owner, 10)
        assert {f.name for f in taken} == names_a
        # A's poll of one of them, finishing late, is not recorded.
        lost = next(f for f in got_a)
        with pytest.raises(LeaseLost):
            a.record_poll(
                lost.id,
                ok(),
                [item("u1", "EU AI Act news")],
                now=NOW,
                next_poll_at=NOW + timedelta(minutes=30),
                classify=classify,
                backfill_window=timedelta(days=3650),
                lease_owner=la.owner,
            )
        # B's poll is, and clears the lease; the feed is not due again within its interval.
        b.record_poll(
            lost.id,
            ok(),
            [item("u1", "EU AI Act news")],
            now=NOW,
            next_poll_at=NOW + timedelta(minutes=30),
            classify=classify,
            backfill_window=timedelta(days=3650),
            lease_owner=lb.owner,
        )
        with b.session() as s:
            assert s.scalar(select(func.count()).select_from(Entry)) == 1
        assert lost.name not in {f.name for f in b.lease_due_feeds(NOW, lb.owner, 10)}
    finally:
        lb.release()
        a.close()
        b.close()


def test_one_story_through_two_feeds_in_two_processes_is_stored_once(pg: str) -> None:
    a, b, la, lb = _two(pg)
    try:
        feeds = a.sync_feeds(
            [FeedOptions(n, f"https://e.org/{n}", timedelta(minutes=30)) for n in "xy"], NOW
        )
        router = Router()
        with a.write() as s:
            h.subscription(s, h.destination(s, "console"))
            h.subscription(s, h.destination(s, "discord", "42"))
        subscriptions_changed()
        words = [
            "amber",
            "birch",
            "cedar",
            "dune",
            "elm",
            "fjord",
            "grove",
            "heath",
            "isle",
            "jade",
            "kelp",
            "loch",
            "moor",
        ]
        titles = [f"EU AI Act {words[i % 13]} {words[i // 13]} report {i:x}q" for i in range(40)]

        def poll(storage: Storage, feed_id: int, tag: str) -> None:
            items = [
                item(f"{tag}-{i}", t, url=f"https://news.example/story-{i}")
                for i, t in enumerate(titles)
            ]
            storage.record_poll(
                feed_id,
                ok(),
                items,
                now=NOW,
                next_poll_at=NOW + timedelta(minutes=30),
                classify=classify,
                backfill_window=timedelta(days=3650),
                on_story=router,
            )

        _together([lambda: poll(a, feeds[0].id, "x"), lambda: poll(b, feeds[1].id, "y")])
        with a.session() as s:
            assert s.scalar(select(func.count()).select_from(Story)) == 40
            assert set(s.scalars(select(Story.source_count))) == {2}
            assert s.scalar(select(func.count()).select_from(Entry)) == 80
            # One outbox row per story and destination.
            assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 80
    finally:
        la.release()
        lb.release()
        a.close()
        b.close()


def test_each_digest_period_is_queued_once_by_instances_racing(pg: str) -> None:
    storages = [Storage.open(pg) for _ in range(3)]
    try:
        with storages[0].write() as s:
            dest = h.destination(s, "console")
            for k in range(5):
                h.subscription(
                    s, dest, mode="daily", at="09:00", created_at=NOW - timedelta(days=3)
                )
                h.story(s, f"EU AI Act digest story {k}", first_seen=NOW - timedelta(hours=5))
        _together([lambda st=st: queue_digests(st, NOW) for st in storages])
        with storages[0].session() as s:
            rows = list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "digest")))
        assert len(rows) == 5
        assert len({r.subscription_id for r in rows}) == 5
        # And again later the same day: nothing new.
        _together([lambda st=st: queue_digests(st, NOW + timedelta(hours=1)) for st in storages])
        with storages[0].session() as s:
            assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 5
    finally:
        for st in storages:
            st.close()


def test_one_leader_per_chat_token_and_failover_when_it_dies(pg: str) -> None:
    a, b = make_engine(pg), make_engine(pg)
    try:
        first, second = coord.LeaderLock(a, "discord:t1"), coord.LeaderLock(b, "discord:t1")
        other = coord.LeaderLock(b, "discord:t2")
        assert first.try_acquire()
        assert not second.try_acquire()
        assert other.try_acquire()  # another token: another connection, its own leader
        assert first.still_held()
        assert first._conn is not None
        first._conn.invalidate()  # the leader's process dies: its session ends
        first._conn = None
        deadline = time.monotonic() + 30
        while not second.try_acquire():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert second.still_held()
        second.release()
        other.release()
    finally:
        a.dispose()
        b.dispose()


class _Timed:
    """A sender that records when each post arrived and takes a moment to answer."""

    def __init__(self, log: list[tuple[float, str]]) -> None:
        self.log = log

    async def send(
        self,
        destination: DestinationInfo,
        payloads: Sequence[Any],
        nonce: str,
        *,
        first_part: int = 0,
        resend: bool = False,
    ) -> SendResult:
        self.log.append((time.monotonic(), str(payloads[0])))
        await asyncio.sleep(0.01)
        return SendResult(Outcome.SENT, len(payloads))

    async def aclose(self) -> None:
        return None


async def test_workers_share_a_destination_one_at_a_time_and_keep_its_pacing(pg: str) -> None:
    from tests.deliver.test_worker import route_stories

    a, b, la, lb = _two(pg)
    gap = 0.15
    try:
        route_stories(a, [f"story {i}" for i in range(24)], [("console", "", "")])
        posts: list[tuple[float, str]] = []

        def worker(storage: Storage, owner: str) -> Worker:
            w = Worker(
                storage,
                {"console": _Timed(posts)},
                pacer=Pacer({"console": gap}),
                alert_renderer=h.simple_alert,
                digest_renderer=h.simple_digest,
            )
            w.owner = owner
            return w

        wa, wb = worker(a, la.owner), worker(b, lb.owner)
        for _ in range(60):
            sa, sb = await asyncio.gather(wa.drain(limit=5), wb.drain(limit=5))
            if sa.picked + sb.picked == 0:
                break
        assert sorted(p for _, p in posts) == sorted({p for _, p in posts})  # each once
        assert len(posts) == 24
        times = sorted(t for t, _ in posts)
        # Each post started after the one before was answered plus the gap, whichever
        # worker made it (load only makes the gaps longer).
        assert min(y - x for x, y in itertools.pairwise(times)) >= gap - 0.005
    finally:
        la.release()
        lb.release()
        a.close()
        b.close()


def test_outbox_claims_skip_rows_another_instance_holds_and_never_share_one(pg: str) -> None:
    from tests.deliver.test_worker import route_stories

    a, b, la, lb = _two(pg)
    # A claim that waited for a locked row would fail here instead of hanging.
    event.listen(b.engine, "connect", lambda dbapi, _: dbapi.execute("SET lock_timeout = '10s'"))
    try:
        route_stories(a, [f"story {i}" for i in range(12)], [("console", "", "")])
        with a.session() as s:
            rows = list(s.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
            dest = s.scalar(select(OutboxMessage.destination_id))
        assert len(rows) == 12 and dest is not None
        wb = Worker(
            b,
            {"console": _Timed([])},
            alert_renderer=h.simple_alert,
            digest_renderer=h.simple_digest,
        )
        wb.owner = lb.owner
        now = utcnow() + timedelta(seconds=1)
        assert wb._lease_destination(dest, now) is not False

        def claim(conn: Any, row: int, owner: str) -> int | None:
            got = conn.execute(
                CLAIM_SKIP_LOCKED,
                {"row_id": row, "now": now, "lease": now + LEASE, "owner": owner, "nonce": owner},
            ).first()
            return None if got is None else int(got.id)

        # Instance a is claiming rows[0] (its transaction not yet committed): b passes over
        # it at once, and takes the next row.
        with a.engine.connect() as held:
            held.begin()
            assert claim(held, rows[0], la.owner) == rows[0]
            assert wb._claim(rows[0], now) is None
            got = wb._claim(rows[1], now)
            assert got is not None and got.id == rows[1]
            held.commit()
        assert wb._claim(rows[0], now) is None  # a's now, under its lease

        # Two claimers over the same rows at once, in opposite orders: each row goes to one.
        def claimer(storage: Storage, owner: str, order: list[int]) -> Callable[[], list[int]]:
            def run() -> list[int]:
                mine = []
                for row in order:
                    with storage.engine.begin() as conn:
                        if claim(conn, row, owner) is not None:
                            mine.append(row)
                return mine

            return run

        rest = rows[2:]
        got_a, got_b = _together([claimer(a, la.owner, rest), claimer(b, lb.owner, rest[::-1])])
        assert not set(got_a) & set(got_b)
        assert sorted(got_a + got_b) == rest
        with a.session() as s:
            owners = dict(s.execute(select(OutboxMessage.id, OutboxMessage.claimed_by)).all())
        assert {owners[r] for r in got_a} <= {la.owner}
        assert {owners[r] for r in got_b} <= {lb.owner}
    finally:
        la.release()
        lb.release()
        a.close()
        b.close()
