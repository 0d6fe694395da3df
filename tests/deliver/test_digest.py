"""Digests with a controlled clock: schedules, time zones, coalescing after downtime."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.deliver.digests import last_scheduled, queue_due_digests
from bot.deliver.match import SubscriptionView
from bot.store.models import OutboxMessage, Subscription
from bot.store.storage import Storage
from tests.deliver import helpers as h


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# 2026-11-20 is a Friday.
FRI = utc(2026, 11, 20)


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    s = Storage.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield s
    s.close()


def make_sub(storage: Storage, **kw: Any) -> int:
    kw.setdefault("created_at", FRI - timedelta(days=30))
    with storage.write() as s:
        d = h.destination(s, "slack", "C1")
        return h.subscription(s, d, **kw).id


def add_story(storage: Storage, title: str, first_seen: datetime, **kw: Any) -> int:
    with storage.write() as s:
        st, _ = h.story(s, title, first_seen=first_seen, **kw)
        return st.id


def digests(storage: Storage) -> list[OutboxMessage]:
    with storage.session() as s:
        return list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "digest")
                .order_by(OutboxMessage.id)
            )
        )


def queue(storage: Storage, now: datetime) -> int:
    with storage.write() as s:
        return len(queue_due_digests(s, now))


def bookmark(storage: Storage, sub_id: int) -> datetime | None:
    with storage.session() as s:
        row = s.get(Subscription, sub_id)
        assert row is not None
        return row.last_digest_at


def view(**kw: Any) -> SubscriptionView:
    return SubscriptionView(id=1, destination_id=1, **kw)


def test_last_scheduled_daily_weekly_and_zones() -> None:
    daily = view(mode="daily", at="09:00")
    assert last_scheduled(daily, utc(2026, 11, 20, 9, 0)) == utc(2026, 11, 20, 9, 0)
    assert last_scheduled(daily, utc(2026, 11, 20, 8, 59)) == utc(2026, 11, 19, 9, 0)
    tokyo = view(mode="daily", at="09:00", timezone="Asia/Tokyo")  # = 00:00 UTC
    assert last_scheduled(tokyo, utc(2026, 11, 20, 0, 30)) == utc(2026, 11, 20, 0, 0)
    assert last_scheduled(tokyo, utc(2026, 11, 19, 23, 59)) == utc(2026, 11, 19, 0, 0)
    weekly = view(mode="weekly", at="17:00", day="mon", timezone="Europe/Berlin")  # CET: 16:00Z
    assert last_scheduled(weekly, FRI) == utc(2026, 11, 16, 16, 0)
    assert last_scheduled(weekly, utc(2026, 11, 23, 16, 0)) == utc(2026, 11, 23, 16, 0)
    # Summer time: 09:00 in New York is 13:00Z in July, 14:00Z in November.
    ny = view(mode="daily", at="09:00", timezone="America/New_York")
    assert last_scheduled(ny, utc(2026, 7, 1, 20, 0)) == utc(2026, 7, 1, 13, 0)
    assert last_scheduled(ny, utc(2026, 11, 20, 20, 0)) == utc(2026, 11, 20, 14, 0)


def test_daily_digest_once_per_period_with_the_right_stories(storage: Storage) -> None:
    sub_id = make_sub(storage, mode="daily", at="09:00", jurisdictions=["EU"])
    before = add_story(storage, "too early", utc(2026, 11, 19, 8, 0))
    a = add_story(storage, "in window A", utc(2026, 11, 19, 9, 30))
    b = add_story(storage, "in window B", utc(2026, 11, 20, 9, 0))  # the end is included
    add_story(storage, "other jurisdiction", utc(2026, 11, 19, 12, 0), jurisdictions=("US",))
    add_story(storage, "not relevant", utc(2026, 11, 19, 12, 0), relevant=False)
    add_story(storage, "back catalogue", utc(2026, 11, 19, 12, 0), announce=False)
    after = add_story(storage, "after", utc(2026, 11, 20, 9, 1))

    assert queue(storage, utc(2026, 11, 20, 8, 59)) == 1  # yesterday's 09:00 run is due first
    (first,) = digests(storage)
    assert first.period_end == utc(2026, 11, 19, 9, 0)
    assert before in first.story_ids and a not in first.story_ids

    assert queue(storage, utc(2026, 11, 20, 9, 5)) == 1
    second = digests(storage)[1]
    assert (second.period_start, second.period_end) == (utc(2026, 11, 19, 9), utc(2026, 11, 20, 9))
    assert second.story_ids == [a, b]
    assert second.kind == "digest" and second.status == "pending"
    assert second.dedup_key.startswith(utc(2026, 11, 20, 9).isoformat())
    assert after not in second.story_ids
    assert bookmark(storage, sub_id) == utc(2026, 11, 20, 9)

    # Not repeated within the period, whatever the number of calls.
    for minutes in (6, 60, 23 * 60):
        assert queue(storage, utc(2026, 11, 20, 9) + timedelta(minutes=minutes)) == 0
    assert len(digests(storage)) == 2
    assert queue(storage, utc(2026, 11, 21, 9)) == 1
    assert digests(storage)[2].story_ids == [after]


def test_time_zones_tokyo_vs_utc(storage: Storage) -> None:
    tokyo = make_sub(
        storage,
        mode="daily",
        at="09:00",
        timezone="Asia/Tokyo",
        last_digest_at=utc(2026, 11, 19, 0, 0),
    )
    utc_sub = make_sub(
        storage, mode="daily", at="09:00", timezone="UTC", last_digest_at=utc(2026, 11, 19, 9, 0)
    )
    s1 = add_story(storage, "early", utc(2026, 11, 19, 6, 0))
    s2 = add_story(storage, "late", utc(2026, 11, 19, 18, 0))
    # 00:30 UTC = 09:30 in Tokyo: Tokyo's digest is due, UTC's is not.
    assert queue(storage, utc(2026, 11, 20, 0, 30)) == 1
    (d,) = digests(storage)
    assert d.subscription_id == tokyo and d.story_ids == [s1, s2]
    assert d.period_end == utc(2026, 11, 20, 0, 0)
    assert queue(storage, utc(2026, 11, 20, 9, 0)) == 1
    d2 = digests(storage)[1]
    assert d2.subscription_id == utc_sub and d2.story_ids == [s2]


def test_weekly_on_its_day(storage: Storage) -> None:
    sub_id = make_sub(
        storage, mode="weekly", day="fri", at="17:00", last_digest_at=utc(2026, 11, 13, 17, 0)
    )
    ids = [add_story(storage, f"day {i}", utc(2026, 11, 14 + i, 10)) for i in range(6)]
    assert queue(storage, utc(2026, 11, 20, 16, 59)) == 0  # Friday, before the hour
    assert queue(storage, utc(2026, 11, 20, 17, 0)) == 1
    (d,) = digests(storage)
    assert d.story_ids == ids and d.period_start == utc(2026, 11, 13, 17, 0)
    assert queue(storage, utc(2026, 11, 26, 12, 0)) == 0  # Thursday after: nothing
    assert bookmark(storage, sub_id) == utc(2026, 11, 20, 17, 0)


def test_downtime_coalesces_into_one_digest(storage: Storage) -> None:
    sub_id = make_sub(storage, mode="daily", at="09:00", last_digest_at=utc(2026, 11, 17, 9, 0))
    start = utc(2026, 11, 17, 10)
    # Spread over the three missed days.
    ids = [add_story(storage, f"down {i}", start + timedelta(hours=7 * i)) for i in range(10)]
    # The bot was down from the 17th 09:00 to the 20th 10:00: three runs missed.
    assert queue(storage, utc(2026, 11, 20, 10, 0)) == 1
    (d,) = digests(storage)
    assert d.story_ids == ids  # none lost
    assert (d.period_start, d.period_end) == (utc(2026, 11, 17, 9), utc(2026, 11, 20, 9))
    assert queue(storage, utc(2026, 11, 20, 10, 1)) == 0  # not repeated
    assert bookmark(storage, sub_id) == utc(2026, 11, 20, 9)


def test_first_digest_after_creation_and_empty_periods(storage: Storage) -> None:
    sub_id = make_sub(storage, mode="daily", at="09:00", created_at=utc(2026, 11, 20, 10, 0))
    add_story(storage, "old news", utc(2026, 11, 20, 8, 0))
    assert queue(storage, utc(2026, 11, 20, 12, 0)) == 0  # 09:00 today was before creation
    assert bookmark(storage, sub_id) is None
    fresh = add_story(storage, "news", utc(2026, 11, 20, 11, 0))
    assert queue(storage, utc(2026, 11, 21, 9, 5)) == 1
    (d,) = digests(storage)
    assert d.story_ids[-1] == fresh
    # An empty day moves the bookmark without posting.
    assert queue(storage, utc(2026, 11, 22, 9, 5)) == 0
    assert bookmark(storage, sub_id) == utc(2026, 11, 22, 9)
    assert len(digests(storage)) == 1


def test_two_digest_subscriptions_of_one_channel_both_post(storage: Storage) -> None:
    with storage.write() as s:
        d = h.destination(s, "slack", "C1")
        h.subscription(s, d, mode="daily", jurisdictions=["EU"], created_at=FRI - timedelta(9))
        h.subscription(s, d, mode="daily", jurisdictions=["US"], created_at=FRI - timedelta(9))
    add_story(storage, "eu", utc(2026, 11, 19, 12))
    add_story(storage, "us", utc(2026, 11, 19, 13), jurisdictions=("US",))
    assert queue(storage, utc(2026, 11, 20, 9, 30)) == 2
    assert len({r.dedup_key for r in digests(storage)}) == 2
