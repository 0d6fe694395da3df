"""The delivery worker: drains the outbox to the senders, each message once, and the one in
flight at a crash at most twice on webhooks (the Discord and Slack bots deduplicate).

Life of an outbox row:

    pending --claim--> sending --each part posted--> (parts_sent += 1) --last part--> sent
                          |--transient failure--> pending (attempts+1, next_attempt_at later)
                          |--permanent failure--> failed (destination disabled; its rows parked)
                          '--rejected message---> failed (this row only)

The claim (one conditional UPDATE: status "sending", a nonce, a lease in next_attempt_at,
the process in claimed_by) is committed BEFORE the post, and "sent" right after it, each in
its own small transaction (the sent mark first, then the next row's claim, in one hand-off
to a thread). One destination's rows go one after another. So what a crash can
do to delivery, per path:

- nothing is lost: a row claimed by a process that died is due again at the next start;
- Discord bot: the part in flight is posted again with the same nonce and `enforce_nonce`,
  which Discord deduplicates: no double;
- Slack bot: each post carries the part's nonce in its message metadata; before posting the
  part in flight again, the sender looks for that nonce in the channel's latest messages
  (conversations.history, with the app's channels:history/groups:history scope): no double.
  Without that scope (or if the channel moved on by over 100 messages) it posts again.
- Discord and Slack webhooks: their APIs take no nonce and cannot read the channel, so the
  part in flight at a kill -9 (posted, not yet marked sent) is posted again: at most one
  repeat per destination per crash. Discord forum posts take no nonce either (same bound);
  a thread started on a resent message is found again (Discord answers that the message has
  its thread already).
A clean shutdown (SIGTERM) lets the part in flight finish or gives it back unsent: no repeat.

Two processes never post the same row: the claim is atomic (on PostgreSQL the row is locked
with FOR UPDATE SKIP LOCKED first, so a claimer passes over a row another is claiming
instead of waiting for it). On SQLite `run` holds the
database's instance lock (bot.store.lock); on PostgreSQL several instances share the outbox
(bot.store.coord): an instance drains a destination only while it holds the destination's
lease, renewed with each claim, so one destination's posts go one after another, paced from
the last post or release whichever instance made it; rows and destinations held by an
instance that died are taken over at the next drain (its member lock is gone), those of a
live one only when their lease expired. Rows are rendered at send time from the database, so
a story's later sources are named too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import secrets
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bot.clock import as_utc, utcnow
from bot.deliver import claims
from bot.deliver.followup import FOLLOWUP, parse_followup_key
from bot.deliver.health import NOTICE_KIND, load_notice, notice_id_of
from bot.deliver.load import load_digest, load_story_posts
from bot.deliver.outbox import CLAIMABLE, CREDENTIALS_REJECTED, GAVE_UP, destination_info
from bot.deliver.pacing import Pacer, backoff_delay
from bot.deliver.placement import Posting, alert_placement, digest_placements
from bot.deliver.ports import PLACEMENT_KEY, DestinationInfo, Outcome, Sender, SendResult, Styler
from bot.log import get_logger
from bot.store import coord
from bot.store.models import Destination, Entry, Feed, OutboxMessage, Subscription
from bot.store.storage import Storage
from bot.types import (
    PARENT_THREAD,
    Digest,
    FeedNotice,
    OutboxStatus,
    Placement,
    PostAs,
    Source,
    StoryPost,
)

log = get_logger("policybot.deliver")

# The pacer of workers made without one: it outlives each worker, so pacing holds across drains.
_default_pacer = Pacer()

LEASE = timedelta(minutes=5)  # a "sending" row whose worker died is retried after this
# A row is parked as failed only after this many transient failures AND this age: a
# platform outage of several days loses nothing, a message that can never go stops trying.
MAX_ATTEMPTS = 25
GIVE_UP_AFTER = timedelta(days=7)

RenderAlert = Callable[[str, StoryPost], list[Any]]
_Posts = Mapping[int, StoryPost]
RenderDigest = Callable[[str, Digest], list[Any]]
RenderNotice = Callable[[str, FeedNotice], list[Any]]


@dataclass
class DrainStats:
    picked: int = 0  # rows claimed
    sent: int = 0  # rows completely delivered
    parts: int = 0  # messages posted (a digest may take several)
    transient: int = 0  # rows put back for a later attempt
    permanent: int = 0  # rows parked because their destination failed for good
    rejected: int = 0  # rows the platform refused (or that could not be rendered)
    skipped: int = 0  # rows not attempted (destination paused in this drain, lost claim)
    errors: list[str] = field(default_factory=list)

    def merge(self, other: DrainStats) -> None:
        for k in ("picked", "sent", "parts", "transient", "permanent", "rejected", "skipped"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.errors.extend(other.errors)


def new_nonce() -> str:
    return secrets.token_hex(10)  # 20 chars; "-<part>" keeps it within Discord's 25


@dataclass(frozen=True, slots=True)
class _Prefetched:
    destination: DestinationInfo | None
    posts: _Posts  # story id -> what an alert (or a follow-up) shows
    rows: int  # how many of the next rows this covers
    # Row id -> its status when read ahead: the claim takes the row only if it still has it,
    # which tells whether a part may be in flight without reading the status again.
    status: Mapping[int, str] = field(default_factory=dict)
    # Subscription id -> its ping and thread options, for the rows read ahead.
    postings: Mapping[int, Posting] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Mark:
    """The last part of a row, posted and not yet marked sent: the mark goes in its own
    transaction before anything else touches the database (the next claim included)."""

    row_id: int
    dest_id: int
    platform: str
    total: int
    now: datetime
    result: SendResult | None  # the last part's, None when no part was left to post
    queued_at: datetime | None


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    destination: DestinationInfo
    nonce: str
    parts_sent: int
    attempts: int
    payloads: tuple[Any, ...]
    error: str | None = None  # set when it could not be rendered
    queued_at: datetime | None = None  # when the row was written (for delivery latency)
    # It was "sending" when claimed: its process died with part `parts_sent` in flight, which
    # may have been posted.
    maybe_posted: bool = False
    thread_id: str | None = None  # the thread its first part started (a resumed digest)
    wait_until: datetime | None = None  # a follow-up whose story's post is not out yet


class _Wait(Exception):
    """A follow-up must wait for its story's alert (still queued): retry at `until`."""

    def __init__(self, until: datetime) -> None:
        self.until = until


