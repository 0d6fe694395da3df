"""The outbox and its destinations outside draining: taking back rows a dead worker left in
flight, re-enabling a destination (and requeuing what was parked with it), the destinations
disabled and why, and the outbox's depth.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update

from bot.clock import utcnow
from bot.deliver.ports import DestinationInfo
from bot.store import coord
from bot.store.models import Destination, OutboxMessage
from bot.store.storage import Storage
from bot.types import OutboxStatus

# Prefix of a destination's disabled_reason when the platform refused the bot's credentials.
CREDENTIALS_REJECTED = "credentials rejected: "
GAVE_UP = "gave up after"  # prefix of last_error for rows parked after a long outage
# Rows a drain may take: due ones, and those whose claim was taken back (recover_in_flight).
CLAIMABLE = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)


def destination_info(d: Destination) -> DestinationInfo:
    """A destination row as the senders and renderers take it."""
    return DestinationInfo(d.id, d.platform, d.guild, d.channel, d.webhook_env)


def recover_in_flight(
    storage: Storage, *, now: datetime | None = None, expired_only: bool = False
) -> int:
    """At startup: rows left "sending" by a dead worker become due now (same nonce). They stay
    "sending" with no owner, so that their next claim knows the part in flight may have been
    posted (see `Sender.send`'s `resend`).

    Call it holding the instance lock (bot.store.lock): then, on SQLite, no other process can
    own a claim, and every "sending" row is a dead one's. With `expired_only`, and always on
    PostgreSQL (instances share it), only rows whose lease ran out or whose owner stopped
    running are taken back.
    """
    now = now or utcnow()
    cond = OutboxMessage.status == OutboxStatus.SENDING.value
    with storage.write() as s:
        if expired_only or storage.shared:
            owners = s.scalars(select(OutboxMessage.claimed_by).where(cond).distinct())
            dead = coord.dead_owners(s.connection(), list(owners))
            cond = cond & (
                (OutboxMessage.next_attempt_at <= now)
                | OutboxMessage.claimed_by.in_(dead)
                | OutboxMessage.claimed_by.is_(None)  # claimed before claims were signed
            )
        res = s.execute(
            update(OutboxMessage).where(cond).values(next_attempt_at=now, claimed_by=None)
        )
        return int(getattr(res, "rowcount", 0) or 0)


def enable_destination(
    storage: Storage, destination_id: int, *, now: datetime | None = None
) -> int:
    """Clear a destination's permanent error and requeue its parked rows; returns how many."""
    now = now or utcnow()
    with storage.write() as s:
        dest = s.get(Destination, destination_id)
        if dest is None:
            raise KeyError(destination_id)
        dest.disabled_reason = None
        dest.disabled_at = None
        res = s.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.destination_id == destination_id,
                OutboxMessage.status == OutboxStatus.FAILED.value,
                # Rows parked with the destination or after a long outage: messages the
                # platform itself refused (bad rendering) would only be refused again.
                OutboxMessage.last_error.like("destination disabled:%")
                | OutboxMessage.last_error.like(f"{GAVE_UP} %"),
            )
            .values(status=OutboxStatus.PENDING.value, next_attempt_at=now, attempts=0)
        )
        return int(getattr(res, "rowcount", 0) or 0)


def resume_after_credentials(storage: Storage, kinds: Iterable[str]) -> list[DestinationInfo]:
    """At start: destinations disabled because the platform refused the credentials are
    tried again (the operator may have fixed the token and restarted); returns them. Only
    for kinds that have a sender now. If the token is still wrong, the first send says so
    and disables them again."""
    kinds = set(kinds)
    resumed = [
        d
        for d, reason in disabled_destinations(storage)
        if d.platform in kinds and reason.startswith(CREDENTIALS_REJECTED)
    ]
    for d in resumed:
        enable_destination(storage, d.id)
    return resumed


def disabled_destinations(storage: Storage) -> list[tuple[DestinationInfo, str]]:
    """Disabled destinations and why, for the warning every start logs."""
    with storage.session() as s:
        rows = s.scalars(
            select(Destination)
            .where(Destination.disabled_reason.is_not(None))
            .order_by(Destination.id)
        )
        return [
            (
                destination_info(d),
                d.disabled_reason or "",
            )
            for d in rows
        ]


def outbox_depth(storage: Storage) -> int:
    with storage.session() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_(CLAIMABLE))
            )
            or 0
        )
