"""One process at a time on a database: the instance lock of `run`, `run --once` and `poll`.

Two bots polling and delivering from one database would store the same story twice and post
it twice (SQLite's `SELECT ... FOR UPDATE` locks nothing). So whoever polls or delivers holds
this lock while it does:

- SQLite: an exclusive `flock` on `<database file>.lock` beside the database. The kernel
  drops it when the process dies, kill -9 included, so a crash never leaves it stale.
- PostgreSQL: a session advisory lock held on a connection of its own; it ends with the
  connection, so again no stale lock after a crash.

An in-memory SQLite database has no other process to fear: the lock is a no-op there.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from bot.errors import StorageError

# The advisory lock's key: any fixed 64-bit number names "the policybot instance lock".
ADVISORY_KEY = 0x706F6C696379626F  # "policybo"


class Busy(StorageError):
    """Another policybot process holds the database (the message names it when it can)."""


class InstanceLock:
    """Held while a process polls or delivers; `acquire` waits up to `wait` seconds."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._file: IO[str] | None = None
        self._conn: Connection | None = None
        self.held = False

    def _path(self) -> Path | None:
        db = self.engine.url.database
        if self.engine.url.get_backend_name() != "sqlite" or not db or db == ":memory:":
            return None
        return Path(db).resolve().with_name(Path(db).name + ".lock")

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lock, or raise Busy after `wait` seconds of trying."""
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            if self._try():
                self.held = True
                return
            if time.monotonic() >= deadline:
                raise Busy(self._busy_message())
            time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))

    def _try(self) -> bool:
        backend = self.engine.url.get_backend_name()
        if backend == "postgresql":
            return self._try_advisory()
        path = self._path()
        if path is None:
            return True
        return self._try_flock(path)

    def _try_flock(self, path: Path) -> bool:
        import fcntl  # POSIX; the bot runs on Linux and macOS

        f = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held open while locked)
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")  # who holds it, for the message another process shows
        f.flush()
        self._file = f
        return True

    def _try_advisory(self) -> bool:
        conn = self._conn or self.engine.connect()
        got = bool(
            conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        )
        conn.commit()
        if got:
            self._conn = conn
        elif self._conn is None:
            conn.close()
        return got

    def _busy_message(self) -> str:
        holder = ""
        path = self._path()
        if path is not None:
            with contextlib.suppress(OSError):
                pid = path.read_text(encoding="utf-8").strip()
                holder = f" (pid {pid})" if pid.isdigit() else ""
        return (
            f"another policybot process{holder} is polling or delivering from this database:"
            " one at a time, so that nothing is stored or posted twice"
        )

    def release(self) -> None:
        """Let go of the lock (also when the process exits)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()  # closing the descriptor releases the flock
            self._file = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._conn.commit()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        self.held = False

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        self.release()
        return None
