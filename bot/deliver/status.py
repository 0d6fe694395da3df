"""A read-only summary of destinations and their queues (CLI `deliver status`, chat)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from bot.deliver.outbox import destination_info
from bot.deliver.ports import DestinationInfo
from bot.store.models import Destination, OutboxMessage, Subscription
from bot.store.storage import Storage
from bot.types import OutboxStatus

_QUEUED = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)


@dataclass(frozen=True, slots=True)
class DestinationStatus:
    destination: DestinationInfo
    subscriptions: int
    pending: int  # pending or in flight
    failed: int
    sent: int
    disabled_reason: str | None
    last_error: str | None
    last_error_at: datetime | None
    last_sent_at: datetime | None
    next_attempt_at: datetime | None  # earliest pending row


def destination_status(storage: Storage) -> list[DestinationStatus]:
    with storage.session() as s:
        counts: dict[tuple[int, str], int] = {
            (d, st): n
            for d, st, n in s.execute(
                select(OutboxMessage.destination_id, OutboxMessage.status, func.count()).group_by(
                    OutboxMessage.destination_id, OutboxMessage.status
                )
            )
        }
        subs = dict(
            s.execute(
                select(Subscription.destination_id, func.count()).group_by(
                    Subscription.destination_id
                )
            ).all()
        )
        nexts = dict(
            s.execute(
                select(OutboxMessage.destination_id, func.min(OutboxMessage.next_attempt_at))
                .where(OutboxMessage.status.in_(_QUEUED))
                .group_by(OutboxMessage.destination_id)
            ).all()
        )
        out = []
        for d in s.scalars(select(Destination).order_by(Destination.id)):
            out.append(
                DestinationStatus(
                    destination=destination_info(d),
                    subscriptions=int(subs.get(d.id, 0)),
                    pending=sum(counts.get((d.id, s), 0) for s in _QUEUED),
                    failed=counts.get((d.id, "failed"), 0),
                    sent=counts.get((d.id, "sent"), 0),
                    disabled_reason=d.disabled_reason,
                    last_error=d.last_error,
                    last_error_at=d.last_error_at,
                    last_sent_at=d.last_sent_at,
                    next_attempt_at=nexts.get(d.id),
                )
            )
        return out


# What each platform needs before its messages can go (shown when it is missing).
PLATFORM_NEEDS = {"discord": "DISCORD_TOKEN", "slack": "SLACK_BOT_TOKEN"}


def waiting_without_sender(storage: Storage, platforms: Iterable[str]) -> dict[str, int]:
    """Platform -> pending messages for destinations that no configured sender can reach
    (a Discord subscription while DISCORD_TOKEN is unset, say): they wait, silently else."""
    have = list(platforms)
    with storage.session() as s:
        rows = s.execute(
            select(Destination.platform, func.count())
            .join(OutboxMessage, OutboxMessage.destination_id == Destination.id)
            .where(
                OutboxMessage.status.in_(_QUEUED),
                Destination.platform.not_in(have),
            )
            .group_by(Destination.platform)
        ).all()
    return {platform: int(n) for platform, n in rows}
