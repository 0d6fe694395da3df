"""One process at a time on a database: the instance lock of `run`, `run --once` and `poll`.

Two bots polling and delivering from one database would store the same story twice and post
it twice (SQLite's `SELECT ... FOR UPDATE` locks nothing). So whoever polls or delivers holds
this lock while it does:

- SQLite: an exclusive `flock` on `<database file>.lock` beside the database. The kernel
  drops it when the process dies, kill -9 included, so a crash never leaves it stale.
- PostgreSQL: instances share the work (bot.store.coord), so the lock is not exclusive
  there: each process holds its own member lock (a session advisory lock keyed by its owner
  name) on a connection of its own. Others read from it that the process is alive; it ends
  with the connection, so a crash frees the process's leases at once.

An in-memory SQLite database has no other process to fear: the lock is a no-op there.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from sqlalchemy.engine import Connection, Engine

from bot.errors import StorageError
from bot.store import coord


class Busy(StorageError):
    """Another policybot process holds the database (the message names it when it can)."""


class InstanceLock:
    """Held while a process polls or delivers; `acquire` waits up to `wait` seconds."""

    def __init__(self, engine: Engine, owner: str | None = None) -> None:
        self.engine = engine
        # Whose claims and leases this process signs (PostgreSQL: the member lock's key).
        self.owner = owner or coord.process_owner()
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
        got = coord.try_member_lock(conn, self.owner)
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
                coord.release_member_lock(self._conn, self.owner)
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
