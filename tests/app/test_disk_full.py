"""A full disk mid-poll: one line saying so, a non-zero exit, no traceback, nothing lost.

SQLite's `max_page_count` makes the database full the way a full disk does (SQLITE_FULL,
"database or disk is full") without filling a real disk.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml
from sqlalchemy import event, text
from typer.testing import CliRunner

from bot.app.cli import app
from bot.app.config import SAMPLE_DIR
from bot.store import db as db_module
from bot.store import storage as storage_module
from bot.store.storage import Storage
from tests.httpserver import LocalHTTPServer, Reply

FEEDS = sorted(p for p in SAMPLE_DIR.glob("*.xml"))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    with LocalHTTPServer() as srv:
        for p in FEEDS:
            srv.route(
                f"/{p.name}", Reply(body=p.read_bytes(), headers={"Content-Type": "text/xml"})
            )
        cfg = tmp_path / "feeds.yaml"
        feeds = [{"name": p.stem, "url": srv.url(f"/{p.name}")} for p in FEEDS]
        cfg.write_text(yaml.safe_dump({"defaults": {"backfill_window": "3650d"}, "feeds": feeds}))
        yield cfg


def _limit_pages(monkeypatch: pytest.MonkeyPatch, pages: int) -> None:
    real = db_module.make_engine

    def limited(url: str, **kw: Any) -> Any:
        engine = real(url, **kw)

        @event.listens_for(engine, "connect")
        def _full(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

        return engine

    monkeypatch.setattr(storage_module, "make_engine", limited)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI points logging at its own (CliRunner's) streams: put it back afterwards."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**config)


def test_a_full_disk_mid_poll_is_one_line_and_loses_nothing(
    served: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'policybot.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    assert runner.invoke(app, ["--feeds", str(served), "db", "upgrade"]).exit_code == 0
    storage = Storage.open(url)
    with storage.engine.connect() as conn:
        empty = int(conn.execute(text("PRAGMA page_count")).scalar() or 0)
    storage.close()

    _limit_pages(monkeypatch, empty + 3)  # room for the feeds' rows, not their stories
    full = runner.invoke(app, ["--feeds", str(served), "poll"])
    assert full.exit_code == 1, full.output
    assert "disk holding the database is full" in full.output
    assert ("Traceback" not in full.output and full.exception is None) or isinstance(
        full.exception, SystemExit
    )

    monkeypatch.undo()  # space freed
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path / "data"))
    again = runner.invoke(app, ["--feeds", str(served), "poll"])
    assert again.exit_code == 0, again.output
    storage = Storage.open(url)
    with storage.engine.connect() as conn:
        entries = conn.execute(text("SELECT count(*), count(DISTINCT uid_hash) FROM entries"))
        total, distinct = entries.one()
    storage.close()
    assert total > 0 and total == distinct  # every entry stored once
