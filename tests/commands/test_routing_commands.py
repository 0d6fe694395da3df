"""The mute, unmute and preview commands and subscribe's routing options, through the real
handlers and the CLI: mistakes answered with what to type, help listing them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.app.cli import app
from bot.clock import utcnow
from bot.commands import CommandContext, handle
from bot.commands.types import Caller, Reply, Request
from bot.store.storage import Storage
from tests.deliver.helpers import NOW
from tests.deliver.routing_world import World, item

ADMIN = Caller("discord", "u1", scope="guildA", channel="chan1", is_admin=True)
USER = Caller("discord", "u2", scope="guildA", channel="chan1", is_admin=False)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    storage = Storage.open(f"sqlite:///{tmp_path / 'c.db'}")
    w = World.make(storage)
    w.poll("EDPB", [item("Cookie opinion"), item("EU AI crypto guidance")])
    w.poll("Wire", [item("EU AI Act news"), item("Weather")])
    yield w
    storage.close()


class Clock:
    now = NOW + timedelta(hours=1)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctx(world: World, clock: Clock) -> CommandContext:
    return CommandContext.of(world.storage, clock=clock)


async def run(ctx: CommandContext, name: str, caller: Caller = ADMIN, /, **args: Any) -> Reply:
    return await handle(Request(name, args, caller), ctx)


async def test_subscribe_with_feeds_and_exclusions(ctx: CommandContext) -> None:
    r = await run(
        ctx,
        "subscribe",
        feeds="tag:PRIVACY, wire",
        exclude="crypto",
        exclude_jurisdictions="USA",
        exclude_topics="export-controls",
    )
    assert not r.error, r.text
    (row,) = (await run(ctx, "subscriptions")).table.rows  # type: ignore[union-attr]
    assert row[4] == "tag:privacy, Wire"  # spelt as stored
    assert row[5] == 'US, export-controls, "crypto"'
    # The same again, in another order and case: refused with a pointer to the first.
    again = await run(
        ctx,
        "subscribe",
        feeds="Wire, tag:privacy",
        exclude="Crypto",
        exclude_jurisdictions="US",
        exclude_topics="export-controls",
    )
    assert again.error and "same subscription already (id 1)" in again.text
    # ...but another exclusion makes another subscription.
    other = await run(ctx, "subscribe", feeds="Wire, tag:privacy", exclude="bitcoin")
    assert not other.error, other.text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"feeds": "EDBP"}, "no feed is called 'EDBP'"),
        ({"feeds": "tag:nope"}, "no feed has the tag 'nope'"),
        ({"feeds": "tag:"}, "tag: needs a tag name"),
        ({"exclude_jurisdictions": "Narnia"}, "unknown jurisdiction"),
        ({"jurisdictions": "EU", "exclude_jurisdictions": "EU"}, "EU is both in `jurisdictions`"),
        ({"keywords": "AI", "exclude": "ai"}, "AI is both in `keywords` and in `exclude`"),
    ],
)
async def test_subscribe_and_preview_mistakes(
    ctx: CommandContext, args: dict[str, str], expected: str
) -> None:
    for command in ("subscribe", "preview"):
        r = await run(ctx, command, **args)
        assert r.error and expected in r.text, (command, r.text)
    bad = await run(ctx, "subscribe", feeds="EDBP")
    assert "EDPB" in bad.suggestions


async def test_mute_and_unmute(ctx: CommandContext, world: World, clock: Clock) -> None:
    nothing = await run(ctx, "mute", duration="7d")
    assert nothing.error and "no subscriptions" in nothing.text
    assert not (await run(ctx, "subscribe", feeds="EDPB")).error
    denied = await run(ctx, "mute", USER, duration="7d")
    assert denied.error and "only server/workspace admins" in denied.text
    for bad, expected in (
        ("", "say for how long"),
        ("7 days", "not a duration"),
        ("100d", "from 1m to 90d"),
    ):
        r = await run(ctx, "mute", duration=bad)
        assert r.error and expected in r.text, r.text
    assert "no subscription 9" in (await run(ctx, "mute", duration="1d", subscription=9)).text
    ok = await run(ctx, "mute", duration="2d")
    assert not ok.error and "muted until 2026-11-22 13:00 UTC" in ok.text and not ok.ephemeral
    world.poll("EDPB", [item("Held opinion")], now=NOW + timedelta(hours=2))
    assert world.routed() == []
    clock.now = NOW + timedelta(hours=3)
    done = await run(ctx, "unmute")
    assert not done.error and "1 held-back story is posted as one digest" in done.text
    again = await run(ctx, "unmute")
    assert again.error and "not muted" in again.text
    sub = await run(ctx, "mute", duration="1h", subscription=1)
    assert "Subscription 1 is muted until" in sub.text
    assert "(muted until" in str((await run(ctx, "subscriptions")).table)


async def test_preview_pages_and_says_when_nothing_matches(ctx: CommandContext) -> None:
    r = await run(ctx, "preview", feeds="tag:privacy")
    assert "would have posted 2 stories in the last 7 days" in r.text
    assert sorted(s.title for s in r.stories) == ["Cookie opinion", "EU AI crypto guidance"]
    r = await run(ctx, "preview", USER, filters="jurisdictions:EU exclude:crypto")
    assert [s.title for s in r.stories] == ["EU AI Act news"]  # everyone may preview
    none = await run(ctx, "preview", keywords="nothing-like-this")
    assert "would have posted nothing" in none.text and not none.error
    bad = await run(ctx, "preview", filters="nonsense:1")
    assert bad.error


async def test_help_lists_the_new_commands(ctx: CommandContext) -> None:
    r = await run(ctx, "help")
    names = [row[0] for row in r.table.rows]  # type: ignore[union-attr]
    assert {"mute", "unmute", "preview"} <= set(names)
    assert "feeds:tag:privacy" in (await run(ctx, "help", command="subscribe")).text


def test_cli_subscribe_mute_preview(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = str(world.storage.engine.url)
    monkeypatch.setenv("POLICYBOT_DATABASE_URL", url)
    monkeypatch.setenv("POLICYBOT_FEEDS", str(tmp_path / "absent.yaml"))
    r = CliRunner()
    dest = ["--platform", "slack", "--scope", "T1", "--channel", "C1"]
    ok = r.invoke(
        app,
        ["subscriptions", "add", *dest, "--feeds", "tag:privacy", "--exclude", "crypto", "--json"],
    )
    assert ok.exit_code == 0, ok.output
    row = json.loads(ok.output)["table"]["rows"][0]
    assert row[4] == "tag:privacy" and row[5] == '"crypto"'
    bad = r.invoke(app, ["subscriptions", "add", *dest, "--feeds", "Nope"])
    assert bad.exit_code == 2 and "no feed is called 'Nope'" in bad.output
    muted = r.invoke(app, ["subscriptions", "mute", "3d", *dest])
    assert muted.exit_code == 0 and "is muted until" in muted.output, muted.output
    bad = r.invoke(app, ["subscriptions", "mute", "3 days", *dest])
    assert bad.exit_code == 2 and "not a duration" in bad.output
    unmuted = r.invoke(app, ["subscriptions", "unmute", *dest])
    assert unmuted.exit_code == 0 and "no longer muted" in unmuted.output, unmuted.output
    # The CLI's clock is the real one: stories of today, one held out by the exclusion.
    today = utcnow()
    fresh = [
        item("Fresh cookie opinion", published=today),
        item("Fresh crypto opinion", published=today),
    ]
    world.poll("EDPB", fresh, now=today)
    shown = r.invoke(
        app,
        ["subscriptions", "preview", "--feeds", "tag:privacy", "--exclude", "crypto", "--json"],
    )
    assert shown.exit_code == 0, shown.output
    titles = [s["title"] for s in json.loads(shown.output)["stories"]]
    assert "Fresh cookie opinion" in titles and "Fresh crypto opinion" not in titles
    helped = r.invoke(app, ["subscriptions", "--help"])
    assert "mute" in helped.output and "preview" in helped.output
