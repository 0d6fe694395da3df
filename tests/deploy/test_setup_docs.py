"""docs/setup-discord.md says what the code needs: its intents, the permissions of what it
calls on Discord (with their integers), the scopes of the invite link; and the README points
at both setup pages."""

from __future__ import annotations

import re
from typing import Any

import discord
import pytest

from bot.platforms.discord.chat import build_client
from tests.conftest import REPO

SETUP = (REPO / "docs" / "setup-discord.md").read_text(encoding="utf-8")
README = (REPO / "README.md").read_text(encoding="utf-8")
FLAT = " ".join(SETUP.split())  # the page with its line breaks undone
# The permissions table of the setup page, by the names Discord shows, as discord.py names them.
PERMISSIONS = {
    "View Channels": "view_channel",
    "Send Messages": "send_messages",
    "Embed Links": "embed_links",
}
# discord.py HTTP calls the code makes -> what they need beyond the permissions above. A new
# call (threads, reactions, history...) fails this test until the page says what it needs.
DISCORD_HTTP_CALLS = {"send_message", "static_login", "close"}
# Threads, forum posts (and their tags): documented with their permissions under step 3.
DISCORD_HTTP_CALLS |= {"start_thread_with_message", "start_thread_in_forum", "get_channel"}
# The parts of a quoted message that are values, not the message: the example subscription and
# webhook names, a token's name, Discord close codes, Slack error codes.
VARIABLE_PARTS = (
    r"eu-and-china|SLACK_WEBHOOK_POLICY|DISCORD_WEBHOOK_POLICY|DISCORD_TOKEN|\bdiscord\b"
    r"|\(code \d+\)|\([a-z_]+\)|\$"
)


def _table(after: str) -> list[list[str]]:
    section = SETUP[SETUP.index(after) :]
    rows: list[list[str]] = []
    for line in section.splitlines()[1:]:
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
        elif rows:
            break
    return rows[1:]  # without the rule under the header


def test_the_client_requests_no_privileged_intent_as_documented() -> None:
    import discord

    client = build_client(None, handler=_never, completer=lambda f, p: [], sync_commands=False)
    guilds_only = discord.Intents.none()
    guilds_only.guilds = True
    assert client.intents.value == guilds_only.value  # Guilds: not privileged
    assert "only for the Guilds intent, which is not" in FLAT
    assert "leave all three **off**" in FLAT
    for name in ("Presence Intent", "Server Members Intent", "Message Content Intent"):
        assert name in FLAT


async def _never(request: Any, ctx: Any) -> Any:
    raise AssertionError("not called")


def test_permission_integers_and_the_invite_link() -> None:
    rows = _table("| permission | value | why |")
    named = {row[0]: row[1] for row in rows if not row[0].startswith("**")}
    assert set(named) == set(PERMISSIONS)
    total = 0
    for name, attr in PERMISSIONS.items():
        value = discord.Permissions(**{attr: True}).value
        assert int(named[name]) == value, f"{name} is {value}"
        total += value
    total_row = next(row for row in rows if row[0] == "**total**")
    assert int(total_row[1].strip("*")) == total == 19456
    link = re.search(r"https://discord\.com/oauth2/authorize\?\S+", SETUP)
    assert link, "the invite link"
    assert "scope=bot+applications.commands" in link.group(0)
    assert f"permissions={total}" in link.group(0)
    threads = discord.Permissions(send_messages_in_threads=True).value
    assert f"({threads})" in SETUP and f"{total + threads}" in SETUP
    # post_as thread: starting threads too; pings of a role that is not mentionable
    start = discord.Permissions(create_public_threads=True).value
    assert f"Create Public Threads** ({start})" in SETUP and f"{total + threads + start}" in SETUP
    assert f"Mention Everyone ({discord.Permissions(mention_everyone=True).value})" in FLAT


def test_the_code_calls_nothing_that_needs_more_permissions() -> None:
    calls: set[str] = set()
    for path in (REPO / "bot").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "discord" not in text:
            continue
        calls.update(re.findall(r"\bhttp\.([a-z_]+)\(", text))
        # REST helpers on channels and messages that would need other permissions
        for helper in ("create_thread", "add_reaction", "history", "create_webhook", "pin"):
            assert f".{helper}(" not in text, f"{path}: {helper} needs a documented permission"
    assert calls <= DISCORD_HTTP_CALLS, calls - DISCORD_HTTP_CALLS


@pytest.mark.parametrize(
    "text",
    [
        "`bot`",
        "`applications.commands`",
        "DISCORD_TOKEN",
        "policybot config check",
        "discord-webhook",
        "Manage Server",
        "Manage Channels",
        # the code's own messages, quoted in Troubleshooting
        "Discord rejected DISCORD_TOKEN",
        "These commands work in a server channel, not in DMs.",
        "Changing subscriptions and feeds needs the Manage Server or Manage Channels permission.",
    ],
)
def test_setup_page_mentions(text: str) -> None:
    assert text in FLAT


def test_quoted_messages_are_the_codes() -> None:
    """The Troubleshooting rows quote messages from the code: each must still be there."""
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "bot").rglob("*.py"))
    flat = " ".join(re.sub(r'"\s*\n\s*f?"', "", sources).split())
    for page in ("setup-discord.md", "setup-slack.md"):
        text = (REPO / "docs" / page).read_text(encoding="utf-8")
        section = text[text.index("## Troubleshooting") :]
        for row in section.splitlines():
            if not row.startswith("| `"):
                continue
            quoted = row.split("|")[1].strip()
            first = re.match(r"`([^`]+)`", quoted)
            assert first
            message = first.group(1)
            if message.startswith(("Discord 4", "Slack 2", "Slack 4")):
                continue  # the platform's own error, formatted by the senders
            # the code's message, with the example values of the page in its placeholders
            for stretch in re.split(VARIABLE_PARTS, message):
                if len(stretch.strip(" .")) > 12:
                    assert stretch.strip(" .") in flat, f"{page}: {message!r} is not the code's"


def test_readme_links_both_setup_pages() -> None:
    assert "docs/setup-discord.md" in README
    assert "docs/setup-slack.md" in README