# Rows whose rendering is read ahead in one go, at most: the rest of a long backlog is read
# when its turn comes, so a story's later sources still count...
PREFETCH_ROWS = 100
# ...and a paced destination reads no further ahead than this many seconds of its posts.
PREFETCH_SECONDS = 5.0


def _due_condition(now: datetime) -> Any:
    return OutboxMessage.status.in_(CLAIMABLE) & (OutboxMessage.next_attempt_at <= now)


def process_owner() -> str:
    """This process, as it signs its claims (bot.store.coord.process_owner)."""
    return coord.process_owner()


class Worker:
    """Drains the outbox. One per process; `drain_outbox` is the functional shortcut."""

    def __init__(
        self,
        storage: Storage,
        senders: Mapping[str, Sender],
        *,
        pacer: Pacer | None = None,
        concurrency: int = 8,
        per_destination: int = 50,
        rng: random.Random | None = None,
        alert_renderer: RenderAlert,
        digest_renderer: RenderDigest,
        notice_renderer: RenderNotice | None = None,
        on_sent: Callable[[str, int], None] | None = None,
        on_failure: Callable[[str, Outcome], None] | None = None,
        on_delivered: Callable[[str, float], None] | None = None,
        styler: Styler | None = None,
    ) -> None:
        self.storage = storage
        # Pings, threads, forum posts and follow-ups; without it every row is a plain message.
        self.styler = styler
        self.senders = dict(senders)
        self.pacer = pacer or _default_pacer
        self.concurrency = concurrency
        self.per_destination = per_destination
        self.rng = rng or random.Random()
        self.render_alert = alert_renderer
        self.render_digest = digest_renderer
        self.render_notice = notice_renderer
        self.on_sent = on_sent
        self.on_failure = on_failure
        self.on_delivered = on_delivered  # (platform, seconds from queued to posted)
        self.owner = process_owner()
        # Set by stop(): no new claims; the send in flight finishes (or is released unsent).
        self.stopping = False
        # Destination id -> time until which it is left alone after a transient failure: its
        # other rows wait too, so an outage costs one try per backoff period, not one try per
        # queued message. (In memory: after a restart each row is tried at most once more.)
        self._paused: dict[int, datetime] = {}
        # (destination id, when another instance last posted there): pace from it.
        self._seed: list[tuple[int, datetime]] = []
        self._member: Any = None  # the member lock this worker took itself (PostgreSQL)

    def stop(self) -> None:
        """Claim nothing more (a shutdown): drains in progress end after their send in
        flight."""
        self.stopping = True

    # -- database steps (run in a thread: never block the event loop on the database) --------

    def _due(self, now: datetime, limit: int, paused: Sequence[int] = ()) -> dict[int, list[int]]:
        """Destination id -> due row ids, fair across destinations (those another instance
        is draining left out)."""
        with self.storage.session() as s:
            rows = s.execute(
                select(OutboxMessage.destination_id, OutboxMessage.id)
                .join(Destination, Destination.id == OutboxMessage.destination_id)
                .where(
                    _due_condition(now),
                    Destination.disabled_reason.is_(None),
                    Destination.platform.in_(list(self.senders)),
                    Destination.id.not_in(list(paused)),
                    Destination.lease_owner.is_(None)
                    | (Destination.lease_owner == self.owner)
                    | (Destination.lease_until <= now),
                )
                .order_by(OutboxMessage.id)
                .limit(max(limit * 4, limit))
            ).all()
        out: dict[int, list[int]] = defaultdict(list)
        total = 0
        for dest_id, row_id in rows:
            if total >= limit:
                break
            if len(out[dest_id]) < self.per_destination:
                out[dest_id].append(row_id)
                total += 1
        return dict(out)

    def _prefetch(self, row_ids: Sequence[int]) -> _Prefetched:
        """Read ahead, in a few queries, what rendering the next rows of one destination
        needs: the destination and the StoryPost of each alert's (and follow-up's) story.
        As many rows as PREFETCH_SECONDS of its pacing (all of PREFETCH_ROWS when unpaced):
        rows are rendered from the database at send time, so a story's later sources are
        named."""
        with self.storage.session() as s:
            dest = s.scalar(
                select(Destination)
                .join(OutboxMessage, OutboxMessage.destination_id == Destination.id)
                .where(OutboxMessage.id == row_ids[0])
            )
            if dest is None:
                return _Prefetched(None, {}, 1)
            info = destination_info(dest)
            gap = self.pacer.interval(info)
            ahead = PREFETCH_ROWS if gap <= 0 else int(PREFETCH_SECONDS / gap)
            ids = list(row_ids[: max(1, min(PREFETCH_ROWS, ahead))])
            rows = s.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.status,
                    OutboxMessage.kind,
                    OutboxMessage.story_id,
                    OutboxMessage.subscription_id,
                ).where(OutboxMessage.id.in_(ids), OutboxMessage.destination_id == info.id)
            ).all()
            status = {r.id: r.status for r in rows}
            ids_read = [
                r.story_id for r in rows if r.kind in ("alert", FOLLOWUP) and r.story_id is not None
            ]
            posts = load_story_posts(s, ids_read) if ids_read else {}
            sub_ids = {r.subscription_id for r in rows if r.kind == "alert" and r.subscription_id}
            postings = (
                {
                    sub.id: Posting.of(sub)
                    for sub in s.scalars(select(Subscription).where(Subscription.id.in_(sub_ids)))
                }
                if sub_ids
                else {}
            )
        return _Prefetched(info, posts, len(ids), status, postings)

    def _claim(
        self, row_id: int, now: datetime, prefetched: _Prefetched | None = None
    ) -> _Claimed | None:
        """Claim a row and render it: its story from what `_prefetch` read when it has it,
        else (a digest, a notice, a story it did not see) from the database."""
        with self.storage.write_connection() as conn:
            if self.storage.shared:
                # Renew our lease on the row's destination; gone means another instance
                # took the destination over (ours expired): leave its rows to it.
                renewed = conn.execute(
                    update(Destination)
                    .where(
                        Destination.id
                        == select(OutboxMessage.destination_id)
                        .where(OutboxMessage.id == row_id)
                        .scalar_subquery(),
                        Destination.lease_owner == self.owner,
                    )
                    .values(lease_until=now + LEASE)
                )
                if getattr(renewed, "rowcount", 0) != 1:
                    return None
            params = {
                "row_id": row_id,
                "now": now,
                "lease": now + LEASE,
                "owner": self.owner,
                "nonce": new_nonce(),
            }
            shared = self.storage.shared
            was = prefetched.status.get(row_id) if prefetched is not None else None
            row = None
            if was is not None:  # the status read ahead, if it still holds
                stmt = claims.CLAIM_SKIP_LOCKED_WAS if shared else claims.CLAIM_WAS
                row = conn.execute(stmt, {**params, "was": was}).first()
            if row is None:
                was = conn.scalar(claims.STATUS, {"row_id": row_id})
                row = conn.execute(
                    claims.CLAIM_SKIP_LOCKED if shared else claims.CLAIM, params
                ).first()
            if row is None:
                return None  # claimed by someone else meanwhile, put back, or disabled
        info: DestinationInfo | None = None
        posts: _Posts = {}
        postings: Mapping[int, Posting] = {}
        if prefetched is not None:
            info, posts, postings = prefetched.destination, prefetched.posts, prefetched.postings
        if info is None or info.id != row.destination_id:
            info, posts, postings = self._destination(row.destination_id), {}, {}
            if info is None:
                return None
        payloads: list[Any] = []
        error: str | None = None
        wait_until: datetime | None = None
        # An alert whose story and subscription were read ahead needs no database to render.
        offline = (
            row.kind == "alert"
            and row.story_id is not None
            and row.story_id in posts
            and (row.subscription_id is None or row.subscription_id in postings)
        )
        # Rendered outside the claim's transaction: the writers' lock is not held meanwhile.
        with contextlib.ExitStack() as stack:
            s = None if offline else stack.enter_context(self.storage.session())
            try:
                payloads = self._render(s, row, info, posts, postings)
                if not payloads:
                    error = (
                        "nothing left to post (its stories were deleted)"
                        if row.kind == "digest"
                        else "the story no longer exists"
                    )
            except _Wait as w:
                wait_until = w.until
            except _Skip as skip:
                error = str(skip)
            except Exception as exc:  # a renderer bug must park the row, not stop delivery
                log.exception("render failed", outbox=row.id)
                error = f"could not render: {type(exc).__name__}: {exc}"
        return _Claimed(
            id=row.id,
            destination=info,
            nonce=row.nonce,
            parts_sent=row.parts_sent,
            attempts=row.attempts,
            queued_at=as_utc(row.created_at),
            payloads=tuple(payloads),
            error=error,
            maybe_posted=was == OutboxStatus.SENDING.value,
            thread_id=row.thread_id,
            wait_until=wait_until,
        )

    def _render(
        self,
        s: Any,
        row: Any,
        info: DestinationInfo,
        ahead: _Posts,
        postings: Mapping[int, Posting] | None = None,
    ) -> list[Any]:
        """The payloads of a claimed row, placed (pings, threads) by its subscription; its
        story from `ahead` (read for the batch) when there, else from the database (`s`,
        None when the caller knows nothing has to be read)."""
        sub: Subscription | None = None
        if row.kind == "alert" and postings and row.subscription_id in postings:
            posting = postings[row.subscription_id]  # (a digest's title needs the row)
        else:
            sub = s.get(Subscription, row.subscription_id) if row.subscription_id else None
            posting = Posting.of(sub)
        styler = self.styler
        if row.kind == FOLLOWUP:
            return self._render_followup(s, row, info, ahead)
        if row.kind == NOTICE_KIND:
            payloads, error = self._notice_payloads(s, info.platform, row.dedup_key)
            if error is not None:
                raise _Skip(error)
            return payloads
        if row.kind == "alert":
            sid = row.story_id if row.story_id is not None else (row.story_ids or [None])[0]
            post = _story_post(s, sid, ahead)
            if post is None:
                return []
            payloads = self.render_alert(info.platform, post)
            placement = alert_placement(posting, post) if styler else None
            if styler is not None and placement is not None:
                payloads = [styler.place(info.platform, payloads[0], placement), *payloads[1:]]
            return payloads
        digest = load_digest(
            s,
            [int(i) for i in row.story_ids or []],
            row.period_start or row.created_at,
            row.period_end or row.created_at,
            sub.name if sub is not None else None,
        )
        if not digest.stories:
            return []
        payloads = self.render_digest(info.platform, digest)
        if styler is None:
            return payloads
        threaded = posting.digest_thread or posting.post_as != PostAs.MESSAGE
        if threaded and info.platform in ("discord", "slack"):
            payloads = [styler.digest_header(info.platform, digest), *payloads]
        placements = digest_placements(posting, digest, len(payloads))
        return [
            p if pl is None else styler.place(info.platform, p, pl)
            for p, pl in zip(payloads, placements, strict=True)
        ]

    def _render_followup(self, s: Any, row: Any, info: DestinationInfo, ahead: _Posts) -> list[Any]:
        """A new source of a story, into the thread its alert started here."""
        if self.styler is None or row.story_id is None:
            raise _Skip("follow-ups need the platform renderers")
        alert = s.scalar(
            select(OutboxMessage).where(
                OutboxMessage.destination_id == row.destination_id,
                OutboxMessage.kind == "alert",
                OutboxMessage.dedup_key == str(row.story_id),
            )
        )
        if alert is None:
            raise _Skip("the story was never posted here")
        if alert.status in CLAIMABLE and not alert.thread_id:
            raise _Wait(max(as_utc(alert.next_attempt_at), utcnow()) + timedelta(seconds=5))
        if not alert.thread_id:
            raise _Skip("the story's post has no thread to add this source to")
        _sid, feed_id = parse_followup_key(row.dedup_key)
        found = s.execute(
            select(Feed.name, Entry.url)
            .join(Entry, Entry.feed_id == Feed.id)
            .where(Entry.story_id == row.story_id, Entry.feed_id == feed_id)
            .order_by(Entry.id)
            .limit(1)
        ).first()
        post = _story_post(s, row.story_id, ahead) if found is not None else None
        if found is None or post is None:
            return []
        source = Source(name=found[0], url=found[1])
        into = Placement(thread_id=alert.thread_id)
        return [
            self.styler.place(info.platform, p, into)
            for p in self.styler.followup(info.platform, post, source)
        ]

    def _notice_payloads(self, s: Any, kind: str, key: str) -> tuple[list[Any], str | None]:
        notice_id = notice_id_of(key)
        notice = load_notice(s, notice_id) if notice_id is not None else None
        if notice is None:
            return [], "the feed of this notice no longer exists"
        if self.render_notice is None:
            return [], "this process cannot render feed notices"
        return self.render_notice(kind, notice), None

    def _destination(self, dest_id: int) -> DestinationInfo | None:
        with self.storage.session() as s:
            dest = s.get(Destination, dest_id)
            if dest is None:
                return None
            return destination_info(dest)

    def _part_sent(
        self,
        row_id: int,
        dest_id: int,
        parts_sent: int,
        total: int,
        now: datetime,
        result: SendResult | None = None,
    ) -> None:
        params: dict[str, Any] = {"row_id": row_id, "parts": parts_sent}
        if parts_sent >= total:
            stmt, params["now"] = claims.MARK_SENT, now
        else:
            stmt, params["lease"] = claims.MARK_PART, now + LEASE  # renewed for the next part
        if result is not None and parts_sent == 1:
            # What the first part became: later posts find the thread by these.
            stmt = claims.MARK_SENT_FIRST if stmt is claims.MARK_SENT else claims.MARK_PART_FIRST
            params["message_id"] = (result.message_ids or (None,))[0] or None
            params["thread_id"] = result.thread_id or None
        with self.storage.write_connection() as conn:
            if conn.execute(stmt, params).rowcount:
                conn.execute(claims.DESTINATION_SENT, {"dest_id": dest_id, "now": now})

    def _release(self, row_id: int, now: datetime) -> None:
        """Give a claimed row back unsent (shutdown cancelled its send): due again at once,
        same nonce, so the next process resends it as the same message where it can."""
        with self.storage.write() as s:
            s.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == row_id,
                    OutboxMessage.status == OutboxStatus.SENDING.value,
                    OutboxMessage.claimed_by == self.owner,
                )
                .values(status=OutboxStatus.PENDING.value, next_attempt_at=now, claimed_by=None)
            )

    def _defer(self, row_id: int, until: datetime) -> None:
        """Give a claimed row back, due at `until` (a follow-up waiting for its alert)."""
        with self.storage.write() as s:
            s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.claimed_by == self.owner)
                .values(status=OutboxStatus.PENDING.value, next_attempt_at=until, claimed_by=None)
            )

    def _reject(self, row_id: int, error: str) -> None:
        with self.storage.write() as s:
            row = s.get(OutboxMessage, row_id)
            if row is not None:
                row.status = OutboxStatus.FAILED.value
                row.claimed_by = None
                row.attempts += 1
                row.last_error = error[:2000]

    def _transient(self, row_id: int, attempts: int, result: SendResult, now: datetime) -> float:
        """Put the row back for later; returns the seconds until its next attempt."""
        delay = backoff_delay(attempts + 1, result.retry_after, self.rng)
        with self.storage.write() as s:
            row = s.get(OutboxMessage, row_id)
            if row is None:
                return delay
            row.attempts = attempts + 1
            error = result.error or "transient failure"
            created = (
                row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
            )
            if row.attempts >= MAX_ATTEMPTS and now - created >= GIVE_UP_AFTER:
                row.status = OutboxStatus.FAILED.value
                row.last_error = f"{GAVE_UP} {row.attempts} attempts: {error}"[:2000]
            else:
                row.status = OutboxStatus.PENDING.value
                row.next_attempt_at = now + timedelta(seconds=delay)
                row.last_error = error[:2000]
            dest = s.get(Destination, row.destination_id)
            if dest is not None:
                dest.last_error = error[:2000]
                dest.last_error_at = now
        return delay

    def _permanent(
        self, row_id: int, dest_id: int, error: str, now: datetime, *, credentials: bool = False
    ) -> int:
        """Disable the destination and park its queued rows; returns how many were parked."""
        with self.storage.write() as s:
            dest = s.get(Destination, dest_id)
            if dest is not None:
                reason = f"{CREDENTIALS_REJECTED}{error}" if credentials else error
                dest.disabled_reason = reason[:2000]
                dest.disabled_at = now
                dest.last_error = error[:2000]
                dest.last_error_at = now
            row = s.get(OutboxMessage, row_id)
            if row is not None:
                row.attempts += 1
            res = s.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.destination_id == dest_id,
                    OutboxMessage.status.in_(CLAIMABLE),
                )
                .values(
                    status=OutboxStatus.FAILED.value,
                    last_error=f"destination disabled: {error}"[:2000],
                )
            )
            return int(getattr(res, "rowcount", 0) or 0)

    # -- destination leases (several instances on PostgreSQL) -------------------------------

    def _lease_destination(self, dest_id: int, now: datetime) -> datetime | bool:
        """Take the destination for this drain: False when another live instance holds it,
        else True, or when another instance posted to it last, the time it finished."""
        with self.storage.write() as s:
            row = s.execute(
                select(Destination.lease_owner, Destination.lease_until, Destination.last_sent_at)
                .where(Destination.id == dest_id)
                .with_for_update()
            ).first()
            if row is None:
                return False
            owner, until, last_sent = row  # aware UTC (the columns' type)
            if owner is not None and owner != self.owner and until is not None and until > now:
                if not coord.dead_owners(s.connection(), [owner]):
                    return False
                until = now  # it died while holding it: its last post may have just gone
            s.execute(
                update(Destination)
                .where(Destination.id == dest_id)
                .values(lease_owner=self.owner, lease_until=now + LEASE)
            )
            # A free destination's lease_until says when its last holder let go.
            marks = [t for t in (until, last_sent) if t is not None and t <= now]
            return max(marks) if marks else True

    def _release_destination(self, dest_id: int, now: datetime) -> None:
        with self.storage.write() as s:
            s.execute(
                update(Destination)
                .where(Destination.id == dest_id, Destination.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=now)
            )

    def _be_member(self) -> None:
        """Hold this worker's member lock (PostgreSQL), so that other instances see its
        claims as alive; the runtime's instance lock holds it already under the same name."""
        if self._member is not None:
            return
        from bot.store.lock import Busy, InstanceLock

        lock = InstanceLock(self.storage.engine, owner=self.owner)
        try:
            lock.acquire()
        except Busy:  # held: by this process's instance lock
            return
        self._member = lock

    def _take_over(self, now: datetime) -> int:
        """Rows and destinations held by instances that died: due again now (same nonce) and
        free; returns how many rows."""
        with self.storage.write() as s:
            conn = s.connection()
            owners = set(
                conn.scalars(
                    select(OutboxMessage.claimed_by)
                    .where(OutboxMessage.status == OutboxStatus.SENDING.value)
                    .distinct()
                )
            ) | set(
                conn.scalars(
                    select(Destination.lease_owner)
                    .where(Destination.lease_owner.is_not(None))
                    .distinct()
                )
            )
            dead = coord.dead_owners(conn, owners)
            if not dead:
                return 0
            s.execute(
                update(Destination)
                .where(Destination.lease_owner.in_(dead))
                .values(lease_owner=None, lease_until=now)
            )
            res = s.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.status == OutboxStatus.SENDING.value,
                    OutboxMessage.claimed_by.in_(dead),
                )
                # Still "sending", without owner: the next claim knows the part in flight
                # may have been posted (as recover_in_flight leaves them).
                .values(next_attempt_at=now, claimed_by=None)
            )
            taken = int(getattr(res, "rowcount", 0) or 0)
        if taken:
            log.info("took over rows of a stopped instance", rows=taken, owners=dead)
        return taken

    # -- sending ------------------------------------------------------------------------------

    async def _drain_destination(
        self, row_ids: Sequence[int], clock: Callable[[], datetime]
    ) -> DrainStats:
        if not self.storage.shared or not row_ids:
            return await self._drain_rows(row_ids, clock)
        dest_id = await asyncio.to_thread(self._dest_of, row_ids[0])
        if dest_id is None:
            return DrainStats(skipped=len(row_ids))
        got = await asyncio.to_thread(self._lease_destination, dest_id, clock())
        if got is False:
            return DrainStats(skipped=len(row_ids))
        if isinstance(got, datetime):
            self._seed.append((dest_id, got))
        try:
            stats = await self._drain_rows(row_ids, clock)
        except BaseException:
            # Cancelled at shutdown, say: a short blocking write at exit.
            self._release_destination(dest_id, clock())
            raise
        await asyncio.to_thread(self._release_destination, dest_id, clock())
        return stats

    def _dest_of(self, row_id: int) -> int | None:
        with self.storage.session() as s:
            return s.scalar(select(OutboxMessage.destination_id).where(OutboxMessage.id == row_id))

    async def _drain_rows(
        self, row_ids: Sequence[int], clock: Callable[[], datetime]
    ) -> DrainStats:
        stats = DrainStats()
        prefetched: _Prefetched | None = None
        ahead = 0  # rows left that `prefetched` covers
        # The previous row's last part, posted: it is marked sent first thing in the next
        # trip to the database (its own transaction, before the next claim), so a message
        # costs one hand-off to a thread, not two.
        mark: _Mark | None = None
        try:
            for n, row_id in enumerate(row_ids):
                if self.stopping:
                    stats.skipped += len(row_ids) - n
                    break
                read_ahead = row_ids[n:] if ahead == 0 else None
                done, mark = mark, None
                got, claimed = await asyncio.to_thread(
                    self._next, done, read_ahead, row_id, clock(), prefetched
                )
                if done is not None:
                    self._delivered(done, stats, clock)
                if got is not None:
                    prefetched, ahead = got, got.rows
                ahead -= 1
                if claimed is None:
                    stats.skipped += 1
                    continue
                stats.picked += 1
                dest = claimed.destination
                if claimed.wait_until is not None:
                    await asyncio.to_thread(self._defer, claimed.id, claimed.wait_until)
                    stats.picked -= 1
                    stats.skipped += 1
                    continue
                if claimed.error is not None:
                    await asyncio.to_thread(self._reject, claimed.id, claimed.error)
                    stats.rejected += 1
                    stats.errors.append(f"outbox {claimed.id}: {claimed.error}")
                    continue
                try:
                    result = await self._send(claimed, stats, clock)
                except asyncio.CancelledError:
                    # Shutdown ran out of patience mid-send: give the row back rather than
                    # leave it "sending" under a lease (a blocking write, but a short one, at
                    # exit).
                    self._release(claimed.id, clock())
                    raise
                if isinstance(result, _Mark):
                    mark = result
                    continue
                error = result.error or result.outcome.value
                if self.on_failure is not None:
                    self.on_failure(dest.platform, result.outcome)
                log.warning(
                    "delivery failed",
                    destination=dest.label(),
                    outbox=claimed.id,
                    outcome=result.outcome.value,
                    error=error,
                )
                stats.errors.append(f"{dest.label()}: {error}")
                if result.outcome is Outcome.REJECTED:
                    await asyncio.to_thread(self._reject, claimed.id, error)
                    stats.rejected += 1
                    continue
                if result.outcome is Outcome.PERMANENT:
                    parked = await asyncio.to_thread(
                        self._permanent,
                        claimed.id,
                        dest.id,
                        error,
                        clock(),
                        credentials=result.credentials,
                    )
                    stats.permanent += max(parked, 1)
                else:
                    delay = await asyncio.to_thread(
                        self._transient, claimed.id, claimed.attempts, result, clock()
                    )
                    self._paused[dest.id] = clock() + timedelta(seconds=delay)
                    stats.transient += 1
                # Either way this destination is done for this drain: do not hammer it.
                stats.skipped += len(row_ids) - n - 1
                break
            if mark is not None:
                done, mark = mark, None
                await asyncio.to_thread(self._mark_sent, done)
                self._delivered(done, stats, clock)
        finally:
            if mark is not None:
                # Left by an exception between a post and its mark: mark it now (a short
                # blocking write), so a part that went out is never posted again.
                self._mark_sent(mark)
        return stats

    def _next(
        self,
        done: _Mark | None,
        read_ahead: Sequence[int] | None,
        row_id: int,
        now: datetime,
        prefetched: _Prefetched | None,
    ) -> tuple[_Prefetched | None, _Claimed | None]:
        """One trip to the database between two posts: mark the row just posted sent (its
        own transaction, committed first), read ahead when due, claim the next row."""
        if done is not None:
            self._mark_sent(done)
        got = self._prefetch(read_ahead) if read_ahead is not None else None
        return got, self._claim(row_id, now, got or prefetched)

    def _mark_sent(self, mark: _Mark) -> None:
        self._part_sent(mark.row_id, mark.dest_id, mark.total, mark.total, mark.now, mark.result)

    def _delivered(self, mark: _Mark, stats: DrainStats, clock: Callable[[], datetime]) -> None:
        """A row is sent (its mark committed): count it and tell the callbacks."""
        stats.sent += 1
        if self.on_sent is not None and mark.result is not None:
            self.on_sent(mark.platform, 1)
        if self.on_delivered is not None and mark.queued_at is not None:
            self.on_delivered(mark.platform, (clock() - mark.queued_at).total_seconds())

    async def _send(
        self, claimed: _Claimed, stats: DrainStats, clock: Callable[[], datetime]
    ) -> SendResult | _Mark:
        """Post the claimed row's parts in order; each but the last is marked here, the last
        comes back as a _Mark for the caller to commit before its next claim; or the
        failure."""
        dest = claimed.destination
        sender = self.senders[dest.platform]
        total = len(claimed.payloads)
        seeded = [t for d, t in self._seed if d == dest.id]
        if seeded:
            self._seed = [(d, t) for d, t in self._seed if d != dest.id]
            self.pacer.seed(dest, max(seeded), clock())
        thread = claimed.thread_id  # kept in the row: a resumed digest finds its thread
        last: SendResult | None = None
        for part in range(claimed.parts_sent, total):
            await self.pacer.wait(dest)
            result = await sender.send(
                dest,
                [_in_thread(claimed.payloads[part], thread)],
                claimed.nonce,
                first_part=part,
                resend=claimed.maybe_posted and part == claimed.parts_sent,
            )
            self.pacer.mark(dest)
            if not result.ok:
                return result
            if part == 0:
                thread = result.thread_id
            stats.parts += 1
            if part + 1 == total:
                last = result
                break
            await asyncio.to_thread(
                self._part_sent, claimed.id, dest.id, part + 1, total, clock(), result
            )
            if self.on_sent is not None:
                self.on_sent(dest.platform, 1)
        return _Mark(
            row_id=claimed.id,
            dest_id=dest.id,
            platform=dest.platform,
            total=total,
            now=clock(),
            result=last,
            queued_at=claimed.queued_at,
        )

    async def drain(self, *, now: datetime | None = None, limit: int = 200) -> DrainStats:
        """Send what is due (at most `limit` rows); destinations are drained concurrently,
        each one in order and paced."""
        clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
        start = clock()
        if self.stopping:
            return DrainStats()
        self._paused = {d: until for d, until in self._paused.items() if until > start}
        if self.storage.shared:
            await asyncio.to_thread(self._be_member)
            await asyncio.to_thread(self._take_over, start)
        due = await asyncio.to_thread(self._due, start, limit, list(self._paused))
        stats = DrainStats()
        if not due:
            return stats
        sem = asyncio.Semaphore(self.concurrency)

        async def one(ids: list[int]) -> DrainStats:
            async with sem:
                return await self._drain_destination(ids, clock)

        for part in await asyncio.gather(*(one(ids) for ids in due.values())):
            stats.merge(part)
        return stats


