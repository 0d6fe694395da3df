"""Credential and destination formats: swapped or malformed tokens and webhook URLs are caught
offline, with what to do, before the bot starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bot.app.cli import app
from bot.app.config import ConfigError, parse_config
from bot.platforms import PLATFORMS

DISCORD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.abcdefghijklmnopqrstuvwxyz0123456789AB"


def problems(**creds: str) -> list[str]:
    return [p for platform in PLATFORMS.values() for p in platform.credential_problems(creds)]


def test_good_tokens_pass() -> None:
    assert (
        problems(
            discord_token=DISCORD_TOKEN,
            slack_bot_token="xoxb-1-2-abc",
            slack_app_token="xapp-1-A-b",
        )
        == []
    )


@pytest.mark.parametrize(
    ("creds", "expected"),
    [
        ({"slack_bot_token": "xapp-1-A-b"}, "SLACK_BOT_TOKEN holds an app-level token"),
        ({"slack_app_token": "xoxb-1-2-abc"}, "SLACK_APP_TOKEN holds the bot token"),
        ({"slack_bot_token": "foo"}, "SLACK_BOT_TOKEN must be a bot token"),
        ({"slack_app_token": "foo"}, "SLACK_APP_TOKEN must be an app-level token"),
        ({"discord_token": "xoxb-1-2-abc"}, "DISCORD_TOKEN holds a Slack token"),
        ({"discord_token": "Bot " + DISCORD_TOKEN}, "without the 'Bot ' prefix"),
        ({"discord_token": "hunter2"}, "does not look like a bot token"),
    ],
)
def test_swapped_or_malformed_tokens_are_named(creds: dict[str, str], expected: str) -> None:
    found = problems(**creds)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    ("kind", "url", "ok"),
    [
        ("discord", "https://discord.com/api/webhooks/123456789012345678/" + "a" * 68, True),
        ("discord", "https://hooks.slack.com/services/T000/B000/XXXXXXXX", False),
        ("discord", "https://example.org/api/webhooks/1/2", False),
        ("slack", "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX", True),
        ("slack", "notaurl", False),
        ("slack", "https://discord.com/api/webhooks/123456789012345678/" + "a" * 68, False),
    ],
)
def test_webhook_urls_are_checked_per_platform(kind: str, url: str, ok: bool) -> None:
    assert (PLATFORMS[kind].webhook_problem(url) is None) is ok


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        ({"platform": "discord", "channel": "#policy"}, "numeric id"),
        ({"platform": "slack", "channel": "#policy"}, "channel's id"),
    ],
)
def test_channel_names_instead_of_ids_are_refused(
    destination: dict[str, str], expected: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"subscriptions": [{"destination": destination}]}, tmp_path / "f.yaml")
    assert expected in str(caught.value)


def test_config_check_refuses_swapped_tokens_and_a_bad_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "subscriptions": [
                    {"destination": {"platform": "slack-webhook", "webhook_env": "SLACK_HOOK"}}
                ]
            }
        )
    )
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xapp-1-A-b")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-1-2-abc")
    monkeypatch.setenv("SLACK_HOOK", "notaurl")
    result = CliRunner().invoke(app, ["--feeds", str(cfg), "config", "check"])
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert "SLACK_BOT_TOKEN holds an app-level token" in out
    assert "SLACK_APP_TOKEN holds the bot token" in out
    assert "$SLACK_HOOK is not a Slack incoming-webhook URL" in out


async def test_config_check_online_asks_the_platforms_who_the_tokens_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from slack_sdk.web.async_client import AsyncWebClient

    from tests.fakes.discord import FakeDiscord
    from tests.fakes.slack import FakeSlack

    cfg = tmp_path / "feeds.yaml"
    cfg.write_text("feeds: []\n")
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    async with FakeDiscord() as discord_fake, FakeSlack() as slack_fake:
        monkeypatch.setattr(AsyncWebClient, "BASE_URL", slack_fake.api_base)
        with discord_fake.patched():

            def check(**env: str) -> Any:
                for k, v in env.items():
                    monkeypatch.setenv(k, v)
                return CliRunner().invoke(app, ["--feeds", str(cfg), "config", "check", "--online"])

            good = await asyncio.to_thread(
                check,
                DISCORD_TOKEN=DISCORD_TOKEN,
                SLACK_BOT_TOKEN="xoxb-test",
                SLACK_APP_TOKEN="xapp-test",
            )
            bad = await asyncio.to_thread(check, SLACK_BOT_TOKEN="xoxb-revoked")
    out = " ".join(good.output.split())
    assert good.exit_code == 0, good.output
    assert "DISCORD_TOKEN is the bot" in out and "SLACK_BOT_TOKEN is the bot user" in out
    assert "SLACK_APP_TOKEN opens Socket Mode connections" in out
    assert bad.exit_code == 1 and "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in bad.output
