"""The invite link asks for exactly the permissions the bot uses, by name."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import discord
from typer.testing import CliRunner

from bot.app.cli import app
from bot.platforms.discord import invite


def test_the_permissions_integer_is_the_named_permissions() -> None:
    expected = discord.Permissions(view_channel=True, send_messages=True, embed_links=True)
    assert invite.permissions() == expected.value == 19456
    with_threads = discord.Permissions(expected.value, send_messages_in_threads=True)
    assert invite.permissions(threads=True) == with_threads.value
    # Nothing an alert bot has no use for: no admin, no mentions of everyone, no managing.
    perms = discord.Permissions(invite.permissions(threads=True))
    assert not (perms.administrator or perms.mention_everyone or perms.manage_messages)


def test_the_cli_prints_the_link() -> None:
    result = CliRunner().invoke(
        app, ["discord", "invite", "--client-id", "123456789012345678", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    query = parse_qs(urlsplit(data["url"]).query)
    assert query["client_id"] == ["123456789012345678"]
    assert query["scope"] == ["bot applications.commands"]
    assert query["permissions"] == ["19456"] and data["permissions"] == 19456


def test_a_bad_client_id_is_one_line() -> None:
    result = CliRunner().invoke(app, ["discord", "invite", "--client-id", "my-bot"])
    assert result.exit_code == 2 and "numeric Application ID" in result.output


def test_the_client_id_is_read_from_the_token() -> None:
    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.abcdefghijklmnopqrstuvwxyz0123456789AB"
    assert invite.client_id_from_token(token) == "123456789012345678"
    assert invite.client_id_from_token("not-a-token") is None
