"""Engines and migrations: SQLite by default, PostgreSQL via DATABASE_URL."""

from __future__ import annotations

import os
import re
import sqlite3
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

import bot
from bot.errors import ReadOnlyDatabase, StorageError
from bot.log import get_logger

log = get_logger("policybot.db")

# Bound parameters per IN (...) list: far below SQLite's and PostgreSQL's limits on a statement.
IN_CHUNK = 500

# The session advisory lock migrations run under on PostgreSQL (bot.store.coord names the
# others; this module sits below it).
MIGRATE_KEY = 0x706F6C6963790001


# The Alembic scripts live in migrations/ at the top of the source tree; a built wheel carries
# a copy of them inside the package under this name (setup.py copies them at build time).
BUNDLED_MIGRATIONS = "_migrations"


def migrations_dir() -> Path:
    """Where the Alembic scripts are: $POLICYBOT_MIGRATIONS_DIR when set; else the copy an
    installed wheel carries (bot/_migrations); else migrations/ beside the package (a source
    checkout or an editable install)."""
    env = os.environ.get("POLICYBOT_MIGRATIONS_DIR")
    if env:
        return Path(env)
    package = Path(bot.__file__).resolve().parent
    bundled = package / BUNDLED_MIGRATIONS
    if (bundled / "env.py").is_file():
        return bundled
    return package.parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers never block the writer; a kill -9 loses nothing committed.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_read_only_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _read_only_connector(path: str) -> Callable[[], sqlite3.Connection]:
    """Connect to a SQLite file this process may not write, nor write beside (a read-only
    mount, a file owned by the bot's user). `mode=ro` reads a WAL database while its -wal and
    -shm files exist or can be made; without them, in a folder we cannot write, SQLite needs
    `immutable=1`, which is safe only because no -wal file means no writer has changes
    pending: everything committed is in the main file."""
    uri = "file:" + urllib.parse.quote(str(Path(path).resolve()))

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False, timeout=30)
        try:
            conn.execute("select 1 from sqlite_master limit 1")  # the file opens lazily
            return conn
        except sqlite3.OperationalError:
            conn.close()
            if Path(path + "-wal").exists():
                raise
        return sqlite3.connect(
            f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False, timeout=30
        )

    return connect


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """An engine for `url`. `read_only` (SQLite): open the file for reading only, for the
    commands that only read (search, feeds status) on a database they cannot write.

    Raises:
        StorageError: `url` is not a database URL, or names an in-memory SQLite database.
    """
    try:
        u = make_url(url)
    except Exception as exc:  # sqlalchemy's ArgumentError: a string that is no URL at all
        raise StorageError(
            f"DATABASE_URL is not a database URL ({exc}): e.g. sqlite:///data/policybot.db or"
            " postgresql://user:password@host/policybot"
        ) from None
    if u.get_backend_name() == "sqlite":
        if not u.database or u.database == ":memory:" or "mode=memory" in str(u.query):
            # Each connection would get its own empty database, and all of it is gone at
            # exit: tracebacks about missing tables, then nothing remembered.
            raise StorageError(
                "an in-memory SQLite database (sqlite://) forgets everything at exit and is"
                " not shared between the bot's threads: use a file, e.g."
                " DATABASE_URL=sqlite:///data/policybot.db"
            )
        if read_only:
            engine = create_engine("sqlite://", creator=_read_only_connector(u.database), **kwargs)
            event.listen(engine, "connect", _sqlite_read_only_pragmas)
            return engine
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if u.get_backend_name() == "postgresql" and u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    return create_engine(u, pool_pre_ping=True, **kwargs)


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["engine"] = engine
    return cfg


_REVISION = re.compile(r"""^revision\b[^=\n]*=\s*['"]([^'"]+)['"]""", re.MULTILINE)
_DOWN = re.compile(r"""^down_revision\b[^=\n]*=\s*(?:None|['"]([^'"]+)['"])\s*$""", re.MULTILINE)


