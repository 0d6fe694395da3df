"""Follow-ups: a new source of a story already posted as a thread or forum post is posted
inside that thread, not as a new message.

`queue_followups` is the storage's SourceHook: inside the poll's transaction it writes one
"followup" outbox row per destination whose alert for the story went out (or is going out)
from a thread or forum subscription. An alert still pending is rendered at send time with
every source it has by then, so it needs no follow-up. The worker posts a follow-up into the
thread whose id the alert's row keeps (`outbox.thread_id`), so this survives restarts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.deliver.route import insert_ignore
from bot.store.models import OutboxMessage, Subscription
from bot.types import OutboxStatus, PostAs

FOLLOWUP = "followup"  # the outbox kind
_THREADED = (PostAs.THREAD.value, PostAs.FORUM.value)
_POSTED = (OutboxStatus.SENT.value, OutboxStatus.SENDING.value)


def followup_key(story_id: int, feed_id: int) -> str:
    """One follow-up per story, destination and feed."""
    return f"{story_id}:{feed_id}"


def parse_followup_key(key: str) -> tuple[int, int]:
    story, feed = key.split(":", 1)
    return int(story), int(feed)


def queue_followups(
    conn: Connection, story_ids: Sequence[int], feed_id: int, now: datetime
) -> None:
    """Queue a follow-up of `feed_id`'s entry for each threaded alert of these stories."""
    if not story_ids:
        return
    found = conn.execute(
        select(OutboxMessage.destination_id, OutboxMessage.subscription_id, OutboxMessage.story_id)
        .join(Subscription, Subscription.id == OutboxMessage.subscription_id)
        .where(
            OutboxMessage.kind == "alert",
            OutboxMessage.story_id.in_(list(story_ids)),
            OutboxMessage.status.in_(_POSTED),
            Subscription.post_as.in_(_THREADED),
        )
    ).all()
    rows = [
        {
            "destination_id": dest_id,
            "subscription_id": sub_id,
            "kind": FOLLOWUP,
            "story_id": sid,
            "dedup_key": followup_key(sid, feed_id),
            "story_ids": [sid],
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "parts_sent": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for dest_id, sub_id, sid in found
        if sid is not None
    ]
    insert_ignore(conn, rows)
