"""`policybot deliver status|enable` against a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app.cli import app
from bot.deliver.route import Router, subscriptions_changed
from bot.store.models import Destination, OutboxMessage
from bot.store.storage import Storage
from tests.deliver import helpers as h


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("POLICYBOT_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "200")
    return url


def test_status_shows_counts_and_errors_then_enable(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = Storage.open(db)
    with storage.write() as s:
        ok = h.destination(s, "slack", "C0K")
        broken = h.destination(s, "discord", "987654321098765432")
        h.subscription(s, ok)
        h.subscription(s, broken)
        subscriptions_changed()
        router = Router()
        for t in ("a", "b", "c"):
            router(s, *h.story(s, t))
        broken.disabled_reason = "Discord 403 (code 50001): Missing Access"
        broken.last_error = broken.disabled_reason
        for row in s.query(OutboxMessage).filter(OutboxMessage.destination_id == broken.id):
            row.status = "failed"
            row.last_error = "destination disabled: Discord 403 (code 50001): Missing Access"
        ok_id, broken_id = ok.id, broken.id
    storage.close()

    runner = CliRunner()
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    res = runner.invoke(app, ["deliver", "status"])
    assert "waiting: SLACK_BOT_TOKEN is not set" in res.output  # it cannot go from here
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    res = runner.invoke(app, ["deliver", "status"])
    assert res.exit_code == 0, res.output
    lines = {
        line.split("│")[1].strip(): line
        for line in res.output.splitlines()
        if line.count("│") > 3 and line.split("│")[1].strip().isdigit()
    }
    assert "slack C0K" in lines[str(ok_id)] and "ok" in lines[str(ok_id)]
    cells = [c.strip() for c in lines[str(broken_id)].split("│")]
    assert cells[2] == "discord 987654321098765432"
    assert cells[4:6] == ["0", "3"]  # pending, failed
    assert "disabled" in res.output and "50001" in res.output
    assert "deliver enable" in res.output

    res = runner.invoke(app, ["deliver", "enable", str(broken_id)])
    assert res.exit_code == 0, res.output
    assert "3 message(s) requeued" in res.output
    storage = Storage.open(db)
    with storage.session() as s:
        d = s.get(Destination, broken_id)
        assert d is not None and d.disabled_reason is None
        assert {r.status for r in s.query(OutboxMessage)} == {"pending"}
    storage.close()

    res = runner.invoke(app, ["deliver", "enable", "999"])
    assert res.exit_code == 2 and "no destination with id 999" in res.output


def test_deliver_enable_with_an_id_too_large_for_the_database_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from bot.app.cli import app

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    result = CliRunner().invoke(app, ["deliver", "enable", "99999999999999999999"])
    assert result.exit_code == 2, result.output
    assert "no destination with id 99999999999999999999" in " ".join(result.output.split())
    assert result.exception is None or isinstance(result.exception, SystemExit)
