"""Mutes: a channel, or one subscription, posts nothing until a time; then it catches up.

While a mute lasts the router queues no alert for it and `queue_due_digests` leaves its
digests (and their bookmark) alone. When the mute ends (it expires, or `unmute`):

- a daily or weekly subscription's next digest covers the muted period too (its bookmark
  did not move), so those stories go to the next digest;
- instant subscriptions get one catch-up digest of the stories they would have posted during
  the mute (the same matching as routing: `candidate_facts` and the subscription index),
  leaving out stories the channel received anyway (through a subscription that was not muted).

Nothing is dropped; nothing is posted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.deliver.match import SubscriptionIndex, SubscriptionView
from bot.deliver.route import (
    QueuedDigest,
    candidate_facts,
    feed_table,
    followed_feeds,
    insert_ignore,
    queue_due_digests,
    subscriptions_changed,
    view_of,
)
from bot.log import get_logger
from bot.store.models import Destination, OutboxMessage, Subscription
from bot.store.storage import Storage
from bot.types import OutboxStatus

log = get_logger("policybot.mute")


def _already_sent(session: Session, destination_id: int, ids: Sequence[int]) -> set[int]:
    """Stories among `ids` already queued to the destination (alerts and catch-ups)."""
    if not ids:
        return set()
    wanted = set(ids)
    out: set[int] = set()
    rows = session.execute(
        select(OutboxMessage.kind, OutboxMessage.story_id, OutboxMessage.story_ids).where(
            OutboxMessage.destination_id == destination_id,
            (OutboxMessage.kind == "alert") | OutboxMessage.dedup_key.like("mute:%"),
        )
    )
    for kind, sid, sids in rows:
        if kind == "alert":
            if sid in wanted:
                out.add(sid)
        else:
            out.update(int(i) for i in sids or () if int(i) in wanted)
    return out


def catch_up(
    session: Session,
    destination_id: int,
    views: Sequence[SubscriptionView],
    since: datetime,
    until: datetime,
    now: datetime,
    *,
    key: str,
    subscription_id: int | None,
) -> QueuedDigest | None:
    """Queue one digest of what the instant `views` would have posted in (since, until]."""
    instant = [v for v in views if v.mode == "instant"]
    if not instant or until <= since:
        return None
    index = SubscriptionIndex(instant)
    matched = [
        sid
        for sid, facts in candidate_facts(session, since, until, feed_ids=followed_feeds(instant))
        if index.match_mask(facts)
    ]
    sent = _already_sent(session, destination_id, matched)
    story_ids = [sid for sid in matched if sid not in sent]
    if not story_ids:
        return None
    insert_ignore(
        session,
        [
            {
                "destination_id": destination_id,
                "subscription_id": subscription_id,
                "kind": "digest",
                "story_id": None,
                "dedup_key": f"mute:{until.isoformat()}#{key}",
                "story_ids": story_ids,
                "period_start": since,
                "period_end": until,
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "parts_sent": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        ],
    )
    return QueuedDigest(subscription_id or 0, destination_id, since, until, tuple(story_ids))


def end_mutes(session: Session, now: datetime) -> list[QueuedDigest]:
    """End the mutes that have expired at `now` and queue their catch-ups."""
    queued: list[QueuedDigest] = []
    dests = list(
        session.scalars(
            select(Destination).where(
                Destination.muted_until.is_not(None), Destination.muted_until <= now
            )
        )
    )
    subs = list(
        session.scalars(
            select(Subscription).where(
                Subscription.muted_until.is_not(None), Subscription.muted_until <= now
            )
        )
    )
    for d in dests:
        queued.extend(end_channel_mute(session, d, now))
    for row in subs:
        queued.extend(end_subscription_mute(session, row, now))
    if dests or subs:
        subscriptions_changed()
    return queued


def end_channel_mute(session: Session, dest: Destination, now: datetime) -> list[QueuedDigest]:
    """Lift a channel's mute now (or at its expiry, if that has passed) and catch up."""
    since, until = dest.muted_since, dest.muted_until
    dest.muted_since = dest.muted_until = None
    session.flush()
    if since is None or until is None:
        return []
    end = min(until, now)
    rows = list(session.scalars(select(Subscription).where(Subscription.destination_id == dest.id)))
    feeds = feed_table(session) if any(r.feeds for r in rows) else []
    views = []
    for r in rows:
        # A subscription muted on its own beyond the channel's mute catches up when its
        # own mute ends.
        if r.muted_until is not None and r.muted_until > end:
            continue
        views.append(view_of(r, feeds, channel_muted_until=None))
    done = catch_up(session, dest.id, views, since, end, now, key="channel", subscription_id=None)
    log.info("channel unmuted", destination=dest.id, caught_up=len(done.story_ids) if done else 0)
    return [done] if done else []


def end_subscription_mute(session: Session, row: Subscription, now: datetime) -> list[QueuedDigest]:
    """Lift one subscription's mute now (or at its expiry) and catch up."""
    since, until = row.muted_since, row.muted_until
    row.muted_since = row.muted_until = None
    session.flush()
    if since is None or until is None:
        return []
    end = min(until, now)
    dest = session.get(Destination, row.destination_id)
    if dest is not None and dest.muted_until is not None and dest.muted_until > end:
        return []  # the channel is still muted: its own catch-up will hold these stories
    view = view_of(row, channel_muted_until=None)
    done = catch_up(
        session,
        row.destination_id,
        [view],
        since,
        end,
        now,
        key=f"sub{row.id}",
        subscription_id=row.id,
    )
    log.info(
        "subscription unmuted", subscription=row.id, caught_up=len(done.story_ids) if done else 0
    )
    return [done] if done else []


def queue_scheduled(storage: Storage, now: datetime) -> list[QueuedDigest]:
    """End expired mutes (their catch-ups), then queue the digests that are due, in one
    transaction (the scheduler's minute job)."""
    with storage.write() as s:
        return end_mutes(s, now) + queue_due_digests(s, now)
