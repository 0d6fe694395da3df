"""The config file's subscriptions in the database: destinations made on demand,
`sync_config_subscriptions` (origin "config" rows follow the file, idempotently) and the
implicit console subscription; and one way to compare a subscription's settings, used by the
sync and by the duplicate check of subscriptions made in chat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.deliver.route import CONSOLE, subscriptions_changed
from bot.store.models import Destination, Subscription
from bot.types import DestinationOptions, Origin, SubscriptionOptions

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
    "exclude_feeds",
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