class _Skip(Exception):
    """A row that cannot be posted, and why (parked as failed, the destination untouched)."""


def _story_post(s: Any, story_id: int | None, ahead: _Posts) -> StoryPost | None:
    """A story as a post shows it: read ahead for the batch, else loaded now."""
    if story_id is None:
        return None
    post = ahead.get(story_id)
    return post if post is not None else load_story_posts(s, [story_id]).get(story_id)


def _in_thread(payload: Any, thread: str | None) -> Any:
    """The payload with PARENT_THREAD made the thread of the row's first part (without one,
    say where a webhook could not start it, the part goes to the channel)."""
    if not isinstance(payload, dict):
        return payload
    placement = payload.get(PLACEMENT_KEY)
    if not isinstance(placement, Placement) or placement.thread_id != PARENT_THREAD:
        return payload
    return {**payload, PLACEMENT_KEY: dataclasses.replace(placement, thread_id=thread)}


async def drain_outbox(
    storage: Storage,
    senders: Mapping[str, Sender],
    *,
    now: datetime | None = None,
    limit: int = 200,
    pacer: Pacer | None = None,
    alert_renderer: RenderAlert,
    digest_renderer: RenderDigest,
) -> DrainStats:
    """One pass over the due outbox rows (see `Worker` for a long-lived, configured one)."""
    worker = Worker(
        storage,
        senders,
        pacer=pacer,
        alert_renderer=alert_renderer,
        digest_renderer=digest_renderer,
    )
    return await worker.drain(now=now, limit=limit)
