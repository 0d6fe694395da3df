"""`policybot discord ...`: help with setting up the Discord application."""

from __future__ import annotations

import json

import typer

from bot.app.cli.base import app, cli_settings, console, fail

discord_app = typer.Typer(help="Discord set-up helpers (see docs/setup-discord.md).")
app.add_typer(discord_app, name="discord")


@discord_app.command("invite")
def invite(
    ctx: typer.Context,
    client_id: str | None = typer.Option(
        None,
        "--client-id",
        help="The Application ID (Developer Portal > General Information); default: read"
        " from DISCORD_TOKEN.",
    ),
    threads: bool = typer.Option(False, "--threads", help="Also ask for Send Messages in Threads."),
    guild: str | None = typer.Option(None, "--guild", help="Preselect this server id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: url, permissions, scopes."),
) -> None:
    """Print the link that adds the bot to a server, with exactly the permissions it uses."""
    from bot.platforms.discord.invite import SCOPES, client_id_from_token, invite_url, permissions

    if client_id is None:
        token = cli_settings(ctx).discord_token
        client_id = client_id_from_token(token.get_secret_value()) if token else None
        if client_id is None:
            fail(
                "give --client-id (Developer Portal > your application > General Information"
                " > Application ID), or set DISCORD_TOKEN"
            )
    if not client_id.isdigit():
        fail(f"--client-id must be the numeric Application ID, not {client_id!r}")
    url = invite_url(client_id, threads=threads, guild_id=guild)
    if as_json:
        perms = permissions(threads=threads)
        print(json.dumps({"url": url, "permissions": perms, "scopes": list(SCOPES)}))
        return
    console.print(url, highlight=False, soft_wrap=True)
