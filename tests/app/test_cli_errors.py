"""The operator CLI on hostile or mistaken input: clear messages, never a traceback, no secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MARKUP_NAME = "[/x] [bold]weird[/bold"


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DISCORD_TOKEN", "SLACK_BOT_TOKEN")
    }
    base.update({"POLICYBOT_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200", **env})
    return subprocess.run(
        [sys.executable, "-c", "from bot.app.cli import main; main()", *args],
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        f'feeds:\n  - name: "{MARKUP_NAME}"\n    url: https://example.org/[x].xml\n'
        'subscriptions:\n  - destination: {platform: discord, channel: "123456789012345678"}\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    "args",
    [("feeds", "list"), ("feeds", "status"), ("poll", "--feed", "[/nope]")],
)
def test_rich_markup_in_names_is_printed_literally(
    tmp_path: Path, cfg: Path, args: tuple[str, ...]
) -> None:
    done = _cli(tmp_path, "--feeds", str(cfg), *args)
    assert "Traceback" not in done.stderr
    assert "[/x]" in done.stdout + done.stderr  # shown as written, not read as markup


def test_config_check_names_each_problem_and_hides_the_password(tmp_path: Path, cfg: Path) -> None:
    done = _cli(
        tmp_path,
        "--feeds",
        str(cfg),
        "config",
        "check",
        DATABASE_URL="postgresql://user:s3cretpw@127.0.0.1:1/x",
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "s3cretpw" not in done.stdout + done.stderr
    assert "user:***@127.0.0.1" in done.stderr
    assert "DISCORD_TOKEN is not set" in done.stderr


@pytest.mark.parametrize(
    "args", [("db", "current"), ("db", "upgrade"), ("deliver", "status"), ("search", "x")]
)
def test_a_bad_database_url_is_a_message(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = _cli(tmp_path, *args, DATABASE_URL="nonsense://x")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.startswith("error:")


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    done = _cli(tmp_path, "deliver", "status", POLICYBOT_METRICS_PORT="ninety")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "POLICYBOT_METRICS_PORT" in done.stderr


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (("--platform", "foo"), "use one of console, discord, slack"),
        (("--platform", "discord"), "--channel is needed for discord"),
    ],
)
def test_subscriptions_add_refuses_a_destination_that_cannot_exist(
    tmp_path: Path, args: tuple[str, ...], expect: str
) -> None:
    done = _cli(tmp_path, "subscriptions", "add", *args)
    assert done.returncode == 2 and expect in done.stderr
    listed = _cli(tmp_path, "deliver", "status")
    assert "No destinations yet" in listed.stdout  # nothing was created
