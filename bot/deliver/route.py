"""Routing: which destination gets which story, as an alert, when a poll stores it.

- `Router` is the StoryHook of `Storage.record_poll`: inside the poll's transaction it writes
  one alert row per matching destination for each new flagged story (or, for a subscription
  that follows the story's feed, for any story of that feed).
- `view_of` and `load_subscription_views` give the subscriptions as routing sees them.

The config file's subscriptions are synced by `deliver/config_sync.py`; digests are queued by
`deliver/digests.py`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, object_session

from bot.deliver.match import (
    StoryFacts,
    SubscriptionIndex,
    SubscriptionView,
    iter_bits,
    norm_tag,
)
from bot.log import get_logger
from bot.store.models import Destination, Entry, Feed, OutboxMessage, Story, Subscription, Verdict
from bot.types import OutboxStatus
from bot.verdict import Verdict as VerdictValue

log = get_logger("policybot.route")

CONSOLE = "console"

# Bumped by anything in this process that changes subscriptions (config sync, chat commands),
# so every Router reloads on its next story instead of waiting for its refresh interval.
_version_lock = threading.Lock()
_subscriptions_version = 0


def subscriptions_changed() -> None:
    """Call after adding, editing or deleting subscriptions (chat commands do)."""
    global _subscriptions_version
    with _version_lock:
        _subscriptions_version += 1


def subscriptions_version() -> int:
    return _subscriptions_version


# -- routing ---------------------------------------------------------------------------------


def resolve_feeds(
    specs: Sequence[str], feeds: Sequence[tuple[int, str, Sequence[str]]]
) -> frozenset[int]:
    """The ids of the feeds a subscription follows: names (any case) and `tag:NAME` (every
    feed with that tag), among `feeds` (id, name, tags)."""
    names = {v.casefold() for v in specs if not v.casefold().startswith("tag:")}
    tags = {v[4:].strip().casefold() for v in specs if v.casefold().startswith("tag:")}
    return frozenset(
        fid
        for fid, name, ftags in feeds
        if name.casefold() in names or any(str(t).casefold() in tags for t in ftags or ())
    )


def feed_table(session: Session) -> list[tuple[int, str, Sequence[str]]]:
    """(id, name, tags) of every feed, for `resolve_feeds`."""
    return [
        (fid, name, tags or ())
        for fid, name, tags in session.execute(select(Feed.id, Feed.name, Feed.tags))
    ]


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


_LOOK_UP = datetime.min.replace(tzinfo=UTC)  # view_of: read the channel's mute from the row


def view_of(
    row: Subscription,
    feeds: Sequence[tuple[int, str, Sequence[str]]] | None = None,
    *,
    channel_muted_until: datetime | None = _LOOK_UP,
) -> SubscriptionView:
    """A row as routing sees it. `feeds` (see feed_table) resolves feed routing and
    `channel_muted_until` is its channel's mute; both are loaded here when not given."""
    specs = tuple(row.feeds or ())
    excluded = tuple(row.exclude_feeds or ())
    feed_ids: frozenset[int] | None = None
    exclude_feed_ids: frozenset[int] = frozenset()
    if specs or excluded:
        session = object_session(row)
        table = feeds if feeds is not None else (feed_table(session) if session else [])
        feed_ids = resolve_feeds(specs, table) if specs else None
        exclude_feed_ids = resolve_feeds(excluded, table)
    if channel_muted_until is _LOOK_UP:
        channel_muted_until = row.destination.muted_until if row.destination else None
    return SubscriptionView(
        id=row.id,
        destination_id=row.destination_id,
        mode=row.mode,
        origin=row.origin,
        name=row.name,
        jurisdictions=tuple(row.jurisdictions or ()),
        topics=tuple(row.topics or ()),
        instruments=tuple(row.instruments or ()),
        keywords=tuple(row.keywords or ()),
        languages=tuple(row.languages or ()),
        min_score=float(row.min_score or 0.0),
        at=row.at,
        day=row.day,
        timezone=row.timezone,
        feed_ids=feed_ids,
        exclude=tuple(row.exclude or ()),
        exclude_jurisdictions=tuple(row.exclude_jurisdictions or ()),
        exclude_topics=tuple(row.exclude_topics or ()),
        exclude_feed_ids=exclude_feed_ids,
        muted_until=_later(row.muted_until, channel_muted_until),
        mention=row.mention or None,
        mention_min_score=float(row.mention_min_score or 0.0),
        mention_instruments=tuple(row.mention_instruments or ()),
    )


