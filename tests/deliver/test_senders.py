"""Senders over real HTTP (127.0.0.1) through discord.py's and slack_sdk's own HTTP code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import discord.http
import pytest

from bot.deliver.ports import DestinationInfo, Outcome, part_nonce
from bot.platforms.discord.send import DiscordBotSender, DiscordWebhookSender
from bot.platforms.slack.send import SlackBotSender, SlackWebhookSender
from tests.fakes.discord import RATE_LIMIT_HEADERS, FakeDiscord, error_body, rate_limit_body
from tests.fakes.slack import FakeSlack

CHANNEL = "300000000000000001"
EMBED: dict[str, Any] = {
    "title": "EU AI Act: <@123> @everyone",
    "url": "https://example.org/a",
    "description": "Summary with <@&456> and <!channel>",
    "color": 0x2F6FEB,
    "fields": [{"name": "Jurisdictions", "value": "EU", "inline": True}],
    "footer": {"text": "Politico Europe"},
}
DISCORD_PAYLOAD: dict[str, Any] = {
    "content": "New: EU AI Act",
    "embeds": [EMBED],
    # A renderer mistake must not let pings through: the sender overrides this.
    "allowed_mentions": {"parse": ["everyone", "users", "roles"]},
}
SLACK_PAYLOAD: dict[str, Any] = {
    "text": "EU AI Act &lt;!channel&gt;",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*EU AI Act*"}}],
}
BASE_ROUTE = discord.http.Route.BASE


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        with fake.patched():
            yield fake
    assert discord.http.Route.BASE == BASE_ROUTE  # restored for the other tests


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


def dest(platform: str, channel: str = CHANNEL, webhook_env: str = "") -> DestinationInfo:
    return DestinationInfo(id=1, platform=platform, channel=channel, webhook_env=webhook_env)


# -- Discord bot ------------------------------------------------------------------------------


async def test_discord_bot_posts_with_nonce_and_no_mentions(fake_discord: FakeDiscord) -> None:
    sender = DiscordBotSender("bot-token")
    try:
        res = await sender.send(
            dest("discord"), [DISCORD_PAYLOAD, DISCORD_PAYLOAD], "abc", first_part=3
        )
    finally:
        await sender.aclose()
    assert res.outcome is Outcome.SENT and res.delivered == 2
    login = fake_discord.requests_to("GET", "/api/v10/users/@me")
    assert len(login) == 1 and login[0].header("Authorization") == "Bot bot-token"
    posts = fake_discord.requests_to("POST", f"/api/v10/channels/{CHANNEL}/messages")
    assert len(posts) == 2
    assert posts[0].header("Content-Type") == "application/json"
    body = posts[0].json
    assert body["content"] == "New: EU AI Act"
    assert body["embeds"] == [EMBED]
    assert body["allowed_mentions"] == discord.AllowedMentions.none().to_dict()
    assert body["nonce"] == part_nonce("abc", 3) == "abc-3"
    assert posts[1].json["nonce"] == "abc-4"
    assert body["enforce_nonce"] is True
    assert len(fake_discord.messages_in(CHANNEL)) == 2
    assert res.message_ids == tuple(m["id"] for m in fake_discord.messages_in(CHANNEL))


async def test_discord_same_nonce_is_posted_once(fake_discord: FakeDiscord) -> None:
    sender = DiscordBotSender("t")
    try:
        a = await sender.send(dest("discord"), [DISCORD_PAYLOAD], "n1")
        b = await sender.send(dest("discord"), [DISCORD_PAYLOAD], "n1")  # a resend
    finally:
        await sender.aclose()
    assert a.ok and b.ok and a.message_ids == b.message_ids
    assert len(fake_discord.requests_to("POST", "/api/v10/channels/")) == 2
    assert len(fake_discord.messages) == 1


async def test_discord_short_429_is_retried_by_discord_py(fake_discord: FakeDiscord) -> None:
    fake_discord.fail_next(
        "POST", "/api/v10/channels/", 429, rate_limit_body(0.05), headers=RATE_LIMIT_HEADERS
    )
    sender = DiscordBotSender("t")
    try:
        res = await sender.send(dest("discord"), [DISCORD_PAYLOAD], "n")
    finally:
        await sender.aclose()
    assert res.ok
    assert len(fake_discord.requests_to("POST", "/api/v10/channels/")) == 2
    assert len(fake_discord.messages) == 1


async def test_discord_long_429_is_transient_with_retry_after(fake_discord: FakeDiscord) -> None:
    fake_discord.fail_next(
        "POST",
        "/api/v10/channels/",
        429,
        rate_limit_body(120.0),
        headers={**RATE_LIMIT_HEADERS, "Retry-After": "120"},
    )
    sender = DiscordBotSender("t", max_ratelimit_timeout=30)
    try:
        res = await sender.send(dest("discord"), [DISCORD_PAYLOAD], "n")
    finally:
        await sender.aclose()
    assert res.outcome is Outcome.TRANSIENT and res.delivered == 0
    assert res.retry_after == pytest.approx(120.0)
    assert fake_discord.messages == []


async def test_discord_cloudflare_429_without_via_backs_off(fake_discord: FakeDiscord) -> None:
    fake_discord.fail_next(
        "POST", "/api/v10/channels/", 429, rate_limit_body(1.0), headers={"Retry-After": "900"}
    )
    sender = DiscordBotSender("t")
    try:
        res = await sender.send(dest("discord"), [DISCORD_PAYLOAD], "n")
    finally:
        await sender.aclose()
    assert res.outcome is Outcome.TRANSIENT and res.retry_after == pytest.approx(900.0)
    assert len(fake_discord.requests_to("POST", "/api/v10/channels/")) == 1  # no hammering


async def test_discord_500_is_retried_then_succeeds(fake_discord: FakeDiscord) -> None:
    fake_discord.fail_next("POST", "/api/v10/channels/", 500, {"message": "oops", "code": 0})
    sender = DiscordBotSender("t")
    try:
        res = await sender.send(dest("discord"), [DISCORD_PAYLOAD], "n")
    finally:
        await sender.aclose()
    assert res.ok and len(fake_discord.messages) == 1


async def test_discord_503_is_transient(fake_discord: FakeDiscord) -> None:
    fake_discord.fail_next("POST", "/api/v10/channels/", 503, {"message": "down", "code": 0})
    sender = DiscordBotSender("t")
    try:
        res = await sender.send(dest("discord"), [DISCORD_PAYLOAD], "n")
    finally:
        await sender.aclose()
    assert res.outcome is Outcome.TRANSIENT and "503" in (res.error or "")


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        (403, 50001, Outcome.PERMANENT),
        (403, 50013, Outcome.PERMANENT),
        (404, 10003, Outcome.PERMANENT),
        (400, 50035, Outcome.REJECTED),
    ],
)
async def test_discord_errors_are_classified(
    fake_discord: FakeDiscord, status: int, code: int, outcome: Outcome
) -> None:
    fake_discord.break_channel(CHANNEL, status, code)
    sender = DiscordBotSender("t")
    try:
        res = await sender.send(dest("discord"), [DISCORD_PAYLOAD], "n")
    finally:
        await sender.aclose()
    assert res.outcome is outcome
    assert str(code) in (res.error or "")
    assert len(fake_discord.requests_to("POST", "/api/v10/channels/")) == 1


async def test_discord_bad_token_is_permanent(fake_discord: FakeDiscord) -> None:
    fake_discord.fail_next("GET", "/api/v10/users/@me", 401, error_body(0, "401: Unauthorized"))
    sender = DiscordBotSender("wrong")
    try:
        res = await sender.send(dest("discord"), [DISCORD_PAYLOAD], "n")
    finally:
        await sender.aclose()
    assert res.outcome is Outcome.PERMANENT and "token" in (res.error or "")


async def test_discord_connection_refused_is_transient() -> None:
    fake = FakeDiscord()
    await fake.start()
    await fake.stop()  # the port is now closed
    with fake.patched():
        sender = DiscordBotSender("t")
        try:
            res = await sender.send(dest("discord"), [DISCORD_PAYLOAD], "n")
        finally:
            await sender.aclose()
    assert res.outcome is Outcome.TRANSIENT


# -- Discord webhooks -------------------------------------------------------------------------


async def test_discord_webhook_posts_and_waits(
    fake_discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", fake_discord.webhook_url(123456789012345678, "k" * 68))
    sender = DiscordWebhookSender()
    try:
        res = await sender.send(dest("discord-webhook", "", "HOOK_URL"), [DISCORD_PAYLOAD], "n")
    finally:
        await sender.aclose()
    assert res.ok and res.delivered == 1
    (req,) = fake_discord.requests_to("POST", "/api/v10/webhooks/123456789012345678/")
    assert req.path.endswith("/" + "k" * 68)
    assert req.query["wait"] == "1"
    assert req.json["content"] == "New: EU AI Act"
    assert req.json["allowed_mentions"] == {"parse": []}
    (embed,) = req.json["embeds"]
    for key, value in EMBED.items():
        assert embed[key] == value, key
    assert res.message_ids == (fake_discord.messages[0]["id"],)


async def test_discord_webhook_unknown_is_permanent(
    fake_discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", fake_discord.webhook_url(123456789012345678))
    fake_discord.break_channel("123456789012345678", 404, 10015)
    sender = DiscordWebhookSender()
    try:
        res = await sender.send(dest("discord-webhook", "", "HOOK_URL"), [DISCORD_PAYLOAD], "n")
    finally:
        await sender.aclose()
    assert res.outcome is Outcome.PERMANENT and "10015" in (res.error or "")


async def test_discord_webhook_429_then_ok(
    fake_discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", fake_discord.webhook_url(123456789012345678))
    fake_discord.fail_next(
        "POST", "/api/v10/webhooks/", 429, rate_limit_body(0.05), headers=RATE_LIMIT_HEADERS
    )
    sender = DiscordWebhookSender()
    try:
        res = await sender.send(dest("discord-webhook", "", "HOOK_URL"), [DISCORD_PAYLOAD], "n")
    finally:
        await sender.aclose()
    assert res.ok and len(fake_discord.messages) == 1


async def test_discord_webhook_missing_or_bad_url_is_permanent(
    fake_discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = DiscordWebhookSender()
    try:
        monkeypatch.delenv("NO_SUCH_HOOK", raising=False)
        missing = await sender.send(dest("discord-webhook", "", "NO_SUCH_HOOK"), [{}], "n")
        monkeypatch.setenv("BAD_HOOK", "https://example.org/not-a-webhook")
        bad = await sender.send(dest("discord-webhook", "", "BAD_HOOK"), [{}], "n")
    finally:
        await sender.aclose()
    assert missing.outcome is Outcome.PERMANENT and "NO_SUCH_HOOK" in (missing.error or "")
    assert bad.outcome is Outcome.PERMANENT and "BAD_HOOK" in (bad.error or "")
    assert fake_discord.requests == []


# -- Slack bot ---------------------------------------------------------------------------------


async def test_slack_post_message_fields(fake_slack: FakeSlack) -> None:
    sender = SlackBotSender("xoxb-test", base_url=fake_slack.api_base)
    try:
        res = await sender.send(dest("slack", "C0NEWS"), [SLACK_PAYLOAD], "n")
    finally:
        await sender.aclose()
    assert res.ok and res.delivered == 1
    (req,) = fake_slack.requests_to("POST", "/api/chat.postMessage")
    assert req.header("Authorization") == "Bearer xoxb-test"
    assert req.json["channel"] == "C0NEWS"
    assert req.json["text"] == SLACK_PAYLOAD["text"]
    assert req.json["blocks"] == SLACK_PAYLOAD["blocks"]
    assert req.json["unfurl_links"] is False and req.json["unfurl_media"] is False
    assert res.message_ids == (fake_slack.posts[0]["ts"],)


async def test_slack_429_is_transient_with_retry_after(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next(
        "POST",
        "/api/chat.postMessage",
        429,
        {"ok": False, "error": "ratelimited"},
        headers={"Retry-After": "7"},
    )
    sender = SlackBotSender("xoxb-test", base_url=fake_slack.api_base)
    try:
        res = await sender.send(dest("slack", "C1"), [SLACK_PAYLOAD], "n")
    finally:
        await sender.aclose()
    assert res.outcome is Outcome.TRANSIENT and res.retry_after == pytest.approx(7.0)
    assert fake_slack.posts == []


async def test_slack_500_is_transient(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next(
        "POST", "/api/chat.postMessage", 500, "<html>oops</html>", content_type="text/html"
    )
    sender = SlackBotSender("xoxb-test", base_url=fake_slack.api_base)
    try:
        res = await sender.send(dest("slack", "C1"), [SLACK_PAYLOAD], "n")
    finally:
        await sender.aclose()
    assert res.outcome is Outcome.TRANSIENT


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        ("channel_not_found", Outcome.PERMANENT),
        ("not_in_channel", Outcome.PERMANENT),
        ("is_archived", Outcome.PERMANENT),
        ("invalid_blocks", Outcome.REJECTED),
        ("internal_error", Outcome.TRANSIENT),
    ],
)
async def test_slack_errors_are_classified(
    fake_slack: FakeSlack, error: str, outcome: Outcome
) -> None:
    fake_slack.break_channel("C1", error)
    sender = SlackBotSender("xoxb-test", base_url=fake_slack.api_base)
    try:
        res = await sender.send(dest("slack", "C1"), [SLACK_PAYLOAD], "n")
    finally:
        await sender.aclose()
    assert res.outcome is outcome and error in (res.error or "")


async def test_slack_bad_token_is_permanent(fake_slack: FakeSlack) -> None:
    sender = SlackBotSender("xoxb-revoked", base_url=fake_slack.api_base)
    try:
        res = await sender.send(dest("slack", "C1"), [SLACK_PAYLOAD], "n")
    finally:
        await sender.aclose()
    assert res.outcome is Outcome.PERMANENT and "invalid_auth" in (res.error or "")


# -- Slack incoming webhooks ---------------------------------------------------------------------


async def test_slack_webhook_posts(fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_HOOK", fake_slack.webhook_url("T1/B1/abc"))
    sender = SlackWebhookSender()
    res = await sender.send(dest("slack-webhook", "", "SLACK_HOOK"), [SLACK_PAYLOAD], "n")
    assert res.ok
    (post,) = fake_slack.webhook_posts
    assert post["_path"] == "T1/B1/abc"
    assert post["text"] == SLACK_PAYLOAD["text"] and post["blocks"] == SLACK_PAYLOAD["blocks"]


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (404, "no_service", Outcome.PERMANENT),
        (403, "invalid_token", Outcome.PERMANENT),
        (410, "channel_is_archived", Outcome.PERMANENT),
        (400, "invalid_payload", Outcome.REJECTED),
        (500, "server error", Outcome.TRANSIENT),
    ],
)
async def test_slack_webhook_errors(
    fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, status: int, body: str, outcome: Outcome
) -> None:
    monkeypatch.setenv("SLACK_HOOK", fake_slack.webhook_url("T1/B1/abc"))
    fake_slack.break_webhook("T1/B1/abc", status, body)
    res = await SlackWebhookSender().send(
        dest("slack-webhook", "", "SLACK_HOOK"), [SLACK_PAYLOAD], "n"
    )
    assert res.outcome is outcome and body in (res.error or "")


async def test_slack_webhook_429(fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_HOOK", fake_slack.webhook_url("T1/B1/abc"))
    fake_slack.fail_next(
        "POST",
        "/services/",
        429,
        "rate_limited",
        content_type="text/html",
        headers={"Retry-After": "30"},
    )
    res = await SlackWebhookSender().send(
        dest("slack-webhook", "", "SLACK_HOOK"), [SLACK_PAYLOAD], "n"
    )
    assert res.outcome is Outcome.TRANSIENT and res.retry_after == pytest.approx(30.0)
