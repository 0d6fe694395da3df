"""The operator CLI on hostile or mistaken input: clear messages, never a traceback, no secrets.

Run in-process (the `cli` fixture of tests/app/conftest.py): an exception escaping a command
shows up in `stderr` as a traceback, as it would for a user.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.conftest import Cli

MARKUP_NAME = "[/x] [bold]weird[/bold"


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
    cli: Cli, cfg: Path, args: tuple[str, ...]
) -> None:
    done = cli("--feeds", str(cfg), *args)
    assert "Traceback" not in done.stderr
    assert "[/x]" in done.stdout + done.stderr  # shown as written, not read as markup


def test_config_check_names_each_problem_and_hides_the_password(cli: Cli, cfg: Path) -> None:
    done = cli(
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
def test_a_bad_database_url_is_a_message(cli: Cli, args: tuple[str, ...]) -> None:
    done = cli(*args, DATABASE_URL="nonsense://x")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.startswith("error:")


def test_a_bad_environment_value_names_the_variable(cli: Cli) -> None:
    done = cli("deliver", "status", POLICYBOT_METRICS_PORT="ninety")
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
    cli: Cli, args: tuple[str, ...], expect: str
) -> None:
    done = cli("subscriptions", "add", *args)
    assert done.returncode == 2 and expect in done.stderr
    listed = cli("deliver", "status")
    assert "No destinations yet" in listed.stdout  # nothing was created


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("POLICYBOT_METRICS_PORT", "99999"),
        ("POLICYBOT_LOG_LEVEL", "LOUD"),
        ("POLICYBOT_LOG_FORMAT", "xml"),
        ("POLICYBOT_ALLOW_PRIVATE_FEEDS", "maybe"),
    ],
)
def test_bad_environment_values_are_named(cli: Cli, cfg: Path, var: str, value: str) -> None:
    done = cli("--feeds", str(cfg), "config", "check", **{var: value})
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert var in done.stderr


def test_config_check_rejects_duplicate_and_spaced_urls_and_fast_polling(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n"
        '  - {name: A, url: "https://Example.org/feed/"}\n'
        '  - {name: B, url: "https://example.org/feed"}\n',
        encoding="utf-8",
    )
    done = cli("--feeds", str(path), "config", "check")
    assert done.returncode == 1 and "same URL as feeds[0]" in done.stderr
    path.write_text(
        'feeds:\n  - {name: A, url: "https://exa mple.org/feed", interval: 5s}\n', encoding="utf-8"
    )
    done = cli("--feeds", str(path), "config", "check")
    assert "contains a space" in done.stderr and "at most once a minute" in done.stderr


def test_config_check_says_what_slack_commands_lack(cli: Cli, cfg: Path) -> None:
    done = cli("--feeds", str(cfg), "config", "check", SLACK_BOT_TOKEN="xoxb-1")
    assert "SLACK_APP_TOKEN" in done.stderr and "SLACK_SIGNING_SECRET" in done.stderr
    done = cli(
        "--feeds",
        str(cfg),
        "config",
        "check",
        SLACK_BOT_TOKEN="xoxb-1",
        POLICYBOT_SLACK_MODE="http",
        SLACK_APP_TOKEN="xapp-1",
    )
    assert "POLICYBOT_SLACK_MODE=http needs SLACK_SIGNING_SECRET" in done.stderr


def test_a_database_from_a_newer_policybot_is_refused_clearly(
    cli: Cli, tmp_path: Path, cfg: Path
) -> None:
    import sqlite3

    assert cli("--feeds", str(cfg), "db", "upgrade").returncode == 0
    with sqlite3.connect(tmp_path / "data" / "policybot.db") as conn:
        conn.execute("update alembic_version set version_num = '0099'")
    for args in (("config", "check"), ("feeds", "status"), ("db", "upgrade")):
        done = cli("--feeds", str(cfg), *args)
        assert done.returncode != 0 and "Traceback" not in done.stderr, args
        assert "0099 is newer than this policybot knows" in " ".join(done.stderr.split()), args


def test_export_never_overwrites_the_config_or_an_existing_file(
    cli: Cli, tmp_path: Path, cfg: Path
) -> None:
    before = cfg.read_text(encoding="utf-8")
    done = cli("--feeds", str(cfg), "feeds", "export", str(cfg), "--force")
    assert done.returncode != 0 and "config file itself" in done.stderr
    assert cfg.read_text(encoding="utf-8") == before
    out = tmp_path / "feeds.opml"
    assert cli("--feeds", str(cfg), "feeds", "export", str(out)).returncode == 0
    out.write_text("keep me", encoding="utf-8")
    done = cli("--feeds", str(cfg), "feeds", "export", str(out))
    assert done.returncode != 0 and "--force" in done.stderr
    assert out.read_text(encoding="utf-8") == "keep me"
    assert cli("--feeds", str(cfg), "feeds", "export", str(out), "--force").returncode == 0
    assert "<opml" in out.read_text(encoding="utf-8")
    done = cli("--feeds", str(cfg), "feeds", "export", str(tmp_path / "no" / "x.opml"))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "cannot write" in done.stderr


def test_sample_feeds_are_never_written(cli: Cli, tmp_path: Path) -> None:
    opml = tmp_path / "x.opml"
    opml.write_text(
        '<opml version="2.0"><body><outline text="N" xmlUrl="https://n.example/f.xml"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    done = cli("--sample", "feeds", "import", str(opml))
    assert done.returncode != 0 and "sample feeds ship with policybot" in done.stderr


def test_eval_of_nothing_is_an_error_not_perfect_scores(cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    done = cli("eval", str(empty))
    assert done.returncode != 0 and "no labelled items" in done.stderr
    assert "1.000" not in done.stdout
