"""The fakes work end to end with the real client libraries (gateway, slash commands, Socket
Mode), so the chat-command adapters can build on them."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
from discord import app_commands

from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack


async def test_discord_client_logs_in_syncs_and_answers_a_slash_command() -> None:
    async with FakeDiscord() as fake:
        with fake.patched():
            client = discord.Client(
                intents=discord.Intents.none(),
                guild_ready_timeout=0.1,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            tree = app_commands.CommandTree(client)
            ready = asyncio.Event()
            seen: list[str] = []

            @tree.command(name="ping", description="Answer pong")
            async def ping(interaction: discord.Interaction, word: str) -> None:
                seen.append(word)
                await interaction.response.send_message(f"pong {word}")

            @client.event
            async def on_ready() -> None:
                await tree.sync()
                ready.set()

            task = asyncio.create_task(client.start("bot-token"))
            try:
                await asyncio.wait_for(ready.wait(), 10)
                assert fake.identify and fake.identify[0]["token"] == "bot-token"
                assert [c["name"] for c in fake.commands["global"]] == ["ping"]
                data = fake.interaction("ping", [{"name": "word", "type": 3, "value": "hi"}])
                assert await fake.dispatch("INTERACTION_CREATE", data) == 1
                for _ in range(200):
                    if fake.interaction_callbacks:
                        break
                    await asyncio.sleep(0.01)
                (cb,) = fake.interaction_callbacks
                assert cb["interaction_id"] == data["id"] and cb["token"] == data["token"]
                assert cb["body"]["type"] == 4
                assert cb["body"]["data"]["content"] == "pong hi"
                assert seen == ["hi"]
            finally:
                await client.close()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


async def test_slack_socket_mode_receives_an_envelope_and_acks() -> None:
    from slack_sdk.socket_mode.aiohttp import SocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest
    from slack_sdk.socket_mode.response import SocketModeResponse
    from slack_sdk.web.async_client import AsyncWebClient

    async with FakeSlack() as fake:
        web = AsyncWebClient("xoxb-test", base_url=fake.api_base)
        client = SocketModeClient(app_token="xapp-test", web_client=web)
        got: list[dict[str, Any]] = []

        async def handle(c: SocketModeClient, req: SocketModeRequest) -> None:
            got.append(req.payload)
            await c.send_socket_mode_response(
                SocketModeResponse(envelope_id=req.envelope_id, payload={"text": "ok"})
            )

        client.socket_mode_request_listeners.append(handle)  # type: ignore[arg-type]
        await client.connect()
        try:
            for _ in range(200):
                if fake.connected:
                    break
                await asyncio.sleep(0.01)
            eid = await fake.send_envelope("slash_commands", {"command": "/policy", "text": "help"})
            ack = await fake.wait_ack(eid)
            assert ack["payload"] == {"text": "ok"}
            assert got == [{"command": "/policy", "text": "help"}]
            assert fake.requests_to("POST", "/api/apps.connections.open")
        finally:
            await client.close()