def pings_for(sub: SubscriptionView, facts: StoryFacts) -> bool:
    """Whether this subscription would ping for the story (its mention's conditions)."""
    if not sub.mention or facts.score < sub.mention_min_score:
        return False
    if sub.mention_instruments:
        wanted = {norm_tag(i) for i in sub.mention_instruments}
        return any(norm_tag(i) in wanted for i in facts.instruments)
    return True


def load_subscription_views(session: Session) -> list[SubscriptionView]:
    rows = list(session.scalars(select(Subscription).order_by(Subscription.id)))
    mutes = {
        did: until
        for did, until in session.execute(
            select(Destination.id, Destination.muted_until).where(
                Destination.muted_until.is_not(None)
            )
        )
    }
    feeds = feed_table(session) if any(r.feeds or r.exclude_feeds for r in rows) else []
    views = [view_of(r, feeds, channel_muted_until=mutes.get(r.destination_id)) for r in rows]
    # The implicit console subscription stands in only while nothing real exists.
    if any(v.origin != "implicit" for v in views):
        views = [v for v in views if v.origin != "implicit"]
    return views


_OUTBOX_COLUMNS = (
    "destination_id",
    "subscription_id",
    "kind",
    "story_id",
    "dedup_key",
    "story_ids",
    "period_start",
    "period_end",
    "status",
    "attempts",
    "parts_sent",
    "next_attempt_at",
    "created_at",
)


