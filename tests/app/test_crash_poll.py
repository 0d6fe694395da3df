"""kill -9 in the middle of a poll loses nothing committed and leaves nothing half-written."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
FEEDS, ITEMS = 120, 40


@pytest.fixture
def feed_server() -> Iterator[int]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "bench" / "feedserver.py"),
            "--feeds",
            str(FEEDS),
            "--items",
            str(ITEMS),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("PORT "), line
    yield int(line.split()[1])
    proc.terminate()
    proc.wait(10)


def poll_cmd(cfg: Path) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from bot.app.cli import main; main()",
        "--feeds",
        str(cfg),
        "poll",
        "--once",
    ]


def counts(db: Path) -> tuple[int, int, int, int]:
    con = sqlite3.connect(db)
    try:
        entries = con.execute("select count(*) from entries").fetchone()[0]
        distinct = con.execute(
            "select count(distinct feed_id || ':' || uid) from entries"
        ).fetchone()[0]
        stories = con.execute("select count(*) from stories").fetchone()[0]
        polled = con.execute(
            "select count(*) from feeds where last_success_at is not null"
        ).fetchone()[0]
        assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
        # Every story has its verdict and at least one entry: no half-written story.
        orphans = con.execute(
            "select count(*) from stories s where not exists (select 1 from verdicts v where"
            " v.story_id = s.id) or not exists (select 1 from entries e where e.story_id = s.id)"
        ).fetchone()[0]
        assert orphans == 0
        # A feed's entry counter moved in the same transaction as its entries.
        drift = con.execute(
            "select count(*) from feeds f where f.entry_count != (select count(*) from entries e"
            " where e.feed_id = f.id)"
        ).fetchone()[0]
        assert drift == 0
        return entries, distinct, stories, polled
    finally:
        con.close()


def polled_so_far(db: Path) -> int:
    """Feeds committed so far (0 while the database or its tables do not exist yet)."""
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            row = con.execute("select count(*) from feeds where last_success_at is not null")
            return int(row.fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:  # created but not migrated yet, or busy for a moment
        return 0


@pytest.mark.timeout(600)  # five tries at most, each bounded; a loaded machine is slow
def test_kill_mid_poll_then_restart(tmp_path: Path, feed_server: int) -> None:
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "defaults": {"per_host_concurrency": 4, "concurrency": 4},
                "feeds": [
                    {"name": f"f{i}", "url": f"http://127.0.0.1:{feed_server}/feed/{i}.xml"}
                    for i in range(FEEDS)
                ],
            }
        )
    )
    db = tmp_path / "data" / "policybot.db"
    env = {**os.environ, "POLICYBOT_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": ""}
    env.pop("DATABASE_URL")
    killed_mid_poll = False
    # Kill as soon as the database shows some feeds committed and others not, whatever the
    # machine's speed: a loaded machine only makes the poll (and this wait) longer. A poll
    # that slipped past the window (or a kill that landed after the last feed) is redone.
    for _attempt in range(5):
        proc = subprocess.Popen(
            poll_cmd(cfg), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if 0 < polled_so_far(db) < FEEDS:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
        if proc.poll() is None and time.monotonic() >= deadline:
            proc.kill()
        proc.wait()
        if proc.returncode == -signal.SIGKILL and db.exists():
            _, _, _, polled = counts(db)
            if 0 < polled < FEEDS:
                killed_mid_poll = True
                break
        db.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    assert killed_mid_poll, "could not catch the poll in the middle in 5 tries"

    entries, distinct, _, polled = counts(db)
    assert entries == distinct == polled * ITEMS  # whole feeds or nothing
    # Restart: the next run carries on and ends with everything exactly once.
    done = subprocess.run(poll_cmd(cfg), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    entries, distinct, stories, polled = counts(db)
    assert polled == FEEDS
    assert entries == distinct == FEEDS * ITEMS
    assert stories == FEEDS * ITEMS  # every synthetic title is its own story
