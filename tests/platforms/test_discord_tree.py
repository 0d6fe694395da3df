"""The /policy command tree as Discord would receive it from tree.sync(), checked against
Discord's limits (discord.py itself accepts some payloads Discord rejects)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bot.commands.spec import COMMANDS
from bot.commands.types import Reply, Request
from bot.platforms.discord.chat import PolicyClient, build_client

# Discord allows letters/digits of any script, '-', '_' and "'"; ours are ASCII, so this
# narrower pattern implies theirs.
NAME = re.compile(r"^[-_'a-z0-9]{1,32}$")
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2


async def _never(request: Request, ctx: Any) -> Reply:
    raise AssertionError("not called")


@pytest.fixture
async def payload() -> list[dict[str, Any]]:
    client = build_client(None, handler=_never, completer=lambda f, p: [], sync_commands=False)
    try:
        return [c.to_dict(client.tree) for c in client.tree.get_commands()]
    finally:
        await client.close()


def _walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    here = f"{path}/{node['name']}"
    out = [(here, node)]
    for opt in node.get("options", ()):
        out.extend(_walk(opt, here))
    return out


def _counted_chars(node: dict[str, Any]) -> int:
    """Discord's 8000: names, descriptions and choice names/values of the whole command."""
    n = len(node["name"]) + len(node.get("description", ""))
    for ch in node.get("choices", ()):
        n += len(ch["name"]) + len(str(ch["value"]))
    return n + sum(_counted_chars(o) for o in node.get("options", ()))


async def test_one_policy_command_with_every_subcommand(payload: list[dict[str, Any]]) -> None:
    assert [c["name"] for c in payload] == ["policy"]
    subs = {o["name"]: o for o in payload[0]["options"]}
    assert set(subs) == set(COMMANDS)
    assert subs["feeds"]["type"] == SUB_COMMAND_GROUP
    assert {o["name"] for o in subs["feeds"]["options"]} == {"list", "status", "add", "remove"}
    assert all(subs[c]["type"] == SUB_COMMAND for c in COMMANDS if c != "feeds")
    # guild only: context 0 (guild) and nothing else
    assert payload[0]["contexts"] == [0]


async def test_names_descriptions_counts(payload: list[dict[str, Any]]) -> None:
    for cmd in payload:
        for path, node in _walk(cmd):
            assert NAME.match(node["name"]), path
            assert node["name"] == node["name"].lower(), path
            desc = node.get("description", "")
            assert 1 <= len(desc) <= 100, (path, desc)
            assert len(node.get("options", ())) <= 25, path
            choices = node.get("choices", ())
            assert len(choices) <= 25, path
            for ch in choices:
                assert 1 <= len(ch["name"]) <= 100, (path, ch)
                assert len(str(ch["value"])) <= 100, (path, ch)
            opts = node.get("options", ())
            # required options must come before optional ones
            req = [o.get("required", False) for o in opts if o["type"] > 2]
            assert req == sorted(req, reverse=True), path
        assert _counted_chars(cmd) <= 8000
        assert len(json.dumps(cmd)) <= 8000


async def test_autocomplete_and_choices_are_where_expected(
    payload: list[dict[str, Any]],
) -> None:
    nodes = dict(_walk(payload[0]))
    assert nodes["/policy/search/jurisdiction"].get("autocomplete") is True
    assert nodes["/policy/search/topic"].get("autocomplete") is True
    assert nodes["/policy/subscribe/jurisdictions"].get("autocomplete") is True
    assert nodes["/policy/subscribe/instruments"].get("autocomplete") is True
    score = nodes["/policy/subscribe/min_score"]
    assert (score["type"], score["min_value"], score["max_value"]) == (10, 0, 1)  # number
    modes = [c["value"] for c in nodes["/policy/subscribe/mode"]["choices"]]
    assert modes == ["instant", "daily", "weekly"]
    assert nodes["/policy/search/share"]["type"] == 5  # boolean
    assert nodes["/policy/digest/hours"]["type"] == 4  # integer
    assert nodes["/policy/digest/hours"]["max_value"] == 720


async def test_client_never_pings() -> None:
    client = build_client(None, handler=_never, completer=lambda f, p: [], sync_commands=False)
    try:
        assert isinstance(client, PolicyClient)
        am = client.allowed_mentions
        assert am is not None
        assert am.to_dict() == {"parse": []}
    finally:
        await client.close()