class _FastInsert:
    """INSERT ... ON CONFLICT DO NOTHING into the outbox, compiled once per dialect and run
    as a driver-level executemany with values converted by the columns' own bind processors.

    Routing writes tens of rows per story inside every poll; SQLAlchemy's per-row executemany
    bookkeeping cost more than SQLite's insert itself.
    """

    def __init__(self, dialect: Any) -> None:
        table = cast(Table, OutboxMessage.__table__)
        maker = pg_insert if dialect.name == "postgresql" else sqlite_insert
        stmt = maker(table).values({c: bindparam(c) for c in _OUTBOX_COLUMNS})
        compiled = stmt.on_conflict_do_nothing().compile(dialect=dialect)
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        order = list(compiled.positiontup or ()) if self.positional else list(_OUTBOX_COLUMNS)
        self.order = order
        # dialect_impl: the type as this dialect stores it (e.g. SQLite's datetime strings).
        procs = {
            c.name: c.type.dialect_impl(dialect).bind_processor(dialect) for c in table.columns
        }
        self.processors = [procs.get(name) for name in order]
        self._last_datetimes: dict[int, tuple[datetime, Any]] = {}

    def all_params(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        # Rows of one story share most values (same datetimes, same JSON list objects):
        # convert each distinct object once.
        cache: list[tuple[Any, Any]] = [(object(), None)] * len(self.order)
        out: list[Any] = []
        for row in rows:
            values = []
            for i, name in enumerate(self.order):
                v = row.get(name)
                proc = self.processors[i]
                if proc is None or v is None:
                    values.append(v)
                    continue
                last, processed = cache[i]
                if v is not last:
                    processed = proc(v)
                    cache[i] = (v, processed)
                values.append(processed)
            out.append(
                tuple(values) if self.positional else dict(zip(self.order, values, strict=True))
            )
        return out

    def _template(self, common: dict[str, Any]) -> Any:
        """One row of `common`'s values as the driver takes them (ids 0)."""
        values = []
        last = self._last_datetimes
        for i, (name, proc) in enumerate(zip(self.order, self.processors, strict=True)):
            v = 0 if name in ("destination_id", "subscription_id") else common.get(name)
            if proc is None or v is None:
                values.append(v)
            elif isinstance(v, datetime):
                # A poll routes its stories with one `when`: equal instants store equally
                # (UTC), so the last conversion is reused.
                seen, stored = last.get(i, (None, None))
                if seen is None or not (type(seen) is type(v) and seen == v):
                    stored = proc(v)
                    last[i] = (v, stored)
                values.append(stored)
            else:
                values.append(proc(v))
        return tuple(values) if self.positional else dict(zip(self.order, values, strict=True))

    def fanned_params(
        self, common: dict[str, Any], targets: Sequence[tuple[int, int]]
    ) -> list[Any]:
        """Rows that differ only in (destination_id, subscription_id): the shared values are
        converted once, each row is a copy with its two ids (a story's alerts, tens a story)."""
        template = self._template(common)
        if not self.positional:
            return [dict(template, destination_id=d, subscription_id=sub) for d, sub in targets]
        i_dest = self.order.index("destination_id")
        i_sub = self.order.index("subscription_id")
        if (i_dest, i_sub) == (0, 1):  # the two ids lead (SQLite's order): one concat a row
            rest = tuple(template[2:])
            return [(d, sub, *rest) for d, sub in targets]
        cells = list(template)
        out: list[Any] = []
        for d, sub in targets:
            cells[i_dest], cells[i_sub] = d, sub
            out.append(tuple(cells))
        return out


_fast_inserts: dict[str, _FastInsert] = {}


def _fast_insert(session: Session | Connection) -> tuple[Any, _FastInsert]:
    conn = session.connection() if isinstance(session, Session) else session
    dialect = conn.dialect
    if dialect.name not in ("sqlite", "postgresql"):  # pragma: no cover - unsupported
        raise RuntimeError(f"unsupported database {dialect.name}")
    fast = _fast_inserts.get(dialect.name)
    if fast is None:
        fast = _fast_inserts[dialect.name] = _FastInsert(dialect)
    return conn, fast


def _executemany(conn: Connection, sql: str, params: list[Any]) -> None:
    """Run the outbox insert; on SQLite straight on the driver's cursor, which skips about a
    tenth of routing's CPU in SQLAlchemy's per-statement bookkeeping (no events or statement
    logging are set up on these engines)."""
    if conn.dialect.name != "sqlite":
        conn.exec_driver_sql(sql, params)
        return
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    try:
        dbapi.executemany(sql, params)
    except Exception:
        # The insert skips rows already there, so running it again through SQLAlchemy is
        # harmless and raises the error as SQLAlchemy's own (IntegrityError, ...).
        conn.exec_driver_sql(sql, params)


def insert_ignore(session: Session | Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert outbox rows (dicts of _OUTBOX_COLUMNS), skipping any (destination, kind,
    dedup_key) already queued; in the session's transaction."""
    if not rows:
        return
    conn, fast = _fast_insert(session)
    conn.exec_driver_sql(fast.sql, fast.all_params(rows))


class Router:
    """The StoryHook that turns a new flagged story into alert rows in the outbox.

    Subscriptions are compiled into a `SubscriptionIndex` and cached; the cache is rebuilt when
    `subscriptions_changed()` was called in this process, when `invalidate()` is called, or at
    most `refresh_seconds` after the last load (changes made by another process).
    """

    def __init__(
        self,
        *,
        refresh_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._index: SubscriptionIndex | None = None
        self._loaded_at = 0.0
        self._version = -1
        self._lock = threading.Lock()
        self.routed = 0  # stories routed (for metrics and the benchmark)
        self.queued = 0  # outbox rows written

    def invalidate(self) -> None:
        self._index = None

    def index(self, session: Session) -> SubscriptionIndex:
        now = self._monotonic()
        version = subscriptions_version()
        index = self._index
        if (
            index is None
            or version != self._version
            or now - self._loaded_at >= self.refresh_seconds
        ):
            with self._lock:
                index = SubscriptionIndex(load_subscription_views(session))
                self._index, self._loaded_at, self._version = index, now, version
        return index

    def destinations_for(
        self,
        session: Session,
        facts: StoryFacts,
        when: datetime | None = None,
        *,
        feed_subscriptions_only: bool = False,
    ) -> dict[int, SubscriptionView]:
        """Destination id -> the first instant subscription there that matches and is not
        muted at `when` (muted ones catch up when their mute ends: bot.deliver.mute), or
        rather the first that pings for this story (its options decide how it is posted)."""
        index = self.index(session)
        candidates = index.instant_mask
        if feed_subscriptions_only:
            candidates &= index.feed_mask
        mask = index.match_mask(facts, candidates)
        if when is not None and mask & index.muted_mask:
            for i in iter_bits(mask & index.muted_mask):
                if index.subs[i].muted_at(when):
                    mask &= ~(1 << i)
        out: dict[int, SubscriptionView] = {}
        if not mask & index.mention_mask:
            # Nothing here pings: each destination takes its first matching subscription.
            # The set bits read off the mask's binary digits, lowest first (string search
            # in C rather than big-int arithmetic per bit).
            subs, dests = index.subs, index.destination_of
            digits = bin(mask)[:1:-1]
            i = digits.find("1")
            while i >= 0:
                if dests[i] not in out:
                    out[dests[i]] = subs[i]
                i = digits.find("1", i + 1)
            return out
        for i in iter_bits(mask):
            sub = index.subs[i]
            have = out.get(sub.destination_id)
            if have is None or (
                sub.mention and not pings_for(have, facts) and pings_for(sub, facts)
            ):
                out[sub.destination_id] = sub
        return out

    def follows(self, session: Session, feed_id: int) -> bool:
        """Whether some subscription follows this feed (feed routing)."""
        return feed_id in self.index(session).followed_feeds

    def from_feed(
        self,
        session: Session,
        story: Story,
        verdict: VerdictValue | Verdict,
        feed_id: int,
        *,
        new: bool,
        when: datetime,
    ) -> None:
        """Route a story that a followed feed brought, flagged or not: a new story goes to
        every matching subscription, one this feed joined (first seen from another feed)
        only to the subscriptions following this feed. The outbox's unique key keeps a story
        that reached the channel another way from being posted twice."""
        self._route(session, story, verdict, (feed_id,), when, feed_subscriptions_only=not new)

    def __call__(self, session: Session, story: Story, verdict: VerdictValue) -> None:
        self._route(session, story, verdict, (), story.first_seen or datetime.now(UTC))

    def _route(
        self,
        session: Session,
        story: Story,
        verdict: VerdictValue | Verdict,
        feeds: Sequence[int],
        when: datetime,
        *,
        feed_subscriptions_only: bool = False,
    ) -> None:
        if not feeds and self.index(session).excluded_feeds:
            # Some subscription leaves feeds out: which feeds brought this new story (the
            # polled one; its entries are written in this transaction).
            feeds = story_feeds(session, story.id)
        facts = StoryFacts(
            title=story.title,
            summary=story.summary or "",
            language=story.language,
            score=float(verdict.score),
            jurisdictions=tuple(verdict.jurisdictions or ()),
            topics=tuple(verdict.topics or ()),
            instruments=tuple(verdict.instruments or ()),
            relevant=bool(verdict.relevant),
            feeds=feeds,
        )
        targets = self.destinations_for(
            session, facts, when, feed_subscriptions_only=feed_subscriptions_only
        )
        self.routed += 1
        if not targets:
            return
        common = {
            "kind": "alert",
            "story_id": story.id,
            "dedup_key": str(story.id),
            "story_ids": [story.id],
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "parts_sent": 0,
            "next_attempt_at": when,
            "created_at": when,
        }
        # One row per destination, skipping any already queued (ON CONFLICT DO NOTHING).
        conn, fast = _fast_insert(session)
        params = fast.fanned_params(common, [(d, sub.id) for d, sub in targets.items()])
        _executemany(conn, fast.sql, params)
        self.queued += len(params)


def story_feeds(session: Session, story_id: int) -> tuple[int, ...]:
    """The ids of the feeds that brought a story (for excluded feeds)."""
    q = select(Entry.feed_id).where(Entry.story_id == story_id).distinct()
    return tuple(sorted(session.scalars(q)))


def delete_subscription(session: Session, subscription_id: int) -> bool:
    """Delete one subscription (for chat commands); pending outbox rows stay queued."""
    res = session.execute(delete(Subscription).where(Subscription.id == subscription_id))
    subscriptions_changed()
    return bool(getattr(res, "rowcount", 0))
