"""`policybot search --format json|csv`: a stable schema for scripts, safe in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from bot.app.config import SAMPLE_CONFIG


def _filled(cli: Any) -> None:
    done = cli("--feeds", str(SAMPLE_CONFIG), "run", "--once")
    assert done.returncode == 0, done.stderr


def test_json_is_numbers_ids_and_lists(cli: Any) -> None:
    _filled(cli)
    done = cli("search", "AI", "--format", "json", "--limit", "3")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"query", "page", "per_page", "total", "has_more", "notices", "stories"}
    assert data["per_page"] == 3 and isinstance(data["total"], int) and data["total"] > 3
    assert data["has_more"] is True and len(data["stories"]) == 3
    story = data["stories"][0]
    assert isinstance(story["id"], int) and isinstance(story["score"], float)
    assert isinstance(story["jurisdictions"], list) and isinstance(story["sources"], list)
    assert story["published"].endswith("+00:00")


def test_csv_has_a_header_and_keeps_formulas_inert(cli: Any) -> None:
    _filled(cli)
    done = cli("search", "AI", "--all", "--format", "csv", "--limit", "100")
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[0][:3] == ["id", "title", "url"] and len(rows) > 10
    for row in rows[1:]:
        assert row[0].isdigit()
        assert not any(cell[:1] in ("=", "+", "-", "@") for cell in row)


def test_limits_are_bounded_with_a_clear_message(cli: Any) -> None:
    done = cli("search", "AI", "--limit", "500")
    assert done.returncode == 2 and "less than or" in " ".join(done.stderr.split())
    done = cli("search", "AI", "--format", "xml")
    assert done.returncode == 2 and "use table, json or csv" in done.stderr


def test_feeds_add_and_remove_from_the_cli_go_through_the_same_checks(cli: Any) -> None:
    from tests.commands.feedserver import feed_server

    with feed_server() as srv:
        refused = cli("feeds", "add", srv.url("/feed.xml"))  # loopback: refused by default
        assert refused.returncode == 2 and "loopback" in refused.stderr + refused.stdout
        added = cli(
            "feeds",
            "add",
            srv.url("/feed.xml"),
            "--name",
            "Local",
            POLICYBOT_ALLOW_PRIVATE_FEEDS="1",
        )
        assert added.returncode == 0, added.stderr
    status = json.loads(cli("--feeds", str(SAMPLE_CONFIG), "feeds", "status", "--json").stdout)
    (local,) = [f for f in status["feeds"] if f["name"] == "Local"]
    assert local["origin"] == "cli"
    off = cli("feeds", "disable", "Local")
    assert off.returncode == 0 and "is off" in off.stdout
    on = cli("feeds", "enable", "Local")
    assert on.returncode == 0 and "is on" in on.stdout
    status = json.loads(cli("--feeds", str(SAMPLE_CONFIG), "feeds", "status", "--json").stdout)
    (local,) = [f for f in status["feeds"] if f["name"] == "Local"]
    assert local["enabled"] and local["disabled_reason"] is None
    sample = status["feeds"][0]["name"]  # a feed of the config file: switched off there
    refused = cli("feeds", "disable", sample)
    assert refused.returncode == 2 and "enabled: false" in refused.stderr
    gone = cli("feeds", "remove", "Local")
    assert gone.returncode == 0 and "will no longer be polled" in gone.stdout
    again = cli("feeds", "remove", "Local")
    assert again.returncode == 2 and "removed already" in again.stderr + again.stdout


def test_the_first_run_tells_posted_from_stored_only_and_says_when_nothing_was_due(
    cli: Any, tmp_path: Any
) -> None:
    import yaml

    from bot.app.config import SAMPLE_DIR
    from tests.httpserver import LocalHTTPServer, Reply

    with LocalHTTPServer() as srv:
        body = (SAMPLE_DIR / "policy-en.xml").read_bytes()  # items from months ago
        srv.route("/f.xml", Reply(body=body, headers={"Content-Type": "application/rss+xml"}))
        cfg = tmp_path / "feeds.yaml"
        feed = {"name": "F", "url": srv.url("/f.xml")}
        cfg.write_text(yaml.safe_dump({"defaults": {"backfill_window": "1h"}, "feeds": [feed]}))
        first = cli("--feeds", str(cfg), "run", "--once", POLICYBOT_ALLOW_PRIVATE="1")
        again = cli("--feeds", str(cfg), "run", "--once", POLICYBOT_ALLOW_PRIVATE="1")
    assert first.returncode == 0, first.stderr
    out = " ".join(first.stdout.split())
    assert "flagged, to post" in out and "stored only: older than the backfill window" in out
    assert again.returncode == 0 and "Nothing was due" in again.stdout