def _head_from_files(mdir: Path) -> str | None:
    """The newest revision read straight from the migration files, or None when they are not
    the plain linear chain this reading understands (then alembic decides)."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (mdir / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        rev, down = _REVISION.findall(text), _DOWN.findall(text)
        if len(rev) != 1 or len(down) != 1:
            return None
        revisions.add(rev[0])
        if down[0]:
            downs.add(down[0])
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def _at_head(engine: Engine, mdir: Path) -> bool:
    """Whether the database is already at the newest revision, found without importing
    alembic (a third of a short command's start-up)."""
    head = _head_from_files(mdir)
    if head is None:
        return False
    with engine.connect() as conn:  # a database that cannot be reached fails here, as before
        try:
            rows = conn.execute(text("select version_num from alembic_version")).all()
        except SQLAlchemyError:  # no version table: a new database, alembic creates it
            return False
    return [r[0] for r in rows] == [head]


def at_head(engine: Engine) -> bool:
    """Whether the database's schema is this code's newest revision (read only)."""
    return _at_head(engine, migrations_dir())


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent)."""
    mdir = migrations_dir()
    if not (mdir / "env.py").exists():
        raise RuntimeError(
            f"migrations not found at {mdir}: reinstall policybot (a wheel carries them), run"
            " from a source checkout, or set POLICYBOT_MIGRATIONS_DIR"
        )
    if revision == "head" and _at_head(engine, mdir):
        return
    if engine.dialect.name == "postgresql":
        # Several instances may start at once on a new database: one migrates, the others
        # wait for it and then find the schema at head.
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATE_KEY})
            conn.commit()
            try:
                if revision == "head" and _at_head(engine, mdir):
                    return
                _upgrade(engine, revision)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATE_KEY})
                conn.commit()
        return
    _upgrade(engine, revision)


def _upgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    before = current_revision(engine)
    unknown = unknown_revision(engine, before)
    if unknown:
        raise RuntimeError(unknown)
    command.upgrade(_alembic_config(engine), revision)
    after = current_revision(engine)
    if after != before:
        log.info(
            "database migrated",
            url=engine.url.render_as_string(hide_password=True),
            before=before or "empty",
            after=after,
        )


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def unknown_revision(engine: Engine, current: str | None) -> str | None:
    """Why this code cannot use a database a newer policybot migrated, or None."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    if current is None:
        return None
    script = ScriptDirectory.from_config(_alembic_config(engine))
    try:
        script.get_revision(current)
    except CommandError:
        return (
            f"the database's schema revision {current} is newer than this policybot knows"
            f" (newest {script.get_current_head()}): upgrade policybot, or use another database"
        )
    return None


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()


def ping(engine: Engine) -> None:
    """Run `SELECT 1`: raises when the database cannot be reached."""
    with engine.connect() as conn:
        conn.execute(text("select 1"))


def check_database(url: str) -> tuple[str, list[str]]:
    """Can this code use the database at `url`? Returns the URL as shown (no password) and
    the problems found: cannot connect, or migrated by a newer policybot."""
    shown = url
    try:
        engine = make_engine(url)
        shown = engine.url.render_as_string(hide_password=True)
        ping(engine)
    except Exception as exc:
        return shown, [f"database {shown}: cannot connect: {exc}"]
    try:
        why = unknown_revision(engine, current_revision(engine))
    except Exception as exc:
        return shown, [f"database {shown}: cannot read the schema revision: {exc}"]
    finally:
        engine.dispose()
    return shown, [f"database {shown}: {why}"] if why else []


_READ_ONLY = ("readonly database", "read-only", "read only", "unable to open database file")
# What the database said, in the words of SQLite and PostgreSQL, and what a person can do.
_DATABASE_TROUBLE = (
    (
        (
            "database or disk is full",
            "no space left on device",
            "could not extend file",
            "diskfull",
        ),
        "the disk holding the database is full: free some space and run again (nothing"
        " committed was lost; the feeds are polled again)",
    ),
    (
        _READ_ONLY,
        "the database cannot be written here: give this user write access to the file and"
        " its folder (SQLite keeps -wal and -shm files beside it); search, why and feeds"
        " status work without it",
    ),
    (
        ("database is locked",),
        "the database stayed locked by another process for 30 s: is another policybot or a"
        " database tool holding a write transaction?",
    ),
)


def cannot_write(exc: BaseException) -> bool:
    """Whether `exc` says this process may not write the SQLite file, or beside it: the
    cases where a command that only reads can still open the file read-only."""
    return isinstance(database_error(exc), ReadOnlyDatabase)


def database_error(exc: BaseException) -> StorageError | None:
    """A StorageError saying what is wrong with the database and what to do, when `exc` is
    one of the conditions no retry inside this process can fix; None otherwise."""
    text = f"{type(exc).__name__}: {exc}".lower()
    for needles, advice in _DATABASE_TROUBLE:
        if any(n in text for n in needles):
            return ReadOnlyDatabase(advice) if needles is _READ_ONLY else StorageError(advice)
    return None
