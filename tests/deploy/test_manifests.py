"""The Slack app manifests (docs/slack/): their shape against Slack's app-manifest schema, as
far as it can be checked offline, and that the manifests, docs/setup-slack.md and the code
agree on the command, the transport and the bot scopes."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bot.platforms.slack.chat import build_app, run_slack_http
from tests.conftest import REPO

MANIFESTS = {
    "socket": REPO / "docs" / "slack" / "manifest-socket.yaml",
    "http": REPO / "docs" / "slack" / "manifest-http.yaml",
}
SETUP = (REPO / "docs" / "setup-slack.md").read_text(encoding="utf-8")

# Slack's bot-token scope names (a subset of its scope list: those an app like this could
# plausibly ask for). A typo or an invented scope is not among them.
KNOWN_BOT_SCOPES = frozenset(
    {
        "app_mentions:read",
        "bookmarks:read",
        "bookmarks:write",
        "calls:read",
        "calls:write",
        "channels:history",
        "channels:join",
        "channels:manage",
        "channels:read",
        "chat:write",
        "chat:write.customize",
        "chat:write.public",
        "commands",
        "dnd:read",
        "emoji:read",
        "files:read",
        "files:write",
        "groups:history",
        "groups:read",
        "groups:write",
        "im:history",
        "im:read",
        "im:write",
        "incoming-webhook",
        "links:read",
        "links:write",
        "metadata.message:read",
        "mpim:history",
        "mpim:read",
        "mpim:write",
        "pins:read",
        "pins:write",
        "reactions:read",
        "reactions:write",
        "reminders:read",
        "reminders:write",
        "remote_files:read",
        "remote_files:share",
        "remote_files:write",
        "team:read",
        "usergroups:read",
        "usergroups:write",
        "users.profile:read",
        "users:read",
        "users:read.email",
        "users:write",
    }
)
# Slack Web API methods (as slack_sdk names them) -> the bot scopes each needs (None: none;
# conversations.history needs one scope per kind of channel read: public and private).
# A method the code starts calling that is not here fails the scope test below: add it here,
# to both manifests and to the scope table of docs/setup-slack.md.
METHOD_SCOPES: dict[str, str | tuple[str, ...] | None] = {
    "conversations_history": ("channels:history", "groups:history"),
    "chat_postMessage": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_update": "chat:write",
    "chat_delete": "chat:write",
    "users_info": "users:read",
    "users_list": "users:read",
    "conversations_join": "channels:join",
    "reactions_add": "reactions:write",
    "auth_test": None,
}
SLACK_CALL = re.compile(
    r"\.((?:chat|users|conversations|reactions|files|pins|bookmarks|reminders|team|usergroups"
    r"|views|emoji|dnd|auth|apps|search|bots)_[A-Za-z]+)\("
)

TOP_LEVEL = {"_metadata", "display_information", "features", "oauth_config", "settings"}
SLASH_KEYS = {"command", "description", "url", "usage_hint", "should_escape"}
SETTINGS_KEYS = {
    "allowed_ip_address_ranges",
    "event_subscriptions",
    "incoming_webhooks",
    "interactivity",
    "org_deploy_enabled",
    "socket_mode_enabled",
    "token_rotation_enabled",
}


def load(kind: str) -> dict[str, Any]:
    data = yaml.safe_load(MANIFESTS[kind].read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{kind}: not a YAML mapping"
    return data


def bot_scopes(kind: str) -> list[str]:
    return list(load(kind)["oauth_config"]["scopes"]["bot"])


def docs_scopes() -> set[str]:
    """The scopes in the table under "### Bot token scopes" of docs/setup-slack.md."""
    section = SETUP[SETUP.index("### Bot token scopes") :]
    section = section[: section.index("\n## ")]
    scopes: set[str] = set()
    for row in section.splitlines():
        cells = row.split("|")
        if row.startswith("| `") and len(cells) > 2:
            scopes.update(re.findall(r"`([a-z_.:-]+)`", cells[1]))
    assert scopes, "docs/setup-slack.md has no bot scope table"
    return scopes


def code_scopes() -> set[str]:
    """The bot scopes the code needs: one per Slack Web API method it calls, plus `commands`
    for the slash command it registers."""
    needed: set[str] = set()
    for path in (REPO / "bot").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for method in SLACK_CALL.findall(text):
            assert method in METHOD_SCOPES, (
                f"{path.relative_to(REPO)} calls {method}: add its scope to METHOD_SCOPES, the"
                " manifests and docs/setup-slack.md"
            )
            scope = METHOD_SCOPES[method]
            if isinstance(scope, tuple):
                needed.update(scope)
            elif scope:
                needed.add(scope)
        if ".command(" in text and "slack_bolt" in text:
            needed.add("commands")
    return needed


def _default(fn: Any, name: str) -> Any:
    return inspect.signature(fn).parameters[name].default


# -- the schema --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(MANIFESTS))
def test_manifest_shape(kind: str) -> None:
    m = load(kind)
    assert set(m) <= TOP_LEVEL, f"unknown top-level keys {set(m) - TOP_LEVEL}"
    meta = m.get("_metadata", {})
    assert meta.get("major_version") in (1, 2)
    assert isinstance(meta.get("minor_version", 0), int)

    info = m["display_information"]
    assert isinstance(info["name"], str) and 1 <= len(info["name"]) <= 35
    assert len(info.get("description", "")) <= 140
    if "long_description" in info:
        assert 174 < len(info["long_description"]) <= 4000
    if "background_color" in info:
        assert re.fullmatch(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})", info["background_color"])

    features = m["features"]
    bot_user = features["bot_user"]
    assert isinstance(bot_user["display_name"], str) and 1 <= len(bot_user["display_name"]) <= 80
    assert isinstance(bot_user.get("always_online", False), bool)
    commands = features["slash_commands"]
    assert isinstance(commands, list) and commands
    for cmd in commands:
        assert set(cmd) <= SLASH_KEYS, f"unknown slash-command keys {set(cmd) - SLASH_KEYS}"
        assert re.fullmatch(r"/[a-z0-9][a-z0-9_-]{0,30}", cmd["command"]), cmd["command"]
        assert isinstance(cmd["description"], str) and 0 < len(cmd["description"]) <= 2000
        assert len(cmd.get("usage_hint", "")) <= 1000
        assert isinstance(cmd.get("should_escape", False), bool)

    scopes = m["oauth_config"]["scopes"]
    assert set(scopes) <= {"bot", "user"}
    bot = scopes["bot"]
    assert isinstance(bot, list) and bot
    assert len(bot) == len(set(bot)), "a scope is listed twice"
    unknown = set(bot) - KNOWN_BOT_SCOPES
    assert not unknown, f"not Slack bot scopes: {sorted(unknown)}"
    assert not scopes.get("user"), "policybot acts as its bot only: no user scopes"

    settings = m["settings"]
    assert set(settings) <= SETTINGS_KEYS, f"unknown settings {set(settings) - SETTINGS_KEYS}"
    for key in ("org_deploy_enabled", "socket_mode_enabled", "token_rotation_enabled"):
        assert isinstance(settings[key], bool), key
    assert isinstance(settings["interactivity"]["is_enabled"], bool)


@pytest.mark.parametrize("kind", sorted(MANIFESTS))
def test_manifest_matches_the_code(kind: str) -> None:
    m = load(kind)
    (cmd,) = m["features"]["slash_commands"]
    assert cmd["command"] == _default(build_app, "command")  # the command bolt listens to
    settings = m["settings"]
    # the Previous/More buttons under search results are block actions: interactivity on
    assert settings["interactivity"]["is_enabled"] is True
    # the bot keeps its xoxb token for good: rotated tokens would expire after 12 hours
    assert settings["token_rotation_enabled"] is False
    # no listener for events: subscribing to some would only fail their deliveries
    assert "event_subscriptions" not in settings


def test_socket_variant_has_no_request_urls() -> None:
    m = load("socket")
    assert m["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in m["settings"]["interactivity"]
    for cmd in m["features"]["slash_commands"]:
        assert "url" not in cmd


def test_http_variant_points_every_request_at_slack_events() -> None:
    m = load("http")
    assert m["settings"]["socket_mode_enabled"] is False
    path = _default(run_slack_http, "path")
    urls = [cmd["url"] for cmd in m["features"]["slash_commands"]]
    urls.append(m["settings"]["interactivity"]["request_url"])
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme == "https", f"Slack calls only HTTPS addresses: {url}"
        assert parts.netloc and parts.path == path, url
    assert len(set(urls)) == 1


def test_the_two_variants_differ_only_in_transport() -> None:
    def strip(m: dict[str, Any]) -> dict[str, Any]:
        for cmd in m["features"]["slash_commands"]:
            cmd.pop("url", None)
        m["settings"]["interactivity"].pop("request_url", None)
        m["settings"].pop("socket_mode_enabled")
        return m

    assert strip(load("socket")) == strip(load("http"))


# -- the scopes: manifests, docs and code agree ------------------------------------------------


@pytest.mark.parametrize("kind", sorted(MANIFESTS))
def test_manifest_scopes_are_the_documented_ones(kind: str) -> None:
    assert set(bot_scopes(kind)) == docs_scopes()


def test_documented_scopes_are_what_the_code_calls() -> None:
    assert docs_scopes() == code_scopes()


# -- the setup page tells the reader what the manifests and the code expect -------------------


def test_setup_page_names_the_manifests_tokens_and_endpoint() -> None:
    for path in MANIFESTS.values():
        assert str(path.relative_to(REPO / "docs")) in SETUP, f"link {path.name}"
    assert "From a manifest" in SETUP
    assert "`connections:write`" in SETUP  # the app-level token's scope, Socket Mode
    assert "/slack/events" in SETUP
    assert _default(run_slack_http, "path") == "/slack/events"
    for variable in (
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "POLICYBOT_SLACK_MODE",
        "POLICYBOT_SLACK_HTTP_PORT",
        "POLICYBOT_SLACK_ADMINS",
        "policybot config check",
        "/invite @policybot",
        "incoming-webhook",
        "slack-webhook",
    ):
        assert variable in SETUP, variable


def test_manifest_files_say_how_to_use_them() -> None:
    for path in MANIFESTS.values():
        head = path.read_text(encoding="utf-8").split("\n_metadata", 1)[0]
        assert "From a manifest" in head and "setup-slack.md" in head, path.name
    assert Path(MANIFESTS["http"]).read_text(encoding="utf-8").count("policybot.example.com") >= 2
