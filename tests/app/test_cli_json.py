"""--version, the --json outputs (the schemas the README documents) and plain output to pipes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from tests.app.conftest import Cli

LONG_NAME = "A feed with a very long name " * 3  # with the other columns, past 80


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "defaults: {interval: 45m}\n"
        "feeds:\n"
        f'  - {{name: "{LONG_NAME.strip()}", url: "https://example.org/a.xml", language: en,'
        " jurisdictions: [EU, DE]}\n"
        '  - {name: B, url: "https://example.org/b.xml", enabled: false, interval: 2h}\n',
        encoding="utf-8",
    )
    return path


def _json(done: Any) -> dict[str, Any]:
    data = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert isinstance(data, dict)
    return data


def _utc(value: Any) -> None:
    """null, or ISO 8601 with the UTC offset."""
    if value is not None:
        assert datetime.fromisoformat(value).utcoffset() == UTC.utcoffset(None), value


def test_version_comes_from_the_package_metadata(cli: Cli) -> None:
    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout == f"policybot {version('policybot')}\n"


def test_feeds_list_json(cli: Cli, cfg: Path) -> None:
    data = _json(cli("--feeds", str(cfg), "feeds", "list", "--json"))
    assert data["config"] == str(cfg)
    a, b = data["feeds"]
    assert a == {
        "name": LONG_NAME.strip(),
        "url": "https://example.org/a.xml",
        "language": "en",
        "jurisdictions": ["EU", "DE"],
        "interval_seconds": 2700,
        "enabled": True,
        "tags": [],
    }
    assert b["interval_seconds"] == 7200 and b["enabled"] is False and b["language"] is None


def test_feeds_status_json(cli: Cli, cfg: Path) -> None:
    done = cli("--feeds", str(cfg), "feeds", "status", "--json")
    assert done.returncode == 0, done.stderr
    feeds = {f["name"]: f for f in _json(done)["feeds"]}
    a, b = feeds[LONG_NAME.strip()], feeds["B"]
    assert isinstance(a["id"], int) and a["id"] != b["id"]
    assert a["health"] == "new" and b["health"] == "off"
    assert a["interval_seconds"] == 2700 and a["entry_count"] == 0
    assert a["consecutive_failures"] == 0 and a["last_error"] is None
    assert a["next_poll_at"] is not None and b["next_poll_at"] is None  # B is not polled
    for f in (a, b):
        for key in ("last_polled_at", "last_success_at", "next_poll_at", "last_error_at"):
            _utc(f[key])
        assert "[" not in json.dumps(f["health"])  # a state, not rich markup


def test_deliver_status_json(cli: Cli) -> None:
    assert _json(cli("deliver", "status", "--json")) == {"destinations": []}
    added = cli("subscriptions", "add", "--platform", "discord", "--channel", "123456789012345678")
    assert added.returncode == 0, added.stderr
    (dest,) = _json(cli("deliver", "status", "--json"))["destinations"]
    assert isinstance(dest["id"], int)
    assert dest["platform"] == "discord" and dest["channel"] == "123456789012345678"
    assert dest["guild"] is None and dest["webhook_env"] is None
    assert (dest["subscriptions"], dest["pending"], dest["failed"], dest["sent"]) == (1, 0, 0, 0)
    assert dest["state"] == "ok" and dest["waiting_for"] is None
    for key in ("last_error_at", "last_sent_at", "next_attempt_at"):
        assert dest[key] is None


def test_db_current_json(cli: Cli) -> None:
    empty = _json(cli("db", "current", "--json"))
    assert empty["current"] is None and empty["up_to_date"] is False
    assert isinstance(empty["head"], str) and empty["database"].startswith("sqlite:///")
    assert cli("db", "upgrade").returncode == 0
    done = _json(cli("db", "current", "--json"))
    assert done["current"] == done["head"] and done["up_to_date"] is True


def test_config_check_json(cli: Cli, cfg: Path, tmp_path: Path) -> None:
    done = cli("--feeds", str(cfg), "config", "check", "--json")
    assert done.returncode == 0, done.stderr
    assert _json(done) == {
        "ok": True,
        "config": str(cfg),
        "database": _json(done)["database"],
        "feeds": 2,
        "subscriptions": 0,
        "platforms": ["console"],
        "problems": [],
    }
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "feeds: [{name: A, url: 'https://example.org/a.xml'}]\n"
        "subscriptions:\n  - destination: {platform: discord, channel: '123456789012345678'}\n",
        encoding="utf-8",
    )
    done = cli("--feeds", str(bad), "config", "check", "--json")
    assert done.returncode == 1
    data = _json(done)
    assert data["ok"] is False and data["subscriptions"] == 1
    assert any("DISCORD_TOKEN is not set" in p for p in data["problems"])


def test_output_to_a_pipe_is_not_wrapped(cli: Cli, cfg: Path, tmp_path: Path) -> None:
    # The runner's stdout is not a terminal: a table row keeps its long name on one line.
    done = cli("--feeds", str(cfg), "feeds", "list")
    assert done.returncode == 0, done.stderr
    assert any(LONG_NAME.strip() in line for line in done.stdout.splitlines())
    # So does a long error message on stderr.
    missing = tmp_path / ("x" * 120) / "feeds.yaml"
    done = cli("--feeds", str(missing), "feeds", "list")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and str(missing) in done.stderr
