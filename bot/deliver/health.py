"""Feed health in the channels: one warning when a feed fails past the threshold, is gone
(HTTP 410) or moved permanently, and one "recovered" note when it works again.

`sweep` runs after each poll pass (bot.core.engine). It reads every enabled feed, compares
its health with the newest notice stored for it (`feed_notices`), and when they disagree
stores a new notice and queues one outbox row (kind "notice") per destination, in one
transaction. The stored notices are the state: a restart neither repeats a warning nor
forgets to announce a recovery.

Rules:
- a warning is posted when the feed has failed for `warn_after` (counted from its last
  success, or from when it was added if it never worked) or was disabled by its server
  (gone); at most one warning per feed per day, however often it flaps;
- a "recovered" note goes where the warning went, once the feed has polled successfully
  after it;
- a feed that moved permanently (the poller follows it and polls the new address) gets one
  "moved" notice per new address; warnings and "moved" notices together: at most one per
  feed a day.

Where notices go: the configured ops channel, else the destinations that were sent alerts or
digests holding the feed's stories in the last `recent` period, and the destinations of the
subscriptions that follow the feed (`feeds:`, by name or tag), which hear of it even before
it brought them anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.deliver.config_sync import get_or_create_destination
from bot.deliver.route import load_subscription_views
from bot.log import get_logger
from bot.store import coord
from bot.store.db import IN_CHUNK
from bot.store.models import Entry, Feed, FeedNoticeRow, OutboxMessage
from bot.store.storage import Storage
from bot.types import FeedHealthOptions, FeedNotice, FeedNoticeKind, OutboxStatus

log = get_logger("policybot.health")

NOTICE_KIND = "notice"  # the outbox kind of feed-health notices
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Problem:
    kind: FeedNoticeKind
    reason: str
    since: datetime | None = None
    new_url: str | None = None


def problem_of(feed: Feed, now: datetime, warn_after: timedelta) -> Problem | None:
    """What a warning would say about this feed now, or None when it needs none."""
    if feed.disabled_reason:
        # Set by the poller (HTTP 410 Gone): the feed is not polled any more.
        return Problem(
            FeedNoticeKind.WARNING,
            feed.disabled_reason,
            feed.last_success_at or feed.last_error_at,
        )
    if feed.consecutive_failures > 0:
        since = feed.last_success_at or feed.added_at
        if since is not None and now - since >= warn_after:
            return Problem(FeedNoticeKind.WARNING, feed.last_error or "failing", since)
    return None


def is_healthy(feed: Feed) -> bool:
    return (
        not feed.disabled_reason
        and feed.consecutive_failures == 0
        and feed.last_success_at is not None
    )


def followers(session: Session, feed_id: int, since: datetime) -> set[int]:
    """Destinations sent this feed's stories (alerts, digests) since `since`, and those the
    hooks name."""
    out: set[int] = set()
    alerts = session.execute(
        select(OutboxMessage.destination_id)
        .join(Entry, Entry.story_id == OutboxMessage.story_id)
        .where(
            OutboxMessage.kind == "alert",
            OutboxMessage.created_at >= since,
            Entry.feed_id == feed_id,
        )
        .distinct()
    )
    out.update(int(d) for (d,) in alerts)
    digests = session.execute(
        select(OutboxMessage.destination_id, OutboxMessage.story_ids).where(
            OutboxMessage.kind == "digest", OutboxMessage.created_at >= since
        )
    ).all()
    wanted = {int(s) for _, ids in digests for s in ids or ()}
    mine: set[int] = set()
    ids = sorted(wanted)
    for i in range(0, len(ids), IN_CHUNK):
        mine.update(
            session.scalars(
                select(Entry.story_id).where(
                    Entry.feed_id == feed_id, Entry.story_id.in_(ids[i : i + IN_CHUNK])
                )
            )
        )
    out.update(int(d) for d, ids_ in digests if mine.intersection(int(s) for s in ids_ or ()))
    out.update(
        v.destination_id
        for v in load_subscription_views(session)
        if v.feed_ids is not None and feed_id in v.feed_ids
    )
    return out


def _latest_notices(session: Session) -> dict[tuple[int, str], FeedNoticeRow]:
    """(feed id, kind) -> the newest notice of that kind: two queries for all feeds."""
    newest = (
        select(func.max(FeedNoticeRow.id))
        .group_by(FeedNoticeRow.feed_id, FeedNoticeRow.kind)
        .scalar_subquery()
    )
    rows = session.scalars(select(FeedNoticeRow).where(FeedNoticeRow.id.in_(newest)))
    return {(r.feed_id, r.kind): r for r in rows}


def _queue(
    session: Session,
    feed: Feed,
    kind: FeedNoticeKind,
    destinations: Iterable[int],
    now: datetime,
    *,
    reason: str = "",
    since: datetime | None = None,
    new_url: str | None = None,
) -> FeedNoticeRow:
    dest_ids = sorted(set(destinations))
    row = FeedNoticeRow(
        feed_id=feed.id,
        kind=kind.value,
        reason=reason[:2000],
        since=since,
        new_url=new_url,
        destination_ids=dest_ids,
        created_at=now,
    )
    session.add(row)
    session.flush()
    for dest in dest_ids:
        session.add(
            OutboxMessage(
                destination_id=dest,
                subscription_id=None,
                kind=NOTICE_KIND,
                story_id=None,
                dedup_key=f"notice:{row.id}",
                story_ids=[],
                status=OutboxStatus.PENDING.value,
                attempts=0,
                parts_sent=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    log.info("feed notice queued", feed=feed.name, kind=kind.value, destinations=len(dest_ids))
    return row


def sweep_session(
    session: Session, options: FeedHealthOptions, now: datetime, *, dry_run: bool = False
) -> list[int]:
    """One pass over the feeds in an open transaction; returns the ids of new notices (with
    `dry_run`, writes nothing and returns the ids of the feeds that need one)."""
    if not options.enabled:
        return []
    ops: int | None = None
    queue: Callable[..., FeedNoticeRow] = _queue
    if dry_run:

        def queue(_session: Session, feed: Feed, *_: Any, **__: Any) -> FeedNoticeRow:
            return FeedNoticeRow(id=feed.id)  # not added to the session: nothing is written

    if options.ops_channel is not None and not dry_run:
        d = options.ops_channel
        ops = get_or_create_destination(
            session, d.platform, guild=d.guild, channel=d.channel, webhook_env=d.webhook_env
        ).id
    made: list[int] = []
    latest = _latest_notices(session)
    feeds = session.scalars(select(Feed).where(Feed.enabled.is_(True), Feed.in_config.is_(True)))
    for feed in list(feeds):

        def where(feed_id: int = feed.id) -> set[int]:
            if dry_run:
                return set()
            return {ops} if ops is not None else followers(session, feed_id, now - options.recent)

        before = len(made)
        last_warning = latest.get((feed.id, FeedNoticeKind.WARNING.value))
        last_recovery = latest.get((feed.id, FeedNoticeKind.RECOVERED.value))
        last = max(
            (r for r in (last_warning, last_recovery) if r is not None),
            key=lambda r: r.id,
            default=None,
        )
        warned = last is not None and last.kind == FeedNoticeKind.WARNING
        moved = latest.get((feed.id, FeedNoticeKind.MOVED.value))
        # Warnings and "moved" notices share the cap: at most one of them per feed a day.
        warned_at = [r.created_at for r in (last_warning, moved) if r is not None]
        capped = bool(warned_at) and now - max(warned_at) < DAY
        problem = problem_of(feed, now, options.warn_after)
        if problem is not None and not warned:
            if not capped:
                made.append(
                    queue(
                        session,
                        feed,
                        FeedNoticeKind.WARNING,
                        where(),
                        now,
                        reason=problem.reason,
                        since=problem.since,
                    ).id
                )
        elif (
            problem is None
            and warned
            and last is not None
            and is_healthy(feed)
            and feed.last_success_at is not None
            and feed.last_success_at > last.created_at
        ):
            # Recovery goes where the warning went (the ops channel may have changed since).
            dests = {ops} if ops is not None else {int(d) for d in last.destination_ids or ()}
            made.append(queue(session, feed, FeedNoticeKind.RECOVERED, dests, now).id)
        moved_now = bool(feed.url and feed.config_url and feed.url != feed.config_url)
        if (
            moved_now
            and is_healthy(feed)
            and (moved is None or moved.new_url != feed.url)
            and not capped
            and len(made) == before  # one notice per feed per sweep
        ):
            made.append(
                queue(
                    session,
                    feed,
                    FeedNoticeKind.MOVED,
                    where(),
                    now,
                    reason="moved permanently",
                    new_url=feed.url,
                ).id
            )
    return made


def sweep(storage: Storage, options: FeedHealthOptions, now: datetime) -> list[int]:
    """Store and queue the notices the feeds' health calls for (one transaction). It runs
    at every scheduler tick, so it first looks in a read-only session and takes the writer
    only when there is something to write."""
    if not options.enabled:
        return []
    with storage.session() as session:
        if not sweep_session(session, options, now, dry_run=True):
            return []
    # Instances sharing a database sweep one after another, each seeing the notices the last
    # one stored: each notice is made once.
    with storage.write(lock=coord.HOUSEKEEPING_KEY) as session:
        return sweep_session(session, options, now)


def load_notice(session: Session, notice_id: int) -> FeedNotice | None:
    """The notice as it is posted (None when it, or its feed, is gone)."""
    row = session.get(FeedNoticeRow, notice_id)
    if row is None:
        return None
    feed = session.get(Feed, row.feed_id)
    if feed is None:
        return None
    return FeedNotice(
        feed=feed.name,
        kind=row.kind,
        reason=row.reason,
        since=row.since,
        created_at=row.created_at,
        new_url=row.new_url,
    )


def notice_id_of(dedup_key: str) -> int | None:
    head, _, tail = dedup_key.partition(":")
    return int(tail) if head == "notice" and tail.isdigit() else None


def warned_feeds(session: Session) -> dict[int, datetime]:
    """Feed id -> when the warning still standing for it was queued (no recovery since)."""
    rows = session.execute(
        select(FeedNoticeRow.feed_id, FeedNoticeRow.kind, FeedNoticeRow.created_at)
        .where(FeedNoticeRow.kind.in_((FeedNoticeKind.WARNING.value, FeedNoticeKind.RECOVERED)))
        .order_by(FeedNoticeRow.created_at, FeedNoticeRow.id)
    ).all()
    out: dict[int, datetime] = {}
    for feed_id, kind, at in rows:
        if kind == FeedNoticeKind.WARNING:
            out[feed_id] = at
        else:
            out.pop(feed_id, None)
    return out
