"""`policybot ARGS` with discord.py pointed at a local fake Discord (for the scale-out test).

    python -m tests.app.scaleout_instance run

POLICYBOT_TEST_DISCORD_API and POLICYBOT_TEST_DISCORD_GW name the fake's REST base and
gateway; everything else is the real CLI, runtime, senders and chat adapter.
"""

from __future__ import annotations

import os

import discord.gateway
import discord.http
import yarl

from bot.app.cli import main

if __name__ == "__main__":
    discord.http.Route.BASE = os.environ["POLICYBOT_TEST_DISCORD_API"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(
        os.environ["POLICYBOT_TEST_DISCORD_GW"]
    )
    main()
