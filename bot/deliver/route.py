"""Subscriptions and routing: which destination gets which story, and when.

- `sync_config_subscriptions` makes the config-file subscriptions (origin "config") follow the
  file and keeps the implicit console subscription in step.
- `Router` is the StoryHook of `Storage.record_poll`: inside the poll's transaction it writes
  one alert row per matching destination for each new flagged story.
- `queue_due_digests` writes one digest row per daily/weekly subscription and period.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, delete, func, select
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
from bot.store import coord
from bot.store.models import Destination, Entry, Feed, OutboxMessage, Story, Subscription, Verdict
from bot.store.storage import Storage
from bot.types import DAYS, DestinationOptions, Origin, OutboxStatus, SubscriptionOptions
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


# -- destinations and config sync ---------------------------------------------------------------


def destination_key(cfg: DestinationOptions) -> tuple[str, str, str, str]:
    return (cfg.platform, cfg.guild or "", cfg.channel or "", cfg.webhook_env or "")


# Platforms whose channel ids are unique on their own (Discord snowflakes; Slack channel ids):
# the config file names a channel without its guild or workspace, chat commands know both.
_CHANNEL_PLATFORMS = ("discord", "slack")


def get_or_create_destination(
    session: Session, platform: str, *, guild: str = "", channel: str = "", webhook_env: str = ""
) -> Destination:
    """The destination row for this place, created if new.

    A channel named in the config file (no guild) and the same channel subscribed from chat
    (with its guild) are one destination: otherwise each story would be posted there twice.
    The first chat command in such a channel records its guild on the config-made row.
    """
    rows = list(
        session.scalars(
            select(Destination)
            .where(
                Destination.platform == platform,
                Destination.channel == channel,
                Destination.webhook_env == webhook_env,
            )
            .order_by(Destination.id)
        )
    )
    row = next((r for r in rows if r.guild == guild), None)
    if row is None and channel and platform in _CHANNEL_PLATFORMS:
        if guild:
            row = next((r for r in rows if r.guild == ""), None)
            if row is not None:
                row.guild = guild
                session.flush()
        elif rows:
            row = rows[0]
    if row is None:
        row = Destination(platform=platform, guild=guild, channel=channel, webhook_env=webhook_env)
        session.add(row)
        session.flush()
    return row


FILTER_FIELDS = (
    "jurisdictions",
    "topics",
    "instruments",
    "keywords",
    "languages",
    # feed routing and exclusions
    "feeds",
    "exclude",
    "exclude_jurisdictions",
    "exclude_topics",
)
_SCHEDULE_FIELDS = ("mode", "at", "day", "timezone")
_DELIVERY_FIELDS = ("mention", "post_as")  # pings and threads (with the two below)


def subscription_values(sc: SubscriptionOptions) -> dict[str, Any]:
    """A subscription's settings as the columns of its row (lists as lists)."""
    values: dict[str, Any] = {f: list(getattr(sc, f)) for f in FILTER_FIELDS}
    values.update({f: getattr(sc, f) for f in _SCHEDULE_FIELDS})
    values["min_score"] = float(sc.min_score)
    values["name"] = sc.name
    values.update({f: getattr(sc, f) for f in _DELIVERY_FIELDS})
    values["mention_min_score"] = float(sc.mention_min_score)
    values["mention_instruments"] = list(sc.mention_instruments)
    values["digest_thread"] = bool(sc.digest_thread)
    return values


def row_values(row: Subscription) -> dict[str, Any]:
    """A stored subscription's settings, comparable with `subscription_values`."""
    values: dict[str, Any] = {f: list(getattr(row, f) or []) for f in FILTER_FIELDS}
    values.update({f: getattr(row, f) for f in _SCHEDULE_FIELDS})
    values["min_score"] = float(row.min_score or 0.0)
    values["name"] = row.name
    values.update({f: getattr(row, f) for f in _DELIVERY_FIELDS})
    values["mention_min_score"] = float(row.mention_min_score or 0.0)
    values["mention_instruments"] = list(row.mention_instruments or [])
    values["digest_thread"] = bool(row.digest_thread)
    return values


@dataclass(frozen=True, slots=True)
class SyncResult:
    created: int
    updated: int
    deleted: int
    implicit_console: bool  # whether the implicit console subscription exists afterwards


