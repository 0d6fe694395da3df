"""`policybot search|subscriptions|why` answer through the same handlers, as tables or JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app.cli import app
from bot.store.models import Story
from bot.store.pollwrite import store_verdict
from bot.store.storage import Storage
from bot.verdict import Verdict


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    monkeypatch.setenv("POLICYBOT_DATABASE_URL", url)
    monkeypatch.setenv("POLICYBOT_FEEDS", str(tmp_path / "absent.yaml"))
    storage = Storage.open(url)
    with storage.write() as s:
        now = datetime.now(UTC)
        story = Story(
            title="[bold]EU AI Act[/] \x1b[31mguidance",
            title_key="k",
            summary="",
            language="en",
            published=now,
            first_seen=now,
        )
        s.add(story)
        s.flush()
        store_verdict(s, story.id, Verdict(True, 0.8, ("EU",), ("legislation",)))
    storage.close()
    return url


def test_search_prints_feed_text_literally(db: str) -> None:
    res = CliRunner().invoke(app, ["search", "AI", "Act"])
    assert res.exit_code == 0, res.output
    assert "[bold]EU AI Act[/]" in res.output and "\x1b[31m" not in res.output


def test_search_json(db: str) -> None:
    res = CliRunner().invoke(app, ["search", "ai act", "--json", "--jurisdiction", "EU"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["stories"][0]["jurisdictions"] == ["EU"] and isinstance(data["total"], int)


def test_subscriptions_add_list_remove(db: str) -> None:
    r = CliRunner()
    dest = ["--platform", "slack", "--scope", "T1", "--channel", "C1"]
    bad = r.invoke(app, ["subscriptions", "add", *dest, "--topics", "export-control"])
    assert bad.exit_code == 2 and "export-controls" in bad.output
    ok = r.invoke(app, ["subscriptions", "add", *dest, "--jurisdictions", "China", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["table"]["rows"][0][1] == "CN"
    listed = json.loads(r.invoke(app, ["subscriptions", "list", *dest, "--json"]).output)
    assert len(listed["table"]["rows"]) == 1
    other = json.loads(r.invoke(app, ["subscriptions", "list", "--json"]).output)
    assert other["table"] is None
    gone = r.invoke(app, ["subscriptions", "remove", "all", *dest])
    assert gone.exit_code == 0 and "Removed 1" in gone.output


def test_why(db: str) -> None:
    res = CliRunner().invoke(app, ["why", "1"])
    assert res.exit_code == 0 and "Flagged with score 0.80" in res.output
    assert CliRunner().invoke(app, ["why", "424242"]).exit_code == 2
