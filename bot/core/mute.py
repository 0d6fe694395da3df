"""Muting a channel or one of its subscriptions (the database side of mute and unmute).

What happens to the stories of a muted period is bot.deliver.mute's: they are held back and
posted when the mute ends (in the next digest, or one catch-up digest for instant alerts).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.validate import show
from bot.deliver.config_sync import get_or_create_destination
from bot.deliver.mute import end_channel_mute, end_subscription_mute
from bot.deliver.route import subscriptions_changed
from bot.errors import InputError, NotFoundError
from bot.store.models import Destination, Subscription
from bot.store.storage import Storage
from bot.types import MuteInfo

MAX_MUTE = timedelta(days=90)
_DURATION = re.compile(r"(\d{1,4})\s*(m|min|h|d|w)", re.IGNORECASE)
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_mute_duration(text: str) -> timedelta:
    """'7d', '12h', '30m', '2w' -> a duration from a minute to 90 days.

    Raises:
        InputError: anything else, with what to type.
    """
    m = _DURATION.fullmatch(text.strip())
    if not m:
        raise InputError(
            f"{show(text)!r} is not a duration: write e.g. 30m, 12h, 7d or 2w (`/policy mute 7d`)"
        )
    value = timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2).lower()])
    if value < timedelta(minutes=1) or value > MAX_MUTE:
        raise InputError(f"a mute lasts from 1m to {MAX_MUTE.days}d, not {show(text)!r}")
    return value


def _destination(s: Session, platform: str, scope: str, channel: str) -> Destination:
    dest = get_or_create_destination(s, platform, guild=scope, channel=channel)
    has_subs = s.scalar(
        select(Subscription.id).where(Subscription.destination_id == dest.id).limit(1)
    )
    if has_subs is None:
        raise NotFoundError(
            "this channel has no subscriptions, so there is nothing to mute: see"
            " `/policy subscriptions`"
        )
    return dest


def _subscription(s: Session, dest: Destination, target: int) -> Subscription:
    row = s.get(Subscription, target) if 0 < target < 2**63 else None
    if row is None or row.destination_id != dest.id:
        raise NotFoundError(
            f"this channel has no subscription {target}: see `/policy subscriptions`"
        )
    return row


def mute(
    storage: Storage,
    platform: str,
    scope: str,
    channel: str,
    *,
    until: datetime,
    now: datetime,
    subscription: int | None = None,
) -> MuteInfo:
    """Mute a channel (or one of its subscriptions) until `until`. Muting again moves the
    end; the start of a mute that is still running stays, so its catch-up loses nothing."""
    with storage.write() as s:
        dest = _destination(s, platform, scope, channel)
        row: Destination | Subscription = (
            dest if subscription is None else _subscription(s, dest, subscription)
        )
        running = row.muted_until is not None and row.muted_until > now
        since = row.muted_since if running and row.muted_since is not None else now
        row.muted_since, row.muted_until = since, until
        s.flush()
        out = MuteInfo(platform, channel, subscription, since, until)
    subscriptions_changed()
    return out


def unmute(
    storage: Storage,
    platform: str,
    scope: str,
    channel: str,
    *,
    now: datetime,
    subscription: int | None = None,
) -> int:
    """End a mute now; returns how many held-back stories were queued to catch up.

    Raises:
        NotFoundError: no such subscription here. InputError: nothing is muted.
    """
    with storage.write() as s:
        dest = _destination(s, platform, scope, channel)
        if subscription is None:
            if dest.muted_until is None or dest.muted_until <= now:
                raise InputError("this channel is not muted (see `/policy subscriptions`)")
            queued = end_channel_mute(s, dest, now)
        else:
            row = _subscription(s, dest, subscription)
            if row.muted_until is None or row.muted_until <= now:
                raise InputError(f"subscription {subscription} is not muted")
            queued = end_subscription_mute(s, row, now)
    subscriptions_changed()
    return sum(len(q.story_ids) for q in queued)


def mutes(
    storage: Storage, platform: str, scope: str, channel: str, now: datetime
) -> list[MuteInfo]:
    """The mutes running in a channel: the channel's own first, then its subscriptions'."""
    with storage.session() as s:
        dest = s.scalars(
            select(Destination).where(
                Destination.platform == platform,
                Destination.channel == channel,
                Destination.guild.in_((scope, "")),
            )
        ).first()
        if dest is None:
            return []
        out: list[MuteInfo] = []
        if dest.muted_until is not None and dest.muted_until > now:
            out.append(MuteInfo(platform, channel, None, dest.muted_since or now, dest.muted_until))
        for row in s.scalars(
            select(Subscription)
            .where(Subscription.destination_id == dest.id, Subscription.muted_until > now)
            .order_by(Subscription.id)
        ):
            assert row.muted_until is not None
            out.append(MuteInfo(platform, channel, row.id, row.muted_since or now, row.muted_until))
        return out