def sync_config_subscriptions(
    session: Session, subscriptions: Sequence[SubscriptionOptions], *, has_chat_platform: bool
) -> SyncResult:
    """Make the origin="config" subscriptions follow the config file (idempotent).

    A config subscription keeps its row (and so its digest bookmark) while the file keeps it:
    rows are matched by destination and name, or, for unnamed ones, by identical settings.
    Chat-made subscriptions are never touched. `has_chat_platform` (Discord or Slack
    credentials present) decides the implicit console subscription.
    """
    existing = list(
        session.scalars(select(Subscription).where(Subscription.origin == Origin.CONFIG.value))
    )
    unmatched = {row.id: row for row in existing}
    created = updated = 0
    for sc in subscriptions:
        platform, guild, channel, webhook_env = destination_key(sc.destination)
        dest = get_or_create_destination(
            session, platform, guild=guild, channel=channel, webhook_env=webhook_env
        )
        wanted = subscription_values(sc)
        candidates = [r for r in unmatched.values() if r.destination_id == dest.id]
        row = next((r for r in candidates if row_values(r) == wanted), None)
        if row is None and sc.name is not None:
            row = next((r for r in candidates if r.name == sc.name), None)
        if row is None:
            row = Subscription(destination_id=dest.id, origin=Origin.CONFIG.value, **wanted)
            session.add(row)
            created += 1
        else:
            del unmatched[row.id]
            if row_values(row) != wanted:
                for k, v in wanted.items():
                    setattr(row, k, v)
                updated += 1
    for row in unmatched.values():
        session.delete(row)
    session.flush()
    implicit = ensure_implicit_console(session, has_chat_platform=has_chat_platform)
    if created or updated or unmatched:
        subscriptions_changed()
    return SyncResult(created, updated, len(unmatched), implicit)


def ensure_implicit_console(session: Session, *, has_chat_platform: bool) -> bool:
    """With no chat credentials and no subscription at all, every flagged story goes to the
    console (so a first run shows something); once real subscriptions exist, it goes away.

    Returns whether the implicit subscription exists afterwards.
    """
    real = session.scalar(
        select(func.count()).select_from(Subscription).where(Subscription.origin != "implicit")
    )
    implicit_rows = list(
        session.scalars(select(Subscription).where(Subscription.origin == "implicit"))
    )
    want = not has_chat_platform and not real
    if want and not implicit_rows:
        dest = get_or_create_destination(session, CONSOLE)
        session.add(
            Subscription(
                destination_id=dest.id,
                origin="implicit",
                name="console (no subscriptions configured)",
                mode="instant",
                jurisdictions=[],
                topics=[],
                instruments=[],
                keywords=[],
                languages=[],
                min_score=0.0,
            )
        )
        session.flush()
        subscriptions_changed()
    elif not want and implicit_rows:
        for row in implicit_rows:
            session.delete(row)
        session.flush()
        subscriptions_changed()
    return want


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
    feed_ids: frozenset[int] | None = None
    if specs:
        session = object_session(row)
        table = feeds if feeds is not None else (feed_table(session) if session else [])
        feed_ids = resolve_feeds(specs, table)
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
    feeds = feed_table(session) if any(r.feeds for r in rows) else []
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

    def fanned_params(
        self, common: dict[str, Any], targets: Sequence[tuple[int, int]]
    ) -> list[Any]:
        """Rows that differ only in (destination_id, subscription_id): the shared values are
        converted once, each row is a copy with its two ids (a story's alerts, tens a story)."""
        template = self.all_params([dict(common, destination_id=0, subscription_id=0)])[0]
        if not self.positional:
            return [dict(template, destination_id=d, subscription_id=sub) for d, sub in targets]
        cells = list(template)
        i_dest = self.order.index("destination_id")
        i_sub = self.order.index("subscription_id")
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
        out: dict[int, SubscriptionView] = {}
        for i in iter_bits(index.match_mask(facts, candidates)):
            sub = index.subs[i]
            if when is not None and sub.muted_at(when):
                continue
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
        conn.exec_driver_sql(fast.sql, params)
        self.queued += len(params)


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
) -> list[tuple[int, StoryFacts]]:
    """The stories of (start, end] that may be posted, with the facts subscriptions match
    on: flagged stories first seen then, and (feed routing) any story that one of `feed_ids`
    brought then (a new story, or one the feed joined later). A new feed's back catalogue
    (announce False) is stored for search, never posted.

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
    if feed_ids:
        brought = (
            select(Entry.story_id, Entry.feed_id)
            .join(Story, Story.id == Entry.story_id)
            .where(
                Story.announce.is_(True),
                Entry.feed_id.in_(sorted(feed_ids)),
                Entry.first_seen > start,
                Entry.first_seen <= end,
            )
        )
        for sid, fid in session.execute(brought):
            feeds_of.setdefault(sid, set()).add(fid)
        have = {r[0] for r in rows}
        extra = sorted(set(feeds_of) - have)
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
                session, start, end, feed_ids=view.feed_ids or frozenset()
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


def delete_subscription(session: Session, subscription_id: int) -> bool:
    """Delete one subscription (for chat commands); pending outbox rows stay queued."""
    res = session.execute(delete(Subscription).where(Subscription.id == subscription_id))
    subscriptions_changed()
    return bool(getattr(res, "rowcount", 0))
