"""Digests: when a daily or weekly subscription's period ends, one digest row per
subscription and period (`queue_due_digests`), with the stories of that period as the polls
saw them (`candidate_facts`, which mute catch-ups and previews read too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.deliver.match import (
    StoryFacts,
    SubscriptionIndex,
    SubscriptionView,
)
from bot.deliver.route import insert_ignore, view_of
from bot.log import get_logger
from bot.store import coord
from bot.store.models import Entry, Story, Subscription, Verdict
from bot.store.storage import Storage
from bot.types import DAYS, OutboxStatus

log = get_logger("policybot.digests")

# -- digests ---------------------------------------------------------------------------------


def _at(sub: SubscriptionView) -> dtime:
    hh, mm = sub.at.split(":")
    return dtime(int(hh), int(mm))


def period_length(mode: str) -> timedelta:
    return timedelta(days=7) if mode == "weekly" else timedelta(days=1)


def last_scheduled(sub: SubscriptionView, now: datetime) -> datetime:
    """The latest scheduled digest time at or before `now` (UTC), in the subscription's zone."""
    tz = ZoneInfo(sub.timezone)
    local_now = now.astimezone(tz)
    at = _at(sub)

    def at_day(d: date) -> datetime:
        # Wall-clock time in the zone; zoneinfo resolves DST gaps and folds.
        return datetime.combine(d, at, tzinfo=tz).astimezone(UTC)

    d = local_now.date()
    if sub.mode == "weekly":
        d -= timedelta(days=(d.weekday() - DAYS.index(sub.day)) % 7)
        step = 7
    else:
        step = 1
    when = at_day(d)
    while when > now:
        d -= timedelta(days=step)
        when = at_day(d)
    return when


@dataclass(frozen=True, slots=True)
class QueuedDigest:
    subscription_id: int
    destination_id: int
    period_start: datetime
    period_end: datetime
    story_ids: tuple[int, ...]


def candidate_facts(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    newest_first: bool = False,
    feed_ids: frozenset[int] = frozenset(),
    sources: frozenset[int] = frozenset(),
) -> list[tuple[int, StoryFacts]]:
    """The stories of (start, end] that may be posted, with the facts subscriptions match
    on: flagged stories first seen then, and (feed routing) any story that one of `feed_ids`
    brought then (a new story, or one the feed joined later). A new feed's back catalogue
    (announce False) is stored for search, never posted. A story that one of `sources`
    (excluded feeds) brought then has that feed in its `feeds` too, adding no story.

    These are the facts instant routing sees, as the polls saw them: a story is `relevant`
    (open to every subscription) when it was first seen in the window; one a followed feed
    joined in the window is open to the subscriptions following that feed only.
    """
    columns = (
        Story.id,
        Story.title,
        Story.summary,
        Story.language,
        Story.first_seen,
        Verdict.relevant,
        Verdict.score,
        Verdict.jurisdictions,
        Verdict.topics,
        Verdict.instruments,
    )
    base = select(*columns).join(Verdict, Verdict.story_id == Story.id)
    window = (Story.announce.is_(True), Story.first_seen > start, Story.first_seen <= end)
    rows = list(session.execute(base.where(Verdict.relevant.is_(True), *window)))
    feeds_of: dict[int, set[int]] = {}
    watched = feed_ids | sources
    if watched:
        brought = (
            select(Entry.story_id, Entry.feed_id)
            .join(Story, Story.id == Entry.story_id)
            .where(
                Story.announce.is_(True),
                Entry.feed_id.in_(sorted(watched)),
                Entry.first_seen > start,
                Entry.first_seen <= end,
            )
        )
        for sid, fid in session.execute(brought):
            feeds_of.setdefault(sid, set()).add(fid)
        have = {r[0] for r in rows}
        extra = sorted({sid for sid, fs in feeds_of.items() if fs & feed_ids} - have)
        for i in range(0, len(extra), 500):
            chunk = extra[i : i + 500]
            rows.extend(session.execute(base.where(Story.id.in_(chunk))))
    out: list[tuple[datetime, int, StoryFacts]] = []
    for sid, title, summary, lang, first_seen, relevant, score, jur, top, inst in rows:
        new = start < first_seen <= end
        out.append(
            (
                first_seen,
                sid,
                StoryFacts(
                    title=title,
                    summary=summary or "",
                    language=lang,
                    score=float(score),
                    jurisdictions=tuple(jur or ()),
                    topics=tuple(top or ()),
                    instruments=tuple(inst or ()),
                    relevant=bool(relevant) and new,
                    feeds=tuple(sorted(feeds_of.get(sid, ()))),
                ),
            )
        )
    out.sort(key=lambda t: (t[0], t[1]), reverse=newest_first)
    return [(sid, facts) for _, sid, facts in out]


