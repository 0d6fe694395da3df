"""`policybot` starts at once: a command imports what it uses, when it runs.

Checked by the modules a fresh interpreter ends up with, not by timing, so that a loaded
machine cannot fail it. A fresh process is the point here (the test run has imported
everything already).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

_PROBE = """
import json, sys
heavy = json.loads(sys.argv[2])
sys.argv = ["policybot", *json.loads(sys.argv[1])]
try:
    from bot.app.cli import main
    main()
except SystemExit:
    pass
sys.stderr.write("\\nLOADED " + json.dumps(sorted(m for m in heavy if m in sys.modules)) + "\\n")
"""

# Never needed to show help or to search stored stories.
_NEVER = ["aiohttp", "httpx", "discord", "slack_sdk", "feedparser", "apscheduler", "alembic"]


def _loaded(tmp_path: Path, args: list[str], modules: list[str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "POLICYBOT_FEEDS")}
    env["POLICYBOT_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args), json.dumps(modules)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    line = done.stderr.rsplit("LOADED ", 1)[1]
    return list(json.loads(line))


@pytest.mark.parametrize("args", [["--help"], ["feeds", "--help"], ["search", "--help"]])
def test_help_loads_neither_the_database_layer_nor_the_bot(tmp_path: Path, args: list[str]) -> None:
    # (pydantic is not listed: typer itself loads it to read a subcommand's parameters)
    heavy = [*_NEVER, "sqlalchemy", "yaml", "bot.core", "bot.store", "bot.commands"]
    assert _loaded(tmp_path, args, heavy) == []


def test_search_loads_no_network_client_and_no_migration_tool(tmp_path: Path) -> None:
    # The first run creates the database (alembic runs once); the second is the usual case.
    _loaded(tmp_path, ["search", "AI Act"], [])
    assert _loaded(tmp_path, ["search", "AI Act"], [*_NEVER, "sqlalchemy"]) == ["sqlalchemy"]


def test_search_loads_only_its_own_command_family(tmp_path: Path) -> None:
    # Stored verdicts are records (bot.verdict): reading them needs no classifier engine or
    # lexicon. The core service loads a family on first use (bot/lazy.py), loggers load
    # structlog on their first line (bot/log.py), and a SQLite process needs no PostgreSQL
    # dialect.
    _loaded(tmp_path, ["search", "AI Act"], [])
    heavy = [
        "bot.classify.engine",
        "bot.classify.lexicon",
        "bot.classify.kernel",
        "bot.deliver.route",
        "bot.deliver.worker",
        "bot.core.feedback",
        "bot.core.mute",
        "bot.app.config",
        "structlog",
        "sqlalchemy.dialects.postgresql",
    ]
    assert _loaded(tmp_path, ["search", "AI Act"], heavy) == []


def test_a_poll_without_webhooks_loads_no_chat_sdk(tmp_path: Path) -> None:
    # Webhook senders are made on their first message (platforms.base.LazySender): the
    # sample's console channel needs neither discord.py nor slack_sdk.
    assert _loaded(tmp_path, ["poll", "--sample"], ["discord", "slack_sdk"]) == []


def test_the_installed_entry_point_exits_0_on_version_and_2_on_a_usage_error() -> None:
    exe = Path(sys.executable).with_name("policybot")
    if not exe.exists():
        pytest.skip(f"{exe} is not installed (pip install -e .)")
    done = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == f"policybot {version('policybot')}\n"
    done = subprocess.run([str(exe), "nonsense"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "nonsense" in done.stderr
