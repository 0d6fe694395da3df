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

import structlog
from sqlalchemy import Table, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.deliver.match import StoryFacts, SubscriptionIndex, SubscriptionView
from bot.store import coord
from bot.store.models import Destination, OutboxMessage, Story, Subscription, Verdict
from bot.store.storage import Storage
from bot.types import DAYS, DestinationOptions, Origin, OutboxStatus, SubscriptionOptions
from bot.verdict import Verdict as VerdictValue

log = structlog.get_logger("policybot.route")

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


_FILTER_FIELDS = ("jurisdictions", "topics", "instruments", "keywords", "languages")
_SCHEDULE_FIELDS = ("mode", "at", "day", "timezone")


def _config_values(sc: SubscriptionOptions) -> dict[str, Any]:
    values: dict[str, Any] = {f: list(getattr(sc, f)) for f in _FILTER_FIELDS}
    values.update({f: getattr(sc, f) for f in _SCHEDULE_FIELDS})
    values["min_score"] = float(sc.min_score)
    values["name"] = sc.name
    return values


def _row_values(row: Subscription) -> dict[str, Any]:
    values: dict[str, Any] = {f: list(getattr(row, f) or []) for f in _FILTER_FIELDS}
    values.update({f: getattr(row, f) for f in _SCHEDULE_FIELDS})
    values["min_score"] = float(row.min_score)
    values["name"] = row.name
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
        wanted = _config_values(sc)
        candidates = [r for r in unmatched.values() if r.destination_id == dest.id]
        row = next((r for r in candidates if _row_values(r) == wanted), None)
        if row is None and sc.name is not None:
            row = next((r for r in candidates if r.name == sc.name), None)
        if row is None:
            row = Subscription(destination_id=dest.id, origin=Origin.CONFIG.value, **wanted)
            session.add(row)
            created += 1
        else:
            del unmatched[row.id]
            if _row_values(row) != wanted:
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


def view_of(row: Subscription) -> SubscriptionView:
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
    )


def load_subscription_views(session: Session) -> list[SubscriptionView]:
    rows = list(session.scalars(select(Subscription).order_by(Subscription.id)))
    views = [view_of(r) for r in rows]
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


_fast_inserts: dict[str, _FastInsert] = {}


def insert_ignore(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert outbox rows (dicts of _OUTBOX_COLUMNS), skipping any (destination, kind,
    dedup_key) already queued; in the session's transaction."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    if dialect.name not in ("sqlite", "postgresql"):  # pragma: no cover - unsupported
        raise RuntimeError(f"unsupported database {dialect.name}")
    fast = _fast_inserts.get(dialect.name)
    if fast is None:
        fast = _fast_inserts[dialect.name] = _FastInsert(dialect)
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

    def destinations_for(self, session: Session, facts: StoryFacts) -> dict[int, SubscriptionView]:
        """Destination id -> the first instant subscription there that matches."""
        out: dict[int, SubscriptionView] = {}
        for sub in self.index(session).match(facts, instant_only=True):
            out.setdefault(sub.destination_id, sub)
        return out

    def __call__(self, session: Session, story: Story, verdict: VerdictValue) -> None:
        facts = StoryFacts(
            title=story.title,
            summary=story.summary or "",
            language=story.language,
            score=verdict.score,
            jurisdictions=verdict.jurisdictions,
            topics=verdict.topics,
            instruments=verdict.instruments,
        )
        targets = self.destinations_for(session, facts)
        self.routed += 1
        if not targets:
            return
        when = story.first_seen or datetime.now(UTC)
        story_ids = [story.id]  # one object for all rows: converted to JSON once
        rows = [
            {
                "destination_id": dest_id,
                "subscription_id": sub.id,
                "kind": "alert",
                "story_id": story.id,
                "dedup_key": str(story.id),
                "story_ids": story_ids,
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "parts_sent": 0,
                "next_attempt_at": when,
                "created_at": when,
            }
            for dest_id, sub in targets.items()
        ]
        insert_ignore(session, rows)
        self.queued += len(rows)


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
    session: Session, start: datetime, end: datetime, *, newest_first: bool = False
) -> list[tuple[int, StoryFacts]]:
    """Flagged stories first seen in (start, end] that may be posted, with the facts
    subscriptions match on. A new feed's back catalogue (announce False) is stored for search,
    never posted."""
    order = (
        (Story.first_seen.desc(), Story.id.desc()) if newest_first else (Story.first_seen, Story.id)
    )
    rows = session.execute(
        select(
            Story.id,
            Story.title,
            Story.summary,
            Story.language,
            Verdict.score,
            Verdict.jurisdictions,
            Verdict.topics,
            Verdict.instruments,
        )
        .join(Verdict, Verdict.story_id == Story.id)
        .where(
            Verdict.relevant.is_(True),
            Story.announce.is_(True),
            Story.first_seen > start,
            Story.first_seen <= end,
        )
        .order_by(*order)
    )
    return [
        (
            sid,
            StoryFacts(
                title=title,
                summary=summary or "",
                language=lang,
                score=float(score),
                jurisdictions=tuple(jur or ()),
                topics=tuple(top or ()),
                instruments=tuple(inst or ()),
            ),
        )
        for sid, title, summary, lang, score, jur, top, inst in rows
    ]


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
            sid for sid, facts in candidate_facts(session, start, end) if index.match_mask(facts)
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
