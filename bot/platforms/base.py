"""The contract every platform package implements (after errbot's one backend per platform).

A platform renders the neutral values of `bot.types` (an alert, a digest) and command
replies into its own payloads, checks them against its limits, builds the senders for its
destination kinds, knows how fast one destination may be posted to, checks credentials, and
runs its chat adapter. Adding a platform (Matrix, Teams, email) means adding one package with
one `Platform` object and listing it in `bot.platforms.PLATFORMS`.

Nothing here imports a platform SDK: each package imports discord.py or slack_sdk lazily,
inside the methods that need it, so the CLI starts without them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from bot.commands.types import Reply
from bot.deliver.ports import DestinationInfo, Sender, SendResult
from bot.types import Digest, FeedNotice, StoryPost


class Credentials(Protocol):
    """What a platform reads from the settings: secrets as plain strings, or None."""

    def secret(self, name: str) -> str | None: ...


class Platform(Protocol):
    """One chat platform: rendering, limits, senders, pacing, credentials."""

    name: str  # "discord", "slack", "console"
    kinds: tuple[str, ...]  # destination kinds it serves, e.g. ("discord", "discord-webhook")
    # Seconds between two posts to one destination of each kind (the platform's rate limit,
    # with margin), used by the delivery worker's pacer.
    pacing: Mapping[str, float]

    def render_alert(self, post: StoryPost) -> list[Any]:
        """The payloads (messages) of one story's alert."""
        ...

    def render_digest(self, digest: Digest) -> list[Any]:
        """The payloads of a digest, split to fit the platform's limits."""
        ...

    def render_reply(self, reply: Reply) -> list[Any]:
        """The payloads of a command reply."""
        ...

    def render_notice(self, notice: FeedNotice) -> list[Any]:
        """The payloads of a feed-health notice (warning, moved, recovered)."""
        ...

    def with_feedback(self, payloads: list[Any], story_id: int) -> list[Any]:
        """An alert's payloads with a "Not relevant" button, for bot destinations (a
        platform without interactive messages returns them unchanged)."""
        ...

    def validate(self, payload: Any) -> list[str]:
        """Problems of one payload against the platform's documented limits (empty: fine)."""
        ...

    def senders(self, credentials: Mapping[str, str | None]) -> dict[str, Sender]:
        """A sender per destination kind the credentials allow (webhooks need none)."""
        ...

    def credential_problems(self, credentials: Mapping[str, str | None]) -> list[str]:
        """What is wrong with the credentials' format, each with what to do (offline)."""
        ...

    def webhook_problem(self, url: str) -> str | None:
        """What is wrong with an incoming-webhook URL for this platform, or None."""
        ...

    async def check_online(self, credentials: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """Ask the platform whom the credentials belong to: (facts, problems)."""
        ...


class LazySender:
    """A sender made on its first message: a bot whose channels use no webhook never imports
    discord.py or slack_sdk to build one (about 0.1 s and 12 MB of a poll's start-up)."""

    def __init__(self, make: Callable[[], Sender]) -> None:
        self._make = make
        self._sender: Sender | None = None

    async def send(
        self,
        destination: DestinationInfo,
        payloads: Sequence[Any],
        nonce: str,
        *,
        first_part: int = 0,
        resend: bool = False,
    ) -> SendResult:
        if self._sender is None:
            self._sender = self._make()
        return await self._sender.send(
            destination, payloads, nonce, first_part=first_part, resend=resend
        )

    async def aclose(self) -> None:
        if self._sender is not None:
            await self._sender.aclose()
