"""A delivery worker process for the crash test: drains the outbox to a fake Discord.

    python -m tests.deliver.crash_worker SQLALCHEMY_URL API_BASE

Does what the real process does at startup (recover rows left in flight), then drains until
the outbox is empty. The test kills it with SIGKILL in the middle.
"""

from __future__ import annotations

import asyncio
import sys

import discord.http

from bot.deliver.worker import Pacer, Worker, outbox_depth, recover_in_flight
from bot.platforms.discord.send import DiscordBotSender
from bot.store.storage import Storage
from tests.deliver.helpers import simple_alert, simple_digest


async def main(url: str, api_base: str) -> int:
    discord.http.Route.BASE = api_base
    storage = Storage.open(url)
    recover_in_flight(storage)
    sender = DiscordBotSender("crash-test-token")
    worker = Worker(
        storage,
        {"discord": sender},
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
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