def followed_feeds(views: Sequence[SubscriptionView]) -> frozenset[int]:
    return frozenset(f for v in views for f in (v.feed_ids or ()))


def excluded_feeds(views: Sequence[SubscriptionView]) -> frozenset[int]:
    """The feeds some of `views` leave out (candidate_facts' `sources`)."""
    return frozenset(f for v in views for f in v.exclude_feed_ids)


def queue_due_digests(
    session: Session, now: datetime, *, send_empty: bool = False
) -> list[QueuedDigest]:
    """Queue one digest per daily/weekly subscription whose scheduled time has come.

    The period runs from the subscription's bookmark (`last_digest_at`, or one period before
    the first scheduled time) to the latest scheduled time; missed runs (downtime) therefore
    coalesce into one digest that loses nothing, and the bookmark stops any repeat. A new
    subscription's first digest is the first scheduled time after it was created. Empty
    periods move the bookmark without posting unless `send_empty`.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    subs = list(
        session.scalars(
            select(Subscription)
            .where(Subscription.mode.in_(("daily", "weekly")))
            .order_by(Subscription.id)
        )
    )
    queued: list[QueuedDigest] = []
    for row in subs:
        view = view_of(row)
        if view.muted_at(now):
            # Muted: no digest and the bookmark stays, so the first digest after the mute
            # holds the muted period's stories too (a first digest gets its bookmark here).
            _hold_bookmark(row, view, now)
            continue
        try:
            end = last_scheduled(view, now)
        except (ValueError, KeyError) as exc:  # a bad zone or time in a chat-made row
            log.warning("digest schedule invalid", subscription=row.id, error=str(exc))
            continue
        if row.last_digest_at is not None:
            if end <= row.last_digest_at:
                continue
            start = row.last_digest_at
        else:
            if row.created_at is not None and end <= row.created_at:
                continue
            start = end - period_length(view.mode)
        index = SubscriptionIndex([view])
        story_ids = tuple(
            sid
            for sid, facts in candidate_facts(
                session,
                start,
                end,
                feed_ids=view.feed_ids or frozenset(),
                sources=view.exclude_feed_ids,
            )
            if index.match_mask(facts)
        )
        if story_ids or send_empty:
            insert_ignore(
                session,
                [
                    {
                        "destination_id": row.destination_id,
                        "subscription_id": row.id,
                        "kind": "digest",
                        "story_id": None,
                        # Keyed by subscription too: two digests of one channel at the same
                        # hour (say EU and US) must both post.
                        "dedup_key": f"{end.isoformat()}#{row.id}",
                        "story_ids": list(story_ids),
                        "period_start": start,
                        "period_end": end,
                        "status": OutboxStatus.PENDING.value,
                        "attempts": 0,
                        "parts_sent": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                ],
            )
            queued.append(QueuedDigest(row.id, row.destination_id, start, end, story_ids))
        row.last_digest_at = end
    session.flush()
    return queued


def _hold_bookmark(row: Subscription, view: SubscriptionView, now: datetime) -> None:
    if row.last_digest_at is not None:
        return
    try:
        end = last_scheduled(view, now)
    except (ValueError, KeyError):
        return
    if row.created_at is None or end > row.created_at:
        row.last_digest_at = end - period_length(view.mode)


def queue_digests(storage: Storage, now: datetime | None = None) -> list[QueuedDigest]:
    """`queue_due_digests` in its own transaction (for the scheduler). Instances sharing a
    database queue one after another, each seeing the bookmarks the last one moved, so each
    period of each subscription is queued once (and the outbox's unique key stops a
    repeat in any case)."""
    with storage.write(lock=coord.DIGESTS_KEY) as s:
        return queue_due_digests(s, now or datetime.now(UTC))
