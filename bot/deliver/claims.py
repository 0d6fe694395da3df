"""The statements a drain runs for every message, built once: the claim of an outbox row
(a conditional UPDATE; on PostgreSQL after FOR UPDATE SKIP LOCKED), the read of a row's
status, the marks of a part or a whole row posted, and a destination's last post.
"""

from __future__ import annotations

from sqlalchemy import String, Table, bindparam, exists, func, literal, select, update

from bot.deliver.outbox import CLAIMABLE
from bot.store.models import Base
from bot.types import OutboxStatus

_OUTBOX: Table = Base.metadata.tables["outbox"]
_DESTINATIONS: Table = Base.metadata.tables["destinations"]

# The claimable statuses as plain bound values: an IN over a list would be rendered anew at
# each execution (an "expanding" parameter), and this runs for every message.
IS_CLAIMABLE = _OUTBOX.c.status.in_([literal(v) for v in CLAIMABLE])

# The claim: one conditional UPDATE (whoever changes the row owns it, on SQLite, where
# SELECT ... FOR UPDATE locks nothing, as on PostgreSQL; someone else's live claim has its
# lease in the future and does not match; a disabled destination's rows do not match
# either), returning what sending and rendering need. Built once: it runs for every message.
CLAIM = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == bindparam("row_id"),
        IS_CLAIMABLE,
        _OUTBOX.c.next_attempt_at <= bindparam("now"),
        ~exists().where(
            _DESTINATIONS.c.id == _OUTBOX.c.destination_id,
            _DESTINATIONS.c.disabled_reason.is_not(None),
        ),
    )
    .values(
        status=OutboxStatus.SENDING.value,
        next_attempt_at=bindparam("lease"),
        claimed_by=bindparam("owner"),
        nonce=func.coalesce(_OUTBOX.c.nonce, bindparam("nonce", type_=String())),
    )
    .returning(
        _OUTBOX.c.id,
        _OUTBOX.c.kind,
        _OUTBOX.c.story_id,
        _OUTBOX.c.story_ids,
        _OUTBOX.c.dedup_key,
        _OUTBOX.c.subscription_id,
        _OUTBOX.c.period_start,
        _OUTBOX.c.period_end,
        _OUTBOX.c.created_at,
        _OUTBOX.c.nonce,
        _OUTBOX.c.parts_sent,
        _OUTBOX.c.attempts,
        _OUTBOX.c.destination_id,
        _OUTBOX.c.thread_id,
    )
)
# On PostgreSQL (instances share the outbox) the row is first locked with FOR UPDATE SKIP
# LOCKED, as job queues there do: a row another instance is claiming right now (its claim
# not yet committed) is passed over at once instead of waited for, and no two claims can
# both take it. The conditions stay on the UPDATE too (they are rechecked on the locked row).
LOCK_CLAIMABLE = (
    select(_OUTBOX.c.id)
    .where(
        _OUTBOX.c.id == bindparam("row_id"),
        IS_CLAIMABLE,
        _OUTBOX.c.next_attempt_at <= bindparam("now"),
    )
    .limit(1)
    .with_for_update(skip_locked=True, of=_OUTBOX)
)
CLAIM_SKIP_LOCKED = CLAIM.where(_OUTBOX.c.id.in_(LOCK_CLAIMABLE))
# The same, taking the row only if its status is still the one read ahead ("was"): when it
# matches, that is the status before the claim, so no separate read of it is needed.
CLAIM_WAS = CLAIM.where(_OUTBOX.c.status == bindparam("was"))
CLAIM_SKIP_LOCKED_WAS = CLAIM_SKIP_LOCKED.where(_OUTBOX.c.status == bindparam("was"))
# A row's status before its claim: "sending" then means its process died with a part in flight.
STATUS = select(_OUTBOX.c.status).where(_OUTBOX.c.id == bindparam("row_id"))
# A part posted: the last one makes the row sent, an earlier one renews the lease...
MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"))
    .values(
        parts_sent=bindparam("parts"),
        status=OutboxStatus.SENT.value,
        claimed_by=None,
        sent_at=bindparam("now"),
        last_error=None,
    )
)
MARK_PART = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"))
    .values(parts_sent=bindparam("parts"), next_attempt_at=bindparam("lease"))
)
# ...and the first one keeps what it became (message id, thread) for later parts and posts.
FIRST_PART = {
    "message_id": bindparam("message_id", type_=String()),
    "thread_id": func.coalesce(bindparam("thread_id", type_=String()), _OUTBOX.c.thread_id),
}
MARK_SENT_FIRST = MARK_SENT.values(**FIRST_PART)
MARK_PART_FIRST = MARK_PART.values(**FIRST_PART)
DESTINATION_SENT = (
    update(_DESTINATIONS)
    .where(_DESTINATIONS.c.id == bindparam("dest_id"))
    .values(last_sent_at=bindparam("now"))
)
