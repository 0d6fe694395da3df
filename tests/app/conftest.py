"""`cli`: `policybot` run in this process with typer's CliRunner.

A subprocess spends a second importing the application before the command starts; in-process
the test pays for the command only. Tests where the process boundary is the point (signals,
kill -9, the start-up itself) still start real processes.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from bot.app.cli import app

# Variables of the developer's shell that would change what a command sees.
_SCRUBBED = ("DATABASE_URL", "DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")


@dataclass(frozen=True)
class Done:
    """What a finished command left, named as subprocess.CompletedProcess names it."""

    returncode: int
    stdout: str
    stderr: str


class Cli:
    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.runner = CliRunner()

    def __call__(self, *args: str, **env: str) -> Done:
        """Run `policybot ARGS` with extra environment variables; an exception that escapes
        the command is appended to stderr as the traceback a user would have seen."""
        result = self.runner.invoke(app, list(args), env=env, catch_exceptions=True)
        stderr = result.stderr
        exc = result.exception
        if exc is not None and not isinstance(exc, SystemExit):
            stderr += "Traceback (most recent call last):\n" + "".join(
                traceback.format_exception(exc)
            )
        return Done(result.exit_code, result.stdout, stderr)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """`policybot` in tmp_path with its data under tmp_path/data, as a fresh install sees it."""
    for name in _SCRUBBED:
        monkeypatch.delenv(name, raising=False)
    for name in [k for k in os.environ if k.startswith("POLICYBOT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    # Commands that configure logging point it at the runner's streams, which close after
    # each command: put the test run's logging back.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    config = structlog.get_config() if structlog.is_configured() else None
    try:
        yield Cli(tmp_path)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, lvl in levels.items():
            logging.getLogger(name).setLevel(lvl)
        if config is None:
            structlog.reset_defaults()  # (configure() with the defaults counts as configured)
        else:
            structlog.configure(**config)
