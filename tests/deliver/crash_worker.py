"""A delivery worker process for the crash test: drains the outbox to a fake Discord.

    python -m tests.deliver.crash_worker SQLALCHEMY_URL API_BASE [KIND [SLACK_API_BASE]]

KIND is the destination kind to serve: discord (default), discord-webhook, slack or
slack-webhook (webhook URLs come from the environment, as in production).

Does what the real process does at startup (recover rows left in flight), then drains until
the outbox is empty. The test kills it with SIGKILL in the middle.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import discord.http

from bot.deliver.outbox import outbox_depth, recover_in_flight
from bot.deliver.pacing import Pacer
from bot.deliver.worker import Worker
from bot.platforms.discord.send import DiscordBotSender, DiscordWebhookSender
from bot.platforms.slack.send import SlackBotSender, SlackWebhookSender
from bot.store.storage import Storage
from tests.deliver.helpers import simple_alert, simple_digest


async def main(url: str, api_base: str, kind: str = "discord", slack_base: str = "") -> int:
    discord.http.Route.BASE = api_base
    storage = Storage.open(url)
    recover_in_flight(storage)
    sender: Any
    if kind == "discord":
        sender = DiscordBotSender("crash-test-token")
    elif kind == "discord-webhook":
        sender = DiscordWebhookSender()
    elif kind == "slack":
        sender = SlackBotSender("xoxb-test", base_url=slack_base)
    else:
        sender = SlackWebhookSender()
    worker = Worker(
        storage,
        {kind: sender},
        pacer=Pacer({}),
        alert_renderer=simple_alert,
        digest_renderer=simple_digest,
    )
    try:
        while outbox_depth(storage):
            await worker.drain(limit=5)
    finally:
        await sender.aclose()
        storage.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:5])))
