"""How several instances on one PostgreSQL database share the work (SQLite keeps one writer).

PostgreSQL is the coordinator; nothing else is needed:

- **Members.** Each running instance holds a session advisory lock `(MEMBERS, key)` where
  `key` is the random part of its owner name (`host:pid:random`, see `process_owner`). It
  ends with the session, so when a process dies (kill -9 included) the server drops it at
  once, and every other instance sees from `pg_locks` that the owner is gone.
- **Leases.** A due feed (`feeds.lease_owner`, `lease_until`), a destination being drained
  (`destinations.lease_*`) and an outbox row being sent (`claimed_by`, `next_attempt_at`)
  carry their owner and an expiry. Another instance may take one over when it expired, or at
  once when its owner is no member any more.
- **Serial sections.** Writes that must not interleave across instances take a transaction
  advisory lock (`xact_lock`): creating stories (so the same story arriving through two feeds
  in two processes becomes one story), syncing the config file, queuing digests, the
  feed-health sweep. Migrations at start take a session advisory lock.

On SQLite every helper here is a no-op: one process holds the database (bot.store.lock).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from bot.store.db import MIGRATE_KEY as MIGRATE_KEY  # taken by migrate()

# Advisory lock keys. The member locks use the two-int form (MEMBERS, key), so that pg_locks
# lists them by classid; the others are single 64-bit keys, one per serial section.
MEMBERS = 0x706F6C69  # "poli"
SYNC_KEY = 0x706F6C6963790002
STORIES_KEY = 0x706F6C6963790003
DIGESTS_KEY = 0x706F6C6963790004
HOUSEKEEPING_KEY = 0x706F6C6963790005  # the feed-health sweep
LEADER_BASE = 0x706F6C6963800000  # + a hash of what is led (one chat connection per token)

OWNER_RANDOM_HEX = 7  # 28 bits: the member lock's key, a positive int4


def process_owner() -> str:
    """A name for this process as it signs its claims and leases: host:pid:random (a pid is
    reused; the random part tells a restarted process from its predecessor and is its member
    lock's key)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)[:OWNER_RANDOM_HEX]}"


def member_key(owner: str) -> int | None:
    """The member lock key in an owner name, or None for a name not made by process_owner."""
    tail = owner.rsplit(":", 1)[-1]
    if len(tail) != OWNER_RANDOM_HEX:
        return None
    try:
        return int(tail, 16)
    except ValueError:
        return None


def shared(bind: Engine | Connection) -> bool:
    """Whether several instances may share this database (PostgreSQL)."""
    return bind.dialect.name == "postgresql"


def xact_lock(conn: Connection, key: int) -> None:
    """Wait for the transaction advisory lock `key` (released at commit or rollback)."""
    if shared(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def try_xact_lock(conn: Connection, key: int) -> bool:
    """Take the transaction advisory lock `key` if free; True on SQLite."""
    if not shared(conn):
        return True
    return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar())


def try_member_lock(conn: Connection, owner: str) -> bool:
    key = member_key(owner)
    if key is None:
        raise ValueError(f"not an owner name: {owner!r}")
    return bool(
        conn.execute(
            text("SELECT pg_try_advisory_lock(:ns, :k)"), {"ns": MEMBERS, "k": key}
        ).scalar()
    )


def release_member_lock(conn: Connection, owner: str) -> None:
    key = member_key(owner)
    if key is not None:
        conn.execute(text("SELECT pg_advisory_unlock(:ns, :k)"), {"ns": MEMBERS, "k": key})


def live_keys(conn: Connection) -> set[int]:
    """The member keys of the instances running now (their sessions hold the lock)."""
    rows = conn.execute(
        text(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = :ns AND objsubid = 2"
        ),
        {"ns": MEMBERS},
    )
    return {int(r[0]) for r in rows}


def dead_owners(conn: Connection, owners: Iterable[str | None]) -> list[str]:
    """Those of `owners` that are no running instance any more. Names not made by
    process_owner are never called dead: their leases end only by expiry."""
    names = {o for o in owners if o}
    if not names or not shared(conn):
        return []
    live = live_keys(conn)
    out = []
    for name in sorted(names):
        key = member_key(name)
        if key is not None and key not in live:
            out.append(name)
    return out


def leader_key(what: str) -> int:
    """The advisory lock key of one singleton connection (e.g. a chat token's hash)."""
    import hashlib

    digest = hashlib.sha256(what.encode("utf-8")).digest()
    return LEADER_BASE + int.from_bytes(digest[:4], "big")


class LeaderLock:
    """One holder at a time among all instances, for `what` (a chat connection per token):
    a session advisory lock on a connection of its own, so that the holder's death frees it
    at once and another instance takes over at its next try."""

    def __init__(self, engine: Engine, what: str) -> None:
        self.engine = engine
        self.key = leader_key(what)
        self._conn: Connection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def try_acquire(self) -> bool:
        """Become the leader if nobody is; True when this instance leads (always on SQLite)."""
        if self._conn is not None:
            return True
        if not shared(self.engine):
            return True
        conn = self.engine.connect()
        try:
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
            )
            conn.commit()
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def still_held(self) -> bool:
        """Whether the lock's session is still alive (a database restart ends it)."""
        if not shared(self.engine):
            return True
        if self._conn is None:
            return False
        try:
            held = self._conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid() AND objsubid = 1"
                    " AND ((classid::bigint << 32) | objid::bigint) = :k"
                ),
                {"k": self.key},
            ).scalar()
            self._conn.commit()
        except Exception:
            self.release()
            return False
        if not held:
            self.release()
        return bool(held)

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(Exception):  # the session is gone: so is the lock
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            conn.commit()
        with contextlib.suppress(Exception):
            conn.close()
