"""The invite link a server admin opens to add the bot, with exactly the permissions it uses.

The bot posts embeds to channels (alerts and digests) and answers slash commands (which need
no channel permission: interaction replies go through the interaction): View Channels, Send
Messages and Embed Links, and Send Messages in Threads only when asked.
"""

from __future__ import annotations

from urllib.parse import urlencode

# Discord's permission bits (developer docs, "Permissions"): the ones the bot uses.
PERMISSION_BITS = {
    "View Channels": 1 << 10,  # see the channel it posts to
    "Send Messages": 1 << 11,  # post alerts and digests
    "Embed Links": 1 << 14,  # alerts and digests are embeds
}
# Only for a subscription that posts into a thread.
OPTIONAL_BITS = {"Send Messages in Threads": 1 << 38}
SCOPES = ("bot", "applications.commands")  # the bot user, and the /policy command


def permissions(*, threads: bool = False) -> int:
    """The permissions integer of the invite link."""
    bits = dict(PERMISSION_BITS)
    if threads:
        bits.update(OPTIONAL_BITS)
    total = 0
    for bit in bits.values():
        total |= bit
    return total


def invite_url(client_id: str, *, threads: bool = False, guild_id: str | None = None) -> str:
    """The OAuth2 link that adds the bot (application `client_id`) to a server."""
    query = {
        "client_id": client_id,
        "scope": " ".join(SCOPES),
        "permissions": str(permissions(threads=threads)),
    }
    if guild_id:
        query["guild_id"] = guild_id
        query["disable_guild_select"] = "true"
    return "https://discord.com/oauth2/authorize?" + urlencode(query)


def client_id_from_token(token: str) -> str | None:
    """The application id a bot token starts with (its first part is the id, base64)."""
    import base64
    import binascii

    head = token.strip().split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return raw if raw.isdigit() else None
