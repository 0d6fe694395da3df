"""Commands that only read work on a SQLite database this user may not write.

A database made read-only for real: its folder and file by permissions when the tests run as
an ordinary user, or with the immutable attribute (chattr +i, which binds root too) when they
run as root. Where neither is possible the tests skip, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.store.storage import Storage
from tests.app.conftest import Cli
from tests.store.search.corpus import seed


def _lock(path: Path) -> None:
    if os.geteuid() != 0:
        path.chmod(0o555 if path.is_dir() else 0o444)
        return
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("running as root, and chattr (to make a file immutable) is not installed")
    done = subprocess.run([chattr, "+i", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"running as root, and chattr +i is refused here: {done.stderr.strip()}")


def _unlock(path: Path) -> None:
    if os.geteuid() != 0:
        path.chmod(0o755 if path.is_dir() else 0o644)
    elif shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


@pytest.fixture
def read_only_db(tmp_path: Path) -> Iterator[str]:
    """A seeded database in a folder that cannot be written (nor can the file)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    url = f"sqlite:///{folder / 'policybot.db'}"
    storage = Storage.open(url)
    seed(storage)
    storage.close()  # a clean close checkpoints the WAL: no -wal file is left
    locked = [folder / "policybot.db", folder]
    try:
        for p in locked:
            _lock(p)
        try:
            (folder / "probe").write_text("x")
        except OSError:
            pass
        else:
            pytest.skip("the folder stayed writable after locking it")
        yield url
    finally:
        for p in locked:
            _unlock(p)


def test_search_reads_a_database_it_cannot_write(cli: Cli, read_only_db: str) -> None:
    done = cli("search", "AI", "--json", DATABASE_URL=read_only_db)
    assert done.returncode == 0, done.stderr
    assert "read-only here" in done.stderr and "Traceback" not in done.stderr
    assert '"stories"' in done.stdout


def test_feeds_status_shows_the_stored_feeds_without_applying_the_config(
    cli: Cli, read_only_db: str
) -> None:
    cli.cwd.joinpath("feeds.yaml").write_text(
        yaml.safe_dump({"feeds": [{"name": "new", "url": "https://example.org/feed"}]})
    )
    done = cli("feeds", "status", "--json", DATABASE_URL=read_only_db)
    assert done.returncode == 0, done.stderr
    assert "feeds.yaml not applied" in done.stderr
    names = {f["name"] for f in json.loads(done.stdout)["feeds"]}
    assert names and "new" not in names  # the stored feeds, as they were


def test_a_command_that_writes_says_the_database_cannot_be_written(
    cli: Cli, read_only_db: str
) -> None:
    done = cli("subscriptions", "add", "--channel", "x", DATABASE_URL=read_only_db)
    assert done.returncode != 0
    assert "cannot be written here: give this user write access" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_poll_on_a_database_it_cannot_write_exits_1_for_cron(cli: Cli, read_only_db: str) -> None:
    cli.cwd.joinpath("feeds.yaml").write_text(yaml.safe_dump({"feeds": []}))
    done = cli("poll", "--once", DATABASE_URL=read_only_db)
    assert done.returncode == 1, done.stderr
    assert "cannot be written here" in done.stderr and "Traceback" not in done.stderr
